// The sqs:// queue's pieces that need no service: the URL, the JSON shape of messages with
// their digests checked both ways, the dead-letter attribute, the error mapping.
#include <gtest/gtest.h>

#include "queue/sqs_api.h"
#include "queue/sqs_codec.h"
#include "queue/sqs_url.h"
#include "server/sqs_wire.h"

namespace thumbpipe::queue {
namespace {

using nlohmann::json;

TEST(SqsUrlTest, AwsQueueUrl) {
  auto e = ParseSqsUrl("sqs://sqs.eu-west-1.amazonaws.com/123456789012/thumbs");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->endpoint, "https://sqs.eu-west-1.amazonaws.com");
  EXPECT_EQ(e->queue_url, "https://sqs.eu-west-1.amazonaws.com/123456789012/thumbs");
  EXPECT_EQ(e->account, "123456789012");
  EXPECT_EQ(e->name, "thumbs");
  EXPECT_EQ(e->region, "eu-west-1");
  EXPECT_EQ(ParseSqsUrl("sqs://eu-west-2.queue.amazonaws.com/1/q")->region, "eu-west-2");
}

TEST(SqsUrlTest, AnyEndpointWithParameters) {
  auto e = ParseSqsUrl("sqs+http://127.0.0.1:9000/000000000000/thumbnails?region=eu-central-1&max_attempts=2");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(e->queue_url, "http://127.0.0.1:9000/000000000000/thumbnails");
  EXPECT_EQ(e->region, "eu-central-1");
  EXPECT_EQ(e->max_attempts, 2);
  EXPECT_EQ(ParseSqsUrl("sqs+https://sqs.internal/000000000000/q")->endpoint, "https://sqs.internal");
  EXPECT_TRUE(ParseSqsUrl("sqs+https://sqs.internal/000000000000/q")->region.empty());
}

TEST(SqsUrlTest, BadUrlsSayWhy) {
  for (const char* bad : {"https://sqs.x/1/q", "sqs:///1/q", "sqs://host", "sqs://host/1", "sqs://host/acct/q",
                          "sqs://host/1/bad.name", "sqs://user:pw@host/1/q", "sqs://host/1/q?max_attempts=0",
                          "sqs://host/1/q?color=red"}) {
    auto e = ParseSqsUrl(bad);
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ParseSqsUrl("sqs://user:secret@host/1/q").status().message().find("secret"), std::string::npos);
}

json GoodMessage(const std::string& body, const Attributes& attributes) {
  json m = {{"MessageId", "id-1"},
            {"ReceiptHandle", "r-1"},
            {"Body", body},
            {"MD5OfBody", sqs::Md5OfBody(body)},
            {"Attributes", {{"ApproximateReceiveCount", "2"}, {"SentTimestamp", "1545082649183"}}}};
  if (!attributes.empty()) {
    m["MessageAttributes"] = sqs::AttributesToJson(attributes);
    m["MD5OfMessageAttributes"] = sqs::Md5OfAttributes(attributes);
  }
  return m;
}

TEST(SqsCodecTest, MessageFromJsonChecksDigests) {
  const Attributes attrs = {{"kind", {"String", "s3"}}, {"blob", {"Binary", std::string("\0\xff", 2)}}};
  auto m = MessageFromJson(GoodMessage("hello", attrs));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->id, "id-1");
  EXPECT_EQ(m->receipt, "r-1");
  EXPECT_EQ(m->body, "hello");
  EXPECT_EQ(m->attributes, attrs);
  EXPECT_EQ(m->receive_count, 2);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(m->sent_at.time_since_epoch()).count(), 1545082649183);

  json tampered = GoodMessage("hello", attrs);
  tampered["Body"] = "hellO";
  EXPECT_EQ(MessageFromJson(tampered).status().code(), StatusCode::kCorrupt);
  tampered = GoodMessage("hello", attrs);
  tampered["MessageAttributes"]["kind"]["StringValue"] = "s4";
  EXPECT_EQ(MessageFromJson(tampered).status().code(), StatusCode::kCorrupt);
  tampered = GoodMessage("hello", attrs);
  tampered.erase("MD5OfMessageAttributes");
  EXPECT_EQ(MessageFromJson(tampered).status().code(), StatusCode::kCorrupt);
  tampered = GoodMessage("hello", {});
  tampered["Attributes"].erase("ApproximateReceiveCount");
  EXPECT_EQ(MessageFromJson(tampered).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(MessageFromJson(json::array()).status().code(), StatusCode::kCorrupt);
}

TEST(SqsCodecTest, SentMessageIdChecksDigests) {
  const SendEntry sent{"body", {{"n", {"Number.int", "7"}}}, std::chrono::seconds(3)};
  const json request = SendEntryJson(sent);
  EXPECT_EQ(request["MessageBody"], "body");
  EXPECT_EQ(request["DelaySeconds"], 3);
  EXPECT_EQ(request["MessageAttributes"]["n"]["DataType"], "Number.int");
  json answer = {{"MessageId", "m"},
                 {"MD5OfMessageBody", sqs::Md5OfBody("body")},
                 {"MD5OfMessageAttributes", sqs::Md5OfAttributes(sent.attributes)}};
  auto id = SentMessageId(answer, sent);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "m");
  answer["MD5OfMessageBody"] = sqs::Md5OfBody("bodY");
  EXPECT_EQ(SentMessageId(answer, sent).status().code(), StatusCode::kCorrupt);
  answer["MD5OfMessageBody"] = sqs::Md5OfBody("body");
  answer.erase("MD5OfMessageAttributes");
  EXPECT_EQ(SentMessageId(answer, sent).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(SentMessageId(json::object(), sent).status().code(), StatusCode::kCorrupt);
}

