// Receive and everything that takes a receipt. All of it runs under consumer_.mu, the lock of
// the consuming connection; only Receive reads that connection's socket (acks and nacks are
// writes), so the long poll can wait in poll(2) without the lock.
#include <poll.h>

#include <charconv>

#include "common/logging.h"
#include "queue/amqp_queue_impl.h"
#include "queue/message_rules.h"

namespace thumbpipe::queue {
namespace {

constexpr size_t kFinishedMemory = 4096;  // recent receipts remembered for precise errors
constexpr size_t kMaxReasonBytes = 8192;
const std::string kTooManyReceives = "max_receive_count exceeded";

amqp_bytes_t Bytes(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

// An ack or nack that could not be written: the connection is gone, and with it the delivery
// (the broker requeues it), so the receipt is stale rather than the broker unavailable.
Status Settled(Status written) {
  if (written.ok()) return written;
  return Status::FailedPrecondition("stale receipt: the connection to the broker was lost, which requeues the message (" +
                                    written.message() + ")");
}

timeval ToTimeval(Duration d) {
  const auto us = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

}  // namespace

std::string AmqpQueue::Receipt(uint64_t tag) const {
  return instance_ + "." + std::to_string(held_generation_) + "." + std::to_string(tag);
}

void AmqpQueue::Finish(const std::string& receipt, Finished how) {
  finished_[receipt] = how;
  finished_order_.push_back(receipt);
  while (finished_order_.size() > kFinishedMemory) {
    finished_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
}

Result<std::map<std::string, AmqpHeld>::iterator> AmqpQueue::FindHeld(std::string_view receipt) {
  // instance.generation.tag
  const size_t dot1 = receipt.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : receipt.find('.', dot1 + 1);
  uint64_t generation = 0, tag = 0;
  if (dot2 == std::string_view::npos ||
      std::from_chars(receipt.data() + dot1 + 1, receipt.data() + dot2, generation).ec != std::errc() ||
      std::from_chars(receipt.data() + dot2 + 1, receipt.data() + receipt.size(), tag).ec != std::errc()) {
    return Status::InvalidArgument("malformed receipt");
  }
  if (receipt.substr(0, dot1) != instance_) {
    return Status::FailedPrecondition(
        "receipt from another queue connection: an AMQP delivery can only be settled on the channel that received it");
  }
  if (auto it = held_.find(std::string(receipt)); it != held_.end()) {
    if (consumer_.connected()) return it;
  }
  if (generation != held_generation_ || !consumer_.connected()) {
    return Status::FailedPrecondition("stale receipt: its connection to the broker closed, which requeued the message");
  }
  if (auto it = finished_.find(receipt); it != finished_.end() && it->second == Finished::kRemoved) {
    return Status::NotFound("message already removed or dead-lettered");
  }
  if (auto it = finished_.find(receipt); it != finished_.end()) {
    return Status::FailedPrecondition("stale receipt: the message was released and may have been received again");
  }
  return Status::NotFound("no message holds this receipt");
}

Status AmqpQueue::EnsureConsumer() {
  if (!consumer_.connected()) consumer_.Close();  // only Receive calls this: it alone reads
  THUMBPIPE_RETURN_IF_ERROR(consumer_.Ensure());
  if (held_generation_ != consumer_.generation()) {
    // A new connection: the broker requeued every delivery of the old one.
    for (auto& [receipt, held] : held_) Finish(receipt, Finished::kLost);
    held_.clear();
    held_generation_ = consumer_.generation();
  }
  return Status::Ok();
}

AmqpHeld AmqpQueue::MakeHeld(uint64_t tag, bool redelivered, const amqp_basic_properties_t& properties,
                             amqp_bytes_t body) {
  const Clock::time_point now = clock_.Now();
  AmqpIncoming in = DecodeAmqpMessage(properties, body, now);
  AmqpHeld h;
  h.tag = tag;
  h.message = std::move(in.message);
  h.message.dead_reason.reset();
  // Quorum queues count failed deliveries in x-delivery-count (0 on the first); other queue
  // types only say "redelivered".
  h.receive_count = in.delivery_count >= 0 ? in.delivery_count + 1 : (redelivered ? 2 : 1);
  h.received_at = now;
  return h;
}

Status AmqpQueue::GetOne(std::vector<AmqpHeld>& got, int64_t& ready_after) {
  amqp_connection_state_t c = consumer_.state();
  const std::string& name = options_.endpoint.queue;
  ready_after = 0;
  amqp_rpc_reply_t reply = amqp_basic_get(c, 1, Bytes(name), /*no_ack=*/0);
  THUMBPIPE_RETURN_IF_ERROR(consumer_.Check(reply, "basic.get " + name));
  if (reply.reply.id != AMQP_BASIC_GET_OK_METHOD) return Status::Ok();  // get-empty
  const auto* ok = static_cast<const amqp_basic_get_ok_t*>(reply.reply.decoded);
  const uint64_t tag = ok->delivery_tag;
  const bool redelivered = ok->redelivered;
  ready_after = ok->message_count;
  amqp_message_t message;
  THUMBPIPE_RETURN_IF_ERROR(consumer_.Check(amqp_read_message(c, 1, &message, 0), "reading a message"));
  got.push_back(MakeHeld(tag, redelivered, message.properties, message.body));
  amqp_destroy_message(&message);
  return Status::Ok();
}

Status AmqpQueue::ReadDelivery(Duration timeout, std::vector<AmqpHeld>& got, bool& cancelled) {
  amqp_connection_state_t c = consumer_.state();
  amqp_envelope_t envelope;
  timeval tv = ToTimeval(timeout);
  amqp_rpc_reply_t reply = amqp_consume_message(c, &envelope, &tv, 0);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    got.push_back(MakeHeld(envelope.delivery_tag, envelope.redelivered, envelope.message.properties,
                           envelope.message.body));
    amqp_destroy_envelope(&envelope);
    return Status::Ok();
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    // Not a delivery: read the frame and see what the broker says.
    amqp_frame_t frame;
    const int rc = amqp_simple_wait_frame_noblock(c, &frame, &tv);
    if (rc != AMQP_STATUS_OK) return consumer_.CheckStatus(rc, "reading a frame");
    if (frame.frame_type != AMQP_FRAME_METHOD) return Status::Ok();
    if (frame.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
      cancelled = true;  // the broker cancelled the consumer (the queue was deleted)
      return Status::Ok();
    }
    if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
        frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
      amqp_rpc_reply_t closed{};
      closed.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
      closed.reply = frame.payload.method;
      return consumer_.Check(closed, "consume");
    }
    return Status::Ok();
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) {
    return Status::Ok();
  }
  return consumer_.Check(reply, "consume");
}

Status AmqpQueue::LongPoll(int max, std::chrono::steady_clock::time_point deadline, std::unique_lock<std::mutex>& lock,
                           std::vector<AmqpHeld>& got) {
  amqp_connection_state_t c = consumer_.state();
  amqp_basic_qos(c, 1, 0, static_cast<uint16_t>(max), 0);
  THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckRpc("basic.qos"));
  amqp_basic_consume_ok_t* ok = amqp_basic_consume(c, 1, Bytes(options_.endpoint.queue), amqp_empty_bytes, 0,
                                                   /*no_ack=*/0, 0, amqp_empty_table);
  THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckRpc("basic.consume"));
  const std::string tag(static_cast<const char*>(ok->consumer_tag.bytes), ok->consumer_tag.len);
  const size_t before = got.size();
  bool cancelled = false;
  bool readable = false;
  while (!cancelled) {
    const bool buffered = amqp_frames_enqueued(c) || amqp_data_in_buffer(c);
    if (buffered || readable) {
      // Data has arrived: the rest of a delivery follows at once.
      readable = false;
      THUMBPIPE_RETURN_IF_ERROR(ReadDelivery(std::chrono::seconds(2), got, cancelled));
      continue;
    }
    if (got.size() > before) break;
    ExpireLocked();
    const auto real_now = std::chrono::steady_clock::now();
    if (real_now >= deadline) break;
    Duration slice = std::chrono::duration_cast<Duration>(deadline - real_now);
    const Clock::time_point now = clock_.Now();
    for (const auto& [receipt, held] : held_) {
      slice = std::min(slice, std::chrono::duration_cast<Duration>(held.deadline - now));
    }
    slice = std::max<Duration>(slice, std::chrono::milliseconds(1));
    // Wait without the lock, so that other threads can ack and nack meanwhile (writes only).
    const int fd = consumer_.fd();
    lock.unlock();
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(slice).count()) + 1);
    lock.lock();
    if (!consumer_.connected()) return Status::Unavailable("amqp consumer connection lost: " + consumer_.last_error());
    readable = n > 0;
  }
  if (!cancelled) {
    amqp_basic_cancel(c, 1, Bytes(tag));
    THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckRpc("basic.cancel"));
    // Deliveries sent before cancel-ok were queued by rabbitmq-c while it waited for it.
    while (amqp_frames_enqueued(c)) THUMBPIPE_RETURN_IF_ERROR(ReadDelivery(std::chrono::seconds(2), got, cancelled));
  }
  amqp_maybe_release_buffers(c);
  return Status::Ok();
}

