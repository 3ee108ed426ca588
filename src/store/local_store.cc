// LocalStore: opening (schema, lock, start-up sweep), the group commit every write goes
// through, the pool of read connections, buckets and bucket configs.
//
// Connections: write_db_ carries every write, one group at a time (Write); read connections
// come from a pool, one per concurrent reader. In WAL mode readers never wait for the writer
// and a read that starts after a commit returned sees it (strong read-after-write).
#include <fcntl.h>
#include <sys/file.h>

#include <algorithm>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>

#include "common/logging.h"
#include "common/sqlite_wal_batch.h"
#include "store/local_schema.h"
#include "store/local_store_impl.h"
#include "store/names.h"

namespace thumbpipe::store {
namespace internal {
namespace {

constexpr int kBusyTimeoutMs = 5000;
// Read connections kept for reuse; more concurrent readers open (and then close) their own.
constexpr size_t kMaxIdleReaders = 32;
// WAL size (pages) that wakes the checkpointer (SQLite's own default threshold), and past
// which it also waits for readers (RESTART): 64 MiB at 4 KiB pages, the journal size limit.
constexpr int kCheckpointPages = 1000;
constexpr int kRestartPages = 16384;

std::string IndexPath(const LocalStoreOptions& o) { return (o.dir / "index.db").string(); }

}  // namespace

// --- WriteTxn ---

Result<int64_t> WriteTxn::NextVersion() {
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db_.Cached(
      "UPDATE counters SET value = value + 1 WHERE name = 'version' RETURNING value"));
  THUMBPIPE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
  if (!row) return Status::Corrupt("index: the version counter is missing");
  return stmt->Int(0);
}

Result<int64_t> WriteTxn::InsertInline(std::string_view data) {
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db_.Cached("INSERT INTO inline_bodies(data) VALUES(?)"));
  stmt->BindBlob(1, data);
  THUMBPIPE_RETURN_IF_ERROR(stmt->Run().status());
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_.get()));
}

Status WriteTxn::DropBody(const BodyRef& body) {
  if (!body.file.empty()) {
    files_to_remove_.push_back(body.file);
    return Status::Ok();
  }
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db_.Cached("DELETE FROM inline_bodies WHERE id = ?"));
  stmt->Bind(1, body.inline_id);
  return stmt->Run().status();
}

Status WriteTxn::Emit(const WriteRecord& record) {
  if (hook_ == nullptr || !*hook_) return Status::Ok();
  std::vector<std::string> payloads;
  // The hook is another module's code (events/); an exception must not escape into the
  // group commit, where it would leave the leader's followers waiting for ever. It fails
  // this write only: a write whose event cannot be made is not acknowledged.
  try {
    payloads = (*hook_)(record);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("commit hook failed: ") + e.what());
  } catch (...) {
    return Status::Internal("commit hook failed");
  }
  if (payloads.empty()) return Status::Ok();
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt,
                             db_.Cached("INSERT INTO outbox(payload, created_ms) VALUES(?, ?)"));
  for (const std::string& p : payloads) {
    stmt->Reset();
    stmt->BindBlob(1, p).Bind(2, now_ms_);
    THUMBPIPE_RETURN_IF_ERROR(stmt->Run().status());
  }
  emitted_ = true;
  return Status::Ok();
}

Status WriteTxn::RequireBucket(std::string_view bucket) {
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db_.Cached("SELECT 1 FROM buckets WHERE name = ?"));
  stmt->Bind(1, bucket);
  THUMBPIPE_ASSIGN_OR_RETURN(const bool found, stmt->Step());
  if (!found) return Status::NotFound("NoSuchBucket " + std::string(bucket));
  return Status::Ok();
}

// --- opening ---

