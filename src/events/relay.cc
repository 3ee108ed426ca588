#include "events/relay.h"

#include <algorithm>
#include <string_view>
#include <map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/logging.h"

namespace thumbpipe::events {
namespace {

// SQS's SendMessageBatch limit, which every Queue backend shares.
constexpr size_t kBatch = 10;
// Backoff waits are cut into slices so that Stop() is noticed while a queue is down.
constexpr Duration kSleepSlice = std::chrono::milliseconds(50);

struct Item {
  int64_t id;
  std::string body;
  std::string dedup_id;
};

// FNV-1a, 64 bits: a stable hash (std::hash promises nothing across builds).
uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::string OutboxDedupId(const store::OutboxEntry& entry) {
  return fmt::format("outbox-{}-{:016x}", entry.id, Fnv1a64(entry.payload));
}

namespace {

}  // namespace

Relay::Relay(store::Outbox& outbox, DestinationResolver resolver, Clock& clock, RelayOptions options)
    : outbox_(outbox), resolver_(std::move(resolver)), clock_(clock), options_(options) {}

Relay::~Relay() { Stop(Duration{0}); }

void Relay::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  thread_ = std::thread(&Relay::Run, this);
}

void Relay::Stop(Duration grace) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_ || stopping_) return;
    stop_deadline_ = clock_.Now() + grace;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  running_ = false;
  cv_.notify_all();
}

Status Relay::Flush(Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!running_ || stopping_) return Status::FailedPrecondition("the relay is not running");
  // Only a round that begins after this call can prove that what was pending is delivered.
  const uint64_t target = rounds_started_ + 1;
  const bool drained =
      cv_.wait_for(lock, timeout, [&] { return last_empty_round_ >= target || !running_ || stopping_; });
  if (!drained) return Status::Unavailable("the outbox did not drain within " + FormatDuration(timeout));
  if (last_empty_round_ < target) return Status::FailedPrecondition("the relay stopped before the outbox drained");
  return Status::Ok();
}

Relay::Stats Relay::stats() const { return {delivered_.load(), failures_.load(), discarded_.load()}; }

bool Relay::PastDeadline() const {
  if (!stopping_) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return clock_.Now() >= stop_deadline_;
}

void Relay::Run() {
  Duration backoff = options_.initial_backoff;
  while (!PastDeadline()) {
    bool failed = false;
    const bool empty = RunOnce(failed);
    if (empty && stopping_) break;
    if (failed) {
      Backoff(backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
    } else {
      backoff = options_.initial_backoff;
    }
  }
}

void Relay::Backoff(Duration d) {
  while (d > Duration{0} && !PastDeadline()) {
    const Duration slice = std::min(d, kSleepSlice);
    clock_.SleepFor(slice);
    d -= slice;
  }
}

bool Relay::RunOnce(bool& failed) {
  uint64_t round;
  {
    std::lock_guard<std::mutex> lock(mu_);
    round = ++rounds_started_;
  }
  auto pending = outbox_.Pending(options_.fetch, stopping_ ? Duration{0} : options_.poll);
  if (!pending.ok()) {
    LogWarn("event relay: reading the outbox failed", {{"error", pending.status().ToString()}});
    failures_++;
    failed = true;
    return false;
  }
  if (pending->empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    last_empty_round_ = round;
    cv_.notify_all();
    return true;
  }

  // Group by destination, keeping outbox order within each.
  std::vector<std::pair<std::string, std::vector<Item>>> groups;
  std::map<std::string, size_t, std::less<>> group_of;
  std::vector<int64_t> undecodable;
  for (store::OutboxEntry& entry : *pending) {
    auto payload = DecodeOutboxPayload(entry.payload);
    if (!payload.ok()) {
      LogError("event relay: discarding an outbox entry that is not an event envelope",
               {{"id", entry.id}, {"error", payload.status().message()}, {"payload", entry.payload.substr(0, 512)}});
      undecodable.push_back(entry.id);
      continue;
    }
    auto [it, inserted] = group_of.try_emplace(payload->queue, groups.size());
    if (inserted) groups.emplace_back(payload->queue, std::vector<Item>{});
    groups[it->second].second.push_back({entry.id, std::move(payload->body), OutboxDedupId(entry)});
  }
  // Every entry the round finished is marked done in one outbox write at its end, not one per
  // batch: each Done is a store commit (an fsync unless it shares a group with writes).
  std::vector<int64_t> sent;

  for (auto& [destination, items] : groups) {
    queue::Queue* queue = resolver_(destination);
    if (queue == nullptr) {
      LogWarn("event relay: no queue for destination; events stay in the outbox",
              {{"destination", destination}, {"entries", items.size()}});
      failures_++;
      failed = true;
      continue;
    }
    for (size_t start = 0; start < items.size(); start += kBatch) {
      const size_t end = std::min(items.size(), start + kBatch);
      std::vector<queue::SendEntry> entries;
      entries.reserve(end - start);
      for (size_t i = start; i < end; ++i) {
        entries.push_back({items[i].body, {}, std::nullopt, items[i].dedup_id});
      }
      auto results = queue->SendBatch(entries);
      if (!results.ok()) {
        // Later batches of this destination wait too, so that its events go out in order.
        LogWarn("event relay: sending to the queue failed; will retry",
                {{"destination", destination}, {"entries", end - start}, {"error", results.status().ToString()}});
        failures_++;
        failed = true;
        break;
      }
      for (size_t i = start; i < end; ++i) {
        const Result<std::string>& r = (*results)[i - start];
        if (r.ok()) {
          sent.push_back(items[i].id);
        } else {
          LogWarn("event relay: the queue refused an event; will retry",
                  {{"destination", destination}, {"id", items[i].id}, {"error", r.status().ToString()}});
          failures_++;
          failed = true;
        }
      }
    }
  }
  if (sent.empty() && undecodable.empty()) return false;
  std::vector<int64_t> done = sent;
  done.insert(done.end(), undecodable.begin(), undecodable.end());
  // A failure here (or a crash before it) leaves the entries pending: they will be sent
  // again with the same dedup ids, which a deduplicating queue (the embedded one) drops.
  if (Status s = outbox_.Done(done); !s.ok()) {
    LogWarn("event relay: marking entries done failed; they will be sent again", {{"error", s.ToString()}});
    failed = true;
    return false;
  }
  delivered_ += static_cast<int64_t>(sent.size());
  discarded_ += static_cast<int64_t>(undecodable.size());
  return false;
}

}  // namespace thumbpipe::events
