// A Queue delivers messages with Amazon SQS's semantics, whatever engine is behind it (the
// embedded SQLite queue, Amazon SQS, RabbitMQ). The worker pipeline knows only this header.
//
// Semantics (../shared/reference/queue-s3.md, section 1):
//  - At-least-once. A received message is hidden ("in flight") for its visibility timeout;
//    unless removed by then it becomes visible again and is delivered with receive_count + 1.
//  - Every receive returns a new receipt. Remove, ChangeVisibility and DeadLetter take the
//    receipt of the latest receive only: a stale receipt fails with kFailedPrecondition and
//    changes nothing (so a slow consumer can never delete a message another one now holds).
//  - A message whose receive count would exceed max_receive_count is moved to the dead-letter
//    queue instead of being delivered. DeadLetter moves one there at once, with a reason.
//    Dead-lettered messages keep id, body, attributes, first-sent time, receive count and the
//    last error reason.
//  - Messages older than the retention period are dropped and counted, never silently.
//
// Implementations are safe for concurrent use by many threads; the SQLite queue is also safe
// across processes sharing one database file.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/duration.h"
#include "common/result.h"

namespace thumbpipe::queue {

// A message attribute, as in SQS: a data type ("String", "Number", "Binary", optionally with
// a custom suffix such as "Number.int") and a value (UTF-8 text, or raw bytes for Binary).
struct AttributeValue {
  std::string data_type = "String";
  std::string value;
  friend bool operator==(const AttributeValue&, const AttributeValue&) = default;
};
using Attributes = std::map<std::string, AttributeValue, std::less<>>;

struct Message {
  std::string id;       // stable across deliveries and the DLQ
  std::string receipt;  // valid until the next receive of this message
  std::string body;
  Attributes attributes;
  int receive_count = 0;          // this delivery included
  Clock::time_point sent_at;      // first sent (kept through the DLQ and redrive)
};

// A dead-lettered message, as the DLQ tools see it.
struct DeadMessage {
  std::string id;
  std::string body;
  Attributes attributes;
  int receive_count = 0;
  Clock::time_point sent_at;
  Clock::time_point dead_at;
  std::string reason;  // the last error, or "max_receive_count exceeded"
};

struct QueueStats {
  int64_t visible = 0;    // ready to receive
  int64_t in_flight = 0;  // received, not yet removed, visibility not yet expired
  int64_t delayed = 0;    // sent with a delay that has not passed
  int64_t dead = 0;       // in the dead-letter queue
  Duration oldest_age{0}; // age of the oldest message not removed (ApproximateAgeOfOldestMessage)
  // Counters since the queue was created.
  int64_t sent = 0, received = 0, removed = 0, dead_lettered = 0, expired = 0;
};

struct SendEntry {
  std::string body;
  Attributes attributes;
  std::optional<Duration> delay;  // nullopt = the queue's default delay
  // Shaped like SQS FIFO's MessageDeduplicationId: 1-128 printable ASCII characters
  // (alphanumerics and punctuation, '!' to '~'); empty = none. On a queue whose
  // deduplicates() is true, a send whose id was already sent within the queue's
  // deduplication interval enqueues nothing and succeeds with the first send's message id.
  // Backends that cannot honour it (SQS standard queues, RabbitMQ) ignore it, return false
  // from deduplicates() and say so in their header: their sends stay at-least-once.
  std::string dedup_id = {};
};


// The dead-letter side of a queue: look, move back, empty.
class DeadLetters {
 public:
  DeadLetters(const DeadLetters&) = delete;
  DeadLetters& operator=(const DeadLetters&) = delete;
  virtual ~DeadLetters() = default;

  // Up to `limit` dead messages, oldest first, after `after_id` (paging). Does not count as a
  // receive.
  virtual Result<std::vector<DeadMessage>> List(int limit, std::string_view after_id = {}) = 0;

