// Test doubles for the events tests, each a real, small implementation of an interface (not a
// script of expected calls):
//  - MemoryOutbox: an Outbox in memory, with the blocking Pending() a store's outbox has;
//  - MemoryStore: an ObjectStore that keeps buckets, bucket configs and object metadata in
//    memory and runs the commit hook inside its "commit", appending to its MemoryOutbox under
//    the same lock (the atomicity the local store gives with one SQLite transaction). Object
//    bytes are counted, not kept; operations the events tests never use are kUnsupported;
//  - FaultyQueue: forwards to a real queue and fails the next N SendBatch calls (a fault
//    injector, in the spirit of leveldb's EnvWrapper).
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "queue/queue.h"
#include "store/object_store.h"

namespace thumbpipe::events::testing {

class MemoryOutbox final : public store::Outbox {
 public:
  // Appends entries as one step (what a store's commit does); returns their ids.
  std::vector<int64_t> Append(const std::vector<std::string>& payloads) {
    std::vector<int64_t> ids;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const std::string& p : payloads) {
        entries_.emplace(next_id_, p);
        ids.push_back(next_id_++);
      }
    }
    cv_.notify_all();
    return ids;
  }

  Result<std::vector<store::OutboxEntry>> Pending(int max, Duration wait) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [&] { return !entries_.empty(); });
    std::vector<store::OutboxEntry> out;
    for (auto it = entries_.begin(); it != entries_.end() && static_cast<int>(out.size()) < max; ++it) {
      out.push_back({it->first, it->second});
    }
    return out;
  }

  Status Done(std::span<const int64_t> ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (int64_t id : ids) entries_.erase(id);
    return Status::Ok();
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, std::string> entries_;  // id -> payload, oldest first
  int64_t next_id_ = 1;
};

class MemoryStore final : public store::ObjectStore {
 public:
  explicit MemoryStore(Clock& clock) : clock_(clock) {}

