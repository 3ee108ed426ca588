#include "pipeline/from_config.h"

#include <thread>

namespace thumbpipe::pipeline {

JobConfig JobConfigFrom(const config::Config& config) {
  JobConfig j;
  j.trigger_bucket = config.trigger.bucket;
  j.output_bucket = config.output.bucket;
  j.layout = {config.trigger.prefix, config.output.prefix};
  j.recipe = config.recipe;
  j.max_input_bytes = config.limits.max_input_bytes;
  return j;
}

WorkerOptions WorkerOptionsFrom(const config::Config& config) {
  WorkerOptions o;
  o.concurrency = config.worker.concurrency > 0 ? config.worker.concurrency
                                                : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.batch = config.worker.batch;
  o.wait = config.worker.wait;
  o.visibility_timeout = config.queue.visibility_timeout;
  o.heartbeat = config::HeartbeatInterval(config);
  o.shutdown_grace = config.worker.shutdown_grace;
  o.max_receive_count = config.queue.max_receive_count;
  o.job_nice = config.worker.job_nice;
  o.receive_ahead = config.worker.receive_ahead;
  return o;
}

void RegisterQueueGauges(metrics::Registry& registry, queue::Queue& queue) {
  using Samples = std::vector<std::pair<metrics::Labels, double>>;
  // One Stats() per scrape would be better than five; the queue's stats are one indexed
  // query, and a scrape every 15 s makes the difference immaterial.
  auto gauge = [&](const char* name, const char* help, auto field) {
    registry.AddGauge(name, help, [&queue, field]() -> Samples {
      Result<queue::QueueStats> s = queue.Stats();
      if (!s.ok()) return {};
      return {{{}, field(*s)}};
    });
  };
  gauge("thumbpipe_queue_visible", "Messages ready to receive", [](const queue::QueueStats& s) { return double(s.visible); });
  gauge("thumbpipe_queue_in_flight", "Messages received and not yet removed",
        [](const queue::QueueStats& s) { return double(s.in_flight); });
  gauge("thumbpipe_queue_delayed", "Messages sent with a delay not yet passed",
        [](const queue::QueueStats& s) { return double(s.delayed); });
  gauge("thumbpipe_queue_dead", "Messages in the dead-letter queue", [](const queue::QueueStats& s) { return double(s.dead); });
  gauge("thumbpipe_queue_oldest_age_seconds", "Age of the oldest message not removed",
        [](const queue::QueueStats& s) { return std::chrono::duration<double>(s.oldest_age).count(); });
  registry.AddGauge("process_resident_memory_bytes", "Resident set size of this process",
                    [] { return Samples{{{}, metrics::ProcessRssBytes()}}; });
}

void RegisterMemoryBudgetGauges(metrics::Registry& registry,
                                std::shared_ptr<const image::MemoryBudget> budget) {
  using Samples = std::vector<std::pair<metrics::Labels, double>>;
  auto gauge = [&](const char* name, const char* help, auto field) {
    registry.AddGauge(name, help, [budget, field]() -> Samples { return {{{}, field(*budget)}}; });
  };
  gauge("thumbpipe_image_memory_budget_bytes", "Bytes image jobs may hold at once (worker.memory_budget)",
        [](const image::MemoryBudget& b) { return double(b.capacity()); });
  gauge("thumbpipe_image_memory_reserved_bytes", "Estimated peak bytes of the image jobs running",
        [](const image::MemoryBudget& b) { return double(b.stats().reserved); });
  gauge("thumbpipe_image_memory_high_water_bytes", "The most bytes image jobs held at once",
        [](const image::MemoryBudget& b) { return double(b.stats().high_water); });
  gauge("thumbpipe_image_memory_waiting_jobs", "Image jobs waiting for memory to come free",
        [](const image::MemoryBudget& b) { return double(b.stats().waiting); });
  gauge("thumbpipe_image_memory_waits", "Image jobs that had to wait for memory, since start",
        [](const image::MemoryBudget& b) { return double(b.stats().waited); });
}

}  // namespace thumbpipe::pipeline