  // Moves messages back to the source queue with their receive counts reset: all of them
  // (ids empty) or the given ids, at most `per_second` a second (0 = unlimited). Returns how
  // many were moved.
  virtual Result<int64_t> Redrive(std::span<const std::string> ids, double per_second = 0) = 0;

  // Deletes every dead message; returns how many.
  virtual Result<int64_t> Purge() = 0;

 protected:
  DeadLetters() = default;
};

class Queue {
 public:
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  virtual ~Queue() = default;

  // Enqueues one message; returns its id once it is durable (as the queue's durability
  // setting defines). kInvalidArgument for a body over the size limit, invalid characters,
  // more than 10 attributes or a bad attribute, or a delay over 15 minutes.
  virtual Result<std::string> Send(std::string_view body, const Attributes& attributes = {},
                                   std::optional<Duration> delay = std::nullopt) = 0;

  // Enqueues up to 10 messages in one durable step. The outer error is for the request as a
  // whole (empty, more than 10 entries, over the total size); otherwise one Result per entry,
  // in order (an invalid entry fails alone, as in SQS's SendMessageBatch). Entries with a
  // dedup_id already seen (earlier, or earlier in the same batch) are duplicates: see
  // SendEntry::dedup_id.
  virtual Result<std::vector<Result<std::string>>> SendBatch(std::span<const SendEntry> entries) = 0;

  // Returns 1..max messages (max 1-10), waiting up to `wait` (0-20 s) for the first one (long
  // polling: it returns as soon as a message is available). An empty vector is not an error.
  // Received messages are hidden for `visibility` (0-12 h; nullopt = the queue default).
  virtual Result<std::vector<Message>> Receive(int max, Duration wait,
                                               std::optional<Duration> visibility = std::nullopt) = 0;

  // Receive for a consumer that may be asked to stop: once `stop` is requested the long poll
  // gives up and returns what it has (usually nothing), so a worker shutting down on SIGTERM
  // does not sit out `wait`. A stop requested before the call receives without waiting.
  // Backends whose wait can be woken override this; the default can only do the latter (a
  // poll already under way runs its course), which keeps the contract for every backend.
  virtual Result<std::vector<Message>> ReceiveOrStop(int max, Duration wait, std::optional<Duration> visibility,
                                                     std::stop_token stop) {
    return Receive(max, stop.stop_requested() ? Duration{0} : wait, visibility);
  }

  // Acknowledges (deletes) a message. kFailedPrecondition when the receipt is stale (the
  // message was received again since), kNotFound when the message no longer exists.
  virtual Status Remove(std::string_view receipt) = 0;

  // Acknowledges up to 10 messages in one step (SQS DeleteMessageBatch). The outer error is
  // for the request as a whole (empty, more than 10 entries); otherwise one Status per
  // receipt, in order, with the errors of Remove (a stale receipt fails alone).
  virtual Result<std::vector<Status>> RemoveBatch(std::span<const std::string> receipts) = 0;

  // Makes the message visible again `timeout` from now (0 = at once). A total visibility over
  // 12 h since the receive is kInvalidArgument, not clamped. Receipt errors as for Remove.
  virtual Status ChangeVisibility(std::string_view receipt, Duration timeout) = 0;

  // Moves the message to the dead-letter queue at once, recording `reason` (for errors that
  // retrying cannot fix). Receipt errors as for Remove.
  virtual Status DeadLetter(std::string_view receipt, std::string_view reason) = 0;

  virtual Result<QueueStats> Stats() = 0;

  // Deletes every message of the queue (visible, delayed and in flight; not the dead-letter
  // side); returns how many.
  virtual Result<int64_t> Purge() = 0;

  // The queue's dead-letter side (list, redrive, purge). Lives as long as the queue.
  virtual DeadLetters& dead_letters() = 0;

  // Whether SendBatch honours SendEntry::dedup_id (exactly-once enqueue of a retried send
  // within the deduplication interval). false: dedup ids are accepted and ignored.
  virtual bool deduplicates() const { return false; }

 protected:
  Queue() = default;
};

}  // namespace thumbpipe::queue
