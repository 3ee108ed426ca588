#include "events/relay.h"

#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/logging.h"
#include "events/events_test_support.h"
#include "queue/sqlite_queue.h"

namespace thumbpipe::events {
namespace {

namespace fs = std::filesystem;
using testing::FaultyQueue;
using testing::MemoryOutbox;

constexpr Duration kFlushTimeout = std::chrono::seconds(20);

fs::path FreshDir() {
  static std::atomic<int> counter{0};
  const fs::path dir = fs::path(::testing::TempDir()) /
                       ("thumbpipe_events_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Failure paths log a warning per attempt; keep the test output readable.
    InitLogging(LogLevel::kOff);
    dir_ = FreshDir();
  }

  // A real SQLite queue named `name`, wrapped in a fault injector, known to the resolver by
  // its name and by its embedded ARN.
  FaultyQueue& AddQueue(const std::string& name) {
    queue::SqliteQueueOptions o;
    o.path = dir_ / "queue.db";
    o.name = name;
    o.durable_sends = false;
    auto q = queue::OpenSqliteQueue(o);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    real_[name] = std::move(q).value();
    faulty_[name] = std::make_unique<FaultyQueue>(*real_[name]);
    return *faulty_[name];
  }

  DestinationResolver Resolver() {
    return [this](std::string_view destination) -> queue::Queue* {
      std::string name(destination);
      if (std::string_view n = QueueNameOfArn(destination); !n.empty()) name = std::string(n);
      if (hidden_.contains(name)) return nullptr;
      auto it = faulty_.find(name);
      return it == faulty_.end() ? nullptr : it->second.get();
    };
  }

  std::vector<std::string> Append(const std::string& destination, int n, const std::string& tag) {
    std::vector<std::string> payloads, bodies;
    for (int i = 0; i < n; ++i) {
      bodies.push_back(tag + "-" + std::to_string(i));
      payloads.push_back(EncodeOutboxPayload({destination, bodies.back()}));
    }
    outbox_.Append(payloads);
    return bodies;
  }

  // Every body now in queue `name`, in receive order (the messages are removed).
  std::vector<std::string> Drain(const std::string& name) {
    std::vector<std::string> bodies;
    for (;;) {
      auto messages = real_[name]->Receive(10, Duration{0});
      EXPECT_TRUE(messages.ok());
      if (!messages.ok() || messages->empty()) return bodies;
      for (const queue::Message& m : *messages) {
        bodies.push_back(m.body);
        EXPECT_TRUE(real_[name]->Remove(m.receipt).ok());
      }
    }
  }

  fs::path dir_;
  MemoryOutbox outbox_;
  ManualClock clock_;
  std::map<std::string, std::unique_ptr<queue::Queue>> real_;
  std::map<std::string, std::unique_ptr<FaultyQueue>> faulty_;
  std::set<std::string> hidden_;  // names the resolver pretends not to know; set before Start
};

TEST_F(RelayTest, DeliversEverythingInOrderInBatchesOfTen) {
  FaultyQueue& q = AddQueue("thumbnails");
  const std::vector<std::string> bodies = Append(EmbeddedQueueArn("us-east-1", "thumbnails"), 25, "a");
  Relay relay(outbox_, Resolver(), clock_);
  relay.Start();
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  EXPECT_EQ(outbox_.size(), 0u);
  EXPECT_EQ(Drain("thumbnails"), bodies);
  EXPECT_EQ(q.batch_calls(), 3);
  EXPECT_EQ(q.largest_batch(), 10);
  EXPECT_EQ(relay.stats().delivered, 25);
  relay.Stop(Duration{0});
}

TEST_F(RelayTest, EntriesWrittenWhileRunningAreDelivered) {
  AddQueue("thumbnails");
  Relay relay(outbox_, Resolver(), clock_);
  relay.Start();
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  std::vector<std::string> expected;
  for (int round = 0; round < 5; ++round) {
    std::vector<std::string> bodies = Append("thumbnails", 3, "r" + std::to_string(round));
    expected.insert(expected.end(), bodies.begin(), bodies.end());
  }
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  EXPECT_EQ(Drain("thumbnails"), expected);
  relay.Stop(Duration{0});
}

TEST_F(RelayTest, GroupsByDestination) {
  FaultyQueue& one = AddQueue("one");
  FaultyQueue& two = AddQueue("two");
  std::vector<std::string> to_one, to_two;
  for (int i = 0; i < 6; ++i) {
    auto a = Append("one", 2, "one" + std::to_string(i));
    auto b = Append(EmbeddedQueueArn("us-east-1", "two"), 1, "two" + std::to_string(i));
    to_one.insert(to_one.end(), a.begin(), a.end());
    to_two.insert(to_two.end(), b.begin(), b.end());
  }
  Relay relay(outbox_, Resolver(), clock_);
  relay.Start();
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  EXPECT_EQ(Drain("one"), to_one);
  EXPECT_EQ(Drain("two"), to_two);
  EXPECT_EQ(one.batch_calls(), 2);  // 12 entries: 10 + 2
  EXPECT_EQ(two.batch_calls(), 1);
  relay.Stop(Duration{0});
}

TEST_F(RelayTest, RetriesWhileTheQueueFailsAndLosesNothing) {
  FaultyQueue& q = AddQueue("thumbnails");
  q.fail_batches() = 4;
  const std::vector<std::string> bodies = Append("thumbnails", 15, "x");
  Relay relay(outbox_, Resolver(), clock_);
  const Clock::time_point before = clock_.Now();
  relay.Start();
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  EXPECT_EQ(Drain("thumbnails"), bodies);
  EXPECT_EQ(relay.stats().failures, 4);
  // 100 + 200 + 400 + 800 ms of backoff, on the relay's (manual) clock.
  EXPECT_EQ(clock_.Now() - before, std::chrono::milliseconds(1500));
  relay.Stop(Duration{0});
}

TEST_F(RelayTest, AnEntrySentAgainAfterALostAnswerIsEnqueuedOnce) {
  // The queue committed the batch but the relay never heard (a crash between the queue's
  // commit and the outbox delete looks the same): the retry carries the same dedup ids and
  // the embedded queue drops them, so every event is in the queue exactly once.
  FaultyQueue& q = AddQueue("thumbnails");
  ASSERT_TRUE(q.deduplicates());
  q.lose_answers() = 2;
  const std::vector<std::string> bodies = Append("thumbnails", 15, "once");
  Relay relay(outbox_, Resolver(), clock_);
  relay.Start();
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  EXPECT_EQ(outbox_.size(), 0u);
  EXPECT_EQ(Drain("thumbnails"), bodies);
  EXPECT_EQ(real_["thumbnails"]->Stats()->sent, 15);
  EXPECT_EQ(relay.stats().failures, 2);
  relay.Stop(Duration{0});
}

TEST(OutboxDedupIdTest, StableForARowAndDistinctAcrossRowsAndStores) {
  const store::OutboxEntry row{7, R"({"v":1,"queue":"q","body":"event a"})"};
  const std::string id = OutboxDedupId(row);
  EXPECT_EQ(OutboxDedupId(row), id);
  EXPECT_EQ(id.rfind("outbox-7-", 0), 0u) << id;
  EXPECT_LE(id.size(), 128u);
  for (char c : id) EXPECT_TRUE(c >= '!' && c <= '~') << id;
  // Another row of the same store; the same row id in another store (another event).
  EXPECT_NE(OutboxDedupId({8, row.payload}), id);
  EXPECT_NE(OutboxDedupId({7, R"({"v":1,"queue":"q","body":"event b"})"}), id);
}

TEST_F(RelayTest, BackoffIsBounded) {
  FaultyQueue& q = AddQueue("thumbnails");
  q.fail_batches() = 12;
  Append("thumbnails", 1, "x");
  RelayOptions options;
  options.initial_backoff = std::chrono::seconds(1);
  options.max_backoff = std::chrono::seconds(5);
  Relay relay(outbox_, Resolver(), clock_, options);
  const Clock::time_point before = clock_.Now();
  relay.Start();
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  // 1 + 2 + 4, then 5 s for each of the other nine failures.
  EXPECT_EQ(clock_.Now() - before, std::chrono::seconds(7 + 9 * 5));
  EXPECT_EQ(Drain("thumbnails").size(), 1u);
  relay.Stop(Duration{0});
}

TEST_F(RelayTest, AnEntryTheQueueRefusesIsRetriedAlone) {
  FaultyQueue& q = AddQueue("thumbnails");
  q.refuse_marker() = "x-3";
  q.refusals() = 2;
  const std::vector<std::string> bodies = Append("thumbnails", 6, "x");
  Relay relay(outbox_, Resolver(), clock_);
  relay.Start();
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  std::vector<std::string> got = Drain("thumbnails");
  EXPECT_EQ(std::multiset<std::string>(got.begin(), got.end()), std::multiset<std::string>(bodies.begin(), bodies.end()));
  EXPECT_EQ(got.back(), "x-3");  // the others were not held back by it
  EXPECT_EQ(relay.stats().failures, 2);
  relay.Stop(Duration{0});
}

TEST_F(RelayTest, UnknownDestinationWaitsInTheOutboxWhileOthersFlow) {
  AddQueue("known");
  AddQueue("late");
  hidden_.insert("late");
  const std::vector<std::string> late = Append("late", 3, "late");
  const std::vector<std::string> known = Append("known", 3, "known");
  RelayOptions options;
  options.initial_backoff = std::chrono::milliseconds(1);
  options.max_backoff = std::chrono::milliseconds(20);
  Relay relay(outbox_, Resolver(), RealClock::Instance(), options);
  relay.Start();
  // Long-poll the known queue: its events arrive although "late" cannot be resolved.
  std::vector<std::string> got;
  while (got.size() < known.size()) {
    auto messages = real_["known"]->Receive(10, std::chrono::seconds(5));
    ASSERT_TRUE(messages.ok());
    ASSERT_FALSE(messages->empty()) << "known queue got nothing";
    for (auto& m : *messages) got.push_back(m.body);
  }
  EXPECT_EQ(got, known);
  EXPECT_EQ(relay.Flush(std::chrono::milliseconds(100)).code(), StatusCode::kUnavailable);
  EXPECT_EQ(outbox_.size(), 3u);
  relay.Stop(Duration{0});

  hidden_.clear();  // the server now knows the queue
  Relay again(outbox_, Resolver(), clock_);
  again.Start();
  ASSERT_TRUE(again.Flush(kFlushTimeout).ok());
  EXPECT_EQ(Drain("late"), late);
  again.Stop(Duration{0});
}

TEST_F(RelayTest, UndecodablePayloadIsDiscardedNotWedged) {
  AddQueue("thumbnails");
  outbox_.Append({"not an envelope"});
  const std::vector<std::string> bodies = Append("thumbnails", 2, "ok");
  Relay relay(outbox_, Resolver(), clock_);
  relay.Start();
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  EXPECT_EQ(Drain("thumbnails"), bodies);
  EXPECT_EQ(relay.stats().discarded, 1);
  relay.Stop(Duration{0});
}

TEST_F(RelayTest, StopDrainsWhatIsPendingWithinTheGrace) {
  AddQueue("thumbnails");
  Relay relay(outbox_, Resolver(), clock_);
  relay.Start();
  const std::vector<std::string> bodies = Append("thumbnails", 30, "s");
  relay.Stop(std::chrono::seconds(30));
  EXPECT_EQ(outbox_.size(), 0u);
  EXPECT_EQ(Drain("thumbnails"), bodies);
}

TEST_F(RelayTest, StopGivesUpAfterTheGraceAndKeepsTheEntries) {
  FaultyQueue& q = AddQueue("thumbnails");
  q.fail_batches() = 1'000'000;
  const std::vector<std::string> bodies = Append("thumbnails", 5, "k");
  {
    Relay relay(outbox_, Resolver(), clock_);
    relay.Start();
    relay.Stop(std::chrono::seconds(60));  // returns once 60 s of backoff passed on the clock
  }
  EXPECT_EQ(outbox_.size(), 5u);
  EXPECT_TRUE(Drain("thumbnails").empty());

  q.fail_batches() = 0;  // the queue is back: the next start delivers everything
  Relay relay(outbox_, Resolver(), clock_);
  relay.Start();
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  EXPECT_EQ(Drain("thumbnails"), bodies);
  relay.Stop(Duration{0});
}

TEST_F(RelayTest, FlushNeedsARunningRelay) {
  Relay relay(outbox_, Resolver(), clock_);
  EXPECT_EQ(relay.Flush(std::chrono::seconds(1)).code(), StatusCode::kFailedPrecondition);
  relay.Start();
  relay.Start();  // no-op
  EXPECT_TRUE(relay.Flush(kFlushTimeout).ok());
  relay.Stop(Duration{0});
  EXPECT_EQ(relay.Flush(std::chrono::seconds(1)).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace thumbpipe::events
