// Internal to src/store: the LocalStore class and its parts, shared by the .cc files that
// implement it (local_store.cc: opening, buckets, group commit; local_body.cc: bodies being
// written and read; local_objects.cc: put/get/head/delete/copy; local_list.cc: listings;
// local_multipart.cc; local_outbox.cc). Users include local_store.h only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/blob_files.h"
#include "store/local_store.h"
#include "store/md5.h"
#include "common/sqlite_checkpointer.h"
#include "common/sqlite_handle.h"

namespace thumbpipe::store::internal {

// The SQLite wrappers, shared with the queue.
using sqlite::Db;
using sqlite::IsBusy;
using sqlite::SqliteStatus;
using sqlite::Stmt;
using sqlite::StmtLease;

inline int64_t ToMs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline Clock::time_point FromMs(int64_t ms) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::time_point::duration>(std::chrono::milliseconds(ms)));
}

// Where a body lives: a blob file, or a row of inline_bodies.
struct BodyRef {
  std::string file;       // blob id; empty for an inline body
  int64_t inline_id = 0;  // inline_bodies.id when file is empty
  bool operator==(const BodyRef&) const = default;
};

// A body being assembled: kept in memory while it is at most inline_max bytes, then spilled
// to a temp blob file, so memory stays bounded whatever the body's size. Unless Keep() is
// called after the commit that names it, the destructor removes the temp or published file.
class BodySink {
 public:
  BodySink(const BlobFiles& files, uint64_t inline_max) : files_(files), inline_max_(inline_max) {}
  BodySink(const BodySink&) = delete;
  BodySink& operator=(const BodySink&) = delete;
  ~BodySink();

  Status Append(std::string_view bytes);
  // Appends `length` bytes of file `fd` from `offset` (copy_file_range once spilled).
  Status AppendFrom(int fd, uint64_t offset, uint64_t length);
  uint64_t size() const { return size_; }
  // Publishes a spilled body (fsync, rename into its shard). REQUIRES: called once, last.
  Status Finish();
  bool is_inline() const { return file_id_.empty(); }
  const std::string& inline_bytes() const { return memory_; }
  const std::string& file_id() const { return file_id_; }
  // A committed row names the file now: it must stay.
  void Keep() { keep_ = true; }

 private:
  Status Spill();

  const BlobFiles& files_;
  const uint64_t inline_max_;
  uint64_t size_ = 0;
  std::string memory_;   // the body while inline
  std::string file_id_;  // set once spilled
  UniqueFd fd_;          // the temp file while spilled and not finished
  bool published_ = false;
  bool keep_ = false;
};

// One write applied inside a group's index transaction (inside its own savepoint).
class WriteTxn {
 public:
  WriteTxn(Db& db, int64_t now_ms, const CommitHook* hook) : db_(db), now_ms_(now_ms), hook_(hook) {}

  Db& db() { return db_; }
  int64_t now_ms() const { return now_ms_; }
  // The store-wide write counter, incremented (ObjectInfo::version, S3's sequencer).
  Result<int64_t> NextVersion();
  Result<int64_t> InsertInline(std::string_view data);
  // Forgets a body no row names any more: an inline row goes now, a file after the commit.
  Status DropBody(const BodyRef& body);
  // Runs the commit hook on `record` and stores its payloads in the outbox.
  Status Emit(const WriteRecord& record);
  // NoSuchBucket unless `bucket` exists.
  Status RequireBucket(std::string_view bucket);

  std::vector<std::string>& files_to_remove() { return files_to_remove_; }
  bool emitted() const { return emitted_; }

 private:
  Db& db_;
  const int64_t now_ms_;
  const CommitHook* hook_;
  std::vector<std::string> files_to_remove_;
  bool emitted_ = false;
};

// An object's index row.
struct ObjectRow {
  ObjectInfo info;
  BodyRef body;
};

class LocalStore;

