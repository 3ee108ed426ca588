// Clock is the one source of time for code whose behaviour depends on it (visibility
// timeouts, retention, backoff). Production code takes a Clock& and uses RealClock; tests
// pass a ManualClock and move time forward explicitly instead of sleeping.
// Implementations are safe for concurrent use.
#pragma once

#include <atomic>
#include <chrono>

#include "common/duration.h"

namespace thumbpipe {

class Clock {
 public:
  using time_point = std::chrono::system_clock::time_point;

  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  virtual ~Clock() = default;

  // Wall-clock time (what SQS and S3 timestamps are made of).
  virtual time_point Now() const = 0;
  // Blocks the calling thread for `d` of this clock's time.
  virtual void SleepFor(Duration d) = 0;
};

// The system clock. RealClock::Instance() is shared and lives for the whole process.
class RealClock final : public Clock {
 public:
  static RealClock& Instance();
  time_point Now() const override { return std::chrono::system_clock::now(); }
  void SleepFor(Duration d) override;
};

// A clock that moves only when told to. SleepFor advances it instead of blocking, so code
// that sleeps in a retry loop runs instantly under test.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(time_point start = time_point{std::chrono::seconds{1'700'000'000}})
      : now_(start.time_since_epoch().count()) {}
  time_point Now() const override { return time_point{time_point::duration{now_.load()}}; }
  void SleepFor(Duration d) override { Advance(d); }
  void Advance(Duration d) {
    now_ += std::chrono::duration_cast<time_point::duration>(d).count();
  }

 private:
  std::atomic<time_point::rep> now_;
};

}  // namespace thumbpipe