Result<std::vector<Message>> AmqpQueue::Receive(int max, Duration wait, std::optional<Duration> visibility) {
  if (max < 1 || max > kMaxReceiveMessages) return Status::InvalidArgument("receive max must be 1-10");
  if (wait < Duration{0} || wait > kMaxWait) return Status::InvalidArgument("receive wait must be 0-20s");
  const Duration hide = visibility.value_or(options_.visibility_timeout);
  if (hide < Duration{0} || hide > kMaxVisibility) return Status::InvalidArgument("visibility must be 0-12h");
  const auto deadline = std::chrono::steady_clock::now() + wait;

  std::lock_guard receive_lock(receive_mu_);
  std::unique_lock lock(consumer_.mu);
  THUMBPIPE_RETURN_IF_ERROR(EnsureConsumer());
  ExpireLocked();
  // One basic.get says whether anything is ready, and how much more. The rest of a batch comes
  // through a consumer with that prefetch: on a quorum queue every basic.get is a Raft command
  // of its own, while a consumer costs two (consume, cancel) for the whole batch. Ready
  // messages come at once; the short bound only matters when another worker took them first.
  std::vector<AmqpHeld> got;
  int64_t ready_after = 0;
  Status s = GetOne(got, ready_after);
  if (s.ok() && !got.empty() && max > 1 && ready_after > 0) {
    const int more = static_cast<int>(std::min<int64_t>(max - 1, ready_after));
    s = LongPoll(more, std::chrono::steady_clock::now() + std::chrono::milliseconds(250), lock, got);
  } else if (s.ok() && got.empty() && wait > Duration{0}) {
    s = LongPoll(max, deadline, lock, got);
  }
  // Whatever arrived is held even if the poll then failed: the broker counts it delivered.
  std::vector<Message> out;
  const Clock::time_point now = clock_.Now();
  int64_t received = 0;
  for (AmqpHeld& h : got) {
    const std::string receipt = Receipt(h.tag);
    h.deadline = now + hide;
    auto [it, inserted] = held_.insert_or_assign(receipt, std::move(h));
    if (it->second.receive_count > options_.max_receive_count) {
      // Counted past the limit without our nack (the queue's delivery limit is higher than
      // ours, or was changed): SQS never delivers it; neither do we.
      (void)DeadLetterLocked(receipt, it->second, kTooManyReceives);
      continue;
    }
    ++received;
    const AmqpHeld& held = it->second;
    out.push_back(Message{held.message.id, receipt, held.message.body, held.message.attributes,
                          held.receive_count, held.message.sent_at});
  }
  {
    std::lock_guard counters_lock(counters_mu_);
    counters_.received += received;
  }
  if (!s.ok() && out.empty()) return s;
  if (!s.ok()) LogWarn("amqp.receive", {{"error", s.ToString()}, {"returned", out.size()}});
  return out;
}

