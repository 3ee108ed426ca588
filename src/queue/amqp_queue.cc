#include "queue/amqp_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <set>

#include "common/logging.h"
#include "queue/amqp_queue_impl.h"
#include "queue/message_rules.h"

namespace thumbpipe::queue {
namespace {

amqp_bytes_t Bytes(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

amqp_table_entry_t StringArg(const char* key, const std::string& value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = Bytes(value);
  return e;
}
amqp_table_entry_t LongArg(const char* key, int64_t value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = value;
  return e;
}

Status CheckOptions(const AmqpQueueOptions& o) {
  if (o.max_receive_count < 1 || o.max_receive_count > 1000) {
    return Status::InvalidArgument("queue max_receive_count must be 1-1000");
  }
  if (o.visibility_timeout < Duration{0} || o.visibility_timeout > kMaxVisibility) {
    return Status::InvalidArgument("queue visibility_timeout must be 0-12h");
  }
  if (o.dlq_retention < std::chrono::seconds(60)) {
    return Status::InvalidArgument("queue dlq_retention must be at least 60s");
  }
  if (o.max_message_bytes < 1024) return Status::InvalidArgument("queue max_message_bytes must be at least 1 KiB");
  if (o.clock == nullptr) return Status::InvalidArgument("amqp queue: no clock");
  if (o.prefetch < 0 || o.prefetch > 65535) return Status::InvalidArgument("amqp queue prefetch must be 0-65535");
  return Status::Ok();
}

}  // namespace

AmqpQueue::AmqpQueue(const AmqpQueueOptions& options)
    : options_(options),
      clock_(*options.clock),
      instance_(NewNonce().substr(0, 16)),
      publisher_(options.endpoint, "publisher", /*confirms=*/true),
      consumer_(options.endpoint, "consumer", /*confirms=*/false),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

// The connections close their channels as they go: the broker requeues what was held and
// buffered (amqp_queue.h, "Closing").
AmqpQueue::~AmqpQueue() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Result<std::unique_ptr<Queue>> OpenAmqpQueue(const AmqpQueueOptions& options) {
  THUMBPIPE_RETURN_IF_ERROR(CheckOptions(options));
  auto queue = std::make_unique<AmqpQueue>(options);
  THUMBPIPE_RETURN_IF_ERROR(queue->Declare());
  return std::unique_ptr<Queue>(std::move(queue));
}

Status AmqpQueue::Declare() {
  const AmqpEndpoint& e = options_.endpoint;
  std::lock_guard lock(publisher_.mu);
  THUMBPIPE_RETURN_IF_ERROR(publisher_.Ensure());
  amqp_connection_state_t c = publisher_.state();
  const std::string fanout = "fanout", quorum = "quorum", dlx = e.dlx(), dlq = e.dlq();
  const auto explain = [&](Status s, const std::string& what, const std::string& wanted) {
    if (s.code() != StatusCode::kFailedPrecondition) return s;
    return Status::FailedPrecondition(s.message() + ". thumbpipe wants " + what + " as " + wanted +
                                      "; change the queue settings to match, or delete it so that thumbpipe declares it");
  };

  amqp_exchange_declare(c, 1, Bytes(dlx), Bytes(fanout), 0, /*durable=*/1, 0, 0, amqp_empty_table);
  THUMBPIPE_RETURN_IF_ERROR(explain(publisher_.CheckRpc("exchange.declare " + dlx), "exchange " + dlx, "a durable fanout exchange"));

  const int64_t ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.dlq_retention).count();
  amqp_table_entry_t dlq_args[] = {LongArg("x-message-ttl", ttl_ms)};
  amqp_queue_declare(c, 1, Bytes(dlq), 0, /*durable=*/1, 0, 0, amqp_table_t{1, dlq_args});
  THUMBPIPE_RETURN_IF_ERROR(explain(publisher_.CheckRpc("queue.declare " + dlq), "queue " + dlq,
                                    "a durable classic queue with x-message-ttl=" + std::to_string(ttl_ms) +
                                        " (dlq_retention)"));
  amqp_queue_bind(c, 1, Bytes(dlq), Bytes(dlx), amqp_empty_bytes, amqp_empty_table);
  THUMBPIPE_RETURN_IF_ERROR(publisher_.CheckRpc("queue.bind " + dlq + " to " + dlx));

