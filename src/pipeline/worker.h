// The worker loop: receive batches from the queue (long polling), run up to `concurrency`
// jobs at once, and apply each job's verdict to its message:
//   done / skipped  -> Remove, by the remover thread: the job thread hands the message over
//                      and takes the next one at once; the remover removes what has been
//                      handed over in batches of up to 10 (RemoveBatch: one DeleteMessageBatch
//                      on SQS), so the queue's round trip is off the jobs' path. A crash
//                      before the remove only means a redelivery, which finds every rendition
//                      fresh and is removed without decoding.
//   retry           -> ChangeVisibility(backoff), or, on the last allowed receive, DeadLetter
//                      with the last error (so the DLQ says why, whatever the queue backend)
//   dead letter     -> DeadLetter(reason) at once
// While a job runs, a heartbeat extends its message's visibility before it runs out, so a
// slow but healthy job is never handed to a second consumer.
//
// Stop() is the graceful shutdown of SIGTERM: stop receiving (a long poll under way is cut
// short where the queue supports it: Queue::ReceiveOrStop), make the messages received but
// not started visible again at once, let running jobs finish within shutdown_grace, and
// release the ones still running after it (their late Remove then fails as a stale receipt,
// which is what at-least-once wants), and let the remover remove what it was handed. A crash instead (kill -9) loses nothing either: the
// messages come back when their visibility runs out.
#pragma once

#include <functional>
#include <memory>

#include "common/clock.h"
#include "common/metrics.h"
#include "pipeline/job.h"
#include "pipeline/retry_policy.h"
#include "queue/queue.h"

namespace thumbpipe::pipeline {

struct WorkerOptions {
  int concurrency = 1;  // jobs at once (>= 1; the caller resolves "0 = one per core")
  int batch = 10;       // messages per receive, 1-10
  Duration wait = std::chrono::seconds(20);                // long poll per receive
  Duration visibility_timeout = std::chrono::seconds(60);  // what a heartbeat extends to
  Duration heartbeat = std::chrono::seconds(20);           // how often running jobs are extended
  Duration shutdown_grace = std::chrono::seconds(30);
  int max_receive_count = 3;  // the queue's; the last allowed receive dead-letters instead of retrying
  // Nice value of the job threads (0-19; 0 = as the process): jobs yield the CPU to the
  // receiver, the heartbeat and, in `serve`, the upload path (common/thread_priority.h).
  int job_nice = 0;
  // Messages received beyond the free job slots (0-10): while every slot is busy the receiver
  // keeps this many messages pending (their visibility extended by the heartbeat like the
  // running ones), so a slot that frees starts the next message at once and the queue's
  // round trip for the one after it overlaps a job (an HTTP call to SQS, a Raft command on
  // RabbitMQ: 1.5-2.5 ms a message on 2 cores, bench/README.md "Scale"). The price, as with
  // any prefetch (Celery keeps 4 a slot): a busy worker sits on that many messages another
  // idle worker could start, which only matters when the queue has run dry; a graceful stop
  // releases them with their receive counted; a crash leaves them to their visibility
  // timeout (unless a supervisor releases them: on_received). 0 = receive only for a free
  // slot. A queue that pushes (amqp://) is opened with prefetch = concurrency + receive_ahead
  // (MaxMessagesInHand).
  int receive_ahead = 0;
  RetryPolicy retry;
  // Called on the receiver thread for each message received, before any job can start it
  // (worker.isolation = process: the child tells its supervisor what it holds, so a crash
  // releases the messages it received ahead at once, not after their visibility timeout).
  std::function<void(const queue::Message&)> on_received;
};

// The most messages a worker with these options holds at once (running and pending): what a
// queue that pushes messages to its consumer may push to it.
int MaxMessagesInHand(const WorkerOptions& options);

// Runs one message; the Worker applies the verdict. Job::Run in production.
using Processor = std::function<JobReport(const queue::Message&)>;

struct WorkerCounters {
  int64_t received = 0, removed = 0, retried = 0, dead_lettered = 0, released = 0, extended = 0, queue_errors = 0;
};

class Worker {
 public:
  Worker(WorkerOptions options, queue::Queue& queue, Processor processor, Clock& clock = RealClock::Instance(),
         metrics::Registry& registry = metrics::DefaultRegistry());
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();  // Stop()

  void Start();
  void Stop();  // idempotent; returns when every message is finished or released

  WorkerCounters counters() const;
  bool stopping() const;  // Stop() has begun
  // Messages received and not yet finished or released (pending + running; not those handed
  // to the remover).
  int in_hand() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the threads, so a job still running after the grace can outlive us
};

}  // namespace thumbpipe::pipeline
