// The sqs:// queue against a real `thumbpipe serve` speaking the SQS API: the Queue
// conformance suite, then the dead-letter tools through the service's own redrive. Run under
// tests/queue/sqs_harness.py, which starts serve and sets THUMBPIPE_TEST_SQS_ENDPOINT; without
// it every test is skipped, saying so.
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>

#include "queue/queue_factory.h"
#include "queue/queue_conformance.h"
#include "queue/sqs_api.h"
#include "queue/sqs_queue.h"

namespace thumbpipe::queue {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using testing::ConformanceSettings;
using testing::QueueBackend;
using testing::QueueClockConformanceTest;
using testing::QueueConformanceTest;
using testing::QueueDedupClockConformanceTest;
using testing::QueueDedupConformanceTest;

constexpr const char* kAccount = "000000000000";  // serve's fixed account id

std::string Endpoint() {
  const char* e = std::getenv("THUMBPIPE_TEST_SQS_ENDPOINT");
  return e == nullptr ? "" : e;
}

std::string FreshName() {
  static std::atomic<int> counter{0};
  return "tp-sqs-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// Creates NAME-dlq and NAME (RedrivePolicy to it) on the service with the suite's settings and
// returns the sqs+http:// url of NAME.
Result<std::string> CreateQueue(const std::string& name, const ConformanceSettings& s) {
  SqsApiOptions o;
  o.endpoint = Endpoint();
  THUMBPIPE_ASSIGN_OR_RETURN(std::unique_ptr<SqsApi> api, SqsApi::Create(o));
  const std::string dlq = name + "-dlq";
  THUMBPIPE_RETURN_IF_ERROR(api->Call("CreateQueue", {{"QueueName", dlq}}).status());
  const json redrive = {{"deadLetterTargetArn", "arn:aws:sqs:us-east-1:" + std::string(kAccount) + ":" + dlq},
                        {"maxReceiveCount", s.max_receive_count}};
  auto secs = [](Duration d) { return std::to_string(std::chrono::duration_cast<seconds>(d).count()); };
  THUMBPIPE_RETURN_IF_ERROR(api->Call("CreateQueue", {{"QueueName", name},
                                                      {"Attributes",
                                                       {{"VisibilityTimeout", secs(s.visibility_timeout)},
                                                        {"MessageRetentionPeriod", secs(s.retention)},
                                                        {"MaximumMessageSize", std::to_string(s.max_message_bytes)},
                                                        {"RedrivePolicy", redrive.dump()}}}})
                                .status());
  return "sqs+http://" + Endpoint().substr(std::string("http://").size()) + "/" + kAccount + "/" + name;
}

QueueBackend SqsBackend() {
  QueueBackend backend;
  backend.name = "Sqs";
  backend.supports_manual_clock = false;  // visibility, delay and retention run on the service's clock
  if (Endpoint().empty()) backend.unavailable = "THUMBPIPE_TEST_SQS_ENDPOINT is not set: run under tests/queue/sqs_harness.py";
  backend.make = [](const ConformanceSettings& s, ManualClock*) -> Result<std::unique_ptr<Queue>> {
    THUMBPIPE_ASSIGN_OR_RETURN(std::string url, CreateQueue(FreshName(), s));
    SqliteQueueOptions settings;
    settings.max_message_bytes = s.max_message_bytes;
    return OpenQueue(url, settings);
  };
  backend.cannot = {
      {"RedriveByIdMovesOnlyThose", "SQS moves a dead-letter queue back whole (StartMessageMoveTask): no redrive by id"},
      {"MovedToDeadLettersAfterExactlyMaxReceiveCount",
       "the move is the service's (RedrivePolicy) and SQS reports no count of it: Stats().dead_lettered counts this "
       "object's DeadLetter calls only (SqsDeadLetterTest checks the move itself)"},
  };
  return backend;
}

INSTANTIATE_TEST_SUITE_P(Sqs, QueueConformanceTest, ::testing::Values(SqsBackend()), testing::QueueBackendName);
INSTANTIATE_TEST_SUITE_P(Sqs, QueueClockConformanceTest, ::testing::Values(SqsBackend()), testing::QueueBackendName);
// SQS standard queues do not deduplicate (deduplicates() is false): these skip, saying so.
INSTANTIATE_TEST_SUITE_P(Sqs, QueueDedupConformanceTest, ::testing::Values(SqsBackend()),
                         testing::QueueBackendName);
INSTANTIATE_TEST_SUITE_P(Sqs, QueueDedupClockConformanceTest, ::testing::Values(SqsBackend()),
                         testing::QueueBackendName);

class SqsDeadLetterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Endpoint().empty()) GTEST_SKIP() << "THUMBPIPE_TEST_SQS_ENDPOINT is not set";
    auto url = CreateQueue(FreshName(), settings_);
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
    SqliteQueueOptions s;
    s.max_message_bytes = settings_.max_message_bytes;
    auto q = OpenQueue(url_, s);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    queue_ = std::move(q).value();
  }
  Message ReceiveOne() {
    auto got = queue_->Receive(1, Duration{0});
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok() || got->size() != 1) {
      ADD_FAILURE() << "expected one message";
      return {};
    }
    return got->front();
  }
  // Receives and nacks `id` max_receive_count times: the next receive moves it to the DLQ.
  void Exhaust() {
    for (int i = 1; i <= settings_.max_receive_count; ++i) {
      const Message m = ReceiveOne();
      ASSERT_EQ(m.receive_count, i);
      ASSERT_TRUE(queue_->ChangeVisibility(m.receipt, Duration{0}).ok());
    }
    auto none = queue_->Receive(10, Duration{0});
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
  }
  ConformanceSettings settings_;
  std::string url_;
  std::unique_ptr<Queue> queue_;
};

