// ChildProcess runs another program (here: queue_child) as a real process whose stdout goes
// to a file, so that a test can SIGKILL it at any instant and then read what it reported.
// The destructor kills and reaps a child that is still running, so a failing test leaves no
// stray processes behind. Not thread-safe; one owner.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace thumbpipe::queue::testing {

class ChildProcess {
 public:
  // Starts `argv` (argv[0] is the program path) with stdout written to `stdout_path`
  // (created or truncated) and stderr inherited. ok() is false when the spawn failed.
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& stdout_path);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  bool ok() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // SIGKILLs the child and reaps it. Does nothing once it has been reaped.
  void Kill();

  // Waits until the child exits or `timeout` passes. Returns its exit code (128 + signal
  // when killed by a signal), or nullopt on timeout (the child is left running).
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// The complete ('\n'-terminated) lines of a file. A line cut by a kill is left out: it was
// never fully reported.
std::vector<std::string> ReadCompleteLines(const std::filesystem::path& path);

// Calls `done` every few milliseconds until it returns true (then returns true) or `timeout`
// passes (then returns false). Polling with a deadline, never a sleep standing in for
// synchronisation.
bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Where CMake put queue_child.
std::string QueueChildPath();

}  // namespace thumbpipe::queue::testing
