// The Queue over Amazon SQS (or any service speaking SQS's JSON protocol, such as `thumbpipe
// serve`): `sqs://HOST/ACCOUNT/NAME` (sqs_url.h). Requests go through SqsApi (sqs_api.h: AWS
// JSON 1.0, SigV4 service "sqs", the shared AWS client core with its retries and credential
// chain). The queue must exist; its dead-letter queue is the one its RedrivePolicy names.
//
// How the Queue contract maps (queue.h), and where SQS cannot follow:
//  - Send / SendBatch: SendMessage(Batch). Messages are checked here first with SQS's own rules
//    (message_rules.h) against max_message_bytes, so a bad one costs no request; each answer's
//    MD5OfMessageBody and MD5OfMessageAttributes are checked (kCorrupt when they differ).
//    No deduplication (standard queues): SendEntry::dedup_id is ignored, deduplicates() is false.
//  - Receive: ReceiveMessage with WaitTimeSeconds (long polling), MaxNumberOfMessages,
//    VisibilityTimeout, ApproximateReceiveCount -> receive_count, SentTimestamp -> sent_at, all
//    message attributes; digests checked (a mismatch fails the receive with kCorrupt: the
//    messages stay in flight and come back after their visibility timeout, as with the SDKs).
//    The move past maxReceiveCount is the service's own (RedrivePolicy).
//  - Remove / RemoveBatch: DeleteMessage(Batch). ChangeVisibility: ChangeMessageVisibility.
//  - Stale receipts. SQS accepts DeleteMessage with an old receipt (and may or may not delete);
//    it answers ReceiptHandleIsInvalid or MessageNotInflight to some stale receipts; both are
//    kFailedPrecondition. On top of that this object remembers the receipts it handed out (the
//    last `remembered_receipts`): a receipt superseded by a later receive of the same message
//    through this object is kFailedPrecondition, and one already removed is kNotFound, without
//    a request. Across processes only the service's answer counts: SQS cannot refuse a stale
//    DeleteMessage, so a slow consumer elsewhere may delete a message another one holds.
//  - DeadLetter: SendMessage to the DLQ (body, attributes, and the attribute "thumbpipe.dead":
//    reason, first id, first sent time, receive count, the receipt; sqs_codec.h) then
//    DeleteMessage. It needs the message, so only a receipt this object handed out can be
//    dead-lettered (else kFailedPrecondition). A message with 10 attributes already has no
//    room for the reason: it is sent without it (logged). On Amazon SQS the DLQ is an
//    ordinary queue and gets a copy; `thumbpipe serve`, whose DLQ is the dead side of the
//    queue, moves the message the receipt names there instead (the DeleteMessage that follows
//    then deletes nothing), so a message with 10 attributes cannot be dead-lettered there:
//    serve answers UnsupportedOperation, which is kUnsupported.
//  - Stats: GetQueueAttributes (ApproximateNumberOfMessages / NotVisible / Delayed; the DLQ's
//    ApproximateNumberOfMessages is `dead`). SQS's counts are approximate (up to a minute
//    behind). oldest_age is 0 (SQS reports it only to CloudWatch); the counters count this
//    object's calls since it was opened; expired is 0 (SQS drops expired messages silently).
//  - Purge: PurgeQueue (SQS allows one a minute: PurgeQueueInProgress is kUnavailable); the
//    count returned is the queue's count just before (approximate on SQS).
//  - Dead-letter side: List = ReceiveMessage on the DLQ with visibility 0 (on Amazon SQS that
//    is a receive: it raises the DLQ copy's receive count; `serve` shows without receiving), at
//    most 10 messages per call (SQS's batch limit). Redrive of all = StartMessageMoveTask back
//    to the source (MaxNumberOfMessagesPerSecond from per_second), waited for through
//    ListMessageMoveTasks; redrive by id is kUnsupported (a move task takes everything).
//    Purge = PurgeQueue on the DLQ.
#pragma once

#include <memory>
#include <optional>

#include "aws/credentials.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/result.h"
#include "queue/queue.h"
#include "queue/sqs_url.h"

namespace thumbpipe::queue {

struct SqsQueueOptions {
  SqsEndpoint endpoint;
  uint64_t max_message_bytes = 1 << 20;  // checked before sending (body + attributes)
  // Used when neither the environment nor the AWS profile files have keys.
  std::optional<sigv4::Credentials> fallback_credentials;
  aws::EnvLookup env = aws::ProcessEnv();
  Clock* clock = &RealClock::Instance();  // signing, retries, move-task polling
  size_t remembered_receipts = 10000;     // receipts kept for stale detection and DeadLetter
  Duration move_task_poll = std::chrono::milliseconds(200);
  Duration move_task_timeout = std::chrono::minutes(30);
};

// Opens the queue: reads its QueueArn and RedrivePolicy (GetQueueAttributes), so a missing
// queue is kNotFound and missing credentials kNotFound (naming where it looked) at once.
Result<std::unique_ptr<Queue>> OpenSqsQueue(SqsQueueOptions options);

}  // namespace thumbpipe::queue
