// Notices commits that other processes make to a SQLite database, the moment they write its
// WAL (inotify on the database's directory, IN_MODIFY of "<db>-wal").
//
// Why: a long poll is woken at once by a send from its own process (the queue's condition
// variable), but a send from another process was noticed only at the next cross_process_poll
// (50 ms): 23-26 ms of median pick-up latency for a `thumbpipe worker` beside `serve`
// (bench/README.md, "Pipeline", eighth session). Every commit writes the WAL, so its
// modification is the signal; the poll stays as the fallback (a watch lost to a full inotify
// queue, a file system without inotify).
//
// Every commit, the watcher's own process's included, runs `on_change` on the watch's thread
// (events that arrive together run it once, and once more 2 ms later: the WAL is written a
// moment before the commit is visible), so the queue only opts in where it runs beside other
// processes (SqliteQueueOptions::notice_other_processes).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include "common/result.h"

namespace thumbpipe::queue::internal {

class WalWatch {
 public:
  static Result<std::unique_ptr<WalWatch>> Start(const std::filesystem::path& db_path,
                                                 std::function<void()> on_change);
  ~WalWatch();  // stops and joins the thread
  WalWatch(const WalWatch&) = delete;
  WalWatch& operator=(const WalWatch&) = delete;

 private:
  WalWatch(int inotify_fd, int stop_fd, std::string wal_name, std::function<void()> on_change);
  void Run();

  const int inotify_fd_;
  const int stop_fd_;  // an eventfd: written by the destructor to end Run
  const std::string wal_name_;
  const std::function<void()> on_change_;
  std::thread thread_;
};

}  // namespace thumbpipe::queue::internal
