// Metrics in the Prometheus text exposition format (version 0.0.4): counters, histograms
// and gauges read at scrape time. One Registry per process is shared by the rooms that
// report (pipeline, server, queue gauges); GET /metrics renders it.
//
// Counters and histograms are lock-free to update (atomics); creating one takes a lock, so
// callers look a metric up once and keep the reference. Everything is safe for concurrent use.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace thumbpipe::metrics {

// Label name -> value, e.g. {{"result", "done"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(double by = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);

  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Cumulative count per bound (Prometheus' le buckets), then +Inf, sum and count.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound, not cumulative; last = +Inf
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Buckets for durations in seconds, 5 ms .. 60 s.
std::vector<double> DurationBuckets();

class Registry {
 public:
  // The same (name, labels) always returns the same metric.
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                          const Labels& labels = {});
  // A gauge whose samples are read when the registry is rendered (queue depth, RSS). The
  // callback runs on the scraping thread and must be cheap and thread-safe.
  using GaugeReader = std::function<std::vector<std::pair<Labels, double>>()>;
  void AddGauge(const std::string& name, const std::string& help, GaugeReader reader);

  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string type, help;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
    std::vector<GaugeReader> gauges;
  };
  Family& FamilyOf(const std::string& name, const std::string& type, const std::string& help);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// The process-wide registry.
Registry& DefaultRegistry();

// This process's resident set size in bytes (VmRSS), 0 when unknown.
double ProcessRssBytes();

}  // namespace thumbpipe::metrics
