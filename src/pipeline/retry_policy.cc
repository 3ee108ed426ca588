#include "pipeline/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace thumbpipe::pipeline {

Duration RetryPolicy::Backoff(int receive_count, std::mt19937_64& rng) const {
  const double base_ms = std::chrono::duration<double, std::milli>(initial).count();
  const double max_ms = std::chrono::duration<double, std::milli>(max).count();
  const int exponent = std::clamp(receive_count - 1, 0, 40);
  double ms = std::min(max_ms, base_ms * std::pow(multiplier, exponent));
  std::uniform_real_distribution<double> spread(1 - jitter, 1 + jitter);
  ms = std::min(max_ms, ms * spread(rng));
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
}

}  // namespace thumbpipe::pipeline
