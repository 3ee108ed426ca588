// The amqp:// URL and the wire form of messages, without a broker (amqp_queue_test.cc runs
// the queue itself against a real one).
#include <gtest/gtest.h>

#include "queue/amqp_message.h"
#include "queue/amqp_url.h"
#include "queue/queue_factory.h"

namespace thumbpipe::queue {
namespace {

TEST(AmqpUrlTest, FullUrl) {
  auto e = ParseAmqpUrl("amqp://alice:s%40cret@rabbit.example:5673/prod%2fimages?queue=thumbs");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->user, "alice");
  EXPECT_EQ(e->password, "s@cret");
  EXPECT_EQ(e->host, "rabbit.example");
  EXPECT_EQ(e->port, 5673);
  EXPECT_EQ(e->vhost, "prod/images");
  EXPECT_EQ(e->queue, "thumbs");
  EXPECT_EQ(e->dlx(), "thumbs-dlx");
  EXPECT_EQ(e->dlq(), "thumbs-dlq");
}

TEST(AmqpUrlTest, Defaults) {
  auto e = ParseAmqpUrl("amqp://localhost");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->user, "guest");
  EXPECT_EQ(e->password, "guest");
  EXPECT_EQ(e->port, 5672);
  EXPECT_EQ(e->vhost, "/");
  EXPECT_EQ(e->queue, "thumbnails");
  EXPECT_EQ(ParseAmqpUrl("amqp://h/%2f")->vhost, "/");
  EXPECT_EQ(ParseAmqpUrl("amqp://[::1]:5672/")->host, "::1");
}

TEST(AmqpUrlTest, ExchangeBindingForS3Services) {
  auto e = ParseAmqpUrl("amqp://h/?queue=q&exchange=s3-events");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->exchange, "s3-events");
  EXPECT_EQ(e->binding_key(), "q");  // RGW's routing key is its topic name
  e = ParseAmqpUrl("amqp://h/?exchange=s3%2Devents&routing_key=uploads&queue=q");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->exchange, "s3-events");
  EXPECT_EQ(e->binding_key(), "uploads");
  EXPECT_TRUE(ParseAmqpUrl("amqp://h/?queue=q").value().exchange.empty());
  const std::string too_long = "amqp://h/?exchange=" + std::string(256, 'x');
  for (const std::string& bad : {std::string("amqp://h/?routing_key=k"), std::string("amqp://h/?exchange="),
                                 std::string("amqp://h/?exchange=amq.direct"), too_long}) {
    EXPECT_FALSE(ParseAmqpUrl(bad).ok()) << bad;
  }
}

TEST(AmqpUrlTest, BadUrlsSayWhyAndHideThePassword) {
  for (const char* bad : {"amqp://", "amqp://h:0", "amqp://h:99999", "amqp://h:x", "amqp://u:p%zz@h",
                          "amqp://h/?queue=", "amqp://h/?queue=amq.x", "amqp://h/?queue=a%20b",
                          "amqp://h/?prefetch=3", "amqps://u:topsecret@h", "http://h"}) {
    auto e = ParseAmqpUrl(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(e.status().message().find("topsecret"), std::string::npos);
  }
  EXPECT_NE(ParseAmqpUrl("amqps://h").status().message().find("TLS"), std::string::npos);
}

TEST(AmqpUrlTest, FactoryRefusesADelayAndUnknownSchemes) {
  SqliteQueueOptions settings;
  settings.delay = std::chrono::seconds(5);
  auto q = OpenQueue("amqp://127.0.0.1:1/?queue=x", settings);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("delay"), std::string::npos);
  auto other = OpenQueue("kafka://user:pw@h/x", SqliteQueueOptions{});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().message().find("pw@"), std::string::npos) << other.status().message();
}

// serve names its queue (and the ARN notification configurations use) by this, for any backend.
TEST(QueueFactoryTest, QueueNameOfEveryKindOfUrl) {
  EXPECT_EQ(QueueNameOfUrl("sqlite:///data/queue.db"), "thumbnails");
  EXPECT_EQ(QueueNameOfUrl("sqlite:///data/queue.db?queue=jobs"), "jobs");
  EXPECT_EQ(QueueNameOfUrl("amqp://u:p@h:5672/%2f?queue=pipeline"), "pipeline");
  EXPECT_EQ(QueueNameOfUrl("amqp://u:p@h:5672/vh"), "thumbnails");
  EXPECT_EQ(QueueNameOfUrl("sqs://sqs.eu-west-1.amazonaws.com/123456789012/images-events"), "images-events");
  EXPECT_EQ(QueueNameOfUrl("https://sqs.eu-west-1.amazonaws.com/123456789012/q1/?x=1"), "q1");
}

TEST(AmqpUrlTest, UnreachableBrokerIsUnavailableNotAHang) {
  SqliteQueueOptions settings;
  auto q = OpenQueue("amqp://127.0.0.1:1/?queue=x", settings);  // port 1: nothing listens
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kUnavailable) << q.status().ToString();
}

TEST(AmqpMessageTest, RoundTripKeepsEverything) {
  AmqpWireMessage m;
  m.id = "0190-id";
  m.body = std::string("{\"Records\":[]}\0tail", 19);
  m.attributes = {{"bin", {"Binary", std::string("\0\xff", 2)}}, {"s", {"String", "v"}}};
  m.sent_at = Clock::time_point{std::chrono::microseconds(1'700'000'000'123'456)};
  m.dead_reason = "corrupt: truncated";
  m.dead_at = m.sent_at + std::chrono::seconds(3);
  m.receive_count = 2;
  AmqpOutgoing out(m);
  AmqpIncoming in = DecodeAmqpMessage(*out.properties(), out.body(), Clock::time_point{});
  EXPECT_EQ(in.message.id, m.id);
  EXPECT_EQ(in.message.body, m.body);
  EXPECT_EQ(in.message.attributes, m.attributes);
  EXPECT_EQ(in.message.sent_at, m.sent_at);
  EXPECT_EQ(in.message.dead_reason, m.dead_reason);
  EXPECT_EQ(in.message.dead_at, m.dead_at);
  EXPECT_EQ(in.message.receive_count, 2);
  EXPECT_EQ(in.delivery_count, -1);
}

TEST(AmqpMessageTest, ForeignMessageGetsAStableIdAndTheReceiveTime) {
  amqp_basic_properties_t bare{};
  const std::string body = R"({"EventName":"s3:ObjectCreated:Put","Key":"b/k","Records":[]})";
  const amqp_bytes_t bytes{body.size(), const_cast<char*>(body.data())};
  const Clock::time_point now{std::chrono::seconds(1'800'000'000)};
  AmqpIncoming a = DecodeAmqpMessage(bare, bytes, now);
  AmqpIncoming b = DecodeAmqpMessage(bare, bytes, now + std::chrono::seconds(1));
  EXPECT_EQ(a.message.body, body);
  EXPECT_EQ(a.message.id, b.message.id);
  EXPECT_TRUE(a.message.id.starts_with("sha256-")) << a.message.id;
  EXPECT_EQ(a.message.sent_at, now);
  EXPECT_TRUE(a.message.attributes.empty());
}

}  // namespace
}  // namespace thumbpipe::queue
