// `serve`'s image jobs in a child process (worker.isolation = "process"): a `thumbpipe worker`
// that serve starts, restarts when it dies, and stops with SIGTERM when serve stops. A
// `thumbpipe worker` with the same setting supervises a child the same way (for the reasons
// below, minus the S3 API); "serve" below stands for either parent.
//
// Why: libvips and its codecs run in the process that calls them. A decoder that crashes
// on a hostile file (a segfault, an abort in a codec) would take serve down with it, S3 API
// and all, and systemd's restart would bring it back into the same message after the
// visibility timeout. In a child, the crash costs that child: serve logs how it died,
// counts it (thumbpipe_worker_process_restarts_total) and starts another.
//
// The child shares serve's data directory, store and queue (several worker processes beside
// one serve is a supported layout), reads the same config file and inherits the environment,
// so it runs exactly the configuration serve runs. It gets SIGTERM if serve itself dies
// (PR_SET_PDEATHSIG), so a killed serve leaves no worker behind.
//
// The child tells serve which messages it holds, one line per message received and per job
// start and end on a pipe (JobReporter, fd 3 of the child). So when it dies serve knows what
// it was doing: it hands those messages to on_death, which serve uses to make them visible
// again at once, or to dead-letter one whose job ran on its last allowed receive with the
// death as the reason ("worker process killed by signal 11 (SIGSEGV) ..."), instead of
// leaving them hidden until their visibility runs out and then in the DLQ as
// "max_receive_count exceeded".
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/duration.h"
#include "common/result.h"
#include "common/status.h"
#include "config/config.h"
#include "queue/queue.h"

namespace thumbpipe::cli {

// The fd on which a child reports its jobs (WorkerProcess passes it; `worker --report-fd`).
inline constexpr int kJobReportFd = 3;

// A message a child held when the child died: its job had started, or it was received
// ahead (worker.receive_ahead) and waited for a free slot.
struct HeldMessage {
  std::string id;
  std::string receipt;
  int receive_count = 0;
  bool started = true;
};

// The child's side of the report: one line per message received ("R <receive count> <id>
// <receipt>"), per job start ("S", the same fields) and per job end ("E <receipt>"), each
// one write(2) of under PIPE_BUF bytes, so the lines of concurrent jobs never interleave. A
// message whose id or receipt has whitespace in it, or that is too long for one atomic
// write, goes unreported (serve then only sees it come back after its visibility timeout).
class JobReporter {
 public:
  explicit JobReporter(int fd);
  void Received(const queue::Message& m) const;
  void Started(const queue::Message& m) const;
  void Finished(const queue::Message& m) const;

 private:
  void Holding(char kind, const queue::Message& m) const;  // an R or S line
  void Write(const std::string& line) const;
  int fd_;
};

struct WorkerProcessOptions {
  // The program; empty = this process's own executable (/proc/self/exe: the same build as
  // serve, even when the file on disk has been replaced by an upgrade since). Tests run a
  // shell script instead.
  std::string program;
  // The child's arguments after the program name, e.g. {"worker", "--config", "F"}; Spawn
  // adds "--report-fd 3".
  std::vector<std::string> args;
  // How long Stop waits for the child to finish its jobs after SIGTERM before SIGKILL.
  Duration stop_grace = std::chrono::seconds(30);
  // Restart delay after a death: doubles from first_backoff up to max_backoff, and starts
  // over once a child has lived healthy_after (a file that crashes every worker must not
  // turn into a fork loop; one crash a day must not wait 30 s).
  Duration first_backoff = std::chrono::seconds(1);
  Duration max_backoff = std::chrono::seconds(30);
  Duration healthy_after = std::chrono::seconds(60);
  // Called on the watcher thread after a child died (not when Stop stopped it, nor when it
  // exited 0 after a SIGTERM from elsewhere: it released its messages itself), with the
  // messages its jobs had started and not finished and how it died (DescribeExit).
  std::function<void(const std::vector<HeldMessage>&, const std::string& how)> on_death;
};

class WorkerProcess {
 public:
  explicit WorkerProcess(WorkerProcessOptions options);
  ~WorkerProcess();  // Stop()
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  // Starts the thread that starts the child and watches it. A fork that fails is logged and
  // tried again after the backoff, like a death; kInvalidArgument if already started.
  Status Start();
  // SIGTERM to the child, SIGKILL after stop_grace (plus a margin); returns once it is gone.
  void Stop();

  pid_t pid() const;       // the running child's, 0 between a death and its restart
  int restarts() const;    // children started after a death

 private:
  // Forks and execs a child (with mu_ held; sets pid_); returns the read end of its report pipe.
  Result<int> Spawn();
  void Watch();

  const WorkerProcessOptions options_;
  mutable std::mutex mu_;
  std::condition_variable changed_;  // a child exited, or stopping_ was set
  pid_t pid_ = 0;                    // protected by mu_
  bool stopping_ = false;            // protected by mu_
  bool watching_ = false;            // protected by mu_: Watch has not returned yet
  int restarts_ = 0;                 // protected by mu_
  std::thread watcher_;
};

// "killed by signal 11 (SIGSEGV)", "exited with status 3": a waitpid status for the log.
std::string DescribeExit(int wait_status);

// What serve does with the messages a dead child held (WorkerProcessOptions::on_death):
// each is made visible again at once, or dead-lettered with the death as its reason when it
// was on its last allowed receive (max_receive_count), as a worker does with a job that
// failed.
void SettleHeldMessages(queue::Queue& queue, const std::vector<HeldMessage>& held, const std::string& how,
                        int max_receive_count);

// The child that `serve` and `worker` start under worker.isolation = "process": `thumbpipe
// worker --workers N` with the same config file (`config_path`, "" = the defaults and the
// environment, as the parent), worker.shutdown_grace to stop, and a dead child's messages
// settled on `queue` (not owned; must outlive the WorkerProcess; nullptr = left to their
// visibility timeout, as they are on amqp://, whose broker requeues them itself).
WorkerProcessOptions ChildWorkerOptions(const config::Config& config, const std::string& config_path, int workers,
                                        queue::Queue* queue);

}  // namespace thumbpipe::cli
