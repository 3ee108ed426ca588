// `thumbpipe worker [--config F] [--workers N] [--metrics-listen ADDR|off]`: workers only, against the configured store
// and queue. Several worker processes can run beside one `serve --workers 0` (or beside each
// other) on the same data directory: the queue hands each message to one of them at a time.
// With worker.isolation = "process" the jobs run in a child that this process supervises
// (RunSupervisor).
//
// SIGTERM / SIGINT: stop receiving, finish the running jobs within worker.shutdown_grace,
// release the rest to the queue, exit 0. kill -9 loses nothing either: the messages come
// back when their visibility runs out.
//
// GET /metrics, /healthz and /readyz are served on worker.metrics_listen. When that port is
// taken (a second worker process on the machine) the worker runs without them and says so;
// --metrics-listen 127.0.0.1:0 gives each process a free port of its own (printed at start).
#include <signal.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/startup.h"
#include "cli/workers.h"
#include "common/logging.h"
#include "config/checks.h"
#include "pipeline/from_config.h"
#include "server/http_server.h"
#include "server/ops_endpoints.h"

namespace thumbpipe::cli {
namespace {

struct WorkerFlags {
  std::string config_path;
  int workers = -1;  // -1 = worker.concurrency
  std::string metrics_listen;  // overrides worker.metrics_listen; "off" = none; port 0 = any free port
  int report_fd = -1;          // serve's worker.isolation = process: where to report jobs (worker_process.h)
};

// worker.isolation = "process": this process only supervises a `thumbpipe worker` child that
// runs the jobs (cli/worker_process.h), as serve does: a decoder that crashes costs the
// child, whose messages are released at once (or dead-lettered with the death as reason).
int RunSupervisor(const WorkerFlags& flags, const config::Config& cfg, int workers, const sigset_t& signals) {
  std::unique_ptr<queue::Queue> queue;  // only to settle a dead child's messages
  if (!cfg.queue.url.starts_with("amqp")) {  // not needed there (ChildWorkerOptions)
    auto opened = OpenConfiguredQueue(cfg);
    if (!opened.ok()) return ReportStartupError(opened.status());
    queue = std::move(opened).value();
  }
  WorkerProcessOptions options = ChildWorkerOptions(cfg, flags.config_path, workers, queue.get());
  if (!flags.metrics_listen.empty()) options.args.insert(options.args.end(), {"--metrics-listen", flags.metrics_listen});
  WorkerProcess child(std::move(options));
  (void)child.Start();  // a failed fork is logged and retried
  std::cout << "thumbpipe worker: " << JobsAtOnce(workers)
            << " in a worker process of their own (worker.isolation = process), restarted if it dies\n"
            << std::flush;
  LogInfo("worker supervisor started", {{"workers", workers}});
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  LogInfo("stopping", {{"signal", signal_number}});
  child.Stop();
  LogInfo("stopped");
  return 0;
}

int RunWorker(const WorkerFlags& flags) {
  const sigset_t signals = BlockStopSignals();  // before any thread starts

  auto loaded = LoadConfigAndLogging(flags.config_path);
  if (!loaded.ok()) return ReportStartupError(loaded.status());
  const config::Config cfg = std::move(loaded).value();
  // Where /metrics listens: the flag over the config; an error (none) means no endpoint.
  Result<config::HostPort> metrics_listen = Status::NotFound("off");
  if (flags.metrics_listen.empty()) {
    metrics_listen = config::ParseHostPort(cfg.worker.metrics_listen);
  } else if (flags.metrics_listen != "off") {
    metrics_listen = ParseListenFlag("--metrics-listen", flags.metrics_listen);
    if (!metrics_listen.ok()) return ReportStartupError(metrics_listen.status());
  }

  const int workers = flags.workers > 0 ? flags.workers : pipeline::WorkerOptionsFrom(cfg).concurrency;
  // The child that a supervisor starts has a report fd: it runs the jobs whatever the config says.
  if (cfg.worker.isolation == config::WorkerIsolation::kProcess && flags.report_fd < 0) {
    return RunSupervisor(flags, cfg, workers, signals);
  }
  auto store = OpenConfiguredStore(cfg);
  if (!store.ok()) return ReportStartupError(store.status());
  // What the pool holds at most (cli/workers.h): the queue need push no more.
  auto opened_queue = OpenConfiguredQueue(cfg, PoolMessagesInHand(cfg, workers), /*consumer_beside_sender=*/true);
  if (!opened_queue.ok()) return ReportStartupError(opened_queue.status());
  std::unique_ptr<queue::Queue> queue = std::move(opened_queue).value();

  std::optional<JobReporter> reporter;
  if (flags.report_fd >= 0) reporter.emplace(flags.report_fd);
  auto made = MakeWorkerPool(cfg, workers, *store, *queue, reporter);
  if (!made.ok()) return ReportStartupError(made.status());
  std::unique_ptr<pipeline::Worker> worker = std::move(made).value();
  worker->Start();

  pipeline::RegisterQueueGauges(metrics::DefaultRegistry(), *queue);
  server::OpsHandler ops(server::OpsOptions{&metrics::DefaultRegistry(), [&queue]() -> Status {
                                              Result<queue::QueueStats> stats = queue->Stats();
                                              return stats.ok() ? Status::Ok() : stats.status();
                                            }});
  std::unique_ptr<server::HttpServer> ops_server;
  std::string metrics_at = "off";
  if (const auto& hp = metrics_listen; hp.ok()) {
    server::HttpServerOptions http;
    http.host = hp->host;
    http.port = hp->port;
    http.worker_threads = 1;
    http.max_connections = 16;
    http.max_body_bytes = 0;
    ops_server = std::make_unique<server::HttpServer>(http, &ops);
    if (Status st = ops_server->Start(); st.ok()) {
      metrics_at = "http://" + hp->host + ":" + std::to_string(ops_server->port()) + "/metrics";
    } else {
      LogWarn("metrics endpoint not started", {{"listen", hp->host + ":" + std::to_string(hp->port)},
                                               {"error", st.ToString()}});
      ops_server.reset();
    }
  }

  std::cout << "thumbpipe worker: " << JobsAtOnce(workers) << "\n"
            << "  store:        " << config::RedactUrlPassword(cfg.store.url) << "\n"
            << "  queue:        " << config::RedactUrlPassword(cfg.queue.url) << "\n"
            << "  renditions:   s3://" << cfg.output.bucket << "/" << cfg.output.prefix << "<variant>/...\n"
            << "  metrics:      " << metrics_at << "\n"
            << std::flush;
  LogInfo("worker started", {{"workers", workers}});

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  LogInfo("stopping", {{"signal", signal_number}});
  if (ops_server) ops_server->Stop(Duration{0});
  worker->Stop();
  const pipeline::WorkerCounters c = worker->counters();
  LogInfo("stopped", {{"received", c.received}, {"removed", c.removed}, {"retried", c.retried},
                      {"dead_lettered", c.dead_lettered}, {"released", c.released}});
  return 0;
}

}  // namespace

void AddWorkerCommand(CLI::App& app, CommandRun* run) {
  auto flags = std::make_shared<WorkerFlags>();
  CLI::App* cmd = app.add_subcommand("worker", "Run workers only, against the configured store and queue");
  cmd->add_option("--config", flags->config_path, "TOML config file (default: built-in defaults)");
  cmd->add_option("--workers", flags->workers, "jobs at once (default: worker.concurrency)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--metrics-listen", flags->metrics_listen,
                  "host:port for /metrics, /healthz, /readyz, overriding worker.metrics_listen "
                  "(port 0 = any free port; off = none)");
  // Set by serve for the child it supervises; not for people (no group: not in --help).
  cmd->add_option("--report-fd", flags->report_fd, "fd on which to report job starts and ends to serve")
      ->group("");
  cmd->callback([run, flags] { *run = [flags] { return RunWorker(*flags); }; });
}

}  // namespace thumbpipe::cli
