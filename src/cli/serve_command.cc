// `thumbpipe serve [--config F] [--listen ADDR] [--port-file F] [--workers N]`: the embedded
// system in one process: the S3 API over the configured store, the notifier (a commit hook
// that writes each event into the store's outbox inside the write's transaction), the relay
// that moves events to the configured queue, and N workers (default worker.concurrency; 0 =
// the API and the queue only, for `thumbpipe worker` processes beside it).
//
// SIGTERM / SIGINT stop it gracefully: the server stops accepting and finishes in-flight
// requests within the grace period, then the relay delivers what the outbox still holds
// (within the same grace) and stops, then the workers finish or release their jobs (within
// shutdown_grace); exit 0. In that order because each stage feeds the next. With
// worker.isolation = "process" the workers are a `thumbpipe worker` child instead
// (cli/worker_process.h), restarted when it dies and sent SIGTERM at that last step.
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "cli/startup.h"
#include "cli/worker_process.h"
#include "cli/workers.h"
#include "common/logging.h"
#include "config/checks.h"
#include "events/notifications.h"
#include "events/notifier.h"
#include "events/relay.h"
#include "pipeline/from_config.h"
#include "queue/queue_factory.h"
#include "server/credentials_file.h"
#include "server/http_server.h"
#include "server/s3_service.h"
#include "server/sqs_service.h"
#include "queue/queue_factory.h"
#include "store/store_factory.h"

namespace thumbpipe::cli {
namespace {

struct ServeFlags {
  std::string config_path;
  std::string listen;     // overrides server.listen; port 0 = any free port
  std::string port_file;  // the bound port is written here once the server listens
  int workers = -1;       // -1 = worker.concurrency (0 there = one per core)
};

Status WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return Status::IOError("cannot write " + tmp);
  }
  // Renamed into place so that a harness polling for the file never reads half of it.
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IOError("cannot write " + path + ": " + ec.message());
  return Status::Ok();
}

