// The Queue conformance suite: every Queue backend (SQLite, SQS, RabbitMQ) runs these same
// tests, so the worker can rely on queue.h alone. Header-only; a backend's test file provides
// a QueueBackend and instantiates the suites:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, QueueConformanceTest, ::testing::Values(MyBackend()),
//                            QueueBackendName);
//   INSTANTIATE_TEST_SUITE_P(Sqlite, QueueClockConformanceTest, ::testing::Values(MyBackend()),
//                            QueueBackendName);
//   (and likewise QueueDedupConformanceTest and QueueDedupClockConformanceTest)
//
// QueueConformanceTest needs no control of time: it never waits for a timeout to pass (a
// message comes back with ChangeVisibility(0) instead) and asserts no durations, so it also
// runs against remote services. QueueClockConformanceTest drives a ManualClock (visibility
// expiry, retention, delay, the 12 h rule) and is skipped for backends that cannot take one.
// The two Dedup suites test SendEntry::dedup_id and are skipped when deduplicates() is false.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "queue/queue.h"

namespace thumbpipe::queue::testing {

// The queue settings the suite assumes; a backend creates its queue with them.
struct ConformanceSettings {
  Duration visibility_timeout = std::chrono::seconds(30);
  int max_receive_count = 3;
  Duration retention = std::chrono::hours(1);
  Duration dlq_retention = std::chrono::hours(2);
  uint64_t max_message_bytes = 4096;
  Duration dedup_window = std::chrono::minutes(5);  // for backends that deduplicate
};

struct QueueBackend {
  std::string name;  // [A-Za-z0-9_]: the test name suffix
  // A fresh, empty queue with `settings`. `clock` is non-null only when supports_manual_clock
  // is true; the queue must then take all its times from it.
  std::function<Result<std::unique_ptr<Queue>>(const ConformanceSettings& settings,
                                               ManualClock* clock)>
      make;
  bool supports_manual_clock = false;
  // Why every test is skipped (the backend's service is not available), or empty.
  std::string unavailable;
  // Tests this backend cannot pass because its engine cannot keep that promise: test name
  // (without the "/Backend" suffix) -> why. The test is skipped with that message.
  std::map<std::string, std::string> cannot;
};

inline std::string QueueBackendName(const ::testing::TestParamInfo<QueueBackend>& info) {
  return info.param.name;
}
inline void PrintTo(const QueueBackend& backend, std::ostream* os) { *os << backend.name; }

class QueueConformanceTest : public ::testing::TestWithParam<QueueBackend> {
 protected:
  void SetUp() override {
    const QueueBackend& backend = GetParam();
    if (!backend.unavailable.empty()) GTEST_SKIP() << backend.unavailable;
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    test = test.substr(0, test.find('/'));
    if (auto why = backend.cannot.find(test); why != backend.cannot.end()) {
      GTEST_SKIP() << backend.name << " cannot: " << why->second;
    }
    auto made = backend.make(settings_, backend.supports_manual_clock ? &clock_ : nullptr);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    queue_ = std::move(made).value();
  }

  // Sends `body` and returns its id (fails the test on error).
  std::string MustSend(std::string_view body, const Attributes& attributes = {}) {
    auto id = queue_->Send(body, attributes);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : std::string();
  }
  // Receives exactly one message without waiting.
  Message MustReceiveOne(std::optional<Duration> visibility = std::nullopt) {
    auto got = queue_->Receive(1, Duration{0}, visibility);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok() || got->size() != 1) {
      ADD_FAILURE() << "expected one message";
      return {};
    }
    return std::move(got->front());
  }
  size_t ReceiveCount(int max = 10) {
    auto got = queue_->Receive(max, Duration{0});
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? got->size() : 0;
  }
  QueueStats MustStats() {
    auto stats = queue_->Stats();
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? *stats : QueueStats{};
  }
  std::vector<DeadMessage> MustListDead() {
    auto list = queue_->dead_letters().List(100);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? *list : std::vector<DeadMessage>{};
  }
  // Makes a received message visible again at once (a "nack").
  void Nack(const Message& m) {
    ASSERT_TRUE(queue_->ChangeVisibility(m.receipt, Duration{0}).ok());
  }

