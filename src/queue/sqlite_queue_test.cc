// The SQLite queue: the conformance suite (with a ManualClock), plus what only a file-backed
// queue has: reopening, two queue objects on one file, group commit, options checks.
#include "queue/sqlite_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>

#include "queue/queue_conformance.h"
#include "common/sqlite_handle.h"
#include "queue/sqlite_queue_impl.h"
#include "queue/sqlite_schema.h"

namespace thumbpipe::queue {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using testing::ConformanceSettings;
using testing::QueueBackend;
using testing::QueueClockConformanceTest;
using testing::QueueConformanceTest;
using testing::QueueDedupClockConformanceTest;
using testing::QueueDedupConformanceTest;

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
    o.dedup_window = s.dedup_window;
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
INSTANTIATE_TEST_SUITE_P(Sqlite, QueueDedupConformanceTest,
                         ::testing::Values(SqliteBackend()), testing::QueueBackendName);
INSTANTIATE_TEST_SUITE_P(Sqlite, QueueDedupClockConformanceTest,
                         ::testing::Values(SqliteBackend()), testing::QueueBackendName);

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

  // Sends `body` with `dedup_id` through SendBatch; returns the id (empty on failure).
  static std::string SendDedup(Queue& q, std::string_view body, std::string_view dedup_id) {
    std::vector<SendEntry> one = {{std::string(body), {}, std::nullopt, std::string(dedup_id)}};
    auto results = q.SendBatch(one);
    EXPECT_TRUE(results.ok() && results->front().ok());
    return results.ok() && results->front().ok() ? *results->front() : std::string();
  }
  // Rows of the dedup table, read straight from the file.
  int64_t DedupRows() {
    auto db = Db::Open(path_.string(), Db::Sync::kNormal, 1000);
    EXPECT_TRUE(db.ok());
    auto count = db->Prepare("SELECT count(*) FROM dedup");
    EXPECT_TRUE(count.ok() && *count->Step());
    return count.ok() ? count->Int(0) : -1;
  }

  fs::path path_ = FreshPath();
  ManualClock clock_;
};

TEST_F(SqliteQueueTest, DedupIdsSurviveReopening) {
  std::string first;
  {
    auto q = MustOpen(Options());
    first = SendDedup(*q, "event", "store-1-outbox-7");
  }
  auto q = MustOpen(Options());
  EXPECT_EQ(SendDedup(*q, "event", "store-1-outbox-7"), first);
  EXPECT_EQ(q->Stats()->sent, 1);
}

TEST_F(SqliteQueueTest, DedupIdsSurviveALongIdleTime) {
  // The relay's case: it sent a batch, crashed before deleting its outbox rows, and comes
  // back a day later. The first deduplicated sends after the pause still find the old ids.
  auto q = MustOpen(Options());
  const std::string first = SendDedup(*q, "event", "outbox-1");
  clock_.Advance(std::chrono::hours(24));
  std::vector<SendEntry> retry = {{"event", {}, std::nullopt, "outbox-1"},
                                  {"new", {}, std::nullopt, "outbox-2"}};
  auto results = q->SendBatch(retry);
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(*(*results)[0], first);
  EXPECT_EQ(q->Stats()->sent, 2);
}

TEST_F(SqliteQueueTest, DedupEntriesArePrunedSoTheTableStaysBounded) {
  auto q = MustOpen(Options());  // dedup_window 5 minutes
  for (int i = 0; i < 50; ++i) {
    SendDedup(*q, "m", "id-" + std::to_string(i));
    clock_.Advance(seconds(30));
  }
  // 50 sends 30 s apart: only those within 5 minutes of the previous send remain (the one
  // being sent, the newest before it and those up to 5 minutes before that).
  EXPECT_LE(DedupRows(), 12);
  EXPECT_GE(DedupRows(), 10);
  EXPECT_EQ(q->Stats()->sent, 50);
}

TEST_F(SqliteQueueTest, DedupIdsAreSeparatePerQueue) {
  SqliteQueueOptions a = Options(), b = Options();
  a.name = "a";
  b.name = "b";
  auto qa = MustOpen(a);
  auto qb = MustOpen(b);
  const std::string in_a = SendDedup(*qa, "m", "same");
  const std::string in_b = SendDedup(*qb, "m", "same");
  EXPECT_NE(in_a, in_b);
  EXPECT_EQ(qa->Stats()->sent, 1);
  EXPECT_EQ(qb->Stats()->sent, 1);
}

