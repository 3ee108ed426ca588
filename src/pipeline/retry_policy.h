// How long a message that failed for a transient reason stays hidden before its next try:
// exponential in the number of receives, capped, with jitter so that many messages that
// failed together (the store was down) do not all come back in the same instant.
#pragma once

#include <random>

#include "common/duration.h"

namespace thumbpipe::pipeline {

struct RetryPolicy {
  Duration initial = std::chrono::seconds(2);  // after the first failed receive
  double multiplier = 2;
  Duration max = std::chrono::minutes(5);
  double jitter = 0.2;  // +-20 %

  // The delay after the receive that was the `receive_count`-th (1-based).
  Duration Backoff(int receive_count, std::mt19937_64& rng) const;
};

}  // namespace thumbpipe::pipeline