std::string HostForUrl(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

void PrintStartup(const config::Config& cfg, const std::string& endpoint,
                  const std::optional<server::StoredCredentials>& generated, const std::string& queue_name,
                  int workers) {
  std::ostringstream out;
  out << "thumbpipe serve: S3 API on " << endpoint << " (region " << cfg.server.region << ")\n"
      << "  data dir:     " << cfg.data_dir.string() << "\n"
      << "  store:        " << cfg.store.url << "\n"
      << "  queue:        " << config::RedactUrlPassword(cfg.queue.url) << " (queue " << queue_name << ")\n"
      << "  workers:      "
      << (workers == 0 ? "0 (API and queue only: run `thumbpipe worker` beside it)" : JobsAtOnce(workers))
      << (workers > 0 && cfg.worker.isolation == config::WorkerIsolation::kProcess
              ? " in a worker process of their own (worker.isolation = process)"
              : "")
      << "\n";
  std::string env;
  if (generated) {
    out << "  credentials:  " << generated->path.string() << " (profile " << server::kCredentialsProfile
        << (generated->created ? ", created now" : "") << ")\n";
    env = "AWS_SHARED_CREDENTIALS_FILE=" + generated->path.string() + " AWS_PROFILE=" +
          std::string(server::kCredentialsProfile);
  } else {
    out << "  credentials:  " << cfg.credentials.size() << " key(s) from the config ([[credentials]])\n";
    env = "AWS_ACCESS_KEY_ID=" + cfg.credentials.front().access_key + " AWS_SECRET_ACCESS_KEY=<its secret>";
  }
  const std::string& bucket = cfg.trigger.bucket;
  out << "  upload:       " << env << " aws --endpoint-url " << endpoint << " --region " << cfg.server.region
      << " s3 cp cat.jpg s3://" << bucket << "/" << cfg.trigger.prefix << "cat.jpg\n"
      << "  thumbnails:   s3://" << cfg.output.bucket << "/" << cfg.output.prefix
      << "<variant>/cat.<ext> (" << (workers > 0 ? "made moments later" : "made by `thumbpipe worker`")
      << ")\n"
      << "  events:       every upload to s3://" << bucket << "/" << cfg.trigger.prefix
      << " raises an S3 event on the queue (thumbpipe queue receive --json)\n";
  if (cfg.queue.url.starts_with("sqlite://")) {
    out << "  sqs api:      " << endpoint << "/000000000000/" << queue_name << " (aws --endpoint-url " << endpoint
        << " sqs receive-message --queue-url ...; docs/sqs-api.md)\n";
  }
  std::cout << out.str() << std::flush;
}

int RunServe(const ServeFlags& flags) {
  const sigset_t signals = BlockStopSignals();  // before any thread starts

  auto loaded = LoadConfigAndLogging(flags.config_path);
  if (!loaded.ok()) return ReportStartupError(loaded.status());
  config::Config cfg = std::move(loaded).value();

  config::HostPort listen;
  if (!flags.listen.empty()) {
    auto hp = ParseListenFlag("--listen", flags.listen);
    if (!hp.ok()) return ReportStartupError(hp.status());
    listen = *hp;
  } else {
    auto hp = config::ParseHostPort(cfg.server.listen);
    if (!hp.ok()) return ReportStartupError(hp.status());
    listen = *hp;
  }

  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) return ReportStartupError(Status::IOError("cannot create " + cfg.data_dir.string() + ": " + ec.message()));

  std::optional<server::StoredCredentials> generated;
  std::vector<config::Credential> credentials = cfg.credentials;
  if (credentials.empty()) {
    auto stored = server::LoadOrCreateCredentials(cfg.data_dir);
    if (!stored.ok()) return ReportStartupError(stored.status());
    generated = *stored;
    credentials.push_back(stored->credential);
  }

  auto opened_store = OpenConfiguredStore(cfg);
  if (!opened_store.ok()) return ReportStartupError(opened_store.status());
  // Shared with the workers' jobs (see cli/workers.h).
  std::shared_ptr<store::ObjectStore> store = std::move(opened_store).value();

  const int workers = flags.workers >= 0 ? flags.workers : pipeline::WorkerOptionsFrom(cfg).concurrency;
  // What the worker pool below holds at most: the queue need push no more.
  auto opened_queue = OpenConfiguredQueue(cfg, PoolMessagesInHand(cfg, workers));
  if (!opened_queue.ok()) return ReportStartupError(opened_queue.status());
  std::unique_ptr<queue::Queue> queue = std::move(opened_queue).value();

  // The configured queue is the only destination, known by its ARN or its bare name. It may be
  // an external one (amqp://, sqs://): the relay only needs a Queue, so serve is then just the
  // S3 API and the notifier, as MinIO or RGW are (docs/scale-out.md).
  const std::string queue_name = queue::QueueNameOfUrl(cfg.queue.url);
  const std::string queue_arn = events::EmbeddedQueueArn(cfg.server.region, queue_name);
  events::DestinationResolver resolver = [&](std::string_view arn_or_name) -> queue::Queue* {
    return arn_or_name == queue_arn || arn_or_name == queue_name ? queue.get() : nullptr;
  };
  events::NotificationsOptions notification_options;
  notification_options.notifier.region = cfg.server.region;
  notification_options.trigger = cfg.trigger;
  notification_options.trigger_destination = queue_arn;
  Clock& clock = RealClock::Instance();
  auto opened_notifications = events::Notifications::Open(*store, resolver, notification_options, clock);
  if (!opened_notifications.ok()) return ReportStartupError(opened_notifications.status());
  events::Notifications& notifications = **opened_notifications;
  store->SetCommitHook(notifications.hook());
  // The hook refers to `notifications`: uninstalled before it is destroyed, on every return.
  struct HookGuard {
    store::ObjectStore* store;
    ~HookGuard() { store->SetCommitHook(nullptr); }
  } hook_guard{store.get()};

  for (const std::string& bucket : {cfg.trigger.bucket, cfg.output.bucket}) {
    const Status st = store->CreateBucket(bucket);
    if (!st.ok() && st.code() != StatusCode::kAlreadyExists) return ReportStartupError(st);
  }

  // worker.isolation = "process": the jobs run in a `thumbpipe worker` child with this
  // config and environment (cli/worker_process.h), started once the API is up.
  const bool isolated = workers > 0 && cfg.worker.isolation == config::WorkerIsolation::kProcess;
  std::unique_ptr<WorkerProcess> worker_process;
  if (isolated) {
    worker_process =
        std::make_unique<WorkerProcess>(ChildWorkerOptions(cfg, flags.config_path, workers, queue.get()));
  }
  std::unique_ptr<pipeline::Worker> worker;
  if (workers > 0 && !isolated) {
    auto made = MakeWorkerPool(cfg, workers, store, *queue);
    if (!made.ok()) return ReportStartupError(made.status());
    worker = std::move(made).value();
  }

  std::unique_ptr<events::Relay> relay;
  if (store->outbox() != nullptr) {
    relay = std::make_unique<events::Relay>(*store->outbox(), resolver, clock);
    relay->Start();
  }

  server::S3ServiceOptions s3_options;
  s3_options.region = cfg.server.region;
  s3_options.max_body_bytes = cfg.server.max_body_bytes;
  s3_options.cors_allowed_origins = cfg.server.cors_allowed_origins;
  s3_options.credentials = credentials;
  // Virtual-host-style addressing (bucket.HOST) under every name the server is known by.
  auto add_base_host = [&](std::string host) {
    if (host.empty() || host.find_first_not_of("0123456789.:[]") == std::string::npos) return;  // IPs
    for (const std::string& known : s3_options.router.base_hosts) {
      if (known == host) return;
    }
    s3_options.router.base_hosts.push_back(std::move(host));
  };
  add_base_host(listen.host);
  if (const size_t scheme = cfg.server.public_url.find("://"); scheme != std::string::npos) {
    std::string host = cfg.server.public_url.substr(scheme + 3);
    host = host.substr(0, host.find('/'));
    add_base_host(host.substr(0, host.rfind(':') == std::string::npos || host.back() == ']' ? host.size()
                                                                                               : host.rfind(':')));
  }
  // /metrics, /healthz, /readyz on the S3 port. Ready = the queue answers (the store did at start).
  pipeline::RegisterQueueGauges(metrics::DefaultRegistry(), *queue);
  s3_options.ops = server::OpsOptions{&metrics::DefaultRegistry(), [&queue]() -> Status {
                                        Result<queue::QueueStats> stats = queue->Stats();
                                        return stats.ok() ? Status::Ok() : stats.status();
                                      }};
  // The SQS API over the embedded queue, on the same port (sqlite:// queues only).
  std::unique_ptr<server::SqsQueues> sqs_queues;
  std::unique_ptr<server::SqsService> sqs_service;
  if (cfg.queue.url.starts_with("sqlite://")) {
    auto sqlite = queue::SqliteSettingsOf(cfg.queue.url, ConfiguredQueueSettings(cfg));
    if (!sqlite.ok()) return ReportStartupError(sqlite.status());
    server::SqsQueuesOptions queues_options;
    queues_options.defaults = *sqlite;
    queues_options.registry_file = sqlite->path.string() + ".sqs.json";
    queues_options.max_queues = cfg.server.sqs_max_queues;
    server::SqsQueueSettings pipeline_settings;
    pipeline_settings.queue = *sqlite;
    auto opened_queues = server::SqsQueues::Open(queues_options, queue.get(), pipeline_settings);
    if (!opened_queues.ok()) return ReportStartupError(opened_queues.status());
    sqs_queues = std::move(opened_queues).value();
    server::SqsServiceOptions sqs_options;
    sqs_options.region = cfg.server.region;
    sqs_options.credentials = credentials;
    sqs_options.public_url = cfg.server.public_url;
    sqs_options.max_long_polls = cfg.server.sqs_max_long_polls;
    sqs_options.registry = &metrics::DefaultRegistry();
    sqs_service = std::make_unique<server::SqsService>(*sqs_queues, sqs_options, clock);
    s3_options.sqs = sqs_service.get();
  }
  server::S3Service service(*store, &notifications, s3_options, clock);

  server::HttpServerOptions http;
  http.host = listen.host;
  http.port = listen.port;
  http.max_connections = cfg.server.max_connections;
  http.max_header_bytes = cfg.server.max_header_bytes;
  http.max_body_bytes = cfg.server.max_body_bytes;
  http.idle_timeout = cfg.server.idle_timeout;
  http.header_timeout = cfg.server.header_timeout;
  http.body_timeout = cfg.server.body_timeout;
  http.write_timeout = cfg.server.write_timeout;
  http.io_threads = cfg.server.io_threads;
  http.worker_threads = cfg.server.worker_threads;
  server::HttpServer server(http, &service);
  if (Status st = server.Start(); !st.ok()) {
    if (relay) relay->Stop(Duration{0});
    return ReportStartupError(st);
  }
  const std::string endpoint = cfg.server.public_url.empty()
                                   ? "http://" + HostForUrl(listen.host) + ":" + std::to_string(server.port())
                                   : cfg.server.public_url;
  if (!flags.port_file.empty()) {
    if (Status st = WritePortFile(flags.port_file, server.port()); !st.ok()) {
      server.Stop(Duration{0});
      if (relay) relay->Stop(Duration{0});
      return ReportStartupError(st);
    }
  }
  if (worker) worker->Start();
  if (worker_process) (void)worker_process->Start();  // a failed fork is logged and retried
  PrintStartup(cfg, endpoint, generated, queue_name, workers);
  LogInfo("serving", {{"endpoint", endpoint}, {"port", server.port()}, {"workers", workers}});

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  LogInfo("stopping", {{"signal", signal_number}});
  const Duration grace = cfg.worker.shutdown_grace;
  server.Stop(grace);
  if (relay) relay->Stop(grace);
  if (worker) worker->Stop();  // within worker.shutdown_grace
  if (worker_process) worker_process->Stop();  // SIGTERM: the child's own shutdown_grace
  LogInfo("stopped");
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, CommandRun* run) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the S3 API, the event notifier and the queue in one process");
  cmd->add_option("--config", flags->config_path, "TOML config file (default: built-in defaults)");
  cmd->add_option("--listen", flags->listen, "host:port to listen on, overriding server.listen (port 0 = any free port)");
  cmd->add_option("--port-file", flags->port_file, "write the port the server listens on to this file");
  cmd->add_option("--workers", flags->workers,
                  "jobs at once in this process (default: worker.concurrency; 0 = only the API and the queue)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([run, flags] { *run = [flags] { return RunServe(*flags); }; });
}

}  // namespace thumbpipe::cli
