// The RabbitMQ queue against a real broker: the Queue conformance suite, then what only AMQP
// has (redelivery counted when a consumer's connection dies, the broker's delivery limit,
// declare mismatches, MinIO and Ceph bodies published by others, a broker restart).
// Run under tests/queue/rabbitmq_harness.py, which starts a private broker and sets
// THUMBPIPE_TEST_AMQP_URL; without it every test is skipped, saying so.
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stop_token>
#include <thread>

#include "events/event_parse.h"
#include "queue/amqp_queue.h"
#include "queue/queue_conformance.h"

namespace thumbpipe::queue {
namespace {

using std::chrono::seconds;
using testing::ConformanceSettings;
using testing::QueueBackend;
using testing::QueueClockConformanceTest;
using testing::QueueDedupClockConformanceTest;
using testing::QueueDedupConformanceTest;
using testing::QueueConformanceTest;

std::string BrokerUrl() {
  const char* url = std::getenv("THUMBPIPE_TEST_AMQP_URL");
  return url == nullptr ? "" : url;
}

// A queue name no other test (or test process) uses.
std::string FreshName() {
  static std::atomic<int> counter{0};
  return "tp-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

AmqpQueueOptions Options(const std::string& name, int max_receive_count = 3) {
  auto endpoint = ParseAmqpUrl(BrokerUrl() + "?queue=" + name);
  EXPECT_TRUE(endpoint.ok()) << endpoint.status().ToString();
  AmqpQueueOptions o;
  if (endpoint.ok()) o.endpoint = *endpoint;
  o.max_receive_count = max_receive_count;
  return o;
}

QueueBackend AmqpBackend() {
  QueueBackend backend;
  backend.name = "Amqp";
  backend.supports_manual_clock = true;  // visibility deadlines are kept by the client
  if (BrokerUrl().empty()) {
    backend.unavailable = "THUMBPIPE_TEST_AMQP_URL is not set: run under tests/queue/rabbitmq_harness.py";
  }
  backend.make = [](const ConformanceSettings& s, ManualClock* clock) {
    AmqpQueueOptions o = Options(FreshName(), s.max_receive_count);
    o.visibility_timeout = s.visibility_timeout;
    o.dlq_retention = s.dlq_retention;
    o.max_message_bytes = s.max_message_bytes;
    o.clock = clock;
    return OpenAmqpQueue(o);
  };
  backend.cannot = {
      {"StatsCountsEachState", "AMQP has no per-message delay (a delayed send is kUnsupported)"},
      {"DelayHidesUntilDue", "AMQP has no per-message delay (a delayed send is kUnsupported)"},
      {"RetentionExpiryIsCounted", "retention is the broker's (a max-age policy), on its own clock and uncounted"},
      {"DeadLetterRetentionCountsFromFirstSend",
       "the dlq's x-message-ttl runs on the broker's clock from when the message entered the dlq"},
      {"OldestAgeAndSentAt", "AMQP 0-9-1 does not report the age of the oldest message"},
      {"ChangeVisibilityZeroMakesVisibleAtOnce",
       "a nack reaches a quorum queue's count only once its Raft log entry is applied, and queue.declare "
       "reads the count without waiting for that: Stats().visible may lag a nack by a moment (the message "
       "itself is receivable at once: StaleReceiptIsRejectedAndChangesNothing receives it again)"},
  };
  return backend;
}

INSTANTIATE_TEST_SUITE_P(Amqp, QueueConformanceTest, ::testing::Values(AmqpBackend()),
                         testing::QueueBackendName);
INSTANTIATE_TEST_SUITE_P(Amqp, QueueClockConformanceTest, ::testing::Values(AmqpBackend()),
                         testing::QueueBackendName);
// Skipped: AMQP cannot deduplicate (deduplicates() is false; amqp_queue.h).
INSTANTIATE_TEST_SUITE_P(Amqp, QueueDedupConformanceTest,
                         ::testing::Values(AmqpBackend()), testing::QueueBackendName);
INSTANTIATE_TEST_SUITE_P(Amqp, QueueDedupClockConformanceTest,
                         ::testing::Values(AmqpBackend()), testing::QueueBackendName);

class AmqpQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (BrokerUrl().empty()) GTEST_SKIP() << "THUMBPIPE_TEST_AMQP_URL is not set";
    name_ = FreshName();
  }
  std::unique_ptr<Queue> MustOpen(int max_receive_count = 3) {
    auto q = OpenAmqpQueue(Options(name_, max_receive_count));
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? std::move(q).value() : nullptr;
  }
  static Message MustReceiveOne(Queue& q) {
    auto got = q.Receive(1, seconds(10));
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok() || got->size() != 1) {
      ADD_FAILURE() << "expected one message";
      return {};
    }
    return got->front();
  }
  static QueueStats MustStats(Queue& q) {
    auto stats = q.Stats();
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? *stats : QueueStats{};
  }
  std::string name_;
};