TEST_F(SqsDeadLetterTest, ListRedrivePurgeThroughTheServicesRedrive) {
  const Attributes attrs = {{"k", {"String", "v"}}};
  auto id = queue_->Send("poison", attrs);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  Exhaust();
  EXPECT_EQ(queue_->Stats()->dead, 1);
  auto dead = queue_->dead_letters().List(10);
  ASSERT_TRUE(dead.ok()) << dead.status().ToString();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].id, *id);
  EXPECT_EQ((*dead)[0].body, "poison");
  EXPECT_EQ((*dead)[0].attributes, attrs);
  EXPECT_EQ((*dead)[0].receive_count, settings_.max_receive_count);
  EXPECT_NE((*dead)[0].reason.find("max_receive_count"), std::string::npos);
  EXPECT_EQ(queue_->dead_letters().List(10, *id)->size(), 0u) << "paging past the last one";

  const std::vector<std::string> some = {*id};
  EXPECT_EQ(queue_->dead_letters().Redrive(some).status().code(), StatusCode::kUnsupported);
  auto moved = queue_->dead_letters().Redrive({}, 100);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, 1);
  EXPECT_EQ(queue_->Stats()->dead, 0);
  const Message back = ReceiveOne();
  EXPECT_EQ(back.id, *id);
  EXPECT_EQ(back.receive_count, 1) << "a redrive resets the count";
  EXPECT_EQ(back.attributes, attrs);
  ASSERT_TRUE(queue_->ChangeVisibility(back.receipt, Duration{0}).ok());

  // Into the DLQ again, then purged there.
  for (int i = 2; i <= settings_.max_receive_count; ++i) {
    const Message m = ReceiveOne();
    ASSERT_TRUE(queue_->ChangeVisibility(m.receipt, Duration{0}).ok());
  }
  EXPECT_TRUE(queue_->Receive(10, Duration{0})->empty());
  auto purged = queue_->dead_letters().Purge();
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(*purged, 1);
  EXPECT_TRUE(queue_->dead_letters().List(10)->empty());
}

