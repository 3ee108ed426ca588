#include "cli/worker_process.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <map>

#include "common/logging.h"
#include "common/metrics.h"

namespace thumbpipe::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Beyond stop_grace: the child's own shutdown (release the messages it did not finish, close
// the queue) after its jobs' grace has run out.
constexpr Duration kStopMargin = std::chrono::seconds(5);
// A report line longer than this is not one the child writes: dropped, so that nothing a
// child sends can grow serve's memory.
constexpr size_t kMaxReportLine = PIPE_BUF;

bool Reportable(const std::string& field) {
  return !field.empty() && std::none_of(field.begin(), field.end(), [](char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
  });
}

// One line of the child's report into `held` (by receipt); anything malformed is ignored.
void ApplyReportLine(std::string_view line, std::map<std::string, HeldMessage>* held) {
  if (line.starts_with("E ")) {
    held->erase(std::string(line.substr(2)));
    return;
  }
  const bool started = line.starts_with("S ");
  if (!started && !line.starts_with("R ")) return;
  line.remove_prefix(2);
  const size_t a = line.find(' ');
  const size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
  if (b == std::string_view::npos || line.find(' ', b + 1) != std::string_view::npos) return;
  HeldMessage m;
  for (char c : line.substr(0, a)) {
    if (c < '0' || c > '9' || m.receive_count > 100'000) return;
    m.receive_count = m.receive_count * 10 + (c - '0');
  }
  m.id = std::string(line.substr(a + 1, b - a - 1));
  m.receipt = std::string(line.substr(b + 1));
  m.started = started;
  if (m.receipt.empty()) return;
  (*held)[m.receipt] = std::move(m);
}

// Reads a child's report pipe to its end (the child's exit closes it); returns the messages
// whose jobs started and did not finish.
std::vector<HeldMessage> FollowReport(int report_fd) {
  std::map<std::string, HeldMessage> held;
  std::string pending;
  char chunk[4096];
  for (;;) {
    const ssize_t n = read(report_fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // 0: every copy of the write end is closed, i.e. the child is gone
    pending.append(chunk, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
      ApplyReportLine(std::string_view(pending).substr(start, end - start), &held);
    }
    pending.erase(0, start);
    if (pending.size() > kMaxReportLine) pending.clear();
  }
  std::vector<HeldMessage> out;
  for (auto& [receipt, m] : held) out.push_back(std::move(m));
  return out;
}

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

JobReporter::JobReporter(int fd) : fd_(fd) {
  // serve gone means this process gets SIGTERM (PR_SET_PDEATHSIG); a report written in the
  // meantime must fail with EPIPE, not end the process.
  std::signal(SIGPIPE, SIG_IGN);
}

void JobReporter::Received(const queue::Message& m) const { Holding('R', m); }

void JobReporter::Started(const queue::Message& m) const { Holding('S', m); }

void JobReporter::Holding(char kind, const queue::Message& m) const {
  if (Reportable(m.id) && Reportable(m.receipt)) {
    Write(std::string(1, kind) + " " + std::to_string(m.receive_count) + " " + m.id + " " +
          m.receipt + "\n");
  }
}

void JobReporter::Finished(const queue::Message& m) const {
  if (Reportable(m.id) && Reportable(m.receipt)) Write("E " + m.receipt + "\n");
}

void JobReporter::Write(const std::string& line) const {
  if (line.size() > kMaxReportLine) return;  // not atomic: could interleave with another job's
  while (write(fd_, line.data(), line.size()) < 0 && errno == EINTR) {
  }
}

void SettleHeldMessages(queue::Queue& queue, const std::vector<HeldMessage>& held, const std::string& how,
                        int max_receive_count) {
  for (const HeldMessage& m : held) {
    const std::string reason = "worker process " + how +
                               (m.started ? " while making this message's renditions"
                                          : " before starting this message (received ahead)") +
                               " (receive " + std::to_string(m.receive_count) + " of " +
                               std::to_string(max_receive_count) + ")";
    // A message that never started is innocent of the death: released, whatever its count.
    const bool last = m.started && m.receive_count >= max_receive_count;
    const Status done = last ? queue.DeadLetter(m.receipt, reason) : queue.ChangeVisibility(m.receipt, Duration{0});
    // A stale receipt: the message was finished (or released) after all; nothing to do.
    LogWarn(last ? "message of a dead worker process dead-lettered" : "message of a dead worker process released",
            {{"message_id", m.id}, {"receive_count", m.receive_count}, {"reason", reason},
             {"result", done.ok() ? "ok" : done.ToString()}});
  }
}

WorkerProcessOptions ChildWorkerOptions(const config::Config& config, const std::string& config_path, int workers,
                                        queue::Queue* queue) {
  WorkerProcessOptions o;
  o.args = {"worker", "--workers", std::to_string(workers)};
  if (!config_path.empty()) o.args.insert(o.args.end(), {"--config", std::filesystem::absolute(config_path).string()});
  o.stop_grace = config.worker.shutdown_grace;
  // AMQP receipts (delivery tags) mean nothing on another channel; the broker requeues a dead
  // consumer's messages itself.
  if (queue != nullptr && !config.queue.url.starts_with("amqp")) {
    const int max_receive_count = config.queue.max_receive_count;
    o.on_death = [queue, max_receive_count](const std::vector<HeldMessage>& held, const std::string& how) {
      SettleHeldMessages(*queue, held, how, max_receive_count);
    };
  }
  return o;
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

Result<int> WorkerProcess::Spawn() {
  std::vector<std::string> storage = {"thumbpipe"};
  storage.insert(storage.end(), options_.args.begin(), options_.args.end());
  storage.insert(storage.end(), {"--report-fd", std::to_string(kJobReportFd)});
  std::vector<char*> argv;
  for (std::string& arg : storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const char* program = options_.program.empty() ? "/proc/self/exe" : options_.program.c_str();
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return Status::IOError(std::string("pipe: ") + std::strerror(errno));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    close(report[0]);
    close(report[1]);
    return Status::IOError(std::string("fork: ") + std::strerror(error));
  }
  if (pid == 0) {
    // The child of a threaded process: only async-signal-safe calls until exec. The signal
    // mask stays as the parent set it (SIGTERM and SIGINT blocked): the worker blocks them too
    // and takes them with sigwait, so a SIGTERM that arrives before it gets there waits.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);  // the parent died before prctl took effect
    // The report pipe's write end becomes fd 3, open across exec; none of the parent's other
    // sockets and files reach the worker.
    if (report[1] == kJobReportFd) {
      fcntl(kJobReportFd, F_SETFD, 0);
    } else if (dup2(report[1], kJobReportFd) < 0) {
      _exit(126);
    }
    close_range(kJobReportFd + 1, ~0U, 0);
    execv(program, argv.data());
    _exit(127);
  }
  close(report[1]);  // the child's now: the pipe ends (read returns 0) when the child does
  pid_ = pid;
  LogInfo("worker process started", {{"pid", pid}});
  return report[0];
}

void WorkerProcess::Watch() {
  Duration backoff = options_.first_backoff;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (Result<int> spawned = Spawn(); !spawned.ok()) {
      LogError("cannot start a worker process", {{"error", spawned.status().ToString()},
                                                 {"retry_in", FormatDuration(backoff)}});
    } else {
      const pid_t pid = pid_;
      const int report_fd = *spawned;
      const auto started = SteadyClock::now();
      lock.unlock();
      const std::vector<HeldMessage> held = FollowReport(report_fd);
      // Waited for without reaping it first (WNOWAIT): until pid_ is cleared below, Stop may
      // still signal that pid, which must not yet be free for another process to take.
      siginfo_t info{};
      while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
      }
      close(report_fd);
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
      const std::string how = reaped < 0 ? std::string("ended, how unknown (waitpid failed)") : DescribeExit(status);
      std::vector<std::string> ids;
      for (const HeldMessage& m : held) ids.push_back(m.id);
      LogError("worker process died; starting another",
               {{"pid", pid}, {"how", how}, {"held_messages", ids}, {"restart_in", FormatDuration(backoff)}});
      RestartsCounter().Inc();
      ++restarts_;
      // A child that exited 0 stopped gracefully (someone sent it SIGTERM) and released what
      // it had not finished itself; a last receive must not be dead-lettered for that.
      const bool graceful = reaped >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (options_.on_death && !held.empty() && !graceful) {
        lock.unlock();
        options_.on_death(held, how);
        lock.lock();
      }
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