TEST_F(SqliteQueueTest, ConcurrentDuplicateSendsEnqueueOnce) {
  // Two openers (as two processes would) racing the same ids: one message per id.
  auto q1 = MustOpen(Options());
  auto q2 = MustOpen(Options());
  std::vector<std::string> ids1(20), ids2(20);
  std::thread t1([&] { for (int i = 0; i < 20; ++i) ids1[i] = SendDedup(*q1, "m", std::to_string(i)); });
  std::thread t2([&] { for (int i = 0; i < 20; ++i) ids2[i] = SendDedup(*q2, "m", std::to_string(i)); });
  t1.join();
  t2.join();
  EXPECT_EQ(ids1, ids2);
  EXPECT_EQ(q1->Stats()->sent, 20);
}

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
  EXPECT_EQ(bad([](auto& o) { o.dedup_window = seconds(59); }), StatusCode::kInvalidArgument);
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

// notice_other_processes: the send of another queue object on the file (what another process
// is to this one: each object wakes only its own long polls) wakes a long poll already asleep
// at once, not at its next cross_process_poll, set here to its 5 s maximum.
TEST_F(SqliteQueueTest, LongPollWakesAtOnceOnAnotherOpenersSendWithTheWalWatch) {
  SqliteQueueOptions o = Options();
  o.durable_sends = false;
  o.cross_process_poll = seconds(5);
  auto sender = MustOpen(o);
  o.notice_other_processes = true;
  auto receiver = MustOpen(o);
  Result<std::vector<Message>> got = std::vector<Message>{};
  std::chrono::steady_clock::duration took{};
  std::thread t([&] { got = receiver->Receive(1, seconds(20)); });
  // The receive must be asleep before the send, or it would find the message by its first probe.
  const auto end = std::chrono::steady_clock::now() + seconds(60);
  while (GetWaitingLongPolls(*receiver) == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling a gauge
  }
  ASSERT_EQ(GetWaitingLongPolls(*receiver), 1);
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(sender->Send("cross").ok());
  t.join();
  took = std::chrono::steady_clock::now() - sent;
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().body, "cross");
  // Woken by the watch; the fallback would have taken the rest of the 5 s poll.
  EXPECT_LT(took, seconds(4));
}

TEST_F(SqliteQueueTest, LongPollEndsWhenStopIsRequested) {
  auto q = MustOpen(Options());
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // most likely inside the wait by then
    stop.request_stop();
  });
  const auto started = std::chrono::steady_clock::now();
  auto got = q->ReceiveOrStop(1, seconds(20), std::nullopt, stop.get_token());
  const auto waited = std::chrono::steady_clock::now() - started;
  stopper.join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->empty());
  // Without the wake-up it would have waited the whole 20 s; half of that is a wide margin.
  EXPECT_LT(waited, seconds(10));
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

// The WAL's size in frames (mxFrame) and how many of them are in the database file
// (nBackfill), read from the wal-index (the -shm file: WalIndexHdr.mxFrame at offset 16,
// WalCkptInfo.nBackfill at 96, native byte order) without a connection, which could
// checkpoint or hold a snapshot and so change what is measured. {0, 0} if unreadable.
std::pair<uint32_t, uint32_t> WalFrames(const fs::path& db) {
  std::ifstream shm(db.string() + "-shm", std::ios::binary);
  char header[100] = {};
  if (!shm.read(header, sizeof header)) return {0, 0};
  uint32_t frames = 0, backfilled = 0;
  std::memcpy(&frames, header + 16, sizeof frames);
  std::memcpy(&backfilled, header + 96, sizeof backfilled);
  return {frames, backfilled};
}