TEST(SqsCodecTest, DeadInfoRoundTrip) {
  Message m{"first-id", "r", "body", {{"k", {"String", "v"}}}, 2, Clock::time_point(std::chrono::seconds(100))};
  Message on_dlq = m;
  on_dlq.id = "dlq-copy-id";
  on_dlq.receive_count = 1;
  on_dlq.sent_at = Clock::time_point(std::chrono::seconds(200));
  on_dlq.attributes[std::string(kDeadInfoAttribute)] = {"String", DeadInfoJson(m, "corrupt: truncated", on_dlq.sent_at)};
  const DeadMessage d = DeadFromMessage(on_dlq);
  EXPECT_EQ(d.id, "first-id");
  EXPECT_EQ(d.reason, "corrupt: truncated");
  EXPECT_EQ(d.receive_count, 2);
  EXPECT_EQ(d.sent_at, m.sent_at);
  EXPECT_EQ(d.dead_at, on_dlq.sent_at);
  EXPECT_EQ(d.attributes, m.attributes);
  // Moved by the service's RedrivePolicy: no attribute, the message's own fields.
  const DeadMessage moved = DeadFromMessage(m);
  EXPECT_EQ(moved.id, "first-id");
  EXPECT_NE(moved.reason.find("max_receive_count"), std::string::npos);
}

TEST(SqsCodecTest, DeadInfoCarriesTheReceiptAndToleratesBadFields) {
  Message m{"id-1", "receipt-1", "body", {}, 3, Clock::time_point(std::chrono::milliseconds(1234))};
  std::optional<DeadInfo> info = ParseDeadInfo(DeadInfoJson(m, "why", Clock::time_point(std::chrono::seconds(9))));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->receipt, "receipt-1") << "serve moves the message this receipt names";
  EXPECT_EQ(info->id, "id-1");
  EXPECT_EQ(info->receive_count, 3);
  EXPECT_EQ(info->sent_at, m.sent_at);
  EXPECT_EQ(info->dead_at, Clock::time_point(std::chrono::seconds(9)));
  // What serve shows on its DLQ has no receipt.
  DeadMessage d{"id-1", "body", {}, 3, m.sent_at, m.sent_at, "why"};
  EXPECT_TRUE(ParseDeadInfo(DeadInfoJson(d))->receipt.empty());
  EXPECT_FALSE(ParseDeadInfo("not json").has_value());
  EXPECT_FALSE(ParseDeadInfo("[1]").has_value());
  std::optional<DeadInfo> odd = ParseDeadInfo(R"({"reason":5,"receive_count":-1,"sent_at_ms":"x","id":"i"})");
  ASSERT_TRUE(odd.has_value());
  EXPECT_EQ(odd->id, "i");
  EXPECT_TRUE(odd->reason.empty());
  EXPECT_FALSE(odd->receive_count.has_value());
  EXPECT_FALSE(odd->sent_at.has_value());
}

TEST(SqsApiTest, ErrorsMapByCode) {
  const sigv4::Headers headers = {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"},
                                  {"x-amzn-RequestId", "req-1"}};
  const aws::AwsError e =
      ParseSqsJsonError(400, headers, R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"})");
  EXPECT_EQ(e.code, "QueueDoesNotExist");
  EXPECT_EQ(e.message, "gone");
  EXPECT_EQ(e.request_id, "req-1");
  EXPECT_EQ(MapSqsStatus(aws::ErrorToStatus(e, "SQS GetQueueUrl")).code(), StatusCode::kNotFound);
  auto code_of = [](const char* code) {
    return MapSqsStatus(Status::InvalidArgument(std::string(code) + " message (SQS X, HTTP 400)")).code();
  };
  EXPECT_EQ(code_of("ReceiptHandleIsInvalid"), StatusCode::kFailedPrecondition);
  EXPECT_EQ(code_of("MessageNotInflight"), StatusCode::kFailedPrecondition);
  EXPECT_EQ(code_of("AWS.SimpleQueueService.MessageNotInflight"), StatusCode::kFailedPrecondition);
  EXPECT_EQ(code_of("UnsupportedOperation"), StatusCode::kUnsupported);
  EXPECT_EQ(code_of("PurgeQueueInProgress"), StatusCode::kUnavailable);
  EXPECT_EQ(code_of("InvalidMessageContents"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code_of("SomethingElse"), StatusCode::kInvalidArgument);
  EXPECT_TRUE(MapSqsStatus(Status::Ok()).ok());
}

}  // namespace
}  // namespace thumbpipe::queue
