#include "pipeline/worker.h"

#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <stop_token>
#include <thread>

#include "common/logging.h"
#include "common/thread_priority.h"
#include "queue/message_rules.h"

namespace thumbpipe::pipeline {
namespace {

using Steady = std::chrono::steady_clock;

// A message between receive and its verdict.
struct InHand {
  queue::Message message;
  Clock::time_point extended_at;  // when its visibility was last set (receive or heartbeat)
  bool running = false;
  double receive_ms = 0;  // QueueTimes::receive_ms
};

// What the queue cost one message, in wall time, for its job line (bench/scale reads them).
struct QueueTimes {
  // Its share of the receive call that brought it. With receive_ahead that call mostly ran
  // while every job slot was busy, off the job's path.
  double receive_ms = 0;
  // How long the job thread that ran it had waited for a message, from its previous job's end
  // (or its start) to taking this one: the queue's cost on the job's path while a backlog
  // lasts (0 when the message was pending already; idle time when the queue was empty).
  double wait_ms = 0;
};

// A job whose message is to be removed (done or skipped), waiting for the remover.
struct ToRemove {
  queue::Message message;
  JobReport report;
  QueueTimes times;
  double verdict_ms = 0;            // what the job thread spent handing it over
  Steady::time_point handed_at;     // when the job thread handed it over
};

double MsSince(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

double Rounded(double ms) { return std::round(ms * 1000) / 1000; }

}  // namespace

struct Worker::State {
  State(WorkerOptions o, queue::Queue& q, Processor p, Clock& c, metrics::Registry& r)
      : options(std::move(o)), queue(q), processor(std::move(p)), clock(c), registry(r), rng(std::random_device{}()) {}

  const WorkerOptions options;
  queue::Queue& queue;
  const Processor processor;
  Clock& clock;
  metrics::Registry& registry;

  mutable std::mutex mu;
  std::condition_variable changed;  // in_hand, pending or stopping changed
  std::map<std::string, InHand> in_hand;  // by receipt (an id comes back with a new receipt)
  std::deque<std::string> pending;        // receipts received, not started
  // Finished jobs whose messages are to be removed: the remover thread takes up to 10 at a
  // time (RemoveBatch), so a job thread is free for the next message without waiting for
  // the queue, and a remote queue gets one DeleteMessageBatch for all jobs that finished
  // while the previous one was under way.
  std::deque<ToRemove> to_remove;
  bool remover_closing = false;  // Stop(): nothing more will be handed over; drain and exit
  int running = 0;
  bool started = false;
  bool stopping = false;
  bool receiver_done = false;
  int threads_alive = 0;  // Stop() waits for them, but for jobs abandoned after the grace
  std::mt19937_64 rng;
  WorkerCounters counters;
  std::stop_source receive_stop;  // cuts the receiver's long poll short when Stop() begins