Status LocalStore::Init() {
  THUMBPIPE_ASSIGN_OR_RETURN(Stmt version, write_db_.Prepare("PRAGMA user_version"));
  THUMBPIPE_ASSIGN_OR_RETURN(const bool has_row, version.Step());
  if (has_row && version.Int(0) > kSchemaVersion) {
    return Status::FailedPrecondition(fmt::format("{}: index schema version {} is newer than this program's {}",
                                                  IndexPath(options_), version.Int(0), kSchemaVersion));
  }
  version.Reset();
  if (Status done = write_db_.Transaction([&]() -> Status {
        THUMBPIPE_RETURN_IF_ERROR(write_db_.Exec(kSchemaSql));
        return write_db_.Exec(fmt::format("PRAGMA user_version={}", kSchemaVersion));
      });
      !done.ok()) {
    return done;
  }
  checkpointer_ = std::make_unique<sqlite::Checkpointer>(
      kCheckpointPages, [this] { return CheckpointPass(); }, [this](const Status& error) {
        LogWarn("store: checkpoint failed", {{"dir", options_.dir.string()}, {"error", error.ToString()}});
      });
  write_db_.SetWalHook(&sqlite::Checkpointer::OnWalCommit, checkpointer_.get());
  return Status::Ok();
}

LocalStore::~LocalStore() {
  // Before the connections its pass uses, and with no commit left to call its hook.
  if (checkpointer_) write_db_.SetWalHook(nullptr, nullptr);
  checkpointer_.reset();
}

Result<std::pair<int, int>> LocalStore::CheckpointPass() {
  // PASSIVE never blocks a writer or reader; the next writer starts the WAL over once all
  // of it is in the database file. Only a WAL that readers kept from starting over gets a
  // RESTART, which waits for them (briefly holding writers) so it cannot grow unbounded.
  Result<std::pair<int, int>> done = checkpoint_db_.Checkpoint(/*restart=*/false);
  if (done.ok() && done->first >= kRestartPages) done = checkpoint_db_.Checkpoint(/*restart=*/true);
  return done;
}

Status LocalStore::SweepLeftovers() {
  std::unordered_set<std::string> referenced;
  if (Status done = ReadTxn([&](Db& db) -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(
        "SELECT file FROM objects WHERE file IS NOT NULL "
        "UNION ALL SELECT file FROM parts WHERE file IS NOT NULL"));
    for (;;) {
      THUMBPIPE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) return Status::Ok();
      referenced.insert(stmt.Text(0));
    }
  }); !done.ok()) return done;
  THUMBPIPE_ASSIGN_OR_RETURN(const int64_t removed, files_.Sweep([&](std::string_view id) {
    return referenced.count(std::string(id)) > 0;
  }));
  if (removed > 0) {
    LogInfo("store: removed files left by an interrupted write",
            {{"dir", options_.dir.string()}, {"files", removed}});
  }
  return Status::Ok();
}

// --- group commit ---

Status LocalStore::Write(const std::function<Status(WriteTxn&)>& apply) {
  // Leader/follower group commit, as queue/ does for sends: whoever finds no leader at work
  // takes every write queued so far (its own included), applies them in one transaction and
  // hands each its outcome. Writes that arrive meanwhile form the next group, so groups grow
  // with the load (one WAL fsync for all of them) and a lone writer never waits for company.
  //
  // Under steady load from N writers that plain scheme settles into two alternating groups
  // of about N/2 (the writers of one group come back while the other commits), so each
  // fsync carries half of what it could. A leader therefore first waits, at most
  // group_commit_window, until as many writers are queued as took part in the last two
  // groups (PostgreSQL's commit_delay with commit_siblings, made adaptive): one fsync then
  // carries all of them. Writers are counted by thread, so a lone writer never waits.
  WriteRequest request;
  request.apply = &apply;
  request.thread = std::this_thread::get_id();
  std::unique_lock lock(group_mu_);
  pending_.push_back(&request);
  if (gathering_ && pending_.size() >= recent_writers_) gather_cv_.notify_one();
  while (!request.done) {
    if (leader_active_) {
      request.wake.wait(lock);
      continue;
    }
    leader_active_ = true;
    if (options_.group_commit_window.count() > 0 && pending_.size() < recent_writers_) {
      gathering_ = true;
      gather_cv_.wait_for(lock, options_.group_commit_window,
                          [&] { return pending_.size() >= recent_writers_; });
      gathering_ = false;
    }
    std::vector<WriteRequest*> group;
    group.swap(pending_);
    // Distinct threads of this group and the last: one thread writing in a loop counts once.
    std::vector<std::thread::id> writers = last_group_writers_;
    last_group_writers_.clear();
    for (const WriteRequest* r : group) last_group_writers_.push_back(r->thread);
    writers.insert(writers.end(), last_group_writers_.begin(), last_group_writers_.end());
    std::sort(writers.begin(), writers.end());
    recent_writers_ = static_cast<size_t>(std::unique(writers.begin(), writers.end()) - writers.begin());
    lock.unlock();
    (void)CommitGroup(group);  // each request carries its own status
    lock.lock();
    for (WriteRequest* r : group) {
      r->done = true;
      r->wake.notify_one();  // under group_mu_: the request lives until its thread sees done
    }
    leader_active_ = false;
    // The next leader: whoever queued first meanwhile. Waking only that one and the group's
    // own writers spares every other waiting request handler a wake-up per commit.
    if (!pending_.empty()) pending_.front()->wake.notify_one();
  }
  lock.unlock();
  // Unlinked by each writer itself, after the leader has let the group go.
  for (const std::string& file : request.files_to_remove) files_.Remove(file);
  if (request.emitted) NotifyOutbox();
  return request.status;
}

