// The worker pool as `serve` and `worker` both run it: an engine sized for the pool, a Job
// over the configured store, and a pipeline::Worker over the configured queue.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cli/worker_process.h"
#include "common/result.h"
#include "config/config.h"
#include "pipeline/worker.h"
#include "queue/queue.h"
#include "store/object_store.h"

namespace thumbpipe::cli {

// `workers` jobs at once (>= 1). The processor owns the engine, the job settings and a share
// of the store, so that a job still running after Worker::Stop's grace period (abandoned,
// its message released) never touches freed memory. `queue` must outlive the Worker. With a
// `reporter` (a `worker` under serve's worker.isolation = process), each job's start and end
// are reported to serve.
Result<std::unique_ptr<pipeline::Worker>> MakeWorkerPool(const config::Config& config, int workers,
                                                         std::shared_ptr<store::ObjectStore> store,
                                                         queue::Queue& queue,
                                                         std::optional<JobReporter> reporter = std::nullopt);

// The most messages that MakeWorkerPool's pool of `workers` holds at once (running, and
// worker.receive_ahead pending); 0 when `workers` is 0 (no pool). The consumer capacity to
// open the queue with (OpenConfiguredQueue): a queue that pushes need push no more.
int PoolMessagesInHand(const config::Config& config, int workers);

// "1 job at once", "4 jobs at once": how the startup blocks state the pool's size.
std::string JobsAtOnce(int workers);

// Opens the store of [store] with the limits `serve` uses.
Result<std::shared_ptr<store::ObjectStore>> OpenConfiguredStore(const config::Config& config);

}  // namespace thumbpipe::cli