  ConformanceSettings settings_;
  ManualClock clock_;
  std::unique_ptr<Queue> queue_;
};

// The tests of SendEntry::dedup_id; skipped for backends whose deduplicates() is false.
class QueueDedupConformanceTest : public QueueConformanceTest {
 protected:
  void SetUp() override {
    QueueConformanceTest::SetUp();
    if (queue_ != nullptr && !queue_->deduplicates()) {
      GTEST_SKIP() << GetParam().name << " does not deduplicate";
    }
  }
  // Sends one entry with `dedup_id` through SendBatch; returns its id.
  std::string MustSendDedup(std::string_view body, std::string_view dedup_id) {
    std::vector<SendEntry> one = {{std::string(body), {}, std::nullopt, std::string(dedup_id)}};
    auto results = queue_->SendBatch(one);
    EXPECT_TRUE(results.ok()) << results.status().ToString();
    if (!results.ok() || results->size() != 1 || !results->front().ok()) {
      ADD_FAILURE() << "the send failed";
      return {};
    }
    return *results->front();
  }
};

// The tests that move time; skipped for backends without an injectable clock.
class QueueClockConformanceTest : public QueueConformanceTest {
 protected:
  void SetUp() override {
    if (!GetParam().supports_manual_clock) GTEST_SKIP() << GetParam().name << " has no ManualClock";
    QueueConformanceTest::SetUp();
  }
};

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// The dedup tests that move time (the window); need both an injectable clock and dedup.
class QueueDedupClockConformanceTest : public QueueDedupConformanceTest {
 protected:
  void SetUp() override {
    if (!GetParam().supports_manual_clock) GTEST_SKIP() << GetParam().name << " has no ManualClock";
    QueueDedupConformanceTest::SetUp();
  }
};

// ---- Real-time group -------------------------------------------------------------------

TEST_P(QueueConformanceTest, SendReceiveRemove) {
  const Attributes attrs = {{"kind", {"String", "s3-event"}},
                            {"blob", {"Binary", std::string("\0\xff\x01", 3)}},
                            {"n", {"Number.int", "42"}}};
  const std::string id = MustSend("hello", attrs);
  const Message m = MustReceiveOne();
  EXPECT_EQ(m.id, id);
  EXPECT_EQ(m.body, "hello");
  EXPECT_EQ(m.attributes, attrs);
  EXPECT_EQ(m.receive_count, 1);
  EXPECT_FALSE(m.receipt.empty());
  EXPECT_EQ(ReceiveCount(), 0u) << "an in-flight message is hidden";
  ASSERT_TRUE(queue_->Remove(m.receipt).ok());
  EXPECT_EQ(queue_->Remove(m.receipt).code(), StatusCode::kNotFound);
  const QueueStats s = MustStats();
  EXPECT_EQ(s.visible + s.in_flight + s.delayed + s.dead, 0);
}

TEST_P(QueueConformanceTest, RemoveBatchRemovesAll) {
  for (int i = 0; i < 4; ++i) MustSend("m" + std::to_string(i));
  auto got = queue_->Receive(10, Duration{0});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 4u);
  std::vector<std::string> receipts;
  for (const Message& m : *got) receipts.push_back(m.receipt);
  auto results = queue_->RemoveBatch(receipts);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 4u);
  for (const Status& s : *results) EXPECT_TRUE(s.ok()) << s.ToString();
  const QueueStats s = MustStats();
  EXPECT_EQ(s.visible + s.in_flight + s.delayed + s.dead, 0);
  EXPECT_EQ(s.removed, 4);
}

