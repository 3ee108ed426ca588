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
//  - Receive: a standing consumer. Each consuming connection runs one basic.consume (started
//    by the first long poll, again after a reconnection) with basic.qos prefetch = `prefetch`:
//    the broker pushes up to that many unacked deliveries to this object, counting both what
//    the caller holds and what waits here. Deliveries the caller has not asked for yet sit in a
//    local buffer; a Receive hands them out at once, without a round trip (on a quorum queue
//    every basic.get, consume and cancel is a Raft command; a standing consumer costs none per
//    message). A Receive with wait > 0 and an empty buffer waits on the socket (in poll(2),
//    without the consumer lock, so acks and nacks of other threads go on meanwhile).
//    Fairness: with prefetch = the caller's capacity (what a worker holds at most, its job
//    slots plus worker.receive_ahead: pipeline::MaxMessagesInHand), a worker holding
//    `capacity` messages has none buffered, so a busy worker never keeps messages another
//    worker could take: at most `capacity` unacked per queue object. A buffered message is
//    not received yet: its visibility starts when a Receive hands it out (received_at,
//    deadline), and its receive_count is still x-delivery-count + 1.
//    The old way serves what the standing consumer cannot: a receive with wait 0 (or after a
//    stop) and an empty buffer takes one message with basic.get and the rest of the batch, if
//    more are ready, through a temporary consumer (three Raft commands per batch), and so does
//    a long poll while the caller holds `prefetch` messages already (the standing consumer
//    has no credit; the broker pushes nothing until one is settled): after waiting up to 100
//    ms for an ack on another thread to free credit (a worker's job just finished), since a
//    message kept with ChangeVisibility(t > 0) frees none. These run on a second channel, so
//    their frames never mix with the standing consumer's.
//    ReceiveOrStop: a stop wakes a waiting receive at once and ends the standing consumer
//    (basic.cancel; the buffer is nacked back), so that what the caller releases afterwards
//    (a stopping worker's pending messages) goes to other consumers, not back into this
//    object's buffer. The next long poll starts a new one.
//    The cost, on RabbitMQ 3.x: a buffered message returned to the queue (a stop, Close, a lost
//    connection, the consumer timeout) counts as a delivery in x-delivery-count, so it comes
//    back with receive_count one higher than if it had stayed ready, and may reach
//    max_receive_count without its caller ever seeing it that often. With prefetch = capacity
//    the buffer only holds messages while the worker has free slots, i.e. until its receiver
//    takes them, so this happens to the few a worker had not taken yet when it stopped.
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
//  - Stats: visible = ready on the broker (queue.declare, passive) + buffered here (unacked for
//    the broker, but nobody has received them); dead from the dlq's queue.declare; in_flight
//    = what the caller holds from this object. Other processes' held and buffered messages
//    are invisible to AMQP 0-9-1 (counted nowhere), and so, for a moment, is a message the
//    broker is pushing to this object's consumer; delayed 0; oldest_age unknown (0); the
//    counters count this object's operations since it was opened.
//  - Purge acks what this object holds and buffers, and purges what is ready; what other
//    objects hold or buffer AMQP cannot reach (it comes back when they release or close).
//  - Closing (destruction) closes the channels: the broker requeues what was held and buffered.
//  - Retention is the broker's (set a policy with max-age or message-ttl if wanted).
//  - The dead-letter side: List and Redrive read the dlq with basic.get and put back what they
//    do not take (basic.nack, requeue; a classic queue keeps the order), scanning at most
//    10,000 messages per call.
//
// Threads: safe for concurrent use. Two connections: one publishes (sends, dead letters,
// declares, stats), one consumes (channel 1: the standing consumer; channel 2: gets and
// temporary consumers; acks and nacks on the channel that delivered); each is used under its
// own mutex, and only Receive reads the consuming one, so a long poll waits without holding it.
// Reconnection: a failed connection reopens on the next call, with backoff (connection.h). A
// new consuming connection drops the buffer and what the caller held (the broker requeued
// them when the old connection died) and starts a new standing consumer.
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
  // basic.qos of the standing consumer (0-65535): how many unacked deliveries the broker may
  // push to this object, held by the caller plus buffered. Set it to the caller's capacity
  // (a worker: pipeline::MaxMessagesInHand). 0 = the max of the long poll that starts the
  // consumer (a caller that receives once, such as `thumbpipe queue receive`).
  int prefetch = 0;
};

// Connects, declares (or checks) the queue, its dlx and dlq. kUnavailable when the broker
// cannot be reached, kFailedPrecondition when what exists differs from what is asked.
Result<std::unique_ptr<Queue>> OpenAmqpQueue(const AmqpQueueOptions& options);

}  // namespace thumbpipe::queue