  void Receiver();
  void JobThread();
  void Remover();
  void Heartbeat();
  void Apply(const queue::Message& m, const JobReport& report, const QueueTimes& times);
  void LogJob(const queue::Message& m, const JobReport& report, std::string_view result, const Status& applied,
              const nlohmann::json& queue_ms);
  void Release(const std::string& receipt);
  void Forget(const std::string& id);
  void Count(std::string_view result) {
    registry.GetCounter("thumbpipe_jobs_total", "Jobs by result", {{"result", std::string(result)}}).Inc();
  }
};

int MaxMessagesInHand(const WorkerOptions& options) {
  return std::max(1, options.concurrency) + std::max(0, options.receive_ahead);
}

Worker::Worker(WorkerOptions options, queue::Queue& queue, Processor processor, Clock& clock,
               metrics::Registry& registry)
    : state_(std::make_shared<State>(std::move(options), queue, std::move(processor), clock, registry)) {}

Worker::~Worker() { Stop(); }

void Worker::Start() {
  const int threads = std::max(1, state_->options.concurrency);
  // Detached, each holding the state: a job abandoned after the grace period may finish
  // after the Worker is gone without touching freed memory of the Worker's.
  auto run = [s = state_](void (State::*body)()) {
    (s.get()->*body)();
    std::lock_guard lock(s->mu);
    --s->threads_alive;
    s->changed.notify_all();
  };
  {
    std::lock_guard lock(state_->mu);
    if (state_->started || state_->stopping) return;
    state_->started = true;
    state_->threads_alive = threads + 3;
  }
  std::thread(run, &State::Receiver).detach();
  std::thread(run, &State::Remover).detach();
  std::thread(run, &State::Heartbeat).detach();
  for (int i = 0; i < threads; ++i) std::thread(run, &State::JobThread).detach();
}

void Worker::Stop() {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  if (!s.started) {
    s.stopping = s.receiver_done = true;
    return;
  }
  if (s.stopping) {
    s.changed.wait(lock, [&] { return s.receiver_done; });
    return;
  }
  s.stopping = true;
  s.changed.notify_all();
  // The receiver may sit in a long poll of up to worker.wait: cut it short (where the queue
  // can) rather than wait it out. Whatever it returns is released below.
  s.receive_stop.request_stop();
  s.changed.wait(lock, [&] { return s.receiver_done; });
  // Received but not started: visible again at once, for another worker.
  std::vector<std::string> release;
  for (const std::string& receipt : s.pending) release.push_back(receipt);
  for (const std::string& receipt : s.pending) s.in_hand.erase(receipt);
  s.pending.clear();
  lock.unlock();
  for (const std::string& receipt : release) s.Release(receipt);
  lock.lock();
  const bool finished = s.changed.wait_for(lock, s.options.shutdown_grace, [&] { return s.running == 0; });
  if (!finished) {
    release.clear();
    for (auto& [receipt, h] : s.in_hand) release.push_back(receipt);
    LogWarn("worker.shutdown", {{"running", s.running},
                                {"grace_ms", static_cast<int64_t>(s.options.shutdown_grace.count())},
                                {"detail", "jobs still running after the grace period are released"}});
    s.in_hand.clear();
    lock.unlock();
    for (const std::string& receipt : release) s.Release(receipt);
    lock.lock();
  }
  // Every job that will hand a message to the remover has done so (the rest were released
  // above and can no longer): let it remove what it holds, then exit.
  s.remover_closing = true;
  // The threads touch the queue until they exit; the caller may destroy it once we return.
  const int abandoned = s.running;
  s.changed.notify_all();
  s.changed.wait(lock, [&] { return s.threads_alive <= abandoned; });
}

WorkerCounters Worker::counters() const {
  std::lock_guard lock(state_->mu);
  return state_->counters;
}

bool Worker::stopping() const {
  std::lock_guard lock(state_->mu);
  return state_->stopping;
}

int Worker::in_hand() const {
  std::lock_guard lock(state_->mu);
  return static_cast<int>(state_->in_hand.size());
}

void Worker::State::Receiver() {
  // Receive only what can start soon: a slot that is free, or `receive_ahead` messages that
  // the next freed slots start at once. More would only wait, kept alive by heartbeats, while
  // other workers could run them.
  const int most = MaxMessagesInHand(options);
  std::unique_lock lock(mu);
  while (!stopping) {
    changed.wait(lock, [&] { return stopping || static_cast<int>(in_hand.size()) < most; });
    if (stopping) break;
    const int room = std::min(options.batch, most - static_cast<int>(in_hand.size()));
    lock.unlock();
    const Steady::time_point receive_start = Steady::now();
    Result<std::vector<queue::Message>> got = queue.ReceiveOrStop(room, options.wait, std::nullopt,
                                                                  receive_stop.get_token());
    const double call_ms = MsSince(receive_start);
    if (got.ok() && options.on_received) {
      for (const queue::Message& m : *got) options.on_received(m);
    }
    lock.lock();
    if (!got.ok()) {
      ++counters.queue_errors;
      LogError("worker.receive", {{"error", got.status().ToString()}});
      changed.wait_for(lock, std::chrono::seconds(1), [&] { return stopping; });  // do not spin on a broken queue
      continue;
    }
    const Clock::time_point now = clock.Now();
    for (queue::Message& m : *got) {
      ++counters.received;
      std::string receipt = m.receipt;
      pending.push_back(receipt);
      // Real time, not the injected clock: this is the cost of the call, for the job line.
      // It includes any long-poll wait for the first message (none while a backlog lasts).
      in_hand.insert_or_assign(std::move(receipt), InHand{std::move(m), now, false, call_ms / got->size()});
    }
    changed.notify_all();
  }
  receiver_done = true;
  changed.notify_all();
}

void Worker::State::JobThread() {
  if (options.job_nice > 0) {
    // Before the first job, so that libvips' threads, started by jobs, inherit it.
    if (Status s = SetThisThreadNice(options.job_nice); !s.ok()) {
      LogWarn("worker.job_nice", {{"nice", options.job_nice}, {"error", s.ToString()}});
    }
  }
  std::unique_lock lock(mu);
  Steady::time_point free_since = Steady::now();  // this thread's last job ended
  while (true) {
    // Once stopping, nothing new starts: Stop() releases what is pending.
    changed.wait(lock, [&] { return stopping || !pending.empty(); });
    if (stopping) return;
    const std::string receipt = pending.front();
    pending.pop_front();
    InHand& h = in_hand.at(receipt);
    h.running = true;
    const queue::Message message = h.message;
    const QueueTimes times{h.receive_ms, MsSince(free_since)};
    ++running;
    lock.unlock();
    const JobReport report = processor(message);
    const Steady::time_point job_end = Steady::now();
    lock.lock();
    // Released after the grace period: the message is someone else's now.
    const bool still_ours = in_hand.count(receipt) > 0;
    if (still_ours && (report.verdict == Verdict::kDone || report.verdict == Verdict::kSkipped)) {
      // Hand it to the remover: this thread and its slot are free at once, and the receiver
      // may fetch the next message while the remove is under way.
      in_hand.erase(receipt);
      to_remove.push_back(ToRemove{message, report, times, MsSince(job_end), Steady::now()});
      --running;
      free_since = Steady::now();
      changed.notify_all();
      continue;
    }
    lock.unlock();
    if (still_ours) Apply(message, report, times);
    lock.lock();
    if (still_ours) in_hand.erase(receipt);
    --running;
    free_since = Steady::now();
    changed.notify_all();
  }
}

void Worker::State::Remover() {
  std::unique_lock lock(mu);
  while (true) {
    changed.wait(lock, [&] { return remover_closing || !to_remove.empty(); });
    if (to_remove.empty()) return;  // closing, and nothing left
    std::vector<ToRemove> batch;
    while (!to_remove.empty() && batch.size() < static_cast<size_t>(queue::kMaxBatchEntries)) {
      batch.push_back(std::move(to_remove.front()));
      to_remove.pop_front();
    }
    lock.unlock();
    std::vector<std::string> receipts;
    for (const ToRemove& r : batch) receipts.push_back(r.message.receipt);
    Result<std::vector<Status>> removed = queue.RemoveBatch(receipts);
    const Steady::time_point now = Steady::now();
    // One outcome per message: its own, or the whole call's failure.
    const std::vector<Status> outcomes =
        removed.ok() ? std::move(*removed) : std::vector<Status>(batch.size(), removed.status());
    lock.lock();
    counters.removed += static_cast<int64_t>(batch.size());
    for (const Status& outcome : outcomes) {
      if (!outcome.ok()) ++counters.queue_errors;
    }
    lock.unlock();
    for (size_t i = 0; i < batch.size(); ++i) {
      const ToRemove& r = batch[i];
      LogJob(r.message, r.report, VerdictName(r.report.verdict), outcomes[i],
             {{"receive_ms", Rounded(r.times.receive_ms)}, {"wait_ms", Rounded(r.times.wait_ms)},
              {"verdict_ms", Rounded(r.verdict_ms)},
              {"remove_ms", Rounded(std::chrono::duration<double, std::milli>(now - r.handed_at).count())},
              {"remove_batch", batch.size()}});
    }
    lock.lock();
    changed.notify_all();
  }
}

// Retries and dead letters, on the job thread (they are rare; removes go to the remover).
void Worker::State::Apply(const queue::Message& m, const JobReport& report, const QueueTimes& times) {
  Status applied;
  const Steady::time_point verdict_start = Steady::now();
  std::string_view result = VerdictName(report.verdict);
  switch (report.verdict) {
    case Verdict::kDone:
    case Verdict::kSkipped:
      return;  // JobThread hands these to the remover
    case Verdict::kRetry:
      if (m.receive_count >= options.max_receive_count) {
        // The queue would dead-letter it on the next receive, without knowing why: do it now,
        // with the reason.
        applied = queue.DeadLetter(m.receipt, "gave up after " + std::to_string(m.receive_count) +
                                                  " receives; last error: " + report.error.ToString());
        result = "dead_letter";
      } else {
        Duration delay;
        {
          std::lock_guard lock(mu);
          delay = options.retry.Backoff(m.receive_count, rng);
        }
        applied = queue.ChangeVisibility(m.receipt, delay);
      }
      break;
    case Verdict::kDeadLetter:
      applied = queue.DeadLetter(m.receipt, report.error.ToString());
      break;
  }
  const double verdict_ms = MsSince(verdict_start);
  {
    std::lock_guard lock(mu);
    if (result == "retry") ++counters.retried;
    else ++counters.dead_lettered;
    if (!applied.ok()) ++counters.queue_errors;
  }
  LogJob(m, report, result, applied,
         {{"receive_ms", Rounded(times.receive_ms)}, {"wait_ms", Rounded(times.wait_ms)},
          {"verdict_ms", Rounded(verdict_ms)}});
}

// The job's line and metrics, once its verdict has been applied. `queue_ms` is what the queue
// cost this message (bench/scale): receive_ms and wait_ms (QueueTimes); verdict_ms, the time
// the job thread spent on the verdict (the whole remove / visibility change / dead-letter
// call, or only the hand-over to the remover); for removes, remove_ms (from the hand-over to
// the end of the RemoveBatch) and remove_batch (its size).
void Worker::State::LogJob(const queue::Message& m, const JobReport& report, std::string_view result,
                           const Status& applied, const nlohmann::json& queue_ms) {
  std::string keys;
  for (const std::string& k : report.keys) keys += (keys.empty() ? "" : ",") + k;
  Count(result);
  registry.GetHistogram("thumbpipe_job_duration_seconds", "Time from start to verdict of one job",
                        metrics::DurationBuckets()).Observe(report.total_ms / 1000);
  registry.GetCounter("thumbpipe_job_bytes_in_total", "Source bytes read by jobs").Inc(static_cast<double>(report.bytes_in));
  registry.GetCounter("thumbpipe_job_bytes_out_total", "Rendition bytes written by jobs").Inc(static_cast<double>(report.bytes_out));

  nlohmann::json fields = {{"message_id", m.id}, {"keys", keys}, {"result", std::string(result)},
                            {"receive_count", m.receive_count}, {"decodes", report.decodes},
                            {"renditions_written", report.renditions_written},
                            {"renditions_deleted", report.renditions_deleted}, {"bytes_in", report.bytes_in},
                            {"bytes_out", report.bytes_out}, {"decode_ms", report.decode_ms},
                            {"encode_ms", report.encode_ms}, {"total_ms", report.total_ms},
                            {"memory_estimate", report.memory_estimate},
                            {"memory_wait_ms", report.memory_wait_ms}};
  fields.update(queue_ms);
  if (report.icc_profile_ignored) fields["icc_profile_ignored"] = true;
  if (!report.error.ok()) {
    fields["error_class"] = report.error.IsPermanent() ? "permanent" : "transient";
    fields["error"] = report.error.ToString();
  }
  if (!applied.ok()) fields["queue_error"] = applied.ToString();
  if (report.error.ok() && applied.ok()) LogInfo("job", fields);
  else LogWarn("job", fields);
}

void Worker::State::Release(const std::string& receipt) {
  Status s = queue.ChangeVisibility(receipt, Duration{0});
  std::lock_guard lock(mu);
  ++counters.released;
  if (!s.ok()) ++counters.queue_errors;
}

void Worker::State::Heartbeat() {
  std::unique_lock lock(mu);
  // Wake often enough to notice a heartbeat falling due, in real time; what is due is
  // decided on the injected clock.
  const Duration tick = std::min<Duration>(options.heartbeat / 4 + Duration{1}, std::chrono::milliseconds(250));
  while (!(stopping && receiver_done && in_hand.empty())) {
    changed.wait_for(lock, tick);
    const Clock::time_point now = clock.Now();
    std::vector<std::pair<std::string, std::string>> due;  // id, receipt
    for (auto& [receipt, h] : in_hand) {
      if (now - h.extended_at >= options.heartbeat) due.emplace_back(h.message.id, receipt);
    }
    if (due.empty()) continue;
    lock.unlock();
    std::vector<std::pair<std::string, Status>> results;  // receipt, outcome
    for (const auto& [id, receipt] : due) results.emplace_back(receipt, queue.ChangeVisibility(receipt, options.visibility_timeout));
    lock.lock();
    for (size_t i = 0; i < results.size(); ++i) {
      const std::string& id = due[i].first;
      const Status& s = results[i].second;
      auto it = in_hand.find(results[i].first);
      if (s.ok()) {
        ++counters.extended;
        if (it != in_hand.end()) it->second.extended_at = now;
      } else if (it != in_hand.end()) {
        // A stale receipt (finished meanwhile) is normal; anything else is worth a line.
        if (s.code() != StatusCode::kFailedPrecondition) {
          LogWarn("worker.heartbeat", {{"message_id", id}, {"error", s.ToString()}});
        }
        it->second.extended_at = now;  // do not retry in a tight loop
      }
    }
  }
}

}  // namespace thumbpipe::pipeline