TEST_P(QueueConformanceTest, RemoveBatchStaleReceiptFailsAlone) {
  for (int i = 0; i < 3; ++i) MustSend("m" + std::to_string(i));
  auto got = queue_->Receive(10, Duration{0});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 3u);
  // The second message is received again: its first receipt is now stale.
  const std::string stale = (*got)[1].receipt;
  Nack((*got)[1]);
  const Message again = MustReceiveOne();
  ASSERT_EQ(again.id, (*got)[1].id);
  const std::vector<std::string> receipts = {(*got)[0].receipt, stale, (*got)[2].receipt};
  auto results = queue_->RemoveBatch(receipts);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 3u);
  EXPECT_TRUE((*results)[0].ok()) << (*results)[0].ToString();
  EXPECT_EQ((*results)[1].code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*results)[2].ok()) << (*results)[2].ToString();
  // The stale receipt changed nothing: the latest one still removes the message.
  const QueueStats s = MustStats();
  EXPECT_EQ(s.in_flight, 1);
  EXPECT_EQ(s.removed, 2);
  EXPECT_TRUE(queue_->Remove(again.receipt).ok());
}

TEST_P(QueueConformanceTest, RemoveBatchLimits) {
  EXPECT_EQ(queue_->RemoveBatch({}).status().code(), StatusCode::kInvalidArgument);
  for (int i = 0; i < 10; ++i) MustSend("m" + std::to_string(i));
  MustSend("m10");
  std::vector<std::string> receipts;
  for (int i = 0; i < 2; ++i) {
    auto got = queue_->Receive(10, Duration{0});
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (const Message& m : *got) receipts.push_back(m.receipt);
  }
  ASSERT_EQ(receipts.size(), 11u);
  EXPECT_EQ(queue_->RemoveBatch(receipts).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MustStats().in_flight, 11) << "a rejected batch removes nothing";
  auto results = queue_->RemoveBatch(std::span<const std::string>(receipts).first(10));
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  for (const Status& s : *results) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(MustStats().in_flight, 1);
}

TEST_P(QueueConformanceTest, ReceiveReturnsUpToMax) {
  for (int i = 0; i < 5; ++i) MustSend("m" + std::to_string(i));
  EXPECT_EQ(ReceiveCount(3), 3u);
  EXPECT_EQ(ReceiveCount(10), 2u);
  EXPECT_EQ(ReceiveCount(10), 0u);
}

