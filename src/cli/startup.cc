#include "cli/startup.h"

#include <algorithm>
#include <iostream>
#include <thread>

#include "common/logging.h"

namespace thumbpipe::cli {

Result<config::Config> LoadConfigAndLogging(const std::string& config_path) {
  THUMBPIPE_ASSIGN_OR_RETURN(config::Config config,
                             config::LoadConfig(config_path, config::Environment::FromProcess()));
  InitLogging(config.log.level);
  return config;
}

Result<std::unique_ptr<image::Engine>> MakeEngine(const config::Config& config, int parallel_jobs) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  image::EngineOptions options;
  options.limits = config.limits;
  // Parallel jobs already keep the cores busy; libvips threads inside each job would only
  // contend with them. A lone job gets every core.
  options.vips_concurrency = std::max(1, cores / std::max(1, parallel_jobs));
  return image::Engine::Create(options);
}

int ReportStartupError(const Status& status) {
  std::cerr << "thumbpipe: " << status.message() << "\n";
  return 2;
}

}  // namespace thumbpipe::cli
