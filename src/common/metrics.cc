#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace thumbpipe::metrics {
namespace {

void AtomicAdd(std::atomic<double>& target, double by) {
  double old = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(old, old + by, std::memory_order_relaxed)) {
  }
}

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string LabelText(const Labels& labels, const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && !extra) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::pair<std::string, std::string>& l) {
    if (!first) out += ',';
    first = false;
    out += l.first + "=\"" + EscapeLabelValue(l.second) + "\"";
  };
  for (const auto& l : labels) add(l);
  if (extra) add(*extra);
  return out + "}";
}

}  // namespace

void Counter::Inc(double by) { AtomicAdd(value_, by); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double value) {
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) out[i] = total += buckets_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> DurationBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

Registry::Family& Registry::FamilyOf(const std::string& name, const std::string& type, const std::string& help) {
  Family& f = families_[name];
  if (f.type.empty()) f.type = type, f.help = help;
  return f;
}

Counter& Registry::GetCounter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyOf(name, "counter", help).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& Registry::GetHistogram(const std::string& name, const std::string& help,
                                  const std::vector<double>& bounds, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyOf(name, "histogram", help).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

void Registry::AddGauge(const std::string& name, const std::string& help, GaugeReader reader) {
  std::lock_guard lock(mu_);
  FamilyOf(name, "gauge", help).gauges.push_back(std::move(reader));
}

std::string Registry::RenderPrometheus() const {
  std::ostringstream out;
  std::lock_guard lock(mu_);
  for (const auto& [name, f] : families_) {
    out << "# HELP " << name << ' ' << f.help << "\n# TYPE " << name << ' ' << f.type << '\n';
    for (const auto& [labels, c] : f.counters) out << name << LabelText(labels) << ' ' << FormatValue(c->value()) << '\n';
    for (const auto& [labels, h] : f.histograms) {
      const std::vector<uint64_t> counts = h->CumulativeCounts();
      for (size_t i = 0; i < counts.size(); ++i) {
        const std::pair<std::string, std::string> le{
            "le", i < h->upper_bounds().size() ? FormatValue(h->upper_bounds()[i]) : "+Inf"};
        out << name << "_bucket" << LabelText(labels, &le) << ' ' << counts[i] << '\n';
      }
      out << name << "_sum" << LabelText(labels) << ' ' << FormatValue(h->sum()) << '\n';
      out << name << "_count" << LabelText(labels) << ' ' << h->count() << '\n';
    }
    for (const auto& reader : f.gauges) {
      for (const auto& [labels, value] : reader()) out << name << LabelText(labels) << ' ' << FormatValue(value) << '\n';
    }
  }
  return out.str();
}

Registry& DefaultRegistry() {
  static Registry* registry = new Registry();  // never destroyed: threads may report during exit
  return *registry;
}

double ProcessRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) * 1024;  // "VmRSS:  1234 kB"
  }
  return 0;
}

}  // namespace thumbpipe::metrics