TEST_F(SqliteQueueTest, WalStartsOverAfterACheckpointThatACommitOutran) {
  // A writer starts the WAL over only if the whole WAL was in the database file when its
  // transaction began. Under load some commit always lands while the checkpointer copies,
  // so the queue's next group leader copies the rest with the write lock held (the
  // catch-up), and the commit after it starts the WAL over. Here another connection's
  // commit plays the one that outran the checkpoint, at a moment the test controls.
  SqliteQueueOptions o = Options();
  o.durable_sends = false;
  auto q = MustOpen(o);
  ASSERT_NE(q, nullptr);
  auto other = Db::Open(path_.string(), Db::Sync::kNormal, 5000);
  ASSERT_TRUE(other.ok());
  // No automatic checkpoint at its commit, which would copy what the test means to leave.
  ASSERT_TRUE(other->Exec("PRAGMA wal_autocheckpoint=0; CREATE TABLE outrun(x BLOB)").ok());
  // Past the checkpoint threshold (4,000 pages), which wakes the checkpointer.
  const std::vector<SendEntry> batch(10, SendEntry{std::string(600, 'b'), {}, std::nullopt});
  while (WalFrames(path_).first < 4100) ASSERT_TRUE(q->SendBatch(batch).ok());
  // The other connection takes the write lock while the checkpointer copies (so nothing
  // of the queue commits), and commits once the checkpointer's first pass has ended:
  // frames that no checkpoint has copied, as a commit that
  // outran the checkpointer leaves them. (nBackfill is written at the end of a pass; the
  // pass may have copied less than the WAL held, up to what a reader still needed.)
  ASSERT_TRUE(other->Exec("BEGIN IMMEDIATE; INSERT INTO outrun VALUES(randomblob(20000))").ok());
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (WalFrames(path_).second == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the checkpointer never ran";
    std::this_thread::yield();
  }
  ASSERT_TRUE(other->Exec("COMMIT").ok());
  const uint32_t before = WalFrames(path_).first;
  // Without the catch-up nothing copies those frames before the WAL has grown by another
  // 4,000 pages (the checkpointer's next threshold), and 300 sends add about 1,000.
  bool started_over = false;
  for (int i = 0; i < 300 && !started_over; ++i) {
    ASSERT_TRUE(q->Send("x").ok());
    started_over = WalFrames(path_).first < before;
  }
  EXPECT_TRUE(started_over) << "the WAL grew from " << before << " to "
                            << WalFrames(path_).first << " frames without starting over";
}

TEST_F(SqliteQueueTest, ReceiveNeverDeliversAnExpiredMessageAndCountsItOnce) {
  SqliteQueueOptions o = Options();
  o.retention = seconds(60);
  auto q = MustOpen(o);
  ASSERT_TRUE(q->Send("old").ok());
  clock_.Advance(seconds(30));
  ASSERT_TRUE(q->Send("new").ok());
  clock_.Advance(seconds(30));  // "old" is exactly `retention` old now
  auto got = q->Receive(10, seconds(0));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().body, "new");
  const auto stats = q->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->expired, 1);  // deleted by the receive, not counted again by the sweep
  EXPECT_EQ(stats->in_flight, 1);
  EXPECT_EQ(stats->visible, 0);
}

// Version 1 of the schema (as of 79a66c6), to check that a file written by it opens.
constexpr const char* kVersion1Schema = R"sql(
CREATE TABLE IF NOT EXISTS queues(
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  visibility_timeout_ms INTEGER NOT NULL,
  max_receive_count INTEGER NOT NULL,
  retention_ms INTEGER NOT NULL,
  dlq_retention_ms INTEGER NOT NULL,
  delay_ms INTEGER NOT NULL,
  max_message_bytes INTEGER NOT NULL,
  sent INTEGER NOT NULL DEFAULT 0,
  received INTEGER NOT NULL DEFAULT 0,
  removed INTEGER NOT NULL DEFAULT 0,
  dead_lettered INTEGER NOT NULL DEFAULT 0,
  expired INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS messages(
  seq INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  body BLOB NOT NULL,
  attributes BLOB NOT NULL,
  sent_at INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  received_at INTEGER,
  receive_count INTEGER NOT NULL DEFAULT 0,
  receipt TEXT,
  dead INTEGER NOT NULL DEFAULT 0,
  dead_at INTEGER,
  reason TEXT
) STRICT;
-- The receive path: visible live messages of a queue in visibility order.
CREATE INDEX IF NOT EXISTS messages_receive ON messages(queue, dead, visible_at);
-- Retention sweeps and the age of the oldest message.
CREATE INDEX IF NOT EXISTS messages_age ON messages(queue, dead, sent_at);
CREATE UNIQUE INDEX IF NOT EXISTS messages_id ON messages(id);
)sql";

