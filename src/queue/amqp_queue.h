// The RabbitMQ queue: `amqp://USER:PASSWORD@HOST:PORT/VHOST?queue=NAME` (see amqp_url.h), over
// rabbitmq-c. What thumbpipe declares (or checks, when it exists; a queue declared with other
// arguments is a kFailedPrecondition naming the difference):
//   NAME      quorum queue, x-delivery-limit = max_receive_count - 1 (RabbitMQ delivers a message
//             limit + 1 times), x-dead-letter-exchange = NAME-dlx
//   NAME-dlx  fanout exchange;  NAME-dlq  classic queue bound to it, x-message-ttl = dlq_retention
//
// How the Queue contract maps (queue.h), and where AMQP cannot follow:
//  - Send / SendBatch: persistent publishes with publisher confirms (and `mandatory`, so a
//    missing queue is an error, not a silent drop); a batch waits for all confirms at once.
//    AMQP has no per-message delay: a delay > 0 is kUnsupported.
//    No deduplication: SendEntry::dedup_id is accepted and ignored (deduplicates() is false),
//    so a send retried after a lost confirm may be delivered twice (at-least-once).
//  - Receive: one basic.get; if more are ready, the rest of the batch through a consumer with
//    that prefetch (on a quorum queue each basic.get is a Raft command; a consumer is two per
//    batch); if nothing is ready and wait > 0, a consumer with prefetch = max (basic.qos +
//    basic.consume) waits up to `wait` for the first delivery and is cancelled once it came.
//    No messages sit prefetched in this process between receives, so another worker can take
//    them and Stats stays true.
//  - receive_count = x-delivery-count + 1 (quorum queues count every return, including a
//    consumer's connection dying). A message past max_receive_count never reaches the caller:
//    it goes to NAME-dlq (by us with a reason, or by the broker's delivery limit).
//  - Visibility: AMQP keeps a delivered message from others until it is acked or its channel
//    closes; there is no timer on the broker. This object keeps the timer: a message not
//    removed before its visibility ends is nacked (requeued) by the next queue call or the
//    waiting long poll. ChangeVisibility(t > 0) moves that deadline (the worker's heartbeat);
//    ChangeVisibility(0) is basic.nack with requeue. The broker's own limit is its consumer
//    timeout (rabbitmq.conf consumer_timeout, 30 min by default): a message held longer makes
//    the broker close the channel and requeue everything on it, whatever visibility says.
//  - Remove = basic.ack; DeadLetter = publish to NAME-dlx with the reason in a header (waiting
//    for the confirm) and then ack; if the broker refuses that publish, basic.reject without
//    requeue (the broker dead-letters it, reason "rejected").
//  - Receipts are delivery tags, valid on the channel that delivered them only: a receipt
//    from before a reconnection (the broker has requeued that message) is kFailedPrecondition.
//  - Stats: visible and dead from queue.declare (passive); in_flight is what this object
//    holds (other processes' deliveries are invisible to AMQP 0-9-1); delayed 0; oldest_age
//    unknown (0); the counters count this object's operations since it was opened.
//  - Retention is the broker's (set a policy with max-age or message-ttl if wanted).
//  - The dead-letter side: List and Redrive read the dlq with basic.get and put back what they
//    do not take (basic.nack, requeue; a classic queue keeps the order), scanning at most
//    10,000 messages per call.
//
// Threads: safe for concurrent use. Two connections: one publishes (sends, dead letters,
// declares, stats), one consumes (gets, acks, nacks); each is used under its own mutex, and
// only Receive reads the consuming one, so a long poll waits without holding it.
// Reconnection: a failed connection reopens on the next call, with backoff (connection.h).
#pragma once

#include <memory>

#include "common/clock.h"
#include "common/duration.h"
#include "common/result.h"
#include "queue/amqp_url.h"
#include "queue/queue.h"

namespace thumbpipe::queue {

struct AmqpQueueOptions {
  AmqpEndpoint endpoint;
  Duration visibility_timeout = std::chrono::seconds(60);  // default for Receive; 0-12h
  int max_receive_count = 3;                               // 1-1000
  Duration dlq_retention = std::chrono::hours(10 * 24);    // x-message-ttl of NAME-dlq
  uint64_t max_message_bytes = 1 << 20;                    // body + attributes
  Clock* clock = &RealClock::Instance();                   // visibility deadlines, pacing
};

// Connects, declares (or checks) the queue, its dlx and dlq. kUnavailable when the broker
// cannot be reached, kFailedPrecondition when what exists differs from what is asked.
Result<std::unique_ptr<Queue>> OpenAmqpQueue(const AmqpQueueOptions& options);

}  // namespace thumbpipe::queue