  const int64_t limit = options_.max_receive_count - 1;
  amqp_table_entry_t args[] = {StringArg("x-queue-type", quorum), LongArg("x-delivery-limit", limit),
                               StringArg("x-dead-letter-exchange", dlx)};
  amqp_queue_declare(c, 1, Bytes(e.queue), 0, /*durable=*/1, 0, 0, amqp_table_t{3, args});
  THUMBPIPE_RETURN_IF_ERROR(explain(publisher_.CheckRpc("queue.declare " + e.queue), "queue " + e.queue,
                                    "a durable quorum queue with x-delivery-limit=" + std::to_string(limit) +
                                        " (max_receive_count - 1) and x-dead-letter-exchange=" + dlx));
  if (e.exchange.empty()) return Status::Ok();
  // The S3 service's events arrive through its exchange (amqp_url.h): declared here so that it
  // exists before the service checks it (RGW verifies its exchange when it connects).
  const std::string direct = "direct", key = e.binding_key();
  amqp_exchange_declare(c, 1, Bytes(e.exchange), Bytes(direct), 0, /*durable=*/1, 0, 0, amqp_empty_table);
  THUMBPIPE_RETURN_IF_ERROR(explain(publisher_.CheckRpc("exchange.declare " + e.exchange), "exchange " + e.exchange,
                                    "a durable direct exchange"));
  amqp_queue_bind(c, 1, Bytes(e.queue), Bytes(e.exchange), Bytes(key), amqp_empty_table);
  return publisher_.CheckRpc("queue.bind " + e.queue + " to " + e.exchange + " with " + key);
}

// ---- Publishing -------------------------------------------------------------------------

Status AmqpQueue::Publish(const std::string& exchange, const std::string& routing_key,
                          std::span<const AmqpWireMessage> messages) {
  std::lock_guard lock(publisher_.mu);
  Status s;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // A connection that died since the last call (a broker restart) is reopened here; a
    // publish that failed on a dying connection is sent again once (at-least-once).
    s = publisher_.Ensure();
    if (s.ok()) s = PublishOnce(exchange, routing_key, messages);
    if (s.ok() || publisher_.connected()) return s;
  }
  return s;
}

Status AmqpQueue::PublishOnce(const std::string& exchange, const std::string& routing_key,
                              std::span<const AmqpWireMessage> messages) {
  amqp_connection_state_t c = publisher_.state();
  const uint64_t first_seq = publisher_.next_publish_seq;
  for (const AmqpWireMessage& m : messages) {
    AmqpOutgoing out(m);
    const int rc = amqp_basic_publish(c, 1, Bytes(exchange), Bytes(routing_key), /*mandatory=*/1, 0,
                                      out.properties(), out.body());
    THUMBPIPE_RETURN_IF_ERROR(publisher_.CheckStatus(rc, "basic.publish"));
    ++publisher_.next_publish_seq;
  }
  return WaitConfirms(first_seq, publisher_.next_publish_seq - 1);
}

Status AmqpQueue::WaitConfirms(uint64_t first_seq, uint64_t last_seq) {
  amqp_connection_state_t c = publisher_.state();
  uint64_t confirmed_through = first_seq - 1;  // `multiple` acks cover all before theirs
  std::set<uint64_t> single;
  bool returned = false;
  std::string refused;
  uint64_t content_left = 0;  // bytes of a returned message still to skip
  const auto done = [&] {
    while (single.count(confirmed_through + 1)) single.erase(++confirmed_through);
    return confirmed_through >= last_seq;
  };
  while (!done() || content_left > 0) {
    amqp_frame_t frame;
    timeval tv{static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(kAmqpRpcTimeout).count()), 0};
    const int rc = amqp_simple_wait_frame_noblock(c, &frame, &tv);
    if (rc != AMQP_STATUS_OK) return publisher_.CheckStatus(rc, "waiting for publisher confirms");
    if (frame.frame_type == AMQP_FRAME_HEADER) {
      content_left = frame.payload.properties.body_size;
      continue;
    }
    if (frame.frame_type == AMQP_FRAME_BODY) {
      content_left -= std::min<uint64_t>(content_left, frame.payload.body_fragment.len);
      continue;
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    const amqp_method_t& m = frame.payload.method;
    if (m.id == AMQP_BASIC_ACK_METHOD || m.id == AMQP_BASIC_NACK_METHOD) {
      uint64_t tag;
      bool multiple;
      if (m.id == AMQP_BASIC_ACK_METHOD) {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(m.decoded);
        tag = ack->delivery_tag;
        multiple = ack->multiple;
      } else {
        const auto* nack = static_cast<const amqp_basic_nack_t*>(m.decoded);
        tag = nack->delivery_tag;
        multiple = nack->multiple;
        refused = "the broker refused the message (basic.nack)";
      }
      if (multiple) confirmed_through = std::max(confirmed_through, tag);
      else single.insert(tag);
    } else if (m.id == AMQP_BASIC_RETURN_METHOD) {
      returned = true;  // the body follows; it is skipped above
    } else if (m.id == AMQP_CHANNEL_CLOSE_METHOD || m.id == AMQP_CONNECTION_CLOSE_METHOD) {
      amqp_rpc_reply_t reply{};
      reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
      reply.reply = m;
      return publisher_.Check(reply, "publish");
    }
  }
  amqp_maybe_release_buffers(c);
  if (returned) {
    return Status::NotFound("amqp publish on " + options_.endpoint.Describe() +
                            ": the broker could not route it (has the queue been deleted?)");
  }
  if (!refused.empty()) return Status::Unavailable("amqp publish: " + refused);
  return Status::Ok();
}

