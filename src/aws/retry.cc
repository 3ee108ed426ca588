#include "aws/retry.h"

#include <algorithm>
#include <mutex>
#include <random>

namespace thumbpipe::aws {

Random DefaultRandom() {
  return [] {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
  };
}

Duration BackoffDelay(const RetryPolicy& policy, int retry, double unit) {
  const int shift = std::clamp(retry - 1, 0, 30);  // 2^30 * base is far past any cap
  const auto ceiling = std::min<Duration::rep>(policy.max_delay.count(), policy.base_delay.count() << shift);
  const double u = std::clamp(unit, 0.0, 1.0);
  return Duration{static_cast<Duration::rep>(u * static_cast<double>(std::max<Duration::rep>(ceiling, 0)))};
}

bool IsRetryable(int http_status, std::string_view code) {
  // Throttling and transient server-side codes, whatever status they came with (S3 sends
  // RequestTimeout as 400, SQS sends throttling as 400 with a JSON __type).
  static constexpr std::string_view kCodes[] = {
      "SlowDown",          "Throttling",          "ThrottlingException", "ThrottledException",
      "RequestThrottled",  "TooManyRequestsException", "ProvisionedThroughputExceededException",
      "RequestLimitExceeded", "RequestTimeout",   "RequestTimeoutException", "InternalError",
      "ServiceUnavailable", "RequestThrottledException", "PriorRequestNotComplete"};
  for (std::string_view c : kCodes) {
    if (code == c) return true;
  }
  return http_status == 0 || http_status == 429 || http_status >= 500;
}

}  // namespace thumbpipe::aws
