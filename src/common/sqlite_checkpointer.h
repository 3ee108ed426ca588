// Checkpoints of a SQLite database on a thread of their own, never in a committing thread:
// SQLite's automatic checkpoint makes whichever commit crosses its threshold copy the WAL
// into the database file and wait for that file's fsync, stalling every writer behind it.
// Used by the queue (queue/sqlite_queue.cc) and the store's index (store/local_store.cc),
// each with a pass of its own (how to copy: PASSIVE, when to RESTART, under which locks).
//
// The owner sets OnWalCommit as the wal hook of its writing connection, with this object as
// the argument (a wal hook replaces SQLite's automatic checkpoint), and destroys this object
// before the connections its pass uses, after clearing the hook.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "common/result.h"

struct sqlite3;

namespace thumbpipe::sqlite {

class Checkpointer {
 public:
  // One round of checkpointing: the WAL's size in pages and how many of them are now in the
  // database file, as Db::Checkpoint returns them.
  using Pass = std::function<Result<std::pair<int, int>>()>;

  // Runs `pass` whenever the WAL has grown to `threshold_pages` since it last started over,
  // or, when a pass left it unfinished (a reader held it, or commits went on meanwhile),
  // once another `threshold_pages` were written: not after every commit, which would keep
  // the thread copying a few pages at a time. A failed pass goes to `on_error`.
  Checkpointer(int threshold_pages, Pass pass, std::function<void(const Status&)> on_error);
  ~Checkpointer();  // stops the thread after the pass under way
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // For sqlite3_wal_hook (Db::SetWalHook) with the Checkpointer as `self`.
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int wal_pages);

 private:
  void Run();

  const int threshold_pages_;
  const Pass pass_;
  const std::function<void(const Status&)> on_error_;
  std::atomic<int> next_at_;  // WAL pages that wake the thread
  std::atomic<int> last_pages_{0};  // the WAL's size at the last commit (OnWalCommit)
  std::mutex mu_;
  std::condition_variable wake_;
  bool wanted_ = false;    // protected by mu_
  bool stopping_ = false;  // protected by mu_
  std::thread thread_;     // last: starts once the rest is ready
};

}  // namespace thumbpipe::sqlite