Result<std::string> AmqpQueue::Send(std::string_view body, const Attributes& attributes,
                                    std::optional<Duration> delay) {
  SendEntry entry{std::string(body), attributes, delay};
  THUMBPIPE_ASSIGN_OR_RETURN(auto results, SendBatch(std::span<const SendEntry>(&entry, 1)));
  return std::move(results.front());
}

Result<std::vector<Result<std::string>>> AmqpQueue::SendBatch(std::span<const SendEntry> entries) {
  if (entries.empty() || entries.size() > static_cast<size_t>(kMaxBatchEntries)) {
    return Status::InvalidArgument("a batch holds 1-10 messages");
  }
  std::vector<Result<std::string>> results;
  std::vector<AmqpWireMessage> messages;
  std::vector<size_t> index;  // results slot of each message
  const Clock::time_point now = clock_.Now();
  for (const SendEntry& e : entries) {
    Status s = CheckMessage(e.body, e.attributes, e.delay, options_.max_message_bytes);
    if (s.ok() && e.delay && *e.delay > Duration{0}) {
      s = Status::Unsupported("amqp:// queues cannot delay a message (AMQP has no per-message delay)");
    }
    if (!s.ok()) {
      results.emplace_back(std::move(s));
      continue;
    }
    AmqpWireMessage m;
    m.id = NewMessageId();
    m.body = e.body;
    m.attributes = e.attributes;
    m.sent_at = now;
    index.push_back(results.size());
    results.emplace_back(m.id);
    messages.push_back(std::move(m));
  }
  if (messages.empty()) return results;
  Status s = Publish("", options_.endpoint.queue, messages);
  if (!s.ok()) {
    for (size_t i : index) results[i] = s;
    return results;
  }
  std::lock_guard lock(counters_mu_);
  counters_.sent += static_cast<int64_t>(messages.size());
  return results;
}

// ---- Stats and purge --------------------------------------------------------------------

Result<int64_t> AmqpQueue::ReadyCount(const std::string& name) {
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(publisher_.state(), 1, Bytes(name), /*passive=*/1, 0, 0, 0,
                                                   amqp_empty_table);
  THUMBPIPE_RETURN_IF_ERROR(publisher_.CheckRpc("queue.declare (passive) " + name));
  return static_cast<int64_t>(ok->message_count);
}

Result<QueueStats> AmqpQueue::Stats() {
  QueueStats stats;
  int64_t buffered = 0;  // pushed to this object, not received by anyone yet: visible
  {
    std::lock_guard lock(consumer_.mu);
    ExpireLocked();
    stats.in_flight = static_cast<int64_t>(held_.size());
    buffered = static_cast<int64_t>(buffer_.size());
  }
  {
    std::lock_guard lock(publisher_.mu);
    Status s;
    for (int attempt = 0; attempt < 2; ++attempt) {
      s = publisher_.Ensure();
      if (s.ok()) {
        Result<int64_t> ready = ReadyCount(options_.endpoint.queue);
        Result<int64_t> dead = ready.ok() ? ReadyCount(options_.endpoint.dlq()) : ready;
        if (ready.ok() && dead.ok()) {
          stats.visible = *ready + buffered;
          stats.dead = *dead;
          break;
        }
        s = ready.ok() ? dead.status() : ready.status();
      }
      if (publisher_.connected()) break;
    }
    THUMBPIPE_RETURN_IF_ERROR(s);
  }
  std::lock_guard lock(counters_mu_);
  stats.sent = counters_.sent;
  stats.received = counters_.received;
  stats.removed = counters_.removed;
  stats.dead_lettered = counters_.dead_lettered;
  return stats;
}

Result<int64_t> AmqpQueue::Purge() {
  int64_t purged = 0;
  {
    // What this object holds or buffers is acked away; what other processes hold or buffer
    // AMQP cannot reach.
    std::lock_guard lock(consumer_.mu);
    const auto ack = [&](const AmqpHeld& h) {
      Settle(h);
      if (!consumer_.connected()) return;
      Status s = consumer_.CheckStatus(amqp_basic_ack(consumer_.state(), h.channel, h.tag, 0), "basic.ack");
      if (s.ok()) ++purged;
    };
    for (auto it = held_.begin(); it != held_.end();) {
      ack(it->second);
      Finish(it->first, Finished::kRemoved);
      it = held_.erase(it);
    }
    for (const AmqpHeld& h : buffer_) ack(h);
    buffer_.clear();
  }
  std::lock_guard lock(publisher_.mu);
  THUMBPIPE_RETURN_IF_ERROR(publisher_.Ensure());
  amqp_queue_purge_ok_t* ok = amqp_queue_purge(publisher_.state(), 1, Bytes(options_.endpoint.queue));
  THUMBPIPE_RETURN_IF_ERROR(publisher_.CheckRpc("queue.purge " + options_.endpoint.queue));
  return purged + static_cast<int64_t>(ok->message_count);
}

}  // namespace thumbpipe::queue