// A consumer that dies holding a message (its connection closes) gives it back; the broker
// counts that as a failed delivery, so the next receive has receive_count 2.
TEST_F(AmqpQueueTest, RedeliveryAfterConsumerConnectionDiesCountsAReceive) {
  auto sender = MustOpen();
  ASSERT_TRUE(sender->Send("job").ok());
  {
    auto dying = MustOpen();
    const Message first = MustReceiveOne(*dying);
    EXPECT_EQ(first.receive_count, 1);
  }  // the connection closes with the message unacked
  const Message again = MustReceiveOne(*sender);
  EXPECT_EQ(again.body, "job");
  EXPECT_EQ(again.receive_count, 2);
  EXPECT_TRUE(sender->Remove(again.receipt).ok());
}

// The broker's own limit (x-delivery-limit = max_receive_count - 1) catches what no client
// dead-letters: consumers that keep dying. After max_receive_count deliveries it is in the dlq.
TEST_F(AmqpQueueTest, DeliveryLimitDeadLettersWhenConsumersKeepDying) {
  auto sender = MustOpen(/*max_receive_count=*/2);
  const std::string id = *sender->Send("poison");
  for (int i = 1; i <= 2; ++i) {
    auto dying = MustOpen(2);
    EXPECT_EQ(MustReceiveOne(*dying).receive_count, i);
  }
  auto got = sender->Receive(1, seconds(1));
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty()) << "a third delivery happened";
  auto dead = sender->dead_letters().List(10);
  ASSERT_TRUE(dead.ok()) << dead.status().ToString();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].id, id);
  EXPECT_EQ((*dead)[0].body, "poison");
  EXPECT_NE((*dead)[0].reason.find("delivery limit"), std::string::npos) << (*dead)[0].reason;
  // Redrive brings it back as new.
  ASSERT_EQ(*sender->dead_letters().Redrive({}), 1);
  EXPECT_EQ(MustReceiveOne(*sender).receive_count, 1);
}

TEST_F(AmqpQueueTest, ExistingQueueWithOtherSettingsIsAClearError) {
  auto first = MustOpen(3);
  auto second = OpenAmqpQueue(Options(name_, 5));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("x-delivery-limit"), std::string::npos) << second.status().message();
  // The same settings again are fine (declare is idempotent).
  EXPECT_TRUE(OpenAmqpQueue(Options(name_, 3)).ok());
}

TEST_F(AmqpQueueTest, WrongPasswordIsUnavailableWithAHint) {
  AmqpQueueOptions o = Options(name_);
  o.endpoint.password = "wrong";
  auto q = OpenAmqpQueue(o);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("password"), std::string::npos) << q.status().message();
}