// serve's DLQ is the dead side of the queue: the client's SendMessage to it moves the message
// its receipt names, keeping the reason, id, first-sent time and receive count.
TEST_F(SqsDeadLetterTest, DeadLetterOnServeMovesTheMessageWithItsReason) {
  const Attributes attrs = {{"k", {"String", "v"}}};
  auto id = queue_->Send("corrupt", attrs);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const Message first = ReceiveOne();
  ASSERT_TRUE(queue_->ChangeVisibility(first.receipt, Duration{0}).ok());
  const Message m = ReceiveOne();
  ASSERT_EQ(m.receive_count, 2);
  ASSERT_TRUE(queue_->DeadLetter(m.receipt, "corrupt: truncated").ok());
  EXPECT_EQ(queue_->Stats()->dead, 1);
  EXPECT_TRUE(queue_->Receive(10, Duration{0})->empty());
  auto dead = queue_->dead_letters().List(10);
  ASSERT_TRUE(dead.ok()) << dead.status().ToString();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].id, *id);
  EXPECT_EQ((*dead)[0].body, "corrupt");
  EXPECT_EQ((*dead)[0].attributes, attrs) << "the dead-info attribute is read, not shown";
  EXPECT_EQ((*dead)[0].reason, "corrupt: truncated");
  EXPECT_EQ((*dead)[0].receive_count, 2);
  EXPECT_EQ((*dead)[0].sent_at, m.sent_at);
  EXPECT_EQ(queue_->DeadLetter("a-receipt-from-elsewhere", "r").code(), StatusCode::kFailedPrecondition)
      << "DeadLetter needs a message this object received";
}

// Across consumers only serve knows a receipt is stale: one that is no longer current moves
// nothing (whoever holds the current receipt decides) and the client's DeadLetter succeeds,
// as its DeleteMessage with that receipt does. Still exactly one copy, on the live side.
TEST_F(SqsDeadLetterTest, DeadLetterWithAReceiptStaleElsewhereMovesNothing) {
  SqliteQueueOptions s;
  s.max_message_bytes = settings_.max_message_bytes;
  auto other = OpenQueue(url_, s);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  ASSERT_TRUE(queue_->Send("slow").ok());
  const Message old = ReceiveOne();
  ASSERT_TRUE(queue_->ChangeVisibility(old.receipt, Duration{0}).ok());
  auto again = (*other)->Receive(1, Duration{0});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->size(), 1u);
  EXPECT_TRUE(queue_->DeadLetter(old.receipt, "late").ok());
  EXPECT_EQ(queue_->Stats()->dead, 0);
  EXPECT_TRUE((*other)->DeadLetter(again->front().receipt, "corrupt").ok());
  auto dead = queue_->dead_letters().List(10);
  ASSERT_TRUE(dead.ok()) << dead.status().ToString();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].reason, "corrupt") << "the holder's verdict, once";
}

TEST_F(SqsDeadLetterTest, MissingQueueAndBadCredentials) {
  SqliteQueueOptions s;
  const std::string host = Endpoint().substr(std::string("http://").size());
  EXPECT_EQ(OpenQueue("sqs+http://" + host + "/" + kAccount + "/no-such-queue", s).status().code(), StatusCode::kNotFound);
  SqsQueueOptions o;
  o.endpoint = *ParseSqsUrl("sqs+http://" + host + "/" + kAccount + "/q");
  o.env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "AWS_ACCESS_KEY_ID") return "AKIAWRONGWRONGWRONG1";
    if (name == "AWS_SECRET_ACCESS_KEY") return "wrong";
    if (name == "AWS_SHARED_CREDENTIALS_FILE" || name == "AWS_CONFIG_FILE") return "/dev/null";
    return std::nullopt;
  };
  const Status st = OpenSqsQueue(o).status();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("InvalidClientTokenId"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace thumbpipe::queue
