// The notifier: turns each committed write into outbox entries (one per matching rule), inside
// the write's own transaction.
//
// Why an outbox: an event must never be lost once the write is acknowledged, and a failed
// write must raise none (issue 4). The store runs the CommitHook inside the commit of the
// object row and keeps what it returns in its Outbox, in the same transaction; so the 200 the
// server sends after Commit() already implies a durable event. The Relay (relay.h) moves
// outbox entries to their queues afterwards and marks them done only once the queue has them
// (a crash between the two sends the entry again, never zero times, with the same dedup id,
// which the embedded queue drops: see relay.h).
//
// An outbox entry's payload is a small JSON envelope: {"v":1,"queue":"<ARN or name>",
// "body":"<the S3 event JSON>"}.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "events/rules.h"
#include "queue/queue.h"
#include "store/object_store.h"

namespace thumbpipe::events {

// Maps a destination (a queue ARN from a notification configuration, or a queue name) to the
// queue that receives its events, or nullptr when the server knows no such queue. The server
// decides what an ARN means; the embedded queue's ARN is EmbeddedQueueArn(region, name).
// Must be safe to call from any thread.
using DestinationResolver = std::function<queue::Queue*(std::string_view arn_or_name)>;

// The ARN under which the embedded queue named `queue_name` is known in notification
// configurations: "arn:aws:sqs:<region>:000000000000:<queue_name>" (the account id of the
// local, single-account server is twelve zeros, as local AWS emulators use).
std::string EmbeddedQueueArn(std::string_view region, std::string_view queue_name);

// The queue name of an SQS ARN ("arn:aws:sqs:us-east-1:000000000000:thumbnails" ->
// "thumbnails"), or "" when `arn` is not one.
std::string_view QueueNameOfArn(std::string_view arn);

struct OutboxPayload {
  std::string queue;  // destination: ARN or name
  std::string body;   // the S3 event JSON
};
std::string EncodeOutboxPayload(const OutboxPayload& payload);
// kInvalidArgument when `payload` is not an envelope made by EncodeOutboxPayload.
Result<OutboxPayload> DecodeOutboxPayload(std::string_view payload);

// The rules that apply to a bucket now. Called inside every write's commit: it must be fast and
// must not write to the store (Notifications::rules() serves it from a cache).
using RulesSource = std::function<std::shared_ptr<const std::vector<Rule>>(std::string_view bucket)>;

struct NotifierOptions {
  std::string region = "us-east-1";          // awsRegion of every event
  std::string owner_principal = "thumbpipe"; // s3.bucket.ownerIdentity.principalId
};

// A CommitHook that returns one outbox payload per rule the write matches (none when no rule
// matches). `clock` gives the event time of deletes; it must outlive the hook.
store::CommitHook MakeCommitHook(RulesSource rules, NotifierOptions options, Clock& clock);

}  // namespace thumbpipe::events