namespace {

Status RunCached(Db& db, std::string_view sql) {
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached(sql));
  return stmt->Run().status();
}

}  // namespace

Status LocalStore::CommitGroup(const std::vector<WriteRequest*>& group) {
  std::shared_ptr<const CommitHook> hook;
  {
    std::scoped_lock lock(hook_mu_);
    hook = hook_;
  }
  const int64_t now = ToMs(options_.clock->Now());
  int64_t applied = 0;
  const Status status = write_db_.Transaction([&]() -> Status {
    applied = 0;
    for (WriteRequest* r : group) {
      r->files_to_remove.clear();
      r->emitted = false;
      // Each write in its own savepoint: one that fails (a bucket deleted meanwhile, a stale
      // upload) is undone alone and the rest of the group still commits.
      // Prepared once (Cached), not parsed again for every write of every group.
      THUMBPIPE_RETURN_IF_ERROR(RunCached(write_db_, "SAVEPOINT w"));
      WriteTxn txn(write_db_, now, hook.get());
      r->status = (*r->apply)(txn);
      if (r->status.ok()) {
        THUMBPIPE_RETURN_IF_ERROR(RunCached(write_db_, "RELEASE w"));
        r->files_to_remove = std::move(txn.files_to_remove());
        r->emitted = txn.emitted();
        ++applied;
        continue;
      }
      // Busy means the lock was lost mid-way: retry the whole transaction.
      if (IsBusy(r->status)) return r->status;
      THUMBPIPE_RETURN_IF_ERROR(write_db_.Exec("ROLLBACK TO w"));
      THUMBPIPE_RETURN_IF_ERROR(write_db_.Exec("RELEASE w"));
    }
    return Status::Ok();
  });
  if (!status.ok()) {
    for (WriteRequest* r : group) {
      r->status = status;
      r->files_to_remove.clear();
      r->emitted = false;
    }
    return status;
  }
  ++commits_;
  writes_committed_ += applied;
  return Status::Ok();
}

// --- reads ---

LocalStore::ReadLease::~ReadLease() {
  if (db_ == nullptr) return;
  std::scoped_lock lock(store_.readers_mu_);
  if (store_.idle_readers_.size() < kMaxIdleReaders) store_.idle_readers_.push_back(std::move(db_));
}

Result<LocalStore::ReadLease> LocalStore::Reader() {
  {
    std::scoped_lock lock(readers_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Db> db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReadLease(*this, std::move(db));
    }
  }
  THUMBPIPE_ASSIGN_OR_RETURN(Db db, Db::Open(IndexPath(options_), Db::Sync::kNormal, kBusyTimeoutMs));
  return ReadLease(*this, std::make_unique<Db>(std::move(db)));
}

Status LocalStore::ReadTxn(const std::function<Status(Db&)>& body) {
  THUMBPIPE_ASSIGN_OR_RETURN(ReadLease db, Reader());
  THUMBPIPE_RETURN_IF_ERROR(db->Exec("BEGIN"));
  Status s = body(*db);
  const Status end = db->Exec(s.ok() ? "COMMIT" : "ROLLBACK");
  return s.ok() ? end : s;
}

// --- buckets ---