TEST_P(QueueConformanceTest, ReceiveArgumentLimits) {
  EXPECT_EQ(queue_->Receive(0, Duration{0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->Receive(11, Duration{0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->Receive(1, seconds(21)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->Receive(1, Duration{0}, hours(12) + seconds(1)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(QueueConformanceTest, StaleReceiptIsRejectedAndChangesNothing) {
  MustSend("x");
  const Message first = MustReceiveOne();
  Nack(first);
  const Message second = MustReceiveOne();
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.receive_count, 2);
  EXPECT_NE(second.receipt, first.receipt);
  const QueueStats before = MustStats();
  EXPECT_EQ(queue_->Remove(first.receipt).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(queue_->ChangeVisibility(first.receipt, Duration{0}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(queue_->DeadLetter(first.receipt, "late").code(), StatusCode::kFailedPrecondition);
  const QueueStats after = MustStats();
  EXPECT_EQ(after.in_flight, 1);
  EXPECT_EQ(after.dead, before.dead);
  EXPECT_EQ(after.removed, before.removed);
  EXPECT_EQ(ReceiveCount(), 0u) << "the stale ChangeVisibility(0) must not have released it";
  EXPECT_TRUE(queue_->Remove(second.receipt).ok());
}

TEST_P(QueueConformanceTest, ChangeVisibilityZeroMakesVisibleAtOnce) {
  MustSend("x");
  const Message m = MustReceiveOne();
  EXPECT_EQ(ReceiveCount(), 0u);
  Nack(m);
  EXPECT_EQ(MustStats().visible, 1);
  EXPECT_EQ(MustReceiveOne().receive_count, 2);
}

TEST_P(QueueConformanceTest, ChangeVisibilityRejectsOverTwelveHours) {
  MustSend("x");
  const Message m = MustReceiveOne();
  EXPECT_EQ(queue_->ChangeVisibility(m.receipt, hours(12) + seconds(1)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->ChangeVisibility(m.receipt, Duration{-1}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(queue_->ChangeVisibility(m.receipt, minutes(5)).ok());
}

TEST_P(QueueConformanceTest, MovedToDeadLettersAfterExactlyMaxReceiveCount) {
  const std::string id = MustSend("poison", {{"a", {"String", "b"}}});
  for (int i = 1; i <= settings_.max_receive_count; ++i) {
    const Message m = MustReceiveOne();
    ASSERT_EQ(m.receive_count, i);
    Nack(m);
  }
  EXPECT_EQ(ReceiveCount(), 0u) << "the receive past max_receive_count dead-letters instead";
  const QueueStats s = MustStats();
  EXPECT_EQ(s.dead, 1);
  EXPECT_EQ(s.visible, 0);
  EXPECT_EQ(s.dead_lettered, 1);
  EXPECT_EQ(s.received, settings_.max_receive_count);
  const auto dead = MustListDead();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id, id);
  EXPECT_EQ(dead[0].body, "poison");
  EXPECT_EQ(dead[0].receive_count, settings_.max_receive_count);
  EXPECT_NE(dead[0].reason.find("max_receive_count"), std::string::npos) << dead[0].reason;
}

TEST_P(QueueConformanceTest, DeadLetterKeepsReasonAndMessage) {
  const Attributes attrs = {{"k", {"String", "v"}}};
  const std::string id = MustSend("corrupt.jpg", attrs);
  const Message m = MustReceiveOne();
  ASSERT_TRUE(queue_->DeadLetter(m.receipt, "corrupt: truncated JPEG").ok());
  EXPECT_EQ(queue_->Remove(m.receipt).code(), StatusCode::kNotFound);
  EXPECT_EQ(ReceiveCount(), 0u);
  const auto dead = MustListDead();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id, id);
  EXPECT_EQ(dead[0].body, "corrupt.jpg");
  EXPECT_EQ(dead[0].attributes, attrs);
  EXPECT_EQ(dead[0].receive_count, 1);
  EXPECT_EQ(dead[0].sent_at, m.sent_at);
  EXPECT_EQ(dead[0].reason, "corrupt: truncated JPEG");
  EXPECT_EQ(MustStats().dead_lettered, 1);
}

TEST_P(QueueConformanceTest, DeadLetterListIsNotAReceiveAndPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(MustSend("d" + std::to_string(i)));
    ASSERT_TRUE(queue_->DeadLetter(MustReceiveOne().receipt, "r").ok());
  }
  for (int round = 0; round < 2; ++round) {
    for (const DeadMessage& d : MustListDead()) EXPECT_EQ(d.receive_count, 1);
  }
  auto page1 = queue_->dead_letters().List(2);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2u);
  auto page2 = queue_->dead_letters().List(2, page1->back().id);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 1u);
  EXPECT_EQ((*page1)[0].id, ids[0]);
  EXPECT_EQ((*page1)[1].id, ids[1]);
  EXPECT_EQ((*page2)[0].id, ids[2]);
  EXPECT_EQ(MustStats().received, 3);
}

TEST_P(QueueConformanceTest, RedriveAllRestoresWithCountsReset) {
  const std::string id = MustSend("x", {{"k", {"String", "v"}}});
  const Message m = MustReceiveOne();
  ASSERT_TRUE(queue_->DeadLetter(m.receipt, "r").ok());
  auto moved = queue_->dead_letters().Redrive({});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, 1);
  EXPECT_EQ(MustStats().dead, 0);
  const Message again = MustReceiveOne();
  EXPECT_EQ(again.id, id);
  EXPECT_EQ(again.body, "x");
  EXPECT_EQ(again.attributes, m.attributes);
  EXPECT_EQ(again.receive_count, 1);
  EXPECT_EQ(again.sent_at, m.sent_at);
}

TEST_P(QueueConformanceTest, RedriveByIdMovesOnlyThose) {
  MustSend("a");
  MustSend("b");
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(queue_->DeadLetter(MustReceiveOne().receipt, "r").ok());
  const auto dead = MustListDead();
  ASSERT_EQ(dead.size(), 2u);
  const std::vector<std::string> ids = {dead[1].id, "no-such-id"};
  auto moved = queue_->dead_letters().Redrive(ids);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, 1);
  const Message m = MustReceiveOne();
  EXPECT_EQ(m.id, dead[1].id);
  EXPECT_EQ(MustStats().dead, 1);
}

TEST_P(QueueConformanceTest, PurgeDeadLettersAndQueue) {
  MustSend("a");
  MustSend("b");
  MustSend("c");
  ASSERT_TRUE(queue_->DeadLetter(MustReceiveOne().receipt, "r").ok());
  MustReceiveOne();  // one in flight, one visible
  auto dead = queue_->dead_letters().Purge();
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(*dead, 1);
  auto live = queue_->Purge();
  ASSERT_TRUE(live.ok());
  if (*live >= 0) {
    EXPECT_EQ(*live, 2);
  }
  const QueueStats s = MustStats();
  EXPECT_EQ(s.visible + s.in_flight + s.delayed + s.dead, 0);
}

TEST_P(QueueConformanceTest, BatchLimitsAndPerEntryErrors) {
  EXPECT_EQ(queue_->SendBatch({}).status().code(), StatusCode::kInvalidArgument);
  std::vector<SendEntry> eleven(11, SendEntry{"x", {}, std::nullopt});
  EXPECT_EQ(queue_->SendBatch(eleven).status().code(), StatusCode::kInvalidArgument);
  std::vector<SendEntry> mixed = {{"good", {}, std::nullopt},
                                  {"", {}, std::nullopt},
                                  {"bad\x01", {}, std::nullopt},
                                  {"late", {}, minutes(16)},
                                  {"also good", {{"k", {"String", "v"}}}, std::nullopt}};
  auto results = queue_->SendBatch(mixed);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), mixed.size());
  EXPECT_TRUE((*results)[0].ok());
  EXPECT_EQ((*results)[1].status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*results)[2].status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*results)[3].status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE((*results)[4].ok());
  EXPECT_EQ(ReceiveCount(), 2u);
  EXPECT_EQ(MustStats().sent, 2);
}

TEST_P(QueueConformanceTest, AttributeLimits) {
  Attributes eleven;
  for (int i = 0; i < 11; ++i) eleven["a" + std::to_string(i)] = {"String", "v"};
  EXPECT_EQ(queue_->Send("x", eleven).status().code(), StatusCode::kInvalidArgument);
  eleven.erase("a10");
  EXPECT_TRUE(queue_->Send("x", eleven).ok());
  for (const char* name : {"", ".a", "a.", "a..b", "a b", "AWS.x", "amazon.x", "ü"}) {
    EXPECT_EQ(queue_->Send("x", {{name, {"String", "v"}}}).status().code(),
              StatusCode::kInvalidArgument) << "name \"" << name << "\"";
  }
  EXPECT_EQ(queue_->Send("x", {{std::string(257, 'a'), {"String", "v"}}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(queue_->Send("x", {{std::string(256, 'a'), {"String", "v"}}}).ok());
  EXPECT_EQ(queue_->Send("x", {{"t", {"Text", "v"}}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->Send("x", {{"t", {"String", ""}}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(queue_->Send("x", {{"a_b-c.d", {"Binary.png", std::string("\0", 1)}}}).ok());
}

TEST_P(QueueConformanceTest, MessageSizeLimitCountsAttributes) {
  const uint64_t max = settings_.max_message_bytes;
  EXPECT_TRUE(queue_->Send(std::string(max, 'a')).ok());
  EXPECT_EQ(queue_->Send(std::string(max + 1, 'a')).status().code(), StatusCode::kInvalidArgument);
  // name (1) + type (6) + value (3) = 10 bytes of attributes.
  EXPECT_TRUE(queue_->Send(std::string(max - 10, 'a'), {{"k", {"String", "abc"}}}).ok());
  EXPECT_EQ(queue_->Send(std::string(max - 9, 'a'), {{"k", {"String", "abc"}}}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(QueueConformanceTest, BodyCharactersFollowSqs) {
  EXPECT_TRUE(queue_->Send("tab\tnl\ncr\r é € \xF0\x9F\x98\x80").ok());
  for (std::string bad : {std::string("nul\0", 4), std::string("\x1f"), std::string("\xff"),
                          std::string("\xC3"), std::string("\xED\xA0\x80"),   // surrogate
                          std::string("\xEF\xBF\xBE"),                         // U+FFFE
                          std::string("\xC0\xAF")}) {                          // overlong
    EXPECT_EQ(queue_->Send(bad).status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(queue_->Send("x", {}, minutes(15) + seconds(1)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(QueueConformanceTest, LongPollReturnsWhenAnotherThreadSends) {
  std::thread sender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(queue_->Send("late").ok());
  });
  auto got = queue_->Receive(1, seconds(20));
  sender.join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().body, "late");
}

TEST_P(QueueConformanceTest, ReceiveOrStopAfterAStopDoesNotWait) {
  std::stop_source stop;
  stop.request_stop();
  // Nothing visible: it returns at once instead of waiting out the 20 s (the test's timeout
  // would catch a wait).
  auto none = queue_->ReceiveOrStop(1, seconds(20), std::nullopt, stop.get_token());
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
  // What is visible is still received: a stop ends the waiting, not the receive.
  MustSend("ready");
  auto got = queue_->ReceiveOrStop(1, seconds(20), std::nullopt, stop.get_token());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().body, "ready");
}

TEST_P(QueueConformanceTest, StatsCountsEachState) {
  MustSend("visible");
  MustSend("in flight");
  ASSERT_TRUE(queue_->Send("delayed", {}, minutes(15)).ok());
  MustSend("dead");
  const Message a = MustReceiveOne();
  const Message b = MustReceiveOne();
  ASSERT_TRUE(queue_->DeadLetter(b.receipt, "r").ok());
  const QueueStats s = MustStats();
  EXPECT_EQ(s.visible, 1);
  EXPECT_EQ(s.in_flight, 1);
  EXPECT_EQ(s.delayed, 1);
  EXPECT_EQ(s.dead, 1);
  EXPECT_EQ(s.sent, 4);
  EXPECT_EQ(s.received, 2);
  EXPECT_EQ(s.dead_lettered, 1);
  ASSERT_TRUE(queue_->Remove(a.receipt).ok());
  EXPECT_EQ(MustStats().removed, 1);
  EXPECT_GE(s.oldest_age.count(), 0);
}

// ---- Clock-driven group ----------------------------------------------------------------

TEST_P(QueueClockConformanceTest, VisibilityExpiryRedeliversWithNewReceipt) {
  MustSend("x");
  const Message first = MustReceiveOne();
  clock_.Advance(settings_.visibility_timeout - seconds(1));
  EXPECT_EQ(ReceiveCount(), 0u);
  EXPECT_EQ(MustStats().in_flight, 1);
  clock_.Advance(seconds(1));
  const Message second = MustReceiveOne();
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.receive_count, 2);
  EXPECT_NE(second.receipt, first.receipt);
  EXPECT_EQ(queue_->Remove(first.receipt).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(queue_->Remove(second.receipt).ok());
}

TEST_P(QueueClockConformanceTest, ReceiveVisibilityOverride) {
  MustSend("x");
  MustReceiveOne(seconds(5));
  clock_.Advance(seconds(5));
  EXPECT_EQ(MustReceiveOne().receive_count, 2);
}

TEST_P(QueueClockConformanceTest, ChangeVisibilityCountsFromNowWithinTwelveHours) {
  MustSend("x");
  const Message m = MustReceiveOne();
  clock_.Advance(seconds(15));
  ASSERT_TRUE(queue_->ChangeVisibility(m.receipt, seconds(10)).ok());
  clock_.Advance(seconds(9));
  EXPECT_EQ(ReceiveCount(), 0u);
  clock_.Advance(seconds(1));
  const Message again = MustReceiveOne();
  clock_.Advance(hours(1));
  EXPECT_TRUE(queue_->ChangeVisibility(again.receipt, hours(11)).ok()) << "exactly 12 h in all";
  EXPECT_EQ(queue_->ChangeVisibility(again.receipt, hours(11) + seconds(1)).code(),
            StatusCode::kInvalidArgument);
}

TEST_P(QueueClockConformanceTest, DeadLettersAfterMaxReceiveCountTimeouts) {
  MustSend("x");
  for (int i = 1; i <= settings_.max_receive_count; ++i) {
    EXPECT_EQ(MustReceiveOne().receive_count, i);
    clock_.Advance(settings_.visibility_timeout);
  }
  EXPECT_EQ(ReceiveCount(), 0u);
  EXPECT_EQ(MustStats().dead, 1);
}

TEST_P(QueueClockConformanceTest, DelayHidesUntilDue) {
  ASSERT_TRUE(queue_->Send("later", {}, seconds(10)).ok());
  EXPECT_EQ(ReceiveCount(), 0u);
  EXPECT_EQ(MustStats().delayed, 1);
  clock_.Advance(seconds(10));
  EXPECT_EQ(MustStats().visible, 1);
  EXPECT_EQ(MustReceiveOne().body, "later");
}

TEST_P(QueueClockConformanceTest, RetentionExpiryIsCounted) {
  MustSend("old");
  clock_.Advance(settings_.retention - seconds(1));
  EXPECT_EQ(MustStats().visible, 1);
  MustSend("new");
  clock_.Advance(seconds(1));
  const QueueStats s = MustStats();
  EXPECT_EQ(s.visible, 1);
  EXPECT_EQ(s.expired, 1);
  EXPECT_EQ(MustReceiveOne().body, "new");
}

TEST_P(QueueClockConformanceTest, DeadLetterRetentionCountsFromFirstSend) {
  MustSend("x");
  clock_.Advance(minutes(30));
  ASSERT_TRUE(queue_->DeadLetter(MustReceiveOne().receipt, "r").ok());
  clock_.Advance(settings_.dlq_retention - minutes(30) - seconds(1));
  EXPECT_EQ(MustStats().dead, 1);
  clock_.Advance(seconds(1));
  const QueueStats s = MustStats();
  EXPECT_EQ(s.dead, 0);
  EXPECT_EQ(s.expired, 1);
  EXPECT_TRUE(MustListDead().empty());
}

TEST_P(QueueClockConformanceTest, OldestAgeAndSentAt) {
  const auto t0 = clock_.Now();
  MustSend("a");
  clock_.Advance(seconds(5));
  MustSend("b");
  EXPECT_EQ(MustStats().oldest_age, seconds(5));
  const Message m = MustReceiveOne();
  EXPECT_EQ(m.sent_at, t0);
}

TEST_P(QueueClockConformanceTest, RedriveRateLimitPacesByClock) {
  for (int i = 0; i < 3; ++i) {
    MustSend("m");
    ASSERT_TRUE(queue_->DeadLetter(MustReceiveOne().receipt, "r").ok());
  }
  const auto t0 = clock_.Now();
  auto moved = queue_->dead_letters().Redrive({}, 1.0);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, 3);
  EXPECT_GE(clock_.Now() - t0, seconds(2));
}

// ---- Deduplication ------------------------------------------------------------------------

TEST_P(QueueDedupConformanceTest, DuplicateWithinTheWindowReturnsTheFirstIdAndSendsNothing) {
  const std::string first = MustSendDedup("event", "outbox-1");
  const std::string again = MustSendDedup("event", "outbox-1");
  const std::string other = MustSendDedup("event", "outbox-2");
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(again, first);
  EXPECT_NE(other, first);
  EXPECT_EQ(MustStats().sent, 2);
  EXPECT_EQ(ReceiveCount(), 2u);
  // Still a duplicate after the message was received and removed: the id is remembered for
  // the window, not for the message's life.
  EXPECT_EQ(MustSendDedup("event", "outbox-2"), other);
  EXPECT_EQ(ReceiveCount(), 0u);
}

TEST_P(QueueDedupConformanceTest, BatchWithDuplicatesSendsEachIdOnce) {
  MustSendDedup("before", "b");
  std::vector<SendEntry> batch = {{"a1", {}, std::nullopt, "a"},
                                  {"b2", {}, std::nullopt, "b"},   // an earlier send's
                                  {"a3", {}, std::nullopt, "a"},   // an earlier entry's
                                  {"n4", {}, std::nullopt, ""},    // none: always sent
                                  {"n5", {}, std::nullopt, ""},
                                  {"bad", {}, std::nullopt, std::string(129, 'x')},
                                  {"bad", {}, std::nullopt, "tab\tin it"}};
  batch[6].dedup_id = "tab	in it";
  auto results = queue_->SendBatch(batch);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), batch.size());
  for (size_t i = 0; i < 5; ++i) ASSERT_TRUE((*results)[i].ok()) << i;
  EXPECT_EQ(*(*results)[2], *(*results)[0]);
  EXPECT_NE(*(*results)[3], *(*results)[4]);
  EXPECT_EQ((*results)[5].status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*results)[6].status().code(), StatusCode::kInvalidArgument);
  std::multiset<std::string> bodies;
  for (;;) {
    auto got = queue_->Receive(10, Duration{0});
    ASSERT_TRUE(got.ok());
    if (got->empty()) break;
    for (const Message& m : *got) bodies.insert(m.body);
  }
  // The first of each id wins: "a1", not "a3"; "before", not "b2".
  EXPECT_EQ(bodies, (std::multiset<std::string>{"before", "a1", "n4", "n5"}));
}

TEST_P(QueueDedupConformanceTest, LongestIdAndEveryPunctuationAreAccepted) {
  std::string punctuation;
  for (char c = '!'; c <= '~'; ++c) punctuation += c;
  EXPECT_FALSE(MustSendDedup("p", punctuation).empty());
  EXPECT_FALSE(MustSendDedup("l", std::string(128, 'z')).empty());
  EXPECT_EQ(ReceiveCount(), 2u);
}

TEST_P(QueueDedupClockConformanceTest, AnIdIsForgottenAfterTheWindow) {
  const std::string first = MustSendDedup("one", "x");
  clock_.Advance(settings_.dedup_window - seconds(1));
  EXPECT_EQ(MustSendDedup("one", "x"), first);
  // Well past the window, with deduplicated sends going on meanwhile: "x" is new again.
  clock_.Advance(2 * settings_.dedup_window);
  MustSendDedup("filler", "y");
  clock_.Advance(2 * settings_.dedup_window);
  MustSendDedup("filler", "z");
  const std::string later = MustSendDedup("two", "x");
  EXPECT_FALSE(later.empty());
  EXPECT_NE(later, first);
  EXPECT_EQ(MustStats().sent, 4);
}

}  // namespace thumbpipe::queue::testing
