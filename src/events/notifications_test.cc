#include "events/notifications.h"

#include <filesystem>
#include <map>

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/logging.h"
#include "events/event_parse.h"
#include "events/events_test_support.h"
#include "events/relay.h"
#include "queue/sqlite_queue.h"

namespace thumbpipe::events {
namespace {

namespace fs = std::filesystem;
using testing::FaultyQueue;
using testing::MemoryStore;

constexpr Duration kFlushTimeout = std::chrono::seconds(20);

std::string QueueConfig(std::string_view queue_name, std::string_view events_xml, std::string_view filter_xml = "",
                        std::string_view id = "") {
  std::string xml = R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><QueueConfiguration>)";
  if (!id.empty()) xml += "<Id>" + std::string(id) + "</Id>";
  xml += "<Queue>" + EmbeddedQueueArn("us-east-1", queue_name) + "</Queue>" + std::string(events_xml);
  if (!filter_xml.empty()) xml += "<Filter><S3Key>" + std::string(filter_xml) + "</S3Key></Filter>";
  return xml + "</QueueConfiguration></NotificationConfiguration>";
}

class NotificationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitLogging(LogLevel::kOff);
    static std::atomic<int> counter{0};
    dir_ = fs::path(::testing::TempDir()) /
           ("thumbpipe_notifications_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* name : {"thumbnails", "audit"}) {
      queue::SqliteQueueOptions o;
      o.path = dir_ / "queue.db";
      o.name = name;
      o.durable_sends = false;
      auto q = queue::OpenSqliteQueue(o);
      ASSERT_TRUE(q.ok()) << q.status().ToString();
      real_[name] = std::move(q).value();
      faulty_[name] = std::make_unique<FaultyQueue>(*real_[name]);
    }
    ASSERT_TRUE(store_.CreateBucket("images").ok());
    ASSERT_TRUE(store_.CreateBucket("logs").ok());
    options_.notifier.region = "us-east-1";
    options_.trigger_destination = EmbeddedQueueArn("us-east-1", "thumbnails");
  }

  // The server's resolver: the embedded queues by ARN (this region, account 000000000000).
  DestinationResolver Resolver() {
    return [this](std::string_view arn) -> queue::Queue* {
      for (auto& [name, q] : faulty_) {
        if (arn == EmbeddedQueueArn("us-east-1", name)) return q.get();
      }
      return nullptr;
    };
  }

  std::unique_ptr<Notifications> Open() {
    auto n = Notifications::Open(store_, Resolver(), options_, clock_);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? std::move(n).value() : nullptr;
  }

  std::vector<ParsedEvent> Received(const std::string& queue) {
    std::vector<ParsedEvent> events;
    for (;;) {
      auto messages = real_[queue]->Receive(10, Duration{0});
      EXPECT_TRUE(messages.ok());
      if (!messages.ok() || messages->empty()) return events;
      for (const queue::Message& m : *messages) {
        auto parsed = ParseEventBody(m.body);
        EXPECT_TRUE(parsed.ok()) << m.body;
        if (parsed.ok()) events.push_back(*parsed);
        EXPECT_TRUE(real_[queue]->Remove(m.receipt).ok());
      }
    }
  }

  Status Put(std::string_view bucket, std::string_view key, store::WriteKind kind = store::WriteKind::kPut) {
    store::PutOptions o;
    o.kind = kind;
    o.context.request_id = "REQ1";
    o.context.principal_id = "AKIAEXAMPLE";
    THUMBPIPE_ASSIGN_OR_RETURN(auto writer, store_.BeginPut(bucket, key, o));
    THUMBPIPE_RETURN_IF_ERROR(writer->Write("hello"));
    return writer->Commit().status();
  }

  fs::path dir_;
  ManualClock clock_;
  MemoryStore store_{clock_};
  NotificationsOptions options_;
  std::map<std::string, std::unique_ptr<queue::Queue>> real_;
  std::map<std::string, std::unique_ptr<FaultyQueue>> faulty_;
};

TEST_F(NotificationsTest, TriggerRulesApplyToTheTriggerBucketOnly) {
  auto n = Open();
  EXPECT_EQ(n->rules("images")->size(), options_.trigger.suffixes.size());
  EXPECT_TRUE(n->rules("logs")->empty());
  EXPECT_TRUE(n->rules("nobody")->empty());
}