  Status CreateBucket(std::string_view bucket) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!buckets_.emplace(std::string(bucket), clock_.Now()).second) return Status::AlreadyExists("BucketAlreadyOwnedByYou");
    return Status::Ok();
  }
  Status DeleteBucket(std::string_view bucket) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (buckets_.erase(std::string(bucket)) == 0) return Status::NotFound("NoSuchBucket");
    configs_.erase(std::string(bucket));
    return Status::Ok();
  }
  Result<store::BucketInfo> HeadBucket(std::string_view bucket) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = buckets_.find(std::string(bucket));
    if (it == buckets_.end()) return Status::NotFound("NoSuchBucket: " + std::string(bucket));
    return store::BucketInfo{it->first, it->second};
  }
  Result<std::vector<store::BucketInfo>> ListBuckets() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<store::BucketInfo> out;
    for (const auto& [name, created] : buckets_) out.push_back({name, created});
    return out;
  }

  Result<std::unique_ptr<store::ObjectWriter>> BeginPut(std::string_view bucket, std::string_view key,
                                                        store::PutOptions options) override {
    THUMBPIPE_RETURN_IF_ERROR(HeadBucket(bucket).status());
    return std::unique_ptr<store::ObjectWriter>(new Writer(*this, std::string(bucket), std::string(key), std::move(options)));
  }
  Result<store::ObjectInfo> Head(std::string_view bucket, std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find({std::string(bucket), std::string(key)});
    if (it == objects_.end()) return Status::NotFound("NoSuchKey");
    return it->second;
  }
  Result<std::unique_ptr<store::ObjectReader>> Get(std::string_view, std::string_view,
                                                   std::optional<store::ByteRange>) override {
    return Status::Unsupported("MemoryStore keeps no bytes");
  }
  Status Delete(std::string_view bucket, std::string_view key, const store::WriteContext& context,
                bool* existed) override {
    std::lock_guard<std::mutex> lock(mu_);
    const bool was = objects_.erase({std::string(bucket), std::string(key)}) > 0;
    if (existed) *existed = was;
    store::WriteRecord record;
    record.kind = store::WriteKind::kDelete;
    record.object.bucket = std::string(bucket);
    record.object.key = std::string(key);
    record.object.version = ++version_;
    record.context = context;
    CommitLocked(record);
    return Status::Ok();
  }
  Result<store::ListPage> List(std::string_view, const store::ListRequest&) override { return Unsupported(); }
  Result<store::ObjectInfo> Copy(std::string_view, std::string_view, std::string_view, std::string_view, bool,
                                 store::PutOptions) override {
    return Unsupported();
  }
  Result<std::string> CreateMultipartUpload(std::string_view, std::string_view, store::PutOptions) override {
    return Unsupported();
  }
  Result<std::unique_ptr<store::ObjectWriter>> BeginPart(std::string_view, std::string_view, std::string_view, int,
                                                         std::optional<std::string>) override {
    return Unsupported();
  }
  Result<store::ObjectInfo> CompleteMultipartUpload(std::string_view, std::string_view, std::string_view,
                                                    std::span<const store::CompletedPart>) override {
    return Unsupported();
  }
  Status AbortMultipartUpload(std::string_view, std::string_view, std::string_view) override { return Unsupported(); }
  Result<std::vector<store::PartInfo>> ListParts(std::string_view, std::string_view, std::string_view) override {
    return Unsupported();
  }
  Result<std::vector<store::UploadInfo>> ListMultipartUploads(std::string_view, std::string_view) override {
    return Unsupported();
  }

  Status PutBucketConfig(std::string_view bucket, std::string_view name, std::string_view document) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!buckets_.contains(std::string(bucket))) return Status::NotFound("NoSuchBucket");
    configs_[std::string(bucket)][std::string(name)] = std::string(document);
    return Status::Ok();
  }
  Result<std::string> GetBucketConfig(std::string_view bucket, std::string_view name) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!buckets_.contains(std::string(bucket))) return Status::NotFound("NoSuchBucket");
    auto b = configs_.find(std::string(bucket));
    if (b == configs_.end()) return Status::NotFound("no " + std::string(name) + " configuration");
    auto c = b->second.find(std::string(name));
    if (c == b->second.end()) return Status::NotFound("no " + std::string(name) + " configuration");
    return c->second;
  }

  void SetCommitHook(store::CommitHook hook) override {
    std::lock_guard<std::mutex> lock(mu_);
    hook_ = std::move(hook);
  }
  store::Outbox* outbox() override { return &outbox_; }
  MemoryOutbox& memory_outbox() { return outbox_; }

 private:
  class Writer final : public store::ObjectWriter {
   public:
    Writer(MemoryStore& s, std::string bucket, std::string key, store::PutOptions options)
        : store_(s), bucket_(std::move(bucket)), key_(std::move(key)), options_(std::move(options)) {}
    Status Write(std::string_view chunk) override {
      size_ += chunk.size();
      return Status::Ok();
    }
    Result<store::ObjectInfo> Commit() override {
      std::lock_guard<std::mutex> lock(store_.mu_);
      store::ObjectInfo info;
      info.bucket = bucket_;
      info.key = key_;
      info.size = size_;
      info.etag = "d41d8cd98f00b204e9800998ecf8427e";
      info.last_modified = store_.clock_.Now();
      info.version = ++store_.version_;
      store_.objects_[{bucket_, key_}] = info;
      store_.CommitLocked({options_.kind, info, options_.context});
      return info;
    }

   private:
    MemoryStore& store_;
    std::string bucket_, key_;
    store::PutOptions options_;
    uint64_t size_ = 0;
  };

  static Status Unsupported() { return Status::Unsupported("not used by the events tests"); }

  // The hook runs under mu_, as it runs inside a store's transaction.
  void CommitLocked(const store::WriteRecord& record) {
    if (hook_) outbox_.Append(hook_(record));
  }

  Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Clock::time_point> buckets_;
  std::map<std::string, std::map<std::string, std::string>> configs_;
  std::map<std::pair<std::string, std::string>, store::ObjectInfo> objects_;
  uint64_t version_ = 0;
  store::CommitHook hook_;
  MemoryOutbox outbox_;
};

// Forwards to `target`; the next fail_batches() SendBatch calls (fail_sends() Send calls) fail
// with kUnavailable, and a
// body containing refuse_marker() is refused as a per-entry error while refusals() > 0.
// The next lose_answers() SendBatch calls reach `target` (which commits them) and then fail
// with kUnavailable, as a crash after the queue's commit looks to the sender.
// While HoldRemoves(true), Remove and RemoveBatch wait until HoldRemoves(false) (a slow queue
// round trip); remove_calls() is the receipt count of each remove call so far, in order.
// on_receive, if set, runs on the receiving thread before each Receive.
class FaultyQueue final : public queue::Queue {
 public:
  explicit FaultyQueue(queue::Queue& target) : target_(target) {}