class LocalOutbox final : public Outbox {
 public:
  explicit LocalOutbox(LocalStore& store) : store_(store) {}
  Result<std::vector<OutboxEntry>> Pending(int max, Duration wait) override;
  Status Done(std::span<const int64_t> ids) override;

 private:
  LocalStore& store_;
};

class LocalStore final : public ObjectStore {
 public:
  LocalStore(const LocalStoreOptions& options, BlobFiles files, UniqueFd lock, Db write_db, Db checkpoint_db)
      : options_(options), files_(std::move(files)), lock_(std::move(lock)),
        write_db_(std::move(write_db)), checkpoint_db_(std::move(checkpoint_db)) {}
  ~LocalStore() override;

  // Creates the schema, then starts the checkpointer.
  Status Init();
  // Removes temp blobs and blobs no row names. REQUIRES: DIR/LOCK held exclusively.
  Status SweepLeftovers();

  Status CreateBucket(std::string_view bucket) override;
  Status DeleteBucket(std::string_view bucket) override;
  Result<BucketInfo> HeadBucket(std::string_view bucket) override;
  Result<std::vector<BucketInfo>> ListBuckets() override;

  Result<std::unique_ptr<ObjectWriter>> BeginPut(std::string_view bucket, std::string_view key,
                                                 PutOptions options) override;
  Result<ObjectInfo> Head(std::string_view bucket, std::string_view key) override;
  Result<std::unique_ptr<ObjectReader>> Get(std::string_view bucket, std::string_view key,
                                            std::optional<ByteRange> range) override;
  Status Delete(std::string_view bucket, std::string_view key, const WriteContext& context,
                bool* existed) override;
  Result<ListPage> List(std::string_view bucket, const ListRequest& request) override;
  Result<ObjectInfo> Copy(std::string_view src_bucket, std::string_view src_key,
                          std::string_view dst_bucket, std::string_view dst_key,
                          bool replace_metadata, PutOptions options) override;

  Result<std::string> CreateMultipartUpload(std::string_view bucket, std::string_view key,
                                            PutOptions options) override;
  Result<std::unique_ptr<ObjectWriter>> BeginPart(std::string_view bucket, std::string_view key,
                                                  std::string_view upload_id, int part_number,
                                                  std::optional<std::string> expected_md5) override;
  Result<ObjectInfo> CompleteMultipartUpload(std::string_view bucket, std::string_view key,
                                             std::string_view upload_id,
                                             std::span<const CompletedPart> parts) override;
  Result<ObjectInfo> CompleteMultipartUpload(std::string_view bucket, std::string_view key,
                                             std::string_view upload_id,
                                             std::span<const CompletedPart> parts,
                                             const WriteContext& context) override;
  Status AbortMultipartUpload(std::string_view bucket, std::string_view key,
                              std::string_view upload_id) override;
  Result<std::vector<PartInfo>> ListParts(std::string_view bucket, std::string_view key,
                                          std::string_view upload_id) override;
  Result<std::vector<UploadInfo>> ListMultipartUploads(std::string_view bucket,
                                                       std::string_view prefix) override;

  Status PutBucketConfig(std::string_view bucket, std::string_view name, std::string_view document) override;
  Result<std::string> GetBucketConfig(std::string_view bucket, std::string_view name) override;

  void SetCommitHook(CommitHook hook) override;
  Outbox* outbox() override { return &outbox_; }

  // --- shared by the implementation files ---

  // Applies `apply` in an index transaction shared with concurrent writers (group commit)
  // and returns its own outcome: a failing write is rolled back alone (its savepoint), the
  // others commit. Files the write dropped are unlinked after the commit. `apply` may run
  // more than once (the transaction is retried while another process holds the lock).
  Status Write(const std::function<Status(WriteTxn&)>& apply);

