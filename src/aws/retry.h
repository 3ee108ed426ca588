// Bounded retries with exponential backoff and full jitter (the AWS SDKs' "standard" mode,
// after https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/): before
// retry n (1-based) the client sleeps a uniformly random time in
// [0, min(max_delay, base_delay * 2^(n-1))]. Full jitter spreads a crowd of clients that
// failed together (an S3 SlowDown) instead of sending them back in lockstep.
#pragma once

#include <functional>
#include <string_view>

#include "common/duration.h"

namespace thumbpipe::aws {

struct RetryPolicy {
  int max_attempts = 4;  // the first try included; 1 = no retries
  Duration base_delay = std::chrono::milliseconds(100);
  Duration max_delay = std::chrono::seconds(20);
};

// A uniform random number in [0, 1); injectable so tests choose the jitter.
using Random = std::function<double()>;
// A thread-safe source seeded from std::random_device.
Random DefaultRandom();

// The sleep before retry `retry` (1 for the first retry), given a draw `unit` in [0, 1).
Duration BackoffDelay(const RetryPolicy& policy, int retry, double unit);

// Whether a failed attempt may succeed if sent again. `http_status` 0 means no response
// (a network error); `code` is the service's error code ("SlowDown"), possibly empty.
bool IsRetryable(int http_status, std::string_view code);

}  // namespace thumbpipe::aws