void AmqpQueue::ExpireLocked() {
  if (held_.empty()) return;
  const Clock::time_point now = clock_.Now();
  std::vector<std::string> due;
  for (const auto& [receipt, held] : held_) {
    if (held.deadline <= now) due.push_back(receipt);
  }
  for (const std::string& receipt : due) {
    auto it = held_.find(receipt);
    const std::string id = it->second.message.id;
    Status s = ReleaseLocked(receipt, it->second);
    if (!s.ok()) LogWarn("amqp.visibility", {{"message_id", id}, {"error", s.ToString()}});
  }
}

Status AmqpQueue::ReleaseLocked(std::string receipt, AmqpHeld& held) {
  if (held.receive_count >= options_.max_receive_count) {
    // The next receive would be one too many: dead-letter it now, as SQS would then.
    return DeadLetterLocked(receipt, held, kTooManyReceives);
  }
  const uint64_t tag = held.tag;
  held_.erase(receipt);
  Finish(receipt, Finished::kReleased);
  if (!consumer_.connected()) return Status::Ok();  // the broker requeues it anyway
  return Settled(consumer_.CheckStatus(amqp_basic_nack(consumer_.state(), 1, tag, 0, /*requeue=*/1), "basic.nack"));
}

Status AmqpQueue::DeadLetterLocked(std::string receipt, AmqpHeld& held, std::string_view reason) {
  AmqpWireMessage dead = held.message;
  dead.dead_reason = std::string(reason.substr(0, kMaxReasonBytes));
  dead.dead_at = clock_.Now();
  dead.receive_count = held.receive_count;
  const uint64_t tag = held.tag;
  const std::string id = held.message.id;  // `held` dies with its entry below
  Status published = Publish(options_.endpoint.dlx(), options_.endpoint.queue, std::span(&dead, 1));
  if (!published.ok() && !publisher_.connected()) {
    return published;  // still held: it comes back when its visibility ends
  }
  held_.erase(receipt);
  Finish(receipt, Finished::kRemoved);
  if (!consumer_.connected()) {
    return Status::FailedPrecondition("stale receipt: its connection to the broker closed, which requeued the message");
  }
  if (published.ok()) {
    THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckStatus(amqp_basic_ack(consumer_.state(), 1, tag, 0), "basic.ack"));
  } else {
    // The broker refused our copy (say the dlx is gone): let its own dead-lettering take it,
    // without our reason (x-death says "rejected").
    LogWarn("amqp.dead_letter", {{"message_id", id}, {"reason", std::string(reason)},
                                 {"error", published.ToString()}, {"detail", "rejected without requeue instead"}});
    THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckStatus(amqp_basic_reject(consumer_.state(), 1, tag, /*requeue=*/0),
                                                    "basic.reject"));
  }
  std::lock_guard counters_lock(counters_mu_);
  ++counters_.dead_lettered;
  return Status::Ok();
}

