#include "cli/worker_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/logging.h"
#include "common/metrics.h"

namespace thumbpipe::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Beyond stop_grace: the child's own shutdown (release the messages it did not finish, close
// the queue) after its jobs' grace has run out.
constexpr Duration kStopMargin = std::chrono::seconds(5);

metrics::Counter& RestartsCounter() {
  static metrics::Counter& counter = metrics::DefaultRegistry().GetCounter(
      "thumbpipe_worker_process_restarts_total",
      "Worker processes (worker.isolation = process) started again after one died");
  return counter;
}

}  // namespace

std::string DescribeExit(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    const char* name = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + (name ? " (SIG" + std::string(name) + ")" : "") +
           (WCOREDUMP(wait_status) ? ", core dumped" : "");
  }
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  return "ended with wait status " + std::to_string(wait_status);
}

WorkerProcess::WorkerProcess(WorkerProcessOptions options) : options_(std::move(options)) {}

WorkerProcess::~WorkerProcess() { Stop(); }

Status WorkerProcess::Start() {
  std::scoped_lock lock(mu_);
  if (watcher_.joinable()) return Status::InvalidArgument("worker process already started");
  watching_ = true;
  // Every fork happens on the watcher thread: PR_SET_PDEATHSIG fires when the thread that
  // forked ends, and this one lives exactly as long as the supervision.
  watcher_ = std::thread([this] { Watch(); });
  return Status::Ok();
}

Status WorkerProcess::Spawn() {
  std::vector<std::string> storage = {"thumbpipe"};
  storage.insert(storage.end(), options_.args.begin(), options_.args.end());
  std::vector<char*> argv;
  for (std::string& arg : storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return Status::IOError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // The child of a threaded process: only async-signal-safe calls until exec. The signal
    // mask stays as serve set it (SIGTERM and SIGINT blocked): the worker blocks them too and
    // takes them with sigwait, so a SIGTERM that arrives before it gets there waits for it.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);  // serve died before prctl took effect
    close_range(3, ~0U, 0);             // none of serve's sockets and files in the worker
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  pid_ = pid;
  LogInfo("worker process started", {{"pid", pid}});
  return Status::Ok();
}

void WorkerProcess::Watch() {
  Duration backoff = options_.first_backoff;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (Status spawned = Spawn(); !spawned.ok()) {
      LogError("cannot start a worker process", {{"error", spawned.ToString()},
                                                 {"retry_in", FormatDuration(backoff)}});
    } else {
      const pid_t pid = pid_;
      const auto started = SteadyClock::now();
      lock.unlock();
      // Waited for without reaping it first (WNOWAIT): until pid_ is cleared below, Stop may
      // still signal that pid, which must not yet be free for another process to take.
      siginfo_t info{};
      while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
      }
      lock.lock();
      pid_ = 0;
      int status = 0;
      pid_t reaped;
      do {
        reaped = waitpid(pid, &status, 0);
      } while (reaped < 0 && errno == EINTR);
      changed_.notify_all();
      if (stopping_) {
        LogInfo("worker process stopped", {{"pid", pid}, {"how", DescribeExit(status)}});
        break;
      }
      if (SteadyClock::now() - started >= options_.healthy_after) backoff = options_.first_backoff;
      LogError("worker process died; starting another",
               {{"pid", pid},
                {"how", reaped < 0 ? std::string("unknown (waitpid failed)") : DescribeExit(status)},
                {"restart_in", FormatDuration(backoff)}});
      RestartsCounter().Inc();
      ++restarts_;
    }
    changed_.wait_for(lock, backoff, [this] { return stopping_; });
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  watching_ = false;
  changed_.notify_all();
}

void WorkerProcess::Stop() {
  std::unique_lock lock(mu_);
  if (!watcher_.joinable()) return;
  stopping_ = true;
  if (pid_ > 0) kill(pid_, SIGTERM);
  changed_.notify_all();
  const auto deadline = SteadyClock::now() + options_.stop_grace + kStopMargin;
  if (!changed_.wait_until(lock, deadline, [this] { return !watching_; })) {
    LogWarn("worker process did not stop in time; killing it",
            {{"pid", pid_}, {"waited", FormatDuration(options_.stop_grace + kStopMargin)}});
    if (pid_ > 0) kill(pid_, SIGKILL);
    changed_.wait(lock, [this] { return !watching_; });
  }
  lock.unlock();
  watcher_.join();
}

pid_t WorkerProcess::pid() const {
  std::scoped_lock lock(mu_);
  return pid_;
}

int WorkerProcess::restarts() const {
  std::scoped_lock lock(mu_);
  return restarts_;
}

}  // namespace thumbpipe::cli
