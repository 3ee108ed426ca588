#include "cli/workers.h"

#include <algorithm>

#include "cli/startup.h"
#include "pipeline/from_config.h"
#include "pipeline/job.h"
#include "store/store_factory.h"

namespace thumbpipe::cli {
namespace {

// Everything a running job refers to, kept alive by the processor (see workers.h).
struct JobParts {
  pipeline::JobConfig config;
  std::unique_ptr<image::Engine> engine;
  std::shared_ptr<store::ObjectStore> store;
  std::unique_ptr<pipeline::Job> job;
};

pipeline::WorkerOptions PoolOptions(const config::Config& config, int workers) {
  pipeline::WorkerOptions options = pipeline::WorkerOptionsFrom(config);
  options.concurrency = std::max(1, workers);
  return options;
}

}  // namespace

int PoolMessagesInHand(const config::Config& config, int workers) {
  return workers > 0 ? pipeline::MaxMessagesInHand(PoolOptions(config, workers)) : 0;
}

Result<std::unique_ptr<pipeline::Worker>> MakeWorkerPool(const config::Config& config, int workers,
                                                         std::shared_ptr<store::ObjectStore> store,
                                                         queue::Queue& queue,
                                                         std::optional<JobReporter> reporter) {
  pipeline::WorkerOptions options = PoolOptions(config, workers);
  if (reporter) {
    options.on_received = [reporter](const queue::Message& m) { reporter->Received(m); };
  }
  auto parts = std::make_shared<JobParts>();
  parts->config = pipeline::JobConfigFrom(config);
  THUMBPIPE_ASSIGN_OR_RETURN(parts->engine, MakeEngine(config));
  pipeline::RegisterMemoryBudgetGauges(metrics::DefaultRegistry(), parts->engine->options().memory_budget);
  parts->store = std::move(store);
  parts->job = std::make_unique<pipeline::Job>(parts->config, *parts->store, *parts->engine);
  pipeline::Processor processor = [parts, reporter](const queue::Message& m) {
    if (!reporter) return parts->job->Run(m);
    reporter->Started(m);
    pipeline::JobReport report = parts->job->Run(m);
    reporter->Finished(m);
    return report;
  };
  return std::make_unique<pipeline::Worker>(options, queue, std::move(processor));
}

std::string JobsAtOnce(int workers) {
  return std::to_string(workers) + (workers == 1 ? " job at once" : " jobs at once");
}

Result<std::shared_ptr<store::ObjectStore>> OpenConfiguredStore(const config::Config& config) {
  store::LocalStoreOptions options;
  options.max_object_bytes = config.server.max_body_bytes;
  // An s3:// store signs with the AWS credential chain; the config file's first
  // [[credentials]] entry comes last in it (the key a remote worker shares with `serve`).
  store::S3StoreOptions s3;
  if (!config.credentials.empty()) {
    s3.fallback_credentials =
        sigv4::Credentials{config.credentials.front().access_key, config.credentials.front().secret_key, std::nullopt};
  }
  THUMBPIPE_ASSIGN_OR_RETURN(std::unique_ptr<store::ObjectStore> opened,
                             store::OpenStore(config.store.url, options, std::move(s3)));
  return std::shared_ptr<store::ObjectStore>(std::move(opened));
}

}  // namespace thumbpipe::cli
