// Thin RAII wrappers over the SQLite C API for the rooms that keep state in SQLite (the
// queue and the local store's index): the only place that calls sqlite3_* directly besides
// sqlite_handle.cc and the VFS of sqlite_wal_batch.cc (STYLE 5 CPL.3, 6.6). SQLite result
// codes become Status in one function, SqliteStatus. A library of its own (thumbpipe_sqlite),
// so that common/ itself stays free of SQLite.
//
// A Db or Stmt is used by one thread at a time; callers serialise access.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace thumbpipe::sqlite {

struct SqliteCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};

// Translates an SQLite result code (and the connection's message, when `db` is given) into a
// Status: BUSY/LOCKED -> kUnavailable (retryable), CORRUPT/NOTADB -> kCorrupt, FULL/IOERR/
// CANTOPEN/READONLY -> kIOError, anything else -> kInternal. SQLITE_OK/ROW/DONE -> OK.
Status SqliteStatus(int rc, sqlite3* db, std::string_view context);

// True for the codes that mean "another connection holds the lock; try again".
bool IsBusy(const Status& status);

// A prepared statement. Bind* take 1-based indexes; text and blobs are copied by SQLite.
class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, std::string_view text);        // as TEXT
  Stmt& BindBlob(int i, std::string_view bytes);    // as BLOB
  Stmt& BindNull(int i);

  // Runs one step: true when a row is ready, false when done. Errors carry SQLite's message.
  Result<bool> Step();
  // Steps to the end (for statements that return no rows); returns sqlite3_changes().
  Result<int64_t> Run();
  // Resets and clears bindings so the statement can be reused.
  void Reset();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }
  std::string Text(int col) const;  // TEXT or BLOB bytes
  // The column's bytes without a copy; valid until the next Step/Reset.
  std::string_view View(int col) const;

 private:
  sqlite3* db_ = nullptr;
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt_;
};

// A cached statement borrowed from a Db; resets it when it goes out of scope, so no
// statement keeps a read snapshot open between operations.
class StmtLease {
 public:
  explicit StmtLease(Stmt* stmt) : stmt_(stmt) {}
  StmtLease(StmtLease&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  StmtLease& operator=(StmtLease&&) = delete;
  ~StmtLease() {
    if (stmt_ != nullptr) stmt_->Reset();
  }
  Stmt* operator->() const { return stmt_; }
  Stmt& operator*() const { return *stmt_; }

 private:
  Stmt* stmt_;
};

// A connection. Open sets WAL mode, busy_timeout and the given synchronous level.
class Db {
 public:
  enum class Sync { kFull, kNormal };

  // `vfs`: a registered VFS's name (e.g. WalBatchVfsName()); null for SQLite's default.
  static Result<Db> Open(const std::string& path, Sync sync, int busy_timeout_ms,
                         const char* vfs = nullptr);

  // Sets PRAGMA synchronous for the transactions that follow (a no-op when it is already
  // `sync`). REQUIRES: no transaction open (SQLite refuses the change inside one).
  Status SetSynchronous(Sync sync);

  // Runs SQL without results (several statements allowed).
  Status Exec(std::string_view sql);
  Result<Stmt> Prepare(std::string_view sql);
  // The connection's prepared copy of `sql` (prepared on first use, kept for its life).
  Result<StmtLease> Cached(std::string_view sql);
  // Runs the cached statement `sql` to its end (one statement, no bindings).
  Status RunCached(std::string_view sql);

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back when it fails. When another
  // connection (this process or another) holds the write lock past busy_timeout, the whole
  // transaction is retried up to `kMaxBusyRetries` times, so a busy database never turns
  // into a half-done operation. `body` must therefore be safe to run again.
  Status Transaction(const std::function<Status()>& body);

  // Installs `hook` to run after every commit of this connection with the WAL's size in
  // pages (sqlite3_wal_hook; this replaces SQLite's automatic checkpoint, so the owner
  // must checkpoint). A null hook removes it.
  void SetWalHook(int (*hook)(void* arg, sqlite3* db, const char* schema, int wal_pages),
                  void* arg) {
    sqlite3_wal_hook(db_.get(), hook, arg);
  }
  // Checkpoints the WAL: PASSIVE (never waits for readers or writers) or, with `restart`,
  // RESTART (waits, within busy_timeout, so that the next writer starts the WAL over).
  // Returns the WAL's size in pages and how many of them are now in the database file.
  // Another connection's checkpoint running at the same time is not an error (0, 0).
  Result<std::pair<int, int>> Checkpoint(bool restart);

  int64_t Changes() const { return sqlite3_changes64(db_.get()); }
  sqlite3* get() const { return db_.get(); }

  static constexpr int kMaxBusyRetries = 20;

 private:
  std::unique_ptr<sqlite3, SqliteCloser> db_;
  std::map<std::string, std::unique_ptr<Stmt>, std::less<>> cache_;
  Sync sync_ = Sync::kFull;  // the connection's synchronous level (SetSynchronous)
};

}  // namespace thumbpipe::sqlite
