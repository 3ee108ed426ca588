// Internals of the RabbitMQ queue, shared by amqp_queue.cc (open, send, stats, purge),
// amqp_queue_receive.cc (receive and what takes a receipt) and amqp_dead_letters.cc.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "queue/amqp_connection.h"
#include "queue/amqp_message.h"
#include "queue/amqp_queue.h"

namespace thumbpipe::queue {

class AmqpQueue;

class AmqpDeadLetters final : public DeadLetters {
 public:
  explicit AmqpDeadLetters(AmqpQueue& queue) : queue_(queue) {}
  Result<std::vector<DeadMessage>> List(int limit, std::string_view after_id) override;
  Result<int64_t> Redrive(std::span<const std::string> ids, double per_second) override;
  Result<int64_t> Purge() override;

 private:
  AmqpQueue& queue_;
};

// A delivery on the consuming connection: buffered (pushed by the standing consumer, not yet
// handed out) or held by the caller (received, not yet removed, released or dead-lettered).
struct AmqpHeld {
  uint16_t channel = 1;   // the channel that delivered it: acks and nacks go there
  uint64_t tag = 0;
  uint64_t consumer = 0;  // consumer_serial_ of the standing consumer that delivered it; 0 = none
  AmqpWireMessage message;
  int receive_count = 1;
  Clock::time_point received_at, deadline;  // set when handed out
};

class AmqpQueue final : public Queue {
 public:
  explicit AmqpQueue(const AmqpQueueOptions& options);
  ~AmqpQueue() override;

  Status Declare();

  Result<std::string> Send(std::string_view body, const Attributes& attributes,
                           std::optional<Duration> delay) override;
  Result<std::vector<Result<std::string>>> SendBatch(std::span<const SendEntry> entries) override;
  Result<std::vector<Message>> Receive(int max, Duration wait, std::optional<Duration> visibility) override;
  Result<std::vector<Message>> ReceiveOrStop(int max, Duration wait, std::optional<Duration> visibility,
                                             std::stop_token stop) override;
  Status Remove(std::string_view receipt) override;
  Result<std::vector<Status>> RemoveBatch(std::span<const std::string> receipts) override;
  Status ChangeVisibility(std::string_view receipt, Duration timeout) override;
  Status DeadLetter(std::string_view receipt, std::string_view reason) override;
  Result<QueueStats> Stats() override;
  Result<int64_t> Purge() override;
  DeadLetters& dead_letters() override { return dead_letters_; }

 private:
  friend class AmqpDeadLetters;
  enum class Finished { kRemoved, kReleased, kLost };

  // Publishing (publisher_.mu taken inside). Publishes every message to `exchange` with
  // `routing_key` and waits for all confirms; retries once on a fresh connection when the
  // connection failed. kNotFound when the broker returned them unroutable.
  Status Publish(const std::string& exchange, const std::string& routing_key,
                 std::span<const AmqpWireMessage> messages);
  // REQUIRES: publisher_.mu, connection open.
  Status PublishOnce(const std::string& exchange, const std::string& routing_key,
                     std::span<const AmqpWireMessage> messages);
  // Reads frames until every publish from first_seq to last_seq is confirmed.
  Status WaitConfirms(uint64_t first_seq, uint64_t last_seq);
  // REQUIRES: publisher_.mu. Passive queue.declare: the ready count of `name`.
  Result<int64_t> ReadyCount(const std::string& name);

  // Receiving (amqp_queue_receive.cc). All REQUIRE consumer_.mu; those that read the socket
  // also receive_mu_.
  Status EnsureConsumer();
  // Reads what has already arrived, without waiting: standing-consumer deliveries go to
  // buffer_, channel 2's (gets, temporary consumers) to `got`.
  Status Drain(std::vector<AmqpHeld>& got);
  // Starts the standing consumer if there is none (basic.qos + basic.consume on channel 1);
  // `arriving` = how many ready messages it brings at once (0 when it was running already).
  Status EnsureStanding(int max, int& arriving);
  // Cancels the standing consumer and nacks (requeues) the buffer.
  Status StopStanding();
  // Waits until the buffer holds `want` deliveries (at most 250 ms once the first came),
  // `deadline` or a stop.
  Status WaitStanding(std::chrono::steady_clock::time_point deadline, size_t want, std::unique_lock<std::mutex>& lock,
                      const std::stop_token& stop, std::vector<AmqpHeld>& got);
  // Waits in poll(2) without the lock until the socket is readable, a held message's
  // visibility ends, `deadline` or a stop wakes it.
  Status PollOnce(std::chrono::steady_clock::time_point deadline, std::unique_lock<std::mutex>& lock, bool& readable);
  void HandOut(int max, std::vector<AmqpHeld>& got);
  // basic.get of one message on channel 2; `ready_after` = what the broker says is still ready.
  Status GetOne(std::vector<AmqpHeld>& got, int64_t& ready_after);
  // A temporary consumer on channel 2 with prefetch = max. `deadline` is real time (a wait
  // is); visibility deadlines are on clock_.
  Status LongPoll(int max, std::chrono::steady_clock::time_point deadline, std::unique_lock<std::mutex>& lock,
                  const std::stop_token& stop, std::vector<AmqpHeld>& got);
  Status ReadDelivery(Duration timeout, std::vector<AmqpHeld>& got, bool& cancelled);
  AmqpHeld MakeHeld(uint16_t channel, uint64_t tag, bool redelivered, const amqp_basic_properties_t& properties,
                    amqp_bytes_t body);
  // Bookkeeping when a delivery is settled (acked, nacked, rejected) or lost.
  void Settle(const AmqpHeld& held);
  void ExpireLocked();
  Status ReleaseLocked(std::string receipt, AmqpHeld& held);
  Status DeadLetterLocked(std::string receipt, AmqpHeld& held, std::string_view reason);
  // Finds a held receipt; the error says why it is not held.
  Result<std::map<std::string, AmqpHeld>::iterator> FindHeld(std::string_view receipt);
  void Finish(const std::string& receipt, Finished how);
  std::string NextReceipt();

  const AmqpQueueOptions options_;
  Clock& clock_;
  const std::string instance_;  // receipts from another queue object are not ours
  AmqpConnection publisher_;
  AmqpConnection consumer_;
  std::mutex receive_mu_;       // one Receive at a time: it alone reads consumer_'s socket
  AmqpDeadLetters dead_letters_{*this};

  const int wake_fd_;           // eventfd: a stop wakes the receive waiting in poll(2)

  // Below: guarded by consumer_.mu.
  uint64_t held_generation_ = 0;
  uint64_t receipts_ = 0;                               // receipts made (their last part)
  std::map<std::string, AmqpHeld> held_;                // by receipt
  std::deque<AmqpHeld> buffer_;                         // pushed, not yet handed out, in order
  std::string consumer_tag_;                            // the standing consumer; empty = none
  uint64_t consumer_serial_ = 0;                        // bumped when one starts or stops
  int consumer_prefetch_ = 0;                           // its basic.qos
  int consumer_unacked_ = 0;                            // its deliveries buffered or held
  std::map<std::string, Finished, std::less<>> finished_;  // recent receipts no longer held
  std::deque<std::string> finished_order_;

  std::mutex counters_mu_;
  QueueStats counters_;  // sent, received, removed, dead_lettered only
};

}  // namespace thumbpipe::queue
