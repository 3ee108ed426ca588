// The notifier against the real local store (store/local_store.h) and the real SQLite queue:
// the outbox lives in the store's index, in the transaction of each write, so events survive a
// restart between the commit and their delivery. This test target links the store's
// implementation; the events library itself knows only object_store.h.
#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/logging.h"
#include "events/event_parse.h"
#include "events/notifications.h"
#include "events/relay.h"
#include "queue/sqlite_queue.h"
#include "store/local_store.h"

namespace thumbpipe::events {
namespace {

namespace fs = std::filesystem;

constexpr Duration kFlushTimeout = std::chrono::seconds(30);

class LocalStoreEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitLogging(LogLevel::kWarn);
    static std::atomic<int> counter{0};
    dir_ = fs::path(::testing::TempDir()) /
           ("thumbpipe_events_store_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* name : {"thumbnails", "audit"}) {
      queue::SqliteQueueOptions o;
      o.path = dir_ / "queue.db";
      o.name = name;
      o.durable_sends = false;
      auto q = queue::OpenSqliteQueue(o);
      ASSERT_TRUE(q.ok()) << q.status().ToString();
      queues_[name] = std::move(q).value();
    }
    options_.notifier.region = "us-east-1";
    options_.trigger_destination = EmbeddedQueueArn("us-east-1", "thumbnails");
  }

  void OpenStore() {
    store::LocalStoreOptions o;
    o.dir = dir_ / "objects";
    o.durable = false;  // semantics, not fsync, are under test
    auto s = store::OpenLocalStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    const Status created = store_->CreateBucket("images");
    ASSERT_TRUE(created.ok() || created.code() == StatusCode::kAlreadyExists) << created.ToString();
    auto n = Notifications::Open(*store_, Resolver(), options_, RealClock::Instance());
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    notifications_ = std::move(n).value();
    store_->SetCommitHook(notifications_->hook());
  }

  void CloseStore() {
    store_->SetCommitHook(nullptr);
    notifications_.reset();
    store_.reset();
  }

  DestinationResolver Resolver() {
    return [this](std::string_view arn) -> queue::Queue* {
      for (auto& [name, q] : queues_) {
        if (arn == EmbeddedQueueArn("us-east-1", name)) return q.get();
      }
      return nullptr;
    };
  }

  void Put(const std::string& key) {
    store::PutOptions o;
    o.content_type = "image/jpeg";
    auto writer = store_->BeginPut("images", key, o);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    ASSERT_TRUE((*writer)->Write("not really a jpeg").ok());
    auto info = (*writer)->Commit();
    ASSERT_TRUE(info.ok()) << info.status().ToString();
  }

  // Keys of the object events in `queue` (messages removed); TestEvents counted apart.
  std::multiset<std::string> Keys(const std::string& queue, int* test_events = nullptr) {
    std::multiset<std::string> keys;
    for (;;) {
      auto messages = queues_[queue]->Receive(10, Duration{0});
      EXPECT_TRUE(messages.ok());
      if (!messages.ok() || messages->empty()) return keys;
      for (const queue::Message& m : *messages) {
        auto parsed = ParseEventBody(m.body);
        EXPECT_TRUE(parsed.ok()) << m.body;
        if (parsed.ok() && parsed->test_event && test_events) ++*test_events;
        if (parsed.ok()) {
          for (const EventRecord& r : parsed->records) keys.insert(r.key);
        }
        EXPECT_TRUE(queues_[queue]->Remove(m.receipt).ok());
      }
    }
  }

  fs::path dir_;
  NotificationsOptions options_;
  std::map<std::string, std::unique_ptr<queue::Queue>> queues_;
  std::unique_ptr<store::ObjectStore> store_;
  std::unique_ptr<Notifications> notifications_;
};

TEST_F(LocalStoreEventsTest, EventsCommittedBeforeARestartAreDeliveredAfterIt) {
  OpenStore();
  std::multiset<std::string> expected;
  for (int i = 0; i < 20; ++i) {
    const std::string key = "uploads/photo " + std::to_string(i) + (i % 2 ? ".jpg" : ".PNG");
    Put(key);
    expected.insert(key);
  }
  Put("uploads/readme.txt");
  Put("elsewhere/a.jpg");
  // No relay ran: the events are only in the store's outbox. Close everything, as a crash
  // between commit and delivery would.
  CloseStore();
  EXPECT_TRUE(Keys("thumbnails").empty());

  OpenStore();
  Relay relay(*store_->outbox(), Resolver(), RealClock::Instance());
  relay.Start();
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  relay.Stop(Duration{0});
  EXPECT_EQ(Keys("thumbnails"), expected);
  CloseStore();
}

TEST_F(LocalStoreEventsTest, StoredConfigurationSurvivesARestart) {
  OpenStore();
  const std::string xml =
      R"(<NotificationConfiguration><QueueConfiguration><Id>audit</Id><Queue>arn:aws:sqs:us-east-1:000000000000:audit</Queue>)"
      R"(<Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>logs/</Value></FilterRule>)"
      R"(</S3Key></Filter></QueueConfiguration></NotificationConfiguration>)";
  ASSERT_TRUE(notifications_->PutConfiguration("images", xml).ok());
  CloseStore();

  OpenStore();
  Relay relay(*store_->outbox(), Resolver(), RealClock::Instance());
  relay.Start();
  Put("logs/2026-11-27.txt");
  Put("uploads/cat.jpg");
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  relay.Stop(Duration{0});
  int test_events = 0;
  EXPECT_EQ(Keys("audit", &test_events), std::multiset<std::string>{"logs/2026-11-27.txt"});
  EXPECT_EQ(test_events, 1);
  EXPECT_EQ(Keys("thumbnails"), std::multiset<std::string>{"uploads/cat.jpg"});
  CloseStore();
}

TEST_F(LocalStoreEventsTest, ConcurrentWritersGetExactlyOneEventEach) {
  OpenStore();
  Relay relay(*store_->outbox(), Resolver(), RealClock::Instance());
  relay.Start();
  constexpr int kThreads = 4, kPerThread = 50;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([this, t] {
      for (int i = 0; i < kPerThread; ++i) Put("uploads/t" + std::to_string(t) + "/" + std::to_string(i) + ".jpg");
    });
  }
  for (std::thread& w : writers) w.join();
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());
  relay.Stop(Duration{0});
  const std::multiset<std::string> keys = Keys("thumbnails");
  EXPECT_EQ(keys.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size());  // no duplicates
  CloseStore();
}

}  // namespace
}  // namespace thumbpipe::events
