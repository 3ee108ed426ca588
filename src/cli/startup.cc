#include "cli/startup.h"

#include <algorithm>
#include <iostream>
#include <thread>

#include "common/logging.h"
#include "image/memory_budget.h"
#include "queue/queue_factory.h"

namespace thumbpipe::cli {

Result<config::Config> LoadConfigAndLogging(const std::string& config_path) {
  THUMBPIPE_ASSIGN_OR_RETURN(config::Config config,
                             config::LoadConfig(config_path, config::Environment::FromProcess()));
  InitLogging(config.log.level);
  return config;
}

Result<std::unique_ptr<image::Engine>> MakeEngine(const config::Config& config) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  image::EngineOptions options;
  options.limits = config.limits;
  // Parallel jobs already keep the cores busy; libvips threads inside each job would only
  // contend with them. Fewer jobs than slots (a lone job, the tail of a burst) share the cores
  // that the missing jobs leave idle.
  options.share_cores = cores;
  const uint64_t budget = config.worker.memory_budget > 0 ? config.worker.memory_budget
                                                          : image::AutomaticMemoryBudget();
  options.memory_budget = std::make_shared<image::MemoryBudget>(budget);
  return image::Engine::Create(options);
}

queue::SqliteQueueOptions ConfiguredQueueSettings(const config::Config& config) {
  const config::QueueConfig& q = config.queue;
  queue::SqliteQueueOptions settings;
  settings.visibility_timeout = q.visibility_timeout;
  settings.max_receive_count = q.max_receive_count;
  settings.retention = q.retention;
  settings.dlq_retention = q.dlq_retention;
  settings.delay = q.delay;
  settings.max_message_bytes = q.max_message_bytes;
  settings.durable_sends = q.durability == config::Durability::kFull;
  return settings;
}

Result<std::unique_ptr<queue::Queue>> OpenConfiguredQueue(const config::Config& config, int consumer_capacity,
                                                          bool consumer_beside_sender) {
  // An sqs:// queue signs with the AWS credential chain; the config file's first
  // [[credentials]] entry comes last in it (the key a remote worker shares with `serve`).
  std::optional<sigv4::Credentials> fallback;
  if (!config.credentials.empty()) {
    fallback = sigv4::Credentials{config.credentials.front().access_key, config.credentials.front().secret_key, std::nullopt};
  }
  queue::SqliteQueueOptions settings = ConfiguredQueueSettings(config);
  settings.notice_other_processes = consumer_beside_sender;
  return queue::OpenQueue(config.queue.url, std::move(settings), fallback, consumer_capacity);
}

Result<config::HostPort> ParseListenFlag(std::string_view flag, std::string_view text) {
  const std::string quoted = std::string(flag) + " \"" + std::string(text) + "\"";
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument(quoted + ": expected host:port");
  }
  config::HostPort hp;
  hp.host = std::string(text.substr(0, colon));
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') hp.host = hp.host.substr(1, hp.host.size() - 2);
  const std::string port(text.substr(colon + 1));
  try {
    size_t used = 0;
    hp.port = std::stoi(port, &used);
    if (used != port.size() || hp.port < 0 || hp.port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return Status::InvalidArgument(quoted + ": port must be 0-65535");
  }
  return hp;
}

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int ReportStartupError(const Status& status) {
  std::cerr << "thumbpipe: " << status.message() << "\n";
  return 2;
}

}  // namespace thumbpipe::cli
