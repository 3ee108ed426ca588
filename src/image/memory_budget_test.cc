#include "image/memory_budget.h"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace thumbpipe::image {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1 << 20;
const Clock::time_point kNoDeadline = Clock::now() + 24h;

// Spins (yielding) until `n` callers wait in the budget: the waiters' own state, not a
// guess at how long their threads take to start.
void AwaitWaiting(const MemoryBudget& budget, uint64_t n) {
  while (budget.stats().waiting != n) std::this_thread::yield();
}

TEST(MemoryBudgetTest, ReservationsWithinCapacityAreImmediateAndReleasedByTheirOwner) {
  MemoryBudget budget(100 * kMiB);
  {
    Result<MemoryBudget::Reservation> a = budget.Reserve(60 * kMiB, Clock::now());
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    Result<MemoryBudget::Reservation> b = budget.Reserve(40 * kMiB, Clock::now());
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(budget.stats().reserved, 100 * kMiB);
    MemoryBudget::Reservation moved = std::move(*a);
    EXPECT_EQ(moved.bytes(), 60 * kMiB);
    EXPECT_EQ(budget.stats().reserved, 100 * kMiB) << "a move must not release";
  }
  EXPECT_EQ(budget.stats().reserved, 0u);
  EXPECT_EQ(budget.stats().high_water, 100 * kMiB);
  EXPECT_EQ(budget.stats().waited, 0u);
}

TEST(MemoryBudgetTest, MoreThanTheCapacityIsTooLargeAndSaysWhy) {
  MemoryBudget budget(1024 * kMiB);
  Result<MemoryBudget::Reservation> r = budget.Reserve(1180 * kMiB, kNoDeadline);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("needs about 1180 MiB"));
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("worker.memory_budget = 1024 MiB"));
  EXPECT_EQ(budget.stats().waited, 0u) << "a job that can never fit must not wait";
}

TEST(MemoryBudgetTest, AWaitPastItsDeadlineIsUnavailableAndHoldsNothing) {
  MemoryBudget budget(100 * kMiB);
  Result<MemoryBudget::Reservation> held = budget.Reserve(80 * kMiB, kNoDeadline);
  ASSERT_TRUE(held.ok());
  Result<MemoryBudget::Reservation> late = budget.Reserve(30 * kMiB, Clock::now());
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(budget.stats().reserved, 80 * kMiB);
  EXPECT_EQ(budget.stats().waiting, 0u);
  *held = MemoryBudget::Reservation();  // released
  EXPECT_TRUE(budget.Reserve(100 * kMiB, Clock::now()).ok());
}

TEST(MemoryBudgetTest, AJobThatDoesNotFitWaitsForTheRunningOnesAndThenRuns) {
  MemoryBudget budget(100 * kMiB);
  Result<MemoryBudget::Reservation> running = budget.Reserve(70 * kMiB, kNoDeadline);
  ASSERT_TRUE(running.ok());
  std::atomic<bool> admitted{false};
  std::thread waiter([&] {
    Result<MemoryBudget::Reservation> r = budget.Reserve(50 * kMiB, kNoDeadline);
    EXPECT_TRUE(r.ok());
    admitted = true;
  });
  AwaitWaiting(budget, 1);
  EXPECT_FALSE(admitted.load()) << "admitted beside 70 MiB in a 100 MiB budget";
  *running = MemoryBudget::Reservation();  // the running job ends
  waiter.join();
  EXPECT_TRUE(admitted.load());
  EXPECT_EQ(budget.stats().high_water, 70 * kMiB) << "never more than the capacity at once";
  EXPECT_EQ(budget.stats().waited, 1u);
}

// First come, first served: a small job that would fit does not overtake a large one
// already waiting, or a stream of small jobs could keep a large one out forever.
TEST(MemoryBudgetTest, WaitersAreServedInArrivalOrder) {
  MemoryBudget budget(100 * kMiB);
  Result<MemoryBudget::Reservation> running = budget.Reserve(50 * kMiB, kNoDeadline);
  ASSERT_TRUE(running.ok());
  std::vector<char> order;
  std::mutex order_mu;
  auto job = [&](char name, uint64_t mib) {
    Result<MemoryBudget::Reservation> r = budget.Reserve(mib * kMiB, kNoDeadline);
    EXPECT_TRUE(r.ok());
    std::lock_guard lock(order_mu);
    order.push_back(name);
  };
  std::thread large(job, 'L', 60);
  AwaitWaiting(budget, 1);
  // S fits beside the 50 MiB running, but L came first. It does not fit beside L either, so
  // S is admitted once L has recorded itself and let go: the order below is the budget's,
  // not the scheduler's (with a smaller S both were admitted at once and raced to record).
  std::thread small(job, 'S', 45);
  AwaitWaiting(budget, 2);
  {
    std::lock_guard lock(order_mu);
    EXPECT_TRUE(order.empty()) << "the small job overtook the large one";
  }
  *running = MemoryBudget::Reservation();  // the running job ends
  large.join();
  small.join();
  EXPECT_THAT(order, ::testing::ElementsAre('L', 'S'));
}

TEST(MemoryBudgetTest, AWaiterThatGivesUpLetsTheNextOneIn) {
  MemoryBudget budget(100 * kMiB);
  Result<MemoryBudget::Reservation> running = budget.Reserve(50 * kMiB, kNoDeadline);
  ASSERT_TRUE(running.ok());
  Result<MemoryBudget::Reservation> gave_up = Status::Internal("not run");
  // Long enough for the second thread to join the line behind it (checked below).
  std::thread impatient([&] { gave_up = budget.Reserve(60 * kMiB, Clock::now() + 500ms); });
  AwaitWaiting(budget, 1);
  std::atomic<bool> admitted{false};
  std::thread patient([&] {
    EXPECT_TRUE(budget.Reserve(10 * kMiB, kNoDeadline).ok());
    admitted = true;
  });
  impatient.join();
  patient.join();  // admitted once the one ahead of it left the line, though 50 MiB are held
  EXPECT_EQ(gave_up.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(admitted.load());
  EXPECT_EQ(budget.stats().waited, 2u) << "the second job did not wait behind the first";
}

TEST(MemoryBudgetTest, TheAutomaticBudgetIsAShareOfWhatTheProcessMayUse) {
  const uint64_t available = MemoryAvailableToProcess();
  ASSERT_GT(available, 0u) << "neither the RAM nor a cgroup limit could be read";
  const uint64_t budget = AutomaticMemoryBudget();
  EXPECT_LT(budget, available);
  EXPECT_GE(budget, std::min<uint64_t>(available / 2, 64 * kMiB));
}

}  // namespace
}  // namespace thumbpipe::image
