#include "common/clock.h"

#include <gtest/gtest.h>

namespace thumbpipe {
namespace {

TEST(ManualClockTest, MovesOnlyWhenTold) {
  ManualClock clock;
  const auto t0 = clock.Now();
  EXPECT_EQ(clock.Now(), t0);
  clock.Advance(std::chrono::seconds(30));
  EXPECT_EQ(clock.Now() - t0, std::chrono::seconds(30));
  clock.SleepFor(std::chrono::milliseconds(1500));  // returns at once, time moves
  EXPECT_EQ(clock.Now() - t0, std::chrono::milliseconds(31'500));
}

TEST(RealClockTest, IsMonotonicEnoughForTimestamps) {
  Clock& clock = RealClock::Instance();
  const auto a = clock.Now();
  const auto b = clock.Now();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace thumbpipe