Status LocalStore::CreateBucket(std::string_view bucket) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  return Write([&](WriteTxn& txn) -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, txn.db().Cached(
        "INSERT INTO buckets(name, created_ms) VALUES(?, ?) ON CONFLICT(name) DO NOTHING"));
    stmt->Bind(1, bucket).Bind(2, txn.now_ms());
    THUMBPIPE_ASSIGN_OR_RETURN(const int64_t n, stmt->Run());
    if (n == 0) return Status::AlreadyExists("BucketAlreadyOwnedByYou " + std::string(bucket));
    return Status::Ok();
  });
}

Status LocalStore::DeleteBucket(std::string_view bucket) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  return Write([&](WriteTxn& txn) -> Status {
    Db& db = txn.db();
    THUMBPIPE_RETURN_IF_ERROR(txn.RequireBucket(bucket));
    {
      THUMBPIPE_ASSIGN_OR_RETURN(StmtLease any, db.Cached("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1"));
      any->Bind(1, bucket);
      THUMBPIPE_ASSIGN_OR_RETURN(const bool found, any->Step());
      if (found) return Status::FailedPrecondition("BucketNotEmpty " + std::string(bucket));
    }
    // Unfinished multipart uploads do not keep a bucket alive; their parts go with it.
    THUMBPIPE_ASSIGN_OR_RETURN(Stmt parts, db.Prepare(
        "SELECT file, inline_id FROM parts WHERE upload IN (SELECT id FROM uploads WHERE bucket = ?)"));
    parts.Bind(1, bucket);
    std::vector<BodyRef> bodies;
    for (;;) {
      THUMBPIPE_ASSIGN_OR_RETURN(const bool row, parts.Step());
      if (!row) break;
      bodies.push_back(BodyRef{parts.Text(0), parts.Int(1)});
    }
    for (const BodyRef& b : bodies) THUMBPIPE_RETURN_IF_ERROR(txn.DropBody(b));
    for (const char* sql : {"DELETE FROM parts WHERE upload IN (SELECT id FROM uploads WHERE bucket = ?1)",
                            "DELETE FROM uploads WHERE bucket = ?1",
                            "DELETE FROM bucket_configs WHERE bucket = ?1",
                            "DELETE FROM buckets WHERE name = ?1"}) {
      THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached(sql));
      stmt->Bind(1, bucket);
      THUMBPIPE_RETURN_IF_ERROR(stmt->Run().status());
    }
    return Status::Ok();
  });
}

Result<BucketInfo> LocalStore::HeadBucket(std::string_view bucket) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  THUMBPIPE_ASSIGN_OR_RETURN(ReadLease db, Reader());
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db->Cached("SELECT created_ms FROM buckets WHERE name = ?"));
  stmt->Bind(1, bucket);
  THUMBPIPE_ASSIGN_OR_RETURN(const bool found, stmt->Step());
  if (!found) return Status::NotFound("NoSuchBucket " + std::string(bucket));
  return BucketInfo{std::string(bucket), FromMs(stmt->Int(0))};
}

Result<std::vector<BucketInfo>> LocalStore::ListBuckets() {
  THUMBPIPE_ASSIGN_OR_RETURN(ReadLease db, Reader());
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db->Cached("SELECT name, created_ms FROM buckets ORDER BY name"));
  std::vector<BucketInfo> out;
  for (;;) {
    THUMBPIPE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
    if (!row) return out;
    out.push_back(BucketInfo{stmt->Text(0), FromMs(stmt->Int(1))});
  }
}

Status LocalStore::PutBucketConfig(std::string_view bucket, std::string_view name,
                                   std::string_view document) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  if (name.empty()) return Status::InvalidArgument("InvalidArgument the configuration name is empty");
  return Write([&](WriteTxn& txn) -> Status {
    THUMBPIPE_RETURN_IF_ERROR(txn.RequireBucket(bucket));
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, txn.db().Cached(
        "INSERT INTO bucket_configs(bucket, name, document) VALUES(?1, ?2, ?3) "
        "ON CONFLICT(bucket, name) DO UPDATE SET document = ?3"));
    stmt->Bind(1, bucket).Bind(2, name).BindBlob(3, document);
    return stmt->Run().status();
  });
}