TEST_F(NotificationsTest, PutConfigurationStoresValidatesAndSendsATestEvent) {
  auto n = Open();
  ConfigurationRequest request;
  request.request_id = "5582815E1AEA5ADF";
  ASSERT_TRUE(n->PutConfiguration("logs", QueueConfig("audit", "<Event>s3:ObjectCreated:*</Event>"), request).ok());
  const std::vector<ParsedEvent> events = Received("audit");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].test_event);
  EXPECT_EQ(events[0].test_bucket, "logs");

  auto xml = n->GetConfiguration("logs");
  ASSERT_TRUE(xml.ok());
  auto stored = ParseNotificationXml(*xml);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->destinations.size(), 1u);
  EXPECT_FALSE(stored->destinations[0].id.empty());  // generated, as S3 does
  ASSERT_EQ(n->rules("logs")->size(), 1u);
  EXPECT_EQ((*n->rules("logs"))[0].id, stored->destinations[0].id);
}

TEST_F(NotificationsTest, GetWithoutConfigurationIsAnEmptyDocument) {
  auto n = Open();
  auto xml = n->GetConfiguration("logs");
  ASSERT_TRUE(xml.ok());
  auto parsed = ParseNotificationXml(*xml);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->empty());
  EXPECT_EQ(n->GetConfiguration("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(n->PutConfiguration("missing", QueueConfig("audit", "<Event>s3:ObjectCreated:*</Event>")).code(),
            StatusCode::kNotFound);
}