  // A read connection, returned to the pool when the lease ends.
  class ReadLease {
   public:
    ReadLease(LocalStore& store, std::unique_ptr<Db> db) : store_(store), db_(std::move(db)) {}
    ReadLease(ReadLease&& other) noexcept : store_(other.store_), db_(std::move(other.db_)) {}
    ReadLease& operator=(ReadLease&&) = delete;
    ~ReadLease();
    Db& operator*() const { return *db_; }
    Db* operator->() const { return db_.get(); }

   private:
    LocalStore& store_;
    std::unique_ptr<Db> db_;
  };
  Result<ReadLease> Reader();
  // Runs `body` in one read transaction (one snapshot) on a pooled connection.
  Status ReadTxn(const std::function<Status(Db&)>& body);

  // The row of (bucket, key), or nullopt. With `full`, headers and metadata too.
  static Result<std::optional<ObjectRow>> ReadObject(Db& db, std::string_view bucket,
                                                     std::string_view key, bool full);
  // Stores `info` (bucket, key, size, etag, content type, headers, metadata) with `body` as
  // the object's new row, dropping the old body; sets version and last_modified. Runs the
  // hook with `kind` and `context`.
  static Status CommitObject(WriteTxn& txn, ObjectInfo& info, const PutOptions& headers,
                             const BodyRef& body, WriteKind kind, const WriteContext& context);
  // Inserts the sink's inline bytes (if inline) and returns where the body lives.
  static Result<BodyRef> StoreBody(WriteTxn& txn, const BodySink& sink);

  const LocalStoreOptions& options() const { return options_; }
  const BlobFiles& files() const { return files_; }
  LocalCommitStats commit_stats() const { return {writes_committed_.load(), commits_.load()}; }
  // Index rows List has read so far (tests check that listings seek instead of scanning).
  int64_t list_rows_read() const { return list_rows_read_.load(); }

  // Outbox support: wakes Pending calls of this process after a commit.
  void NotifyOutbox();
  uint64_t outbox_seq();
  void WaitOutbox(uint64_t seen, std::chrono::steady_clock::time_point until);

 private:
  struct WriteRequest {
    const std::function<Status(WriteTxn&)>* apply = nullptr;
    std::thread::id thread;
    Status status;
    std::vector<std::string> files_to_remove;
    bool emitted = false;
    bool done = false;                // protected by group_mu_
    std::condition_variable wake{};   // done, or its turn to lead; with group_mu_
  };
  Status CommitGroup(const std::vector<WriteRequest*>& group);

  const LocalStoreOptions options_;
  const BlobFiles files_;
  UniqueFd lock_;  // DIR/LOCK, held shared for the store's life

  // Group commit. write_db_ is used only by the current leader (leader_active_).
  Db write_db_;
  std::mutex group_mu_;
  std::vector<WriteRequest*> pending_;  // protected by group_mu_
  bool leader_active_ = false;          // protected by group_mu_
  // The leader waiting for company (gather_cv_), and how much it waits for.
  std::condition_variable gather_cv_;
  bool gathering_ = false;       // protected by group_mu_
  std::vector<std::thread::id> last_group_writers_;  // protected by group_mu_
  size_t recent_writers_ = 0;  // distinct threads of the last two groups; protected by group_mu_
  std::atomic<int64_t> writes_committed_{0};
  std::atomic<int64_t> commits_{0};

  std::atomic<int64_t> list_rows_read_{0};

  // Checkpoints run on their own thread and connection, never in a committing thread
  // (common/sqlite_checkpointer.h). CheckpointPass is what that thread runs.
  Result<std::pair<int, int>> CheckpointPass();
  Db checkpoint_db_;
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;  // from Init; reset first in the destructor

  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Db>> idle_readers_;  // protected by readers_mu_

  std::mutex hook_mu_;
  std::shared_ptr<const CommitHook> hook_;  // protected by hook_mu_

  LocalOutbox outbox_{*this};
  std::mutex outbox_mu_;
  std::condition_variable outbox_cv_;
  uint64_t outbox_seq_ = 0;  // protected by outbox_mu_
};

}  // namespace thumbpipe::store::internal