// Publishes like MinIO or Ceph RGW do: a bare body, their own headers, no thumbpipe ones.
void PublishForeign(const AmqpEndpoint& e, const std::string& body) {
  amqp_connection_state_t c = amqp_new_connection();
  amqp_socket_t* s = amqp_tcp_socket_new(c);
  ASSERT_EQ(amqp_socket_open(s, e.host.c_str(), e.port), AMQP_STATUS_OK);
  ASSERT_EQ(amqp_login(c, e.vhost.c_str(), 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, e.user.c_str(), e.password.c_str())
                .reply_type,
            AMQP_RESPONSE_NORMAL);
  amqp_channel_open(c, 1);
  amqp_table_entry_t headers[] = {{amqp_cstring_bytes("minio-bucket"), {}}};
  headers[0].value.kind = AMQP_FIELD_KIND_UTF8;
  headers[0].value.value.bytes = amqp_cstring_bytes("images");
  amqp_basic_properties_t p{};
  p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
  p.content_type = amqp_cstring_bytes("application/json");
  p.delivery_mode = 2;
  p.headers = amqp_table_t{1, headers};
  ASSERT_EQ(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(e.queue.c_str()), 0, 0, &p,
                               amqp_bytes_t{body.size(), const_cast<char*>(body.data())}),
            AMQP_STATUS_OK);
  amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c);
}

TEST_F(AmqpQueueTest, MinioAndCephBodiesArriveIntact) {
  auto q = MustOpen();
  const std::string minio =
      R"({"EventName":"s3:ObjectCreated:Put","Key":"images/uploads/a b.jpg","Records":[{"eventVersion":"2.0",)"
      R"("eventSource":"minio:s3","awsRegion":"","eventTime":"2026-11-27T05:00:00.000Z","eventName":"s3:ObjectCreated:Put",)"
      R"("s3":{"s3SchemaVersion":"1.0","configurationId":"Config","bucket":{"name":"images","arn":"arn:aws:s3:::images"},)"
      R"("object":{"key":"uploads%2Fa+b.jpg","size":1234,"eTag":"d41d8cd98f00b204e9800998ecf8427e","sequencer":"187B1E1F1C0C1A2B"}}}]})";
  const std::string ceph =
      R"({"Records":[{"eventVersion":"2.2","eventSource":"ceph:s3","awsRegion":"default","eventTime":"2026-11-27T05:00:00.000000Z",)"
      R"("eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","configurationId":"tp","bucket":{"name":"images","id":"x.1"},)"
      R"("object":{"key":"uploads/c.jpg","size":"2048","eTag":"0cc175b9c0f1b6a831c399e269772661","versionId":"","sequencer":"5F2B"}},)"
      R"("eventId":"1.2","opaqueData":""}]})";
  PublishForeign(Options(name_).endpoint, minio);
  PublishForeign(Options(name_).endpoint, ceph);
  std::vector<Message> got;
  while (got.size() < 2) {
    auto batch = q->Receive(10, seconds(10));
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    ASSERT_FALSE(batch->empty());
    for (Message& m : *batch) got.push_back(std::move(m));
  }
  EXPECT_EQ(got[0].body, minio);
  EXPECT_EQ(got[1].body, ceph);
  auto a = events::ParseEventBody(got[0].body);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->records.at(0).key, "uploads/a b.jpg");
  auto b = events::ParseEventBody(got[1].body);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->records.at(0).size, 2048u);
  // Their ids are stable across deliveries, though they brought none.
  const std::string id = got[0].id;
  ASSERT_TRUE(q->ChangeVisibility(got[0].receipt, Duration{0}).ok());
  const Message again = MustReceiveOne(*q);
  EXPECT_EQ(again.id, id);
  EXPECT_EQ(again.receive_count, 2);
}

// Receive and acks from many threads at once on one queue object (rabbitmq-c is not
// thread-safe; the queue must be).
TEST_F(AmqpQueueTest, ConcurrentSendersReceiversAndAcks) {
  auto q = MustOpen();
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) EXPECT_TRUE(q->Send("m" + std::to_string(t * kPerThread + i)).ok());
    });
  }
  std::atomic<int> removed{0};
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      while (removed.load() < 3 * kPerThread) {
        auto got = q->Receive(10, seconds(1));
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        for (const Message& m : *got) {
          // Acks from another thread while this one may be long-polling.
          std::thread acker([&] { EXPECT_TRUE(q->Remove(m.receipt).ok()); });
          acker.join();
          ++removed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(removed.load(), 3 * kPerThread);
  auto stats = q->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->visible + stats->in_flight, 0);
}

// ---- The standing consumer (amqp_queue.h, "Receive") ------------------------------------

