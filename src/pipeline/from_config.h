// The pipeline's settings as the configuration states them: one place that reads Config for
// `serve`, `worker` and `backfill`, so that the three cannot drift apart.
#pragma once

#include "config/config.h"
#include "image/memory_budget.h"
#include "common/metrics.h"
#include "pipeline/job.h"
#include "pipeline/worker.h"
#include "queue/queue.h"

namespace thumbpipe::pipeline {

JobConfig JobConfigFrom(const config::Config& config);

// worker.concurrency 0 becomes one job per core.
WorkerOptions WorkerOptionsFrom(const config::Config& config);

// Queue gauges for /metrics (visible, in_flight, delayed, dead, oldest_age_seconds), read from
// Queue::Stats() at scrape time, and the process RSS. `queue` must outlive the registry's use.
void RegisterQueueGauges(metrics::Registry& registry, queue::Queue& queue);

// thumbpipe_image_memory_*: the memory budget of the image jobs (worker.memory_budget).
void RegisterMemoryBudgetGauges(metrics::Registry& registry,
                                std::shared_ptr<const image::MemoryBudget> budget);

}  // namespace thumbpipe::pipeline