  std::atomic<int>& fail_batches() { return fail_batches_; }
  std::atomic<int>& fail_sends() { return fail_sends_; }
  std::atomic<int>& refusals() { return refusals_; }
  std::atomic<int>& lose_answers() { return lose_answers_; }
  std::string& refuse_marker() { return refuse_marker_; }
  std::atomic<int>& batch_calls() { return batch_calls_; }
  std::atomic<int>& largest_batch() { return largest_batch_; }

  Result<std::string> Send(std::string_view body, const queue::Attributes& attributes,
                           std::optional<Duration> delay) override {
    if (fail_sends_ > 0) {
      fail_sends_--;
      return Status::Unavailable("injected: queue database is locked");
    }
    return target_.Send(body, attributes, delay);
  }
  Result<std::vector<Result<std::string>>> SendBatch(std::span<const queue::SendEntry> entries) override {
    batch_calls_++;
    largest_batch_ = std::max<int>(largest_batch_, static_cast<int>(entries.size()));
    if (fail_batches_ > 0) {
      fail_batches_--;
      return Status::Unavailable("injected: queue database is locked");
    }
    std::vector<queue::SendEntry> pass;
    std::vector<int> slot(entries.size(), -1);
    for (size_t i = 0; i < entries.size(); ++i) {
      if (refusals_ > 0 && !refuse_marker_.empty() && entries[i].body.find(refuse_marker_) != std::string::npos) {
        refusals_--;
        continue;
      }
      slot[i] = static_cast<int>(pass.size());
      pass.push_back(entries[i]);
    }
    std::vector<Result<std::string>> results;
    std::optional<Result<std::vector<Result<std::string>>>> sent;
    if (!pass.empty()) {
      sent = target_.SendBatch(pass);
      if (!sent->ok()) return sent->status();
      if (lose_answers_ > 0) {
        lose_answers_--;
        return Status::Unavailable("injected: the answer of a committed send was lost");
      }
    }
    for (size_t i = 0; i < entries.size(); ++i) {
      if (slot[i] < 0) {
        results.push_back(Status::InvalidArgument("injected: entry refused"));
      } else {
        results.push_back((**sent)[static_cast<size_t>(slot[i])]);
      }
    }
    return results;
  }
  Result<std::vector<queue::Message>> Receive(int max, Duration wait, std::optional<Duration> visibility) override {
    if (on_receive) on_receive();
    return target_.Receive(max, wait, visibility);
  }
  std::function<void()> on_receive;
  void HoldRemoves(bool hold) {
    std::lock_guard lock(removes_mu_);
    hold_removes_ = hold;
    removes_released_.notify_all();
  }
  std::vector<int> remove_calls() {
    std::lock_guard lock(removes_mu_);
    return remove_calls_;
  }
  Status Remove(std::string_view receipt) override {
    WaitToRemove(1);
    return target_.Remove(receipt);
  }
  Result<std::vector<Status>> RemoveBatch(std::span<const std::string> receipts) override {
    WaitToRemove(static_cast<int>(receipts.size()));
    return target_.RemoveBatch(receipts);
  }
  Status ChangeVisibility(std::string_view receipt, Duration timeout) override {
    return target_.ChangeVisibility(receipt, timeout);
  }
  Status DeadLetter(std::string_view receipt, std::string_view reason) override {
    return target_.DeadLetter(receipt, reason);
  }
  Result<queue::QueueStats> Stats() override { return target_.Stats(); }
  Result<int64_t> Purge() override { return target_.Purge(); }
  queue::DeadLetters& dead_letters() override { return target_.dead_letters(); }
  bool deduplicates() const override { return target_.deduplicates(); }

 private:
  void WaitToRemove(int receipts) {
    std::unique_lock lock(removes_mu_);
    remove_calls_.push_back(receipts);
    removes_released_.wait(lock, [&] { return !hold_removes_; });
  }

  queue::Queue& target_;
  std::mutex removes_mu_;
  std::condition_variable removes_released_;
  bool hold_removes_ = false;
  std::vector<int> remove_calls_;
  std::atomic<int> fail_batches_{0}, fail_sends_{0}, refusals_{0}, batch_calls_{0}, largest_batch_{0},
      lose_answers_{0};
  std::string refuse_marker_;
};

}  // namespace thumbpipe::events::testing