TEST_F(NotificationsTest, RejectedConfigurationsStoreNothingAndSendNothing) {
  auto n = Open();
  const std::string overlap =
      R"(<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:us-east-1:000000000000:audit</Queue>)"
      R"(<Event>s3:ObjectCreated:*</Event></QueueConfiguration><QueueConfiguration>)"
      R"(<Queue>arn:aws:sqs:us-east-1:000000000000:thumbnails</Queue><Event>s3:ObjectCreated:Put</Event>)"
      R"(</QueueConfiguration></NotificationConfiguration>)";
  Status s = n->PutConfiguration("logs", overlap);
  EXPECT_EQ(S3ErrorCode(s), "InvalidArgument");
  EXPECT_NE(s.message().find("Configurations overlap"), std::string::npos);

  s = n->PutConfiguration("logs", "<NotificationConfiguration><Nope/></NotificationConfiguration>");
  EXPECT_EQ(S3ErrorCode(s), "MalformedXML");

  s = n->PutConfiguration("logs", QueueConfig("elsewhere", "<Event>s3:ObjectCreated:*</Event>"));
  EXPECT_EQ(S3ErrorCode(s), "InvalidArgument");
  EXPECT_NE(s.message().find("Unable to validate the following destination configurations"), std::string::npos);

  EXPECT_TRUE(Received("audit").empty());
  EXPECT_TRUE(Received("thumbnails").empty());
  EXPECT_EQ(store_.GetBucketConfig("logs", "notification").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(n->rules("logs")->empty());
}

TEST_F(NotificationsTest, ATestEventThatCannotBeSentFailsThePut) {
  auto n = Open();
  faulty_["audit"]->fail_sends() = 1;
  const Status s = n->PutConfiguration("logs", QueueConfig("audit", "<Event>s3:ObjectCreated:*</Event>"));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(store_.GetBucketConfig("logs", "notification").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(n->rules("logs")->empty());
}

TEST_F(NotificationsTest, SkippingDestinationValidationKeepsTopicsThatNeverFire) {
  auto n = Open();
  ConfigurationRequest request;
  request.skip_destination_validation = true;
  const std::string xml =
      R"(<NotificationConfiguration><TopicConfiguration><Topic>arn:aws:sns:us-east-1:123456789012:t</Topic>)"
      R"(<Event>s3:ObjectCreated:*</Event></TopicConfiguration><EventBridgeConfiguration/></NotificationConfiguration>)";
  ASSERT_TRUE(n->PutConfiguration("logs", xml, request).ok());
  auto stored = ParseNotificationXml(*n->GetConfiguration("logs"));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->destinations.size(), 1u);
  EXPECT_TRUE(stored->event_bridge);
  EXPECT_TRUE(n->rules("logs")->empty());
  EXPECT_TRUE(Received("audit").empty());
}

TEST_F(NotificationsTest, OpenReadsStoredConfigurationsAndForgetBucketDropsOne) {
  {
    auto n = Open();
    ASSERT_TRUE(n->PutConfiguration("logs", QueueConfig("audit", "<Event>s3:ObjectRemoved:*</Event>")).ok());
  }
  auto reopened = Open();
  ASSERT_EQ(reopened->rules("logs")->size(), 1u);
  reopened->ForgetBucket("logs");
  EXPECT_TRUE(reopened->rules("logs")->empty());
}

TEST_F(NotificationsTest, AnEmptyConfigurationTurnsOffOnlyTheStoredRules) {
  auto n = Open();
  ASSERT_TRUE(n->PutConfiguration("images", QueueConfig("audit", "<Event>s3:ObjectRemoved:*</Event>")).ok());
  EXPECT_EQ(n->rules("images")->size(), options_.trigger.suffixes.size() + 1);
  ASSERT_TRUE(n->PutConfiguration("images", "<NotificationConfiguration/>").ok());
  EXPECT_EQ(n->rules("images")->size(), options_.trigger.suffixes.size());  // [trigger] stays
}

TEST_F(NotificationsTest, StoredRulesForAQueueThatIsGoneAreLeftOut) {
  {
    auto n = Open();
    ASSERT_TRUE(n->PutConfiguration("logs", QueueConfig("audit", "<Event>s3:ObjectCreated:*</Event>")).ok());
  }
  faulty_.erase("audit");  // the server restarts without that queue
  auto n = Open();
  EXPECT_TRUE(n->rules("logs")->empty());
  EXPECT_EQ(n->rules("images")->size(), options_.trigger.suffixes.size());
}

TEST_F(NotificationsTest, ATriggerWithoutAKnownQueueRaisesNothing) {
  options_.trigger_destination = "arn:aws:sqs:us-east-1:000000000000:nowhere";
  auto n = Open();
  EXPECT_TRUE(n->rules("images")->empty());
}

// The whole path: a write commits with its outbox entry, the relay moves it to the queue, and
// the worker's parser reads back the key that was written.
TEST_F(NotificationsTest, EndToEndExactlyOneEventPerMatchingWrite) {
  auto n = Open();
  ASSERT_TRUE(n->PutConfiguration("logs", QueueConfig("audit", "<Event>s3:ObjectCreated:Put</Event>",
                                                      "<FilterRule><Name>prefix</Name><Value>app+logs/</Value></FilterRule>",
                                                      "audit-rule"))
                  .ok());
  ASSERT_EQ(Received("audit").size(), 1u);  // the TestEvent
  store_.SetCommitHook(n->hook());
  Relay relay(*store_.outbox(), Resolver(), clock_);
  relay.Start();

  ASSERT_TRUE(Put("images", "uploads/red flower.jpg").ok());
  ASSERT_TRUE(Put("images", "uploads/c++ 100% (1).PNG", store::WriteKind::kCompleteMultipartUpload).ok());
  ASSERT_TRUE(Put("images", "uploads/notes.txt").ok());       // no suffix rule matches
  ASSERT_TRUE(Put("images", "thumbnails/small/a.webp").ok());  // outside the prefix
  ASSERT_FALSE(Put("missing-bucket", "uploads/a.jpg").ok());   // a failed write raises nothing
  ASSERT_TRUE(Put("logs", "app logs/today.txt").ok());
  ASSERT_TRUE(Put("logs", "app logs/copy.txt", store::WriteKind::kCopy).ok());  // Put only
  ASSERT_TRUE(store_.Delete("images", "uploads/red flower.jpg", {}, nullptr).ok());
  ASSERT_TRUE(relay.Flush(kFlushTimeout).ok());

  const std::vector<ParsedEvent> thumbs = Received("thumbnails");
  ASSERT_EQ(thumbs.size(), 3u);
  EXPECT_EQ(thumbs[0].records[0].key, "uploads/red flower.jpg");
  EXPECT_EQ(thumbs[0].records[0].event_name, "ObjectCreated:Put");
  EXPECT_EQ(thumbs[0].records[0].configuration_id, "thumbpipe-trigger");
  EXPECT_EQ(thumbs[0].records[0].size, 5u);
  EXPECT_EQ(thumbs[1].records[0].key, "uploads/c++ 100% (1).PNG");
  EXPECT_EQ(thumbs[1].records[0].event_name, "ObjectCreated:CompleteMultipartUpload");
  EXPECT_EQ(thumbs[2].records[0].event_name, "ObjectRemoved:Delete");
  EXPECT_FALSE(thumbs[2].records[0].size.has_value());
  EXPECT_LT(CompareSequencers(thumbs[0].records[0].sequencer, thumbs[2].records[0].sequencer), 0);

  const std::vector<ParsedEvent> audit = Received("audit");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].records[0].bucket, "logs");
  EXPECT_EQ(audit[0].records[0].key, "app logs/today.txt");
  EXPECT_EQ(audit[0].records[0].configuration_id, "audit-rule");
  relay.Stop(Duration{0});
}

}  // namespace
}  // namespace thumbpipe::events
