// The dead-letter side of the RabbitMQ queue: NAME-dlq, a classic queue. AMQP cannot look at a
// queue without taking messages, so List and Redrive take them with basic.get on the publishing
// connection and put back what they leave (basic.nack with requeue; a classic queue puts them
// back in their places). A List is therefore not a receive of the source queue, but other
// readers of the dlq do not see the messages for the moment of the scan.
#include <set>

#include "queue/amqp_queue_impl.h"

namespace thumbpipe::queue {
namespace {

constexpr int kMaxScan = 10000;  // messages one List or Redrive looks at
constexpr int kMaxListLimit = 1000;

amqp_bytes_t Bytes(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

std::string BrokerReason(const std::string& reason) {
  if (reason == "delivery_limit") return "max_receive_count exceeded (RabbitMQ delivery limit)";
  if (reason.empty()) return "dead-lettered by the broker";
  return "dead-lettered by the broker: " + reason;
}

// One message taken from the dlq, not yet settled.
struct Taken {
  uint64_t tag;
  AmqpIncoming in;
};

}  // namespace

// REQUIRES: conn.mu. Takes messages from the dlq (at most kMaxScan), calling `visit` on each
// until it returns false. The caller settles every tag `visit` saw.
template <class Visit>
static Status ScanDlq(AmqpConnection& conn, const std::string& dlq, Clock& clock, Visit visit) {
  amqp_connection_state_t c = conn.state();
  for (int i = 0; i < kMaxScan; ++i) {
    amqp_rpc_reply_t reply = amqp_basic_get(c, 1, Bytes(dlq), 0);
    THUMBPIPE_RETURN_IF_ERROR(conn.Check(reply, "basic.get " + dlq));
    if (reply.reply.id != AMQP_BASIC_GET_OK_METHOD) break;
    const uint64_t tag = static_cast<const amqp_basic_get_ok_t*>(reply.reply.decoded)->delivery_tag;
    amqp_message_t message;
    THUMBPIPE_RETURN_IF_ERROR(conn.Check(amqp_read_message(c, 1, &message, 0), "reading a dead message"));
    Taken taken{tag, DecodeAmqpMessage(message.properties, message.body, clock.Now())};
    amqp_destroy_message(&message);
    if (!visit(taken)) break;
  }
  amqp_maybe_release_buffers(c);
  return Status::Ok();
}

Result<std::vector<DeadMessage>> AmqpDeadLetters::List(int limit, std::string_view after_id) {
  if (limit < 1 || limit > kMaxListLimit) return Status::InvalidArgument("list limit must be 1-1000");
  AmqpQueue& q = queue_;
  std::vector<DeadMessage> page;
  std::lock_guard lock(q.publisher_.mu);
  THUMBPIPE_RETURN_IF_ERROR(q.publisher_.Ensure());
  bool past = after_id.empty();
  uint64_t last_tag = 0;
  Status s = ScanDlq(q.publisher_, q.options_.endpoint.dlq(), q.clock_, [&](Taken& t) {
    last_tag = t.tag;
    AmqpWireMessage& m = t.in.message;
    if (!past) {
      past = m.id == after_id;
      return true;
    }
    DeadMessage d;
    d.id = m.id;
    d.body = std::move(m.body);
    d.attributes = std::move(m.attributes);
    d.sent_at = m.sent_at;
    if (m.dead_reason) {
      d.reason = *m.dead_reason;
      d.receive_count = m.receive_count;
      d.dead_at = m.dead_at;
    } else {
      // Dead-lettered by the broker (its delivery limit, or a reject), not by us.
      d.reason = BrokerReason(t.in.broker_dead_reason);
      d.receive_count = t.in.broker_dead_reason == "delivery_limit" ? q.options_.max_receive_count : 0;
      d.dead_at = t.in.broker_dead_at.value_or(q.clock_.Now());
    }
    page.push_back(std::move(d));
    return static_cast<int>(page.size()) < limit;
  });
  if (s.ok() && last_tag > 0) {
    s = q.publisher_.CheckStatus(amqp_basic_nack(q.publisher_.state(), 1, last_tag, /*multiple=*/1, /*requeue=*/1),
                                 "basic.nack");
  }
  THUMBPIPE_RETURN_IF_ERROR(s);
  return page;
}

Result<int64_t> AmqpDeadLetters::Redrive(std::span<const std::string> ids, double per_second) {
  if (per_second < 0) return Status::InvalidArgument("redrive rate must be >= 0");
  AmqpQueue& q = queue_;
  const std::set<std::string, std::less<>> wanted(ids.begin(), ids.end());
  // The taken dlq deliveries can only be settled on the channel that took them, so the
  // publishing connection is held for the whole redrive (sends wait meanwhile, paced ones too).
  std::unique_lock lock(q.publisher_.mu);
  THUMBPIPE_RETURN_IF_ERROR(q.publisher_.Ensure());
  std::vector<Taken> move;
  std::vector<uint64_t> leave;
  Status s = ScanDlq(q.publisher_, q.options_.endpoint.dlq(), q.clock_, [&](Taken& t) {
    if (wanted.empty() || wanted.count(t.in.message.id)) move.push_back(std::move(t));
    else leave.push_back(t.tag);
    return true;
  });
  amqp_connection_state_t c = q.publisher_.state();
  for (uint64_t tag : leave) {
    if (s.ok()) s = q.publisher_.CheckStatus(amqp_basic_nack(c, 1, tag, 0, /*requeue=*/1), "basic.nack");
  }
  int64_t moved = 0;
  for (Taken& t : move) {
    if (!s.ok()) break;
    if (moved > 0 && per_second > 0) q.clock_.SleepFor(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(1.0 / per_second)));
    AmqpWireMessage m = std::move(t.in.message);
    m.dead_reason.reset();  // back as new: the queue's delivery count starts again at 0
    s = q.PublishOnce("", q.options_.endpoint.queue, std::span(&m, 1));
    if (s.ok()) s = q.publisher_.CheckStatus(amqp_basic_ack(c, 1, t.tag, 0), "basic.ack");
    if (s.ok()) ++moved;
  }
  // Whatever was not moved goes back (if the connection broke, the broker does that itself).
  if (q.publisher_.connected()) {
    for (size_t i = static_cast<size_t>(moved); i < move.size(); ++i) {
      (void)q.publisher_.CheckStatus(amqp_basic_nack(c, 1, move[i].tag, 0, 1), "basic.nack");
    }
  }
  THUMBPIPE_RETURN_IF_ERROR(s);
  return moved;
}

Result<int64_t> AmqpDeadLetters::Purge() {
  AmqpQueue& q = queue_;
  std::lock_guard lock(q.publisher_.mu);
  THUMBPIPE_RETURN_IF_ERROR(q.publisher_.Ensure());
  amqp_queue_purge_ok_t* ok = amqp_queue_purge(q.publisher_.state(), 1, Bytes(q.options_.endpoint.dlq()));
  THUMBPIPE_RETURN_IF_ERROR(q.publisher_.CheckRpc("queue.purge " + q.options_.endpoint.dlq()));
  return static_cast<int64_t>(ok->message_count);
}

}  // namespace thumbpipe::queue
