// The Relay drains a store's Outbox into queues on its own thread: it takes pending entries
// oldest first, groups them by destination, sends each group with Queue::SendBatch in batches
// of up to 10 (in outbox order), and marks entries Done only after their queue accepted them,
// all those of a round (up to `fetch`) in one Done, so one outbox commit serves many events.
//
// Exactly once into a queue that deduplicates (Queue::deduplicates(), the embedded SQLite
// queue): every entry is sent with a dedup id derived from its outbox row (OutboxDedupId), so
// an entry sent again after a crash between the queue's commit and the outbox delete, or
// after a failed Done, is dropped by the queue. Other queues (SQS standard, RabbitMQ) may then
// get it twice: at-least-once, which workers tolerate (renditions carry the source ETag).
//
// Failures never drop an entry: a queue error (or a destination the resolver does not know)
// leaves the entries pending; they are tried again after a backoff that doubles from
// `initial_backoff` up to `max_backoff`, and each failure is logged. Other destinations keep
// flowing meanwhile. The one exception is an entry whose payload is not an outbox envelope at
// all (it can never be delivered by anyone): it is logged at error level with its id and
// marked Done, so that it cannot wedge the outbox.
//
// Thread-safety: Start, Stop and Flush may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/duration.h"
#include "common/result.h"
#include "events/notifier.h"
#include "store/object_store.h"

namespace thumbpipe::events {

// The dedup id the relay sends an outbox entry with: stable for the row (the same on every
// retry, in any process) and unique per store data directory: the row id, which a store
// never reuses (AUTOINCREMENT), plus a 64-bit hash of the payload, which tells apart the rows
// of two stores sharing a queue (their events differ in request id, time and sequencer).
// At most 128 printable characters, as SendEntry::dedup_id requires.
std::string OutboxDedupId(const store::OutboxEntry& entry);

struct RelayOptions {
  int fetch = 100;  // entries taken from the outbox per round
  // How long one Pending() call may block waiting for entries. It bounds how quickly Stop()
  // and Flush() are noticed by an idle relay (the outbox wakes it sooner when entries arrive).
  Duration poll = std::chrono::milliseconds(200);
  Duration initial_backoff = std::chrono::milliseconds(100);
  Duration max_backoff = std::chrono::seconds(10);
};

class Relay {
 public:
  // `outbox`, `clock` and the queues the resolver returns must outlive the relay. Backoff
  // waits run on `clock` (a ManualClock makes them instant in tests).
  Relay(store::Outbox& outbox, DestinationResolver resolver, Clock& clock, RelayOptions options = {});
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  ~Relay();  // Stop(0)

  // Starts the thread. Calling it twice is a no-op.
  void Start();

  // Stops taking new work and returns once the thread ended: it keeps delivering while the
  // outbox has entries and `grace` (on the relay's clock) has not passed, then stops. What is
  // left stays in the outbox for the next start (nothing is lost).
  void Stop(Duration grace);

  // Blocks until every entry that was pending when Flush was called has been delivered (the
  // relay saw an empty outbox after the call), or `timeout` of real time passed
  // (kUnavailable), or the relay is not running (kFailedPrecondition). For tests and for a
  // server that wants to drain before shutdown.
  Status Flush(Duration timeout);

  // Counters since Start, for /metrics and tests.
  struct Stats {
    int64_t delivered = 0;   // entries a queue accepted
    int64_t failures = 0;    // failed send attempts (each batch or entry once per attempt)
    int64_t discarded = 0;   // undecodable payloads marked Done
  };
  Stats stats() const;

 private:
  void Run();
  // One round: takes up to options_.fetch entries and tries to deliver them. Returns whether
  // the outbox was empty, and sets `failed` when something must be retried.
  bool RunOnce(bool& failed);
  void Backoff(Duration d);
  // True once Stop() was called and its grace period has passed on clock_.
  bool PastDeadline() const;

  store::Outbox& outbox_;
  DestinationResolver resolver_;
  Clock& clock_;
  RelayOptions options_;

  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> delivered_{0}, failures_{0}, discarded_{0};

  // Flush bookkeeping. Protected by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;
  Clock::time_point stop_deadline_;
  uint64_t rounds_started_ = 0;    // Pending() calls begun
  uint64_t last_empty_round_ = 0;  // the latest round that found the outbox empty
};

}  // namespace thumbpipe::events