Result<std::string> LocalStore::GetBucketConfig(std::string_view bucket, std::string_view name) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  std::optional<std::string> document;
  if (Status done = ReadTxn([&](Db& db) -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease exists, db.Cached("SELECT 1 FROM buckets WHERE name = ?"));
    exists->Bind(1, bucket);
    THUMBPIPE_ASSIGN_OR_RETURN(const bool found, exists->Step());
    if (!found) return Status::NotFound("NoSuchBucket " + std::string(bucket));
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached(
        "SELECT document FROM bucket_configs WHERE bucket = ? AND name = ?"));
    stmt->Bind(1, bucket).Bind(2, name);
    THUMBPIPE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
    if (row) document = stmt->Text(0);
    return Status::Ok();
  }); !done.ok()) return done;
  if (!document) {
    return Status::NotFound("NoSuchConfiguration " + std::string(name) + " is not set on " +
                            std::string(bucket));
  }
  return std::move(*document);
}

void LocalStore::SetCommitHook(CommitHook hook) {
  auto shared = hook ? std::make_shared<const CommitHook>(std::move(hook)) : nullptr;
  std::scoped_lock lock(hook_mu_);
  hook_ = std::move(shared);
}

}  // namespace internal

namespace {

Status CheckOptions(const LocalStoreOptions& o) {
  auto bad = [](std::string what) { return Status::InvalidArgument("store options: " + what); };
  if (o.dir.empty()) return bad("dir is empty");
  if (o.max_object_bytes == 0) return bad("max_object_bytes is 0");
  if (o.inline_max_bytes > (uint64_t{16} << 20)) return bad("inline_max_bytes must be at most 16 MiB");
  if (o.outbox_poll.count() < 1 || o.outbox_poll > std::chrono::seconds(5)) {
    return bad("outbox_poll must be 1ms-5s");
  }
  if (o.clock == nullptr) return bad("clock is null");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ObjectStore>> OpenLocalStore(const LocalStoreOptions& options) {
  using internal::Db;
  THUMBPIPE_RETURN_IF_ERROR(CheckOptions(options));
  THUMBPIPE_ASSIGN_OR_RETURN(internal::BlobFiles files, internal::BlobFiles::Open(options.dir, options.durable));
  const std::string lock_path = (options.dir / "LOCK").string();
  internal::UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.valid()) return internal::PosixError("open " + lock_path, errno);
  // Only a store that is alone with the directory may sweep: another process's write in
  // flight has a temp file, or a published blob whose row is not committed yet.
  const bool alone = ::flock(lock.get(), LOCK_EX | LOCK_NB) == 0;
  // Each commit's WAL frames go to the file in one write (sqlite_wal_batch.h).
  const char* vfs = sqlite::WalBatchVfsName();
  THUMBPIPE_ASSIGN_OR_RETURN(
      Db write_db, Db::Open((options.dir / "index.db").string(),
                            options.durable ? Db::Sync::kFull : Db::Sync::kNormal, internal::kBusyTimeoutMs, vfs));
  THUMBPIPE_ASSIGN_OR_RETURN(Db checkpoint_db, Db::Open((options.dir / "index.db").string(), Db::Sync::kNormal,
                                                        internal::kBusyTimeoutMs, vfs));
  const int lock_fd = lock.get();
  auto store = std::make_unique<internal::LocalStore>(options, std::move(files), std::move(lock),
                                                      std::move(write_db), std::move(checkpoint_db));
  THUMBPIPE_RETURN_IF_ERROR(store->Init());
  if (alone) THUMBPIPE_RETURN_IF_ERROR(store->SweepLeftovers());
  // Shared from now on; a store opening meanwhile waits here until the sweep is over (the
  // conversion is not atomic, but an opener that slips in only sweeps before anyone writes).
  if (::flock(lock_fd, LOCK_SH) != 0) return internal::PosixError("flock " + lock_path, errno);
  return std::unique_ptr<ObjectStore>(std::move(store));
}

LocalCommitStats GetLocalCommitStats(const ObjectStore& store) {
  const auto* local = dynamic_cast<const internal::LocalStore*>(&store);
  return local == nullptr ? LocalCommitStats{} : local->commit_stats();
}

}  // namespace thumbpipe::store
