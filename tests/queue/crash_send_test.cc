// A send that returned OK survives the sender being SIGKILLed right after (issue 3,
// "Durability"; reliability.md C.28). A kill is an application crash, not a power cut, so
// both durability settings must pass: NORMAL only differs on power loss, which a kill cannot
// show (reliability.md 0.8).
//
// The child prints each id only after Send returned it; the test kills the child at a random
// point, reopens the file and receives everything. The kill moment is random, the assertions
// never depend on it.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "queue_test_util.h"

namespace thumbpipe::queue::testing {
namespace {

using std::chrono::milliseconds;

constexpr int kRounds = 8;
// More than a child can send before it is killed, so the kill always lands mid-stream.
constexpr int kSendsPerChild = 1'000'000;

class CrashSendTest : public ::testing::TestWithParam<bool> {};

TEST_P(CrashSendTest, ReportedSendsSurviveSigkill) {
  const bool durable = GetParam();
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ScratchDir dir;
    ASSERT_FALSE(dir.path().empty());
    const auto db = dir.path() / "queue.db";
    const auto out = dir.path() / "child.out";
    ChildProcess child({QueueChildPath(), "send", db.string(), std::to_string(kSendsPerChild),
                        durable ? "1" : "0"},
                       out);
    ASSERT_TRUE(child.ok());
    if (round == 0) {
      // Early, possibly while the child is still creating the schema: the file it leaves
      // must open.
      std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<>(0, 30)(rng)));
    } else {
      const size_t after = std::uniform_int_distribution<size_t>(1, 1500)(rng);
      ASSERT_TRUE(PollUntil([&] { return ReadCompleteLines(out).size() >= after; },
                            milliseconds(20'000)))
          << "the child did not report " << after << " sends";
      std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<>(0, 20)(rng)));
    }
    child.Kill();

    const auto lines = ReadCompleteLines(out);
    EXPECT_TRUE(ErrorLines(lines).empty()) << ErrorLines(lines).front();
    const std::vector<std::string> reported = Field(lines, "s");
    const std::set<std::string> reported_set(reported.begin(), reported.end());
    EXPECT_EQ(reported_set.size(), reported.size()) << "Send returned the same id twice";

    auto queue = OpenForTest(db, durable);
    ASSERT_NE(queue, nullptr);
    std::set<std::string> present;
    for (const Message& m : DrainVisible(*queue)) {
      EXPECT_TRUE(present.insert(m.id).second) << "received twice: " << m.id;
      EXPECT_EQ(m.receive_count, 1) << m.id;
    }
    for (const std::string& id : reported) {
      EXPECT_TRUE(present.count(id)) << "lost a send the child reported: " << id;
    }
    // The child sends one message at a time, so at most the one in progress at the kill may
    // have committed without being reported.
    EXPECT_LE(present.size(), reported_set.size() + 1);
    queue.reset();
    EXPECT_EQ(IntegrityCheck(db), "ok");
    std::printf("[ round %d ] %s: %zu reported, %zu in the queue after the kill\n", round,
                durable ? "full" : "normal", reported.size(), present.size());
  }
}

std::string DurabilityName(const ::testing::TestParamInfo<bool>& param) {
  return param.param ? "Full" : "Normal";
}

INSTANTIATE_TEST_SUITE_P(Durability, CrashSendTest, ::testing::Values(true, false),
                         DurabilityName);

}  // namespace
}  // namespace thumbpipe::queue::testing