std::unique_ptr<Queue> MustOpenWith(AmqpQueueOptions o) {
  auto q = OpenAmqpQueue(o);
  EXPECT_TRUE(q.ok()) << q.status().ToString();
  return q.ok() ? std::move(q).value() : nullptr;
}

// A queue object takes no more than its prefetch: with prefetch 1 and one message held, the
// next message is another object's to take.
TEST_F(AmqpQueueTest, PrefetchFullLeavesMessagesToOthers) {
  AmqpQueueOptions o = Options(name_);
  o.prefetch = 1;
  auto busy = MustOpenWith(o);
  auto other = MustOpen();
  ASSERT_TRUE(busy->Send("one").ok());
  ASSERT_TRUE(busy->Send("two").ok());
  const Message first = MustReceiveOne(*busy);
  EXPECT_EQ(first.body, "one");
  const Message second = MustReceiveOne(*other);
  EXPECT_EQ(second.body, "two");
  EXPECT_EQ(second.receive_count, 1);
  EXPECT_TRUE(busy->Remove(first.receipt).ok());
  EXPECT_TRUE(other->Remove(second.receipt).ok());
}

// A caller holding `prefetch` messages still receives what is ready (the old way, a basic.get):
// the standing consumer has no credit, but the receive must not wait out its long poll.
TEST_F(AmqpQueueTest, ReceiveBeyondPrefetchStillGetsReadyMessages) {
  AmqpQueueOptions o = Options(name_);
  o.prefetch = 1;
  auto q = MustOpenWith(o);
  ASSERT_TRUE(q->Send("one").ok());
  ASSERT_TRUE(q->Send("two").ok());
  const Message first = MustReceiveOne(*q);
  const auto start = std::chrono::steady_clock::now();
  const Message second = MustReceiveOne(*q);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5)) << "waited for credit instead of taking it";
  EXPECT_NE(second.id, first.id);
  EXPECT_EQ(MustStats(*q).in_flight, 2);
}

// What the broker pushed beyond the first receive waits in this object, unacked for the broker
// (others cannot take it) but visible in Stats; a receive hands it out at once. When the object
// closes, the broker requeues it for others, counting that as a delivery.
TEST_F(AmqpQueueTest, BufferedMessagesAreHandedOutAndReturnOnClose) {
  auto other = MustOpen();
  for (const char* body : {"a", "b", "c"}) ASSERT_TRUE(other->Send(body).ok());
  {
    AmqpQueueOptions o = Options(name_);
    o.prefetch = 3;
    auto q = MustOpenWith(o);
    const Message first = MustReceiveOne(*q);
    EXPECT_EQ(first.body, "a");
    // All three were checked out to q's consumer when it started: none is left for a get.
    auto none = other->Receive(10, Duration{0});
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_TRUE(none->empty()) << "the broker pushed all three to the first consumer";
    const Message second = MustReceiveOne(*q);
    EXPECT_EQ(second.body, "b");
    EXPECT_EQ(second.receive_count, 1);
    const QueueStats s = MustStats(*q);
    EXPECT_EQ(s.in_flight, 2);
    EXPECT_EQ(s.received, 2);
  }  // closed holding two and buffering one
  std::map<std::string, int> counts;
  while (counts.size() < 3) {
    auto got = other->Receive(10, seconds(10));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_FALSE(got->empty()) << "a message was lost";
    for (const Message& m : *got) {
      counts[m.body] = m.receive_count;
      EXPECT_TRUE(other->Remove(m.receipt).ok());
    }
  }
  // x-delivery-count counts every return, a buffered one's too (amqp_queue.h, "The cost").
  EXPECT_EQ(counts, (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
}

// A buffered message's visibility starts when a receive hands it out, not when it arrived.
TEST_F(AmqpQueueTest, BufferedMessageVisibilityStartsAtHandOut) {
  ManualClock clock;
  AmqpQueueOptions o = Options(name_);
  o.prefetch = 2;
  o.visibility_timeout = seconds(30);
  o.clock = &clock;
  auto q = MustOpenWith(o);
  ASSERT_TRUE(q->Send("a").ok());
  ASSERT_TRUE(q->Send("b").ok());
  const Message first = MustReceiveOne(*q);  // "b" arrives in the buffer with it
  clock.Advance(seconds(20));
  const Message second = MustReceiveOne(*q);
  EXPECT_EQ(second.receive_count, 1);
  clock.Advance(seconds(10));  // first: 30 s, its visibility is over; second: 10 s
  EXPECT_EQ(MustStats(*q).in_flight, 1);
  EXPECT_EQ(q->Remove(first.receipt).code(), StatusCode::kFailedPrecondition);
  clock.Advance(seconds(19));
  EXPECT_TRUE(q->Remove(second.receipt).ok()) << "second's visibility counts from its hand-out";
}

// A stop wakes a waiting receive at once, and ends the standing consumer: what the caller
// releases afterwards (a stopping worker's pending messages) goes to others instead of coming
// back into this object's buffer.
TEST_F(AmqpQueueTest, StopWakesTheLongPollAndEndsTheStandingConsumer) {
  AmqpQueueOptions o = Options(name_);
  o.prefetch = 2;
  auto q = MustOpenWith(o);
  auto other = MustOpen();
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the poll start
    stop.request_stop();
  });
  const auto start = std::chrono::steady_clock::now();
  auto none = q->ReceiveOrStop(1, seconds(20), std::nullopt, stop.get_token());
  stopper.join();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10)) << "the stop did not wake the poll";

  ASSERT_TRUE(q->Send("held").ok());
  const Message held = MustReceiveOne(*q);  // a new standing consumer
  std::stop_source stop2;
  stop2.request_stop();
  auto after = q->ReceiveOrStop(1, seconds(20), std::nullopt, stop2.get_token());
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(after->empty());
  ASSERT_TRUE(q->ChangeVisibility(held.receipt, Duration{0}).ok());
  const Message again = MustReceiveOne(*other);
  EXPECT_EQ(again.id, held.id) << "the released message went back to the stopped object";
  EXPECT_EQ(again.receive_count, 2);
}