TEST_F(SqliteQueueTest, MigratesAVersion1File) {
  const int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
          .count();
  {
    auto db = Db::Open(path_.string(), Db::Sync::kNormal, 1000);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec(kVersion1Schema).ok());
    const Status filled = db->Exec(fmt::format(R"sql(
      INSERT INTO queues(name, created_at, visibility_timeout_ms, max_receive_count, retention_ms,
                         dlq_retention_ms, delay_ms, max_message_bytes, sent, dead_lettered)
        VALUES('thumbnails', {0}, 60000, 3, 345600000, 864000000, 0, 1048576, 2, 1);
      INSERT INTO messages(queue, id, body, attributes, sent_at, visible_at)
        VALUES('thumbnails', 'id-live', CAST('kept' AS BLOB), x'', {0}, {0});
      INSERT INTO messages(queue, id, body, attributes, sent_at, visible_at, dead, dead_at, reason)
        VALUES('thumbnails', 'id-dead', CAST('dead' AS BLOB), x'', {0}, {0}, 1, {0}, 'corrupt');
      PRAGMA user_version=1;)sql", now));
    ASSERT_TRUE(filled.ok()) << filled.ToString();
  }
  auto q = MustOpen(Options());
  ASSERT_NE(q, nullptr);
  auto got = q->Receive(10, seconds(0));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().body, "kept");
  EXPECT_TRUE(q->Remove(got->front().receipt).ok());
  auto dead = q->dead_letters().List(10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ(dead->front().reason, "corrupt");
  auto after = q->dead_letters().List(10, "id-dead");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(after->empty());
  EXPECT_EQ(q->Stats()->sent, 2);
  // Version 3's dedup table exists too.
  const std::string id = SendDedup(*q, "d", "dedup-after-migration");
  EXPECT_EQ(SendDedup(*q, "d", "dedup-after-migration"), id);

  auto db = Db::Open(path_.string(), Db::Sync::kNormal, 1000);
  ASSERT_TRUE(db.ok());
  auto version = db->Prepare("PRAGMA user_version");
  ASSERT_TRUE(version.ok() && *version->Step());
  EXPECT_EQ(version->Int(0), kSchemaVersion);
  auto indexes = db->Prepare(
      "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master "
      "WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL ORDER BY name)");
  ASSERT_TRUE(indexes.ok() && *indexes->Step());
  EXPECT_EQ(indexes->Text(0), "messages_dead_id messages_receive");
}

TEST_F(SqliteQueueTest, MigratesAVersion2FileToDedup) {
  // A version-2 file: today's tables without dedup (what version 2 wrote), one message in it.
  {
    auto q = MustOpen(Options());
    ASSERT_TRUE(q->Send("kept").ok());
  }
  {
    auto db = Db::Open(path_.string(), Db::Sync::kNormal, 1000);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("DROP TABLE dedup; PRAGMA user_version=2;").ok());
  }
  auto q = MustOpen(Options());
  ASSERT_NE(q, nullptr);
  const std::string id = SendDedup(*q, "d", "after-migration");
  EXPECT_EQ(SendDedup(*q, "d", "after-migration"), id);
  EXPECT_EQ(q->Stats()->sent, 2);
  EXPECT_EQ(DedupRows(), 1);
  auto db = Db::Open(path_.string(), Db::Sync::kNormal, 1000);
  ASSERT_TRUE(db.ok());
  auto version = db->Prepare("PRAGMA user_version");
  ASSERT_TRUE(version.ok() && *version->Step());
  EXPECT_EQ(version->Int(0), kSchemaVersion);
}

TEST_F(SqliteQueueTest, MalformedReceiptIsInvalid) {
  auto q = MustOpen(Options());
  EXPECT_EQ(q->Remove("nonsense").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(q->Remove("12345.abc").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace thumbpipe::queue
