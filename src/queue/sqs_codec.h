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
// {"reason":..., "id":..., "sent_at_ms":..., "receive_count":...} (what DeadMessage needs and
// SQS would otherwise lose: a SendMessage makes a new id and sent time).
inline constexpr std::string_view kDeadInfoAttribute = "thumbpipe.dead";

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

// The kDeadInfoAttribute value for `message` dead-lettered now with `reason`.
std::string DeadInfoJson(const Message& message, std::string_view reason, Clock::time_point now);

}  // namespace thumbpipe::queue