// The harness restarts the broker on SIGUSR1 and appends a line to a file when it is back.
bool RestartBroker() {
  const char* pid = std::getenv("THUMBPIPE_TEST_RABBITMQ_HARNESS_PID");
  const char* file = std::getenv("THUMBPIPE_TEST_RABBITMQ_RESTARTED");
  if (pid == nullptr || file == nullptr) return false;
  const auto size = [&] {
    std::error_code ec;
    return std::filesystem::file_size(file, ec);
  };
  const auto before = size();
  if (::kill(std::atoi(pid), SIGUSR1) != 0) return false;
  // Waiting on another process: there is no event to wait for but the file growing.
  for (int i = 0; i < 1200 && size() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return size() != before && size() != static_cast<uintmax_t>(-1);
}

TEST_F(AmqpQueueTest, ReconnectsAfterTheBrokerRestarts) {
  auto q = MustOpen();
  ASSERT_TRUE(q->Send("before").ok());
  ASSERT_TRUE(q->Send("held").ok());
  const Message held = MustReceiveOne(*q);
  if (!RestartBroker()) GTEST_SKIP() << "not run under the harness: cannot restart the broker";
  // The first calls after the restart may find the old connections dead; each reconnects.
  Result<std::string> sent = q->Send("after");
  EXPECT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_EQ(q->Remove(held.receipt).code(), StatusCode::kFailedPrecondition)
      << "a receipt from the old connection is stale";
  std::set<std::string> bodies;
  for (int i = 0; i < 20 && bodies.size() < 3; ++i) {
    auto got = q->Receive(10, seconds(1));
    if (!got.ok()) continue;  // reconnecting (backoff): try again
    for (const Message& m : *got) {
      bodies.insert(m.body);
      EXPECT_TRUE(q->Remove(m.receipt).ok());
    }
  }
  EXPECT_EQ(bodies, (std::set<std::string>{"before", "held", "after"})) << "quorum queues keep messages over a restart";
}

}  // namespace
}  // namespace thumbpipe::queue
