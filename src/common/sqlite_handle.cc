#include "common/sqlite_handle.h"

#include <chrono>
#include <random>
#include <thread>

namespace thumbpipe::sqlite {

Status SqliteStatus(int rc, sqlite3* db, std::string_view context) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return Status::Ok();
  std::string msg(context);
  msg += ": ";
  msg += (db != nullptr) ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {  // primary code; extended codes keep it in the low byte
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(msg));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corrupt(std::move(msg));
    case SQLITE_FULL:
      return Status::DiskFull(msg);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return Status::IOError(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

bool IsBusy(const Status& status) { return status.code() == StatusCode::kUnavailable; }

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_.get(), i, v);
  return *this;
}

Stmt& Stmt::Bind(int i, std::string_view text) {
  sqlite3_bind_text(stmt_.get(), i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindBlob(int i, std::string_view bytes) {
  // A zero-length blob with a null pointer would bind NULL; "" keeps it a blob.
  sqlite3_bind_blob(stmt_.get(), i, bytes.empty() ? "" : bytes.data(),
                    static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(stmt_.get(), i);
  return *this;
}

Result<bool> Stmt::Step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(rc, db_, "sqlite step");
}

Result<int64_t> Stmt::Run() {
  for (;;) {
    THUMBPIPE_ASSIGN_OR_RETURN(const bool row, Step());
    if (!row) break;
  }
  return static_cast<int64_t>(sqlite3_changes64(db_));
}

void Stmt::Reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::string Stmt::Text(int col) const {
  const void* p = sqlite3_column_blob(stmt_.get(), col);
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
}

Result<Db> Db::Open(const std::string& path, Sync sync, int busy_timeout_ms, const char* vfs) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 vfs);
  Db db;
  db.db_.reset(raw);  // closes even when open failed
  if (rc != SQLITE_OK) return SqliteStatus(rc, raw, "opening " + path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  // journal_mode=WAL is persistent in the file; setting it again is cheap. It needs the
  // write lock when it changes the mode, so it is retried like any write.
  for (int attempt = 0;; ++attempt) {
    Status s = db.Exec("PRAGMA journal_mode=WAL");
    if (s.ok()) break;
    if (!IsBusy(s) || attempt >= kMaxBusyRetries) return s;
  }
  db.sync_ = sync == Sync::kFull ? Sync::kNormal : Sync::kFull;  // so that the next line sets it
  THUMBPIPE_RETURN_IF_ERROR(db.SetSynchronous(sync));
  // When a checkpoint lets the WAL start over, its file is cut back to this size, so a burst
  // does not leave a huge file behind.
  THUMBPIPE_RETURN_IF_ERROR(db.Exec("PRAGMA journal_size_limit=67108864"));
  return db;
}

Status Db::SetSynchronous(Sync sync) {
  if (sync == sync_) return Status::Ok();
  THUMBPIPE_RETURN_IF_ERROR(Exec(sync == Sync::kFull ? "PRAGMA synchronous=FULL"
                                                     : "PRAGMA synchronous=NORMAL"));
  sync_ = sync;
  return Status::Ok();
}

Status Db::Exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  return SqliteStatus(rc, db_.get(), "exec");
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return SqliteStatus(rc, db_.get(), "prepare");
  }
  return Stmt(db_.get(), raw);
}

Result<StmtLease> Db::Cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    THUMBPIPE_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
    it = cache_.emplace(std::string(sql), std::make_unique<Stmt>(std::move(stmt))).first;
  }
  return StmtLease(it->second.get());
}

Result<std::pair<int, int>> Db::Checkpoint(bool restart) {
  int log = 0, done = 0;
  const int rc = sqlite3_wal_checkpoint_v2(
      db_.get(), nullptr, restart ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE, &log,
      &done);
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) return std::pair{0, 0};
  THUMBPIPE_RETURN_IF_ERROR(SqliteStatus(rc, db_.get(), "checkpoint"));
  return std::pair{log, done};
}

Status Db::RunCached(std::string_view sql) {
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, Cached(sql));
  return stmt->Run().status();
}

Status Db::Transaction(const std::function<Status()>& body) {
  thread_local std::minstd_rand jitter(std::random_device{}());
  Status last;
  for (int attempt = 0; attempt <= kMaxBusyRetries; ++attempt) {
    if (attempt > 0) {
      // busy_timeout already waited; a short random real-time pause keeps processes that
      // collide from colliding again in lock step.
      std::this_thread::sleep_for(std::chrono::microseconds(100 + jitter() % 2000));
    }
    // Prepared once (Cached) rather than parsed by sqlite3_exec at every transaction: a
    // queue runs thousands of small transactions a second.
    last = RunCached("BEGIN IMMEDIATE");
    if (!last.ok()) {
      if (IsBusy(last)) continue;
      return last;
    }
    last = body();
    if (last.ok()) last = RunCached("COMMIT");
    if (last.ok()) return last;
    // A failed COMMIT leaves the transaction open; the body's failure may too.
    if (!sqlite3_get_autocommit(db_.get())) (void)RunCached("ROLLBACK");
    if (!IsBusy(last)) return last;
  }
  return last.WithContext("database stayed locked");
}

std::string_view Stmt::View(int col) const {
  const void* p = sqlite3_column_blob(stmt_.get(), col);
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  return p == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(p), static_cast<size_t>(n));
}

}  // namespace thumbpipe::sqlite
