// The SQLite queue: the conformance suite (with a ManualClock), plus what only a file-backed
// queue has: reopening, two queue objects on one file, group commit, options checks.
#include "queue/sqlite_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <unistd.h>

#include "queue/queue_conformance.h"

namespace thumbpipe::queue {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using testing::ConformanceSettings;
using testing::QueueBackend;
using testing::QueueClockConformanceTest;
using testing::QueueConformanceTest;

// A fresh database path per call, under gtest's temp dir.
fs::path FreshPath() {
  static std::atomic<int> counter{0};
  const fs::path dir = fs::path(::testing::TempDir()) /
                       ("thumbpipe_queue_" + std::to_string(::getpid()) + "_" +
                        std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir / "queue.db";
}

QueueBackend SqliteBackend() {
  QueueBackend backend;
  backend.name = "Sqlite";
  backend.supports_manual_clock = true;
  backend.make = [](const ConformanceSettings& s, ManualClock* clock) {
    SqliteQueueOptions o;
    o.path = FreshPath();
    o.visibility_timeout = s.visibility_timeout;
    o.max_receive_count = s.max_receive_count;
    o.retention = s.retention;
    o.dlq_retention = s.dlq_retention;
    o.max_message_bytes = s.max_message_bytes;
    o.durable_sends = false;  // the suite tests semantics, not fsync
    o.clock = clock;
    return OpenSqliteQueue(o);
  };
  return backend;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, QueueConformanceTest, ::testing::Values(SqliteBackend()),
                         testing::QueueBackendName);
INSTANTIATE_TEST_SUITE_P(Sqlite, QueueClockConformanceTest, ::testing::Values(SqliteBackend()),
                         testing::QueueBackendName);

class SqliteQueueTest : public ::testing::Test {
 protected:
  SqliteQueueOptions Options() {
    SqliteQueueOptions o;
    o.path = path_;
    o.clock = &clock_;
    return o;
  }
  std::unique_ptr<Queue> MustOpen(const SqliteQueueOptions& o) {
    auto q = OpenSqliteQueue(o);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? std::move(q).value() : nullptr;
  }

  fs::path path_ = FreshPath();
  ManualClock clock_;
};

TEST_F(SqliteQueueTest, ReopenFindsMessagesAndCounters) {
  std::string in_flight_id;
  {
    auto q = MustOpen(Options());
    ASSERT_TRUE(q->Send("one").ok());
    ASSERT_TRUE(q->Send("two").ok());
    auto got = q->Receive(1, seconds(0));
    ASSERT_TRUE(got.ok() && got->size() == 1);
    in_flight_id = got->front().id;
  }
  auto q = MustOpen(Options());
  auto stats = q->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->visible, 1);
  EXPECT_EQ(stats->in_flight, 1);
  EXPECT_EQ(stats->sent, 2);
  EXPECT_EQ(stats->received, 1);
  clock_.Advance(seconds(60));
  auto got = q->Receive(10, seconds(0));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 2u);
}

TEST_F(SqliteQueueTest, NamedQueuesInOneFileAreSeparate) {
  SqliteQueueOptions a = Options(), b = Options();
  a.name = "a";
  b.name = "b";
  auto qa = MustOpen(a);
  auto qb = MustOpen(b);
  ASSERT_TRUE(qa->Send("for a").ok());
  auto got = qb->Receive(10, seconds(0));
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  EXPECT_EQ(qa->Stats()->visible, 1);
  EXPECT_EQ(qb->Stats()->sent, 0);
}

TEST_F(SqliteQueueTest, RejectsBadOptions) {
  auto bad = [&](auto mutate) {
    SqliteQueueOptions o = Options();
    mutate(o);
    return OpenSqliteQueue(o).status().code();
  };
  EXPECT_EQ(bad([](auto& o) { o.name = "has space"; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.max_receive_count = 0; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.retention = seconds(59); }), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.visibility_timeout = std::chrono::hours(13); }),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.max_message_bytes = 2 << 20; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.path = "/nonexistent-dir/q.db"; }), StatusCode::kIOError);
}

// Two queue objects on one file stand for two processes: each has its own connections, so
// only SQLite's locking keeps them from taking the same row.
TEST_F(SqliteQueueTest, TwoOpenersNeverShareAMessage) {
  SqliteQueueOptions o = Options();
  o.clock = &RealClock::Instance();  // real time: visibility 60 s never runs out here
  o.durable_sends = false;
  auto producer = MustOpen(o);
  constexpr int kMessages = 400;
  for (int i = 0; i < kMessages; i += 10) {
    std::vector<SendEntry> batch(10);
    for (int k = 0; k < 10; ++k) batch[k].body = "m" + std::to_string(i + k);
    ASSERT_TRUE(producer->SendBatch(batch).ok());
  }
  std::mutex mu;
  std::set<std::string> seen;
  std::atomic<int> duplicates{0}, errors{0};
  auto consume = [&] {
    auto q = MustOpen(o);
    for (;;) {
      auto got = q->Receive(3, seconds(0));
      if (!got.ok()) {
        ++errors;
        continue;
      }
      if (got->empty()) return;
      std::scoped_lock lock(mu);
      for (const Message& m : *got) {
        if (!seen.insert(m.id).second) ++duplicates;
      }
    }
  };
  std::thread c1(consume), c2(consume);
  c1.join();
  c2.join();
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(seen.size(), size_t{kMessages});
}

TEST_F(SqliteQueueTest, LongPollSeesAnotherOpenersSend) {
  SqliteQueueOptions o = Options();
  o.durable_sends = false;
  auto receiver = MustOpen(o);
  auto sender = MustOpen(o);
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(sender->Send("cross").ok());
  });
  auto got = receiver->Receive(1, seconds(10));
  t.join();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().body, "cross");
}

TEST_F(SqliteQueueTest, ConcurrentSendsShareCommits) {
  SqliteQueueOptions o = Options();
  o.durable_sends = true;  // the case group commit is for
  auto q = MustOpen(o);
  constexpr int kThreads = 8, kEach = 60;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        if (!q->Send("s").ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  const SendCommitStats c = GetSendCommitStats(*q);
  EXPECT_EQ(c.sends, kThreads * kEach);
  EXPECT_LT(c.commits, c.sends) << "no two concurrent sends shared a commit";
  EXPECT_EQ(q->Stats()->sent, kThreads * kEach);
}

TEST_F(SqliteQueueTest, MalformedReceiptIsInvalid) {
  auto q = MustOpen(Options());
  EXPECT_EQ(q->Remove("nonsense").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(q->Remove("12345.abc").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace thumbpipe::queue
