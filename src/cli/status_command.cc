// `thumbpipe status [--config F] [--json]`: how the pipeline is doing, from the queue alone
// (so it works beside any number of serve/worker processes): depth, in flight, delayed, DLQ
// size, the oldest message's age, and the workers' throughput, measured as messages removed
// per second over one second (the queue's removed counter sampled twice).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/startup.h"
#include "common/duration.h"
#include "config/checks.h"

namespace thumbpipe::cli {
namespace {

struct StatusFlags {
  std::string config_path;
  bool json = false;
};

int RunStatus(const StatusFlags& flags) {
  auto loaded = LoadConfigAndLogging(flags.config_path);
  if (!loaded.ok()) return ReportStartupError(loaded.status());
  const config::Config cfg = std::move(loaded).value();
  auto queue = OpenConfiguredQueue(cfg);
  if (!queue.ok()) return ReportStartupError(queue.status());

  const auto start = std::chrono::steady_clock::now();
  Result<queue::QueueStats> first = (*queue)->Stats();
  if (!first.ok()) {
    std::cerr << "thumbpipe status: " << first.status().ToString() << "\n";
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  Result<queue::QueueStats> second = (*queue)->Stats();
  if (!second.ok()) {
    std::cerr << "thumbpipe status: " << second.status().ToString() << "\n";
    return 1;
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const queue::QueueStats& s = *second;
  const double per_second = static_cast<double>(s.removed - first->removed) / std::max(elapsed, 1e-3);
  const double oldest = std::chrono::duration<double>(s.oldest_age).count();
  if (flags.json) {
    const nlohmann::json out = {{"queue", config::RedactUrlPassword(cfg.queue.url)},       {"visible", s.visible},
                                {"in_flight", s.in_flight},     {"delayed", s.delayed},
                                {"dead", s.dead},               {"oldest_age_seconds", oldest},
                                {"removed_per_second", per_second}, {"sent", s.sent},
                                {"removed", s.removed},         {"dead_lettered", s.dead_lettered}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.1f", per_second);
  std::cout << "queue:           " << config::RedactUrlPassword(cfg.queue.url) << "\n"
            << "visible:         " << s.visible << "\n"
            << "in flight:       " << s.in_flight << "\n"
            << "delayed:         " << s.delayed << "\n"
            << "dead (DLQ):      " << s.dead << (s.dead > 0 ? "  (thumbpipe dlq list)" : "") << "\n"
            << "oldest message:  " << FormatDuration(std::chrono::duration_cast<Duration>(s.oldest_age)) << "\n"
            << "throughput:      " << rate << " messages/s finished (over the last second)\n"
            << "since created:   " << s.sent << " sent, " << s.removed << " done, " << s.dead_lettered
            << " dead-lettered\n";
  return 0;
}

}  // namespace

void AddStatusCommand(CLI::App& app, CommandRun* run) {
  auto flags = std::make_shared<StatusFlags>();
  CLI::App* cmd = app.add_subcommand("status", "Queue depth, in flight, DLQ size, oldest message, throughput");
  cmd->add_option("--config", flags->config_path, "TOML config file (default: built-in defaults)");
  cmd->add_flag("--json", flags->json, "print as JSON");
  cmd->callback([run, flags] { *run = [flags] { return RunStatus(*flags); }; });
}

}  // namespace thumbpipe::cli