Status AmqpQueue::Remove(std::string_view receipt) {
  std::lock_guard lock(consumer_.mu);
  THUMBPIPE_ASSIGN_OR_RETURN(auto it, FindHeld(receipt));
  const uint64_t tag = it->second.tag;
  Finish(it->first, Finished::kRemoved);
  held_.erase(it);
  THUMBPIPE_RETURN_IF_ERROR(Settled(consumer_.CheckStatus(amqp_basic_ack(consumer_.state(), 1, tag, 0), "basic.ack")));
  std::lock_guard counters_lock(counters_mu_);
  ++counters_.removed;
  return Status::Ok();
}

Result<std::vector<Status>> AmqpQueue::RemoveBatch(std::span<const std::string> receipts) {
  if (receipts.empty() || receipts.size() > static_cast<size_t>(kMaxBatchEntries)) {
    return Status::InvalidArgument("a batch holds 1-10 receipts");
  }
  std::vector<Status> results;
  for (const std::string& r : receipts) results.push_back(Remove(r));
  return results;
}

Status AmqpQueue::ChangeVisibility(std::string_view receipt, Duration timeout) {
  if (timeout < Duration{0} || timeout > kMaxVisibility) {
    return Status::InvalidArgument("visibility timeout must be 0-12h");
  }
  std::lock_guard lock(consumer_.mu);
  THUMBPIPE_ASSIGN_OR_RETURN(auto it, FindHeld(receipt));
  const Clock::time_point now = clock_.Now();
  if (now + timeout - it->second.received_at > kMaxVisibility) {
    return Status::InvalidArgument("visibility would end more than 12h after the receive");
  }
  if (timeout == Duration{0}) return ReleaseLocked(it->first, it->second);
  it->second.deadline = now + timeout;
  return Status::Ok();
}

Status AmqpQueue::DeadLetter(std::string_view receipt, std::string_view reason) {
  std::lock_guard lock(consumer_.mu);
  THUMBPIPE_ASSIGN_OR_RETURN(auto it, FindHeld(receipt));
  const std::string key = it->first;
  return DeadLetterLocked(key, it->second, reason);
}

}  // namespace thumbpipe::queue
