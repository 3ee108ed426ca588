// The messages of the sqs:// queue in the JSON protocol's shape, with their digests checked
// (queue-s3.md 1.8: MD5OfMessageBody / MD5OfMessageAttributes, computed by sqs_wire.h, the
// same functions `serve` answers with). A digest that does not match is kCorrupt: the bytes
// changed between the service and us (or a proxy rewrote them).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "queue/queue.h"

namespace thumbpipe::queue {

// The message attribute a dead-lettered message carries on the DLQ: JSON
// {"reason":..., "id":..., "sent_at_ms":..., "dead_at_ms":..., "receive_count":...,
// "receipt":...} (what DeadMessage needs and SQS would otherwise lose: a SendMessage makes a
// new id and sent time). "receipt" is the receipt of the receive being dead-lettered: on
// Amazon SQS it is only a record (the DLQ is an ordinary queue and the copy is a new
// message); `thumbpipe serve`, whose DLQ is the dead side of the queue, moves the message
// that receipt names instead of inserting a copy (docs/sqs-api.md, "Dead-letter queues").
// `serve` also puts the attribute on the dead messages it shows, so that DeadFromMessage
// reads the reason of a message moved by the service's redrive too.
inline constexpr std::string_view kDeadInfoAttribute = "thumbpipe.dead";

// The fields of a kDeadInfoAttribute value; absent ones are empty / nullopt.
struct DeadInfo {
  std::string reason;
  std::string id;       // the message's id on the source queue
  std::string receipt;  // of the receive that dead-lettered it
  std::optional<Clock::time_point> sent_at, dead_at;
  std::optional<int> receive_count;
};

// Reads a kDeadInfoAttribute value; nullopt when it is not a JSON object. Fields of the
// wrong type are left out.
std::optional<DeadInfo> ParseDeadInfo(std::string_view text);

// The kDeadInfoAttribute value of `info` (absent fields left out).
std::string DeadInfoJson(const DeadInfo& info);

// SendMessage's request members for one message (MessageBody, DelaySeconds,
// MessageAttributes); the caller adds QueueUrl or Id.
nlohmann::json SendEntryJson(const SendEntry& entry);

// Checks a SendMessage answer (or a batch's Successful entry) against what was sent and
// returns its MessageId.
Result<std::string> SentMessageId(const nlohmann::json& answer, const SendEntry& sent);

// One message of a ReceiveMessage answer, digests checked; receive_count from
// ApproximateReceiveCount, sent_at from SentTimestamp (epoch ms).
Result<Message> MessageFromJson(const nlohmann::json& json);

// What a DLQ message says about itself: from kDeadInfoAttribute when it has one (it is taken
// out of the attributes), else from the message (moved by the service's RedrivePolicy).
DeadMessage DeadFromMessage(Message message);

// The kDeadInfoAttribute value for `message` dead-lettered now with `reason` (its receipt
// included).
std::string DeadInfoJson(const Message& message, std::string_view reason, Clock::time_point now);

// The kDeadInfoAttribute value describing a dead message (no receipt: it is not held).
std::string DeadInfoJson(const DeadMessage& dead);

}  // namespace thumbpipe::queue
