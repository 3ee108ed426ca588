// A consumer that dies holding messages loses nothing and duplicates nothing beyond the one
// redelivery at-least-once allows (issue 3, "Crash tests"; reliability.md D.32): the
// messages it held stay in flight until their visibility timeout, not a moment less, then
// come back each exactly once with receive_count 2.
//
// The child is a separate process, so its visibility runs on the real clock. The test
// polls with deadlines; the only timing in an assertion is the rule itself ("not visible
// before the timeout"), checked against wall-clock readings taken around each call.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "queue_test_util.h"

namespace thumbpipe::queue::testing {
namespace {

using std::chrono::milliseconds;

constexpr int kMessages = 20;
constexpr milliseconds kVisibility{2'000};

TEST(CrashReceiveTest, KilledConsumersMessagesComeBackOnceAfterVisibility) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const auto db = dir.path() / "queue.db";
  const auto out = dir.path() / "child.out";
  auto queue = OpenForTest(db);
  ASSERT_NE(queue, nullptr);
  std::set<std::string> sent;
  for (int i = 0; i < kMessages; ++i) {
    auto id = queue->Send("job " + std::to_string(i));
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    sent.insert(*id);
  }

  ChildProcess child({QueueChildPath(), "receive", db.string(), std::to_string(kMessages),
                      std::to_string(kVisibility.count())},
                     out);
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(PollUntil([&] { return ReadCompleteLines(out).size() >= kMessages + 2; },
                        milliseconds(15'000)))
      << "the child did not receive all messages";
  child.Kill();

  const auto lines = ReadCompleteLines(out);
  ASSERT_EQ(lines.front().rfind("t ", 0), 0u) << lines.front();
  // Every receive happened after this instant, so no message may be visible before
  // started + visibility.
  const Clock::time_point started{milliseconds(std::stoll(lines.front().substr(2)))};
  const auto expiry = started + kVisibility;
  const std::vector<std::string> held = Field(lines, "r");
  EXPECT_EQ(std::set<std::string>(held.begin(), held.end()), sent);
  EXPECT_TRUE(ErrorLines(lines).empty());

  // While the child's visibility lasts: all in flight, nothing to receive.
  Clock& clock = RealClock::Instance();
  int checks = 0;
  while (clock.Now() < expiry - milliseconds(100)) {
    auto stats = queue->Stats();
    auto got = queue->Receive(10, Duration{0});
    const auto after = clock.Now();
    ASSERT_TRUE(stats.ok() && got.ok());
    if (after >= expiry) break;  // the calls straddled the expiry; the rule no longer applies
    ++checks;
    EXPECT_EQ(stats->in_flight, kMessages);
    EXPECT_EQ(stats->visible, 0);
    ASSERT_TRUE(got->empty()) << "message " << got->front().id
                              << " came back before its visibility expired";
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_GT(checks, 0) << "the check window closed before the first look; machine too slow?";

  // After it: all visible again, then each received exactly once, with receive_count 2.
  ASSERT_TRUE(PollUntil(
      [&] {
        auto stats = queue->Stats();
        return stats.ok() && stats->visible == kMessages && stats->in_flight == 0;
      },
      milliseconds(10'000)))
      << "the killed consumer's messages did not become visible again";
  std::map<std::string, int> again;
  for (const Message& m : DrainVisible(*queue)) {
    EXPECT_EQ(m.receive_count, 2) << m.id;
    ++again[m.id];
  }
  EXPECT_EQ(again.size(), sent.size());
  for (const auto& [id, times] : again) {
    EXPECT_TRUE(sent.count(id)) << "unknown id " << id;
    EXPECT_EQ(times, 1) << id;
  }
  auto stats = queue->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->in_flight, kMessages);
  EXPECT_EQ(stats->visible, 0);
  EXPECT_EQ(stats->dead, 0);
}

}  // namespace
}  // namespace thumbpipe::queue::testing
