#include "common/metrics.h"

#include <gtest/gtest.h>

namespace thumbpipe::metrics {
namespace {

TEST(Metrics, CountersWithLabelsRenderOnePerLabelSet) {
  Registry r;
  r.GetCounter("jobs_total", "Jobs by result", {{"result", "done"}}).Inc();
  r.GetCounter("jobs_total", "Jobs by result", {{"result", "done"}}).Inc(2);
  r.GetCounter("jobs_total", "Jobs by result", {{"result", "retry"}}).Inc();
  const std::string text = r.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE jobs_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("jobs_total{result=\"done\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("jobs_total{result=\"retry\"} 1\n"), std::string::npos) << text;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Registry r;
  Histogram& h = r.GetHistogram("job_seconds", "Job duration", {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  const std::string text = r.RenderPrometheus();
  EXPECT_NE(text.find("job_seconds_bucket{le=\"0.10000000000000001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("job_seconds_bucket{le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("job_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("job_seconds_count 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("job_seconds_sum 5.5499999999999998\n"), std::string::npos) << text;
}

TEST(Metrics, GaugesAreReadAtRenderTimeAndLabelValuesEscaped) {
  Registry r;
  double depth = 1;
  r.AddGauge("queue_visible", "Visible messages", [&] { return std::vector<std::pair<Labels, double>>{{{{"queue", "a\"b"}}, depth}}; });
  depth = 7;
  EXPECT_NE(r.RenderPrometheus().find("queue_visible{queue=\"a\\\"b\"} 7\n"), std::string::npos) << r.RenderPrometheus();
}

TEST(Metrics, ProcessRssIsPositive) { EXPECT_GT(ProcessRssBytes(), 1e6); }

}  // namespace
}  // namespace thumbpipe::metrics
