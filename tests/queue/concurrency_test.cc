// Several processes on one database file (a `serve` plus extra `worker`s): 2 producer and 4
// consumer processes run at once (issue 3, "Concurrency"; reliability.md C.30). Every sent
// message is removed exactly once, and no message is ever in flight to two consumers: the
// visibility is far longer than the run, so a second receive of any id — by another
// consumer or the same one — would be a double delivery inside its visibility window.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "child_process.h"
#include "queue_test_util.h"

namespace thumbpipe::queue::testing {
namespace {

using std::chrono::milliseconds;

constexpr int kProducers = 2;
constexpr int kConsumers = 4;
constexpr int kPerProducer = 2'000;
constexpr milliseconds kVisibility{10 * 60'000};
constexpr milliseconds kRunDeadline{45'000};

TEST(ConcurrencyTest, FourConsumersTwoProducersEachMessageRemovedOnce) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const auto db = dir.path() / "queue.db";
  const auto stop = dir.path() / "producers-done";
  // Created up front so that six processes do not all race to create the schema; the race
  // itself is covered by CrashSendTest's early kill and by the consumers' first opens.
  ASSERT_NE(OpenForTest(db), nullptr);

  std::vector<std::unique_ptr<ChildProcess>> consumers, producers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{QueueChildPath(), "consume", db.string(),
                                 std::to_string(kVisibility.count()), stop.string()},
        dir.path() / ("consumer" + std::to_string(c))));
    ASSERT_TRUE(consumers.back()->ok());
  }
  for (int p = 0; p < kProducers; ++p) {
    producers.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{QueueChildPath(), "send", db.string(),
                                 std::to_string(kPerProducer), "1"},
        dir.path() / ("producer" + std::to_string(p))));
    ASSERT_TRUE(producers.back()->ok());
  }
  for (auto& producer : producers) {
    ASSERT_EQ(producer->Wait(kRunDeadline), 0) << "a producer did not finish";
  }
  std::ofstream(stop).put('\n');
  for (auto& consumer : consumers) {
    ASSERT_EQ(consumer->Wait(kRunDeadline), 0) << "a consumer did not drain and stop";
  }

  std::set<std::string> sent;
  for (int p = 0; p < kProducers; ++p) {
    const auto lines = ReadCompleteLines(dir.path() / ("producer" + std::to_string(p)));
    EXPECT_TRUE(ErrorLines(lines).empty()) << ErrorLines(lines).front();
    for (const std::string& id : Field(lines, "s")) {
      EXPECT_TRUE(sent.insert(id).second) << "two sends got id " << id;
    }
  }
  EXPECT_EQ(sent.size(), static_cast<size_t>(kProducers * kPerProducer));

  std::map<std::string, int> received, removed;
  std::map<std::string, int> receiver;  // id -> consumer that received it first
  size_t consumer_errors = 0;
  for (int c = 0; c < kConsumers; ++c) {
    const auto lines = ReadCompleteLines(dir.path() / ("consumer" + std::to_string(c)));
    consumer_errors += ErrorLines(lines).size();
    for (const std::string& id : Field(lines, "r")) {
      if (++received[id] > 1) {
        ADD_FAILURE() << id << " received again (by consumer " << c << ", first by consumer "
                      << receiver[id] << ") inside its visibility window";
      }
      receiver.emplace(id, c);
    }
    for (const std::string& id : Field(lines, "d")) ++removed[id];
    std::printf("[ consumer %d ] removed %zu\n", c, Field(lines, "d").size());
  }
  EXPECT_EQ(consumer_errors, 0u) << "failed receives/removes (SQLITE_BUSY surfacing?)";
  for (const std::string& id : sent) {
    EXPECT_EQ(removed[id], 1) << id;
  }
  EXPECT_EQ(removed.size(), sent.size()) << "removed ids that no producer reported";

  auto queue = OpenForTest(db);
  ASSERT_NE(queue, nullptr);
  auto stats = queue->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->visible + stats->in_flight + stats->delayed + stats->dead, 0);
  EXPECT_EQ(stats->sent, kProducers * kPerProducer);
  EXPECT_EQ(stats->removed, kProducers * kPerProducer);
  queue.reset();
  EXPECT_EQ(IntegrityCheck(db), "ok");
}

}  // namespace
}  // namespace thumbpipe::queue::testing
