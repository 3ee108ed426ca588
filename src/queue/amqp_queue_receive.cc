// Receive and everything that takes a receipt. All of it runs under consumer_.mu, the lock of
// the consuming connection; only Receive reads that connection's socket (acks and nacks are
// writes), so the long poll can wait in poll(2) without the lock. Channel 1 carries the
// standing consumer, channel 2 basic.get and temporary consumers (amqp_queue.h).
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <charconv>

#include "common/logging.h"
#include "queue/amqp_queue_impl.h"
#include "queue/message_rules.h"

namespace thumbpipe::queue {
namespace {

constexpr size_t kFinishedMemory = 4096;  // recent receipts remembered for precise errors
constexpr size_t kMaxReasonBytes = 8192;
const std::string kTooManyReceives = "max_receive_count exceeded";
constexpr uint16_t kStandingChannel = 1;  // opened by AmqpConnection
constexpr uint16_t kGetChannel = 2;       // opened by EnsureConsumer
// How long a long poll without consumer credit waits for an ack to free some (amqp_queue.h).
constexpr Duration kCreditGrace = std::chrono::milliseconds(100);

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

// instance.generation.serial: a new one at every hand-out (delivery tags are per channel).
std::string AmqpQueue::NextReceipt() {
  return instance_ + "." + std::to_string(held_generation_) + "." + std::to_string(++receipts_);
}

void AmqpQueue::Settle(const AmqpHeld& held) {
  if (held.consumer != 0 && held.consumer == consumer_serial_) --consumer_unacked_;
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
    // A new connection: the broker requeued every delivery of the old one, held or buffered,
    // and its consumer is gone.
    for (auto& [receipt, held] : held_) Finish(receipt, Finished::kLost);
    held_.clear();
    buffer_.clear();
    consumer_tag_.clear();
    ++consumer_serial_;
    consumer_unacked_ = 0;
    amqp_channel_open(consumer_.state(), kGetChannel);
    THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckRpc("channel.open"));
    held_generation_ = consumer_.generation();
  }
  return Status::Ok();
}

AmqpHeld AmqpQueue::MakeHeld(uint16_t channel, uint64_t tag, bool redelivered, const amqp_basic_properties_t& properties,
                             amqp_bytes_t body) {
  AmqpIncoming in = DecodeAmqpMessage(properties, body, clock_.Now());
  AmqpHeld h;
  h.channel = channel;
  h.tag = tag;
  h.message = std::move(in.message);
  h.message.dead_reason.reset();
  // Quorum queues count failed deliveries in x-delivery-count (0 on the first); other queue
  // types only say "redelivered".
  h.receive_count = in.delivery_count >= 0 ? in.delivery_count + 1 : (redelivered ? 2 : 1);
  return h;
}

Status AmqpQueue::GetOne(std::vector<AmqpHeld>& got, int64_t& ready_after) {
  amqp_connection_state_t c = consumer_.state();
  const std::string& name = options_.endpoint.queue;
  ready_after = 0;
  amqp_rpc_reply_t reply = amqp_basic_get(c, kGetChannel, Bytes(name), /*no_ack=*/0);
  THUMBPIPE_RETURN_IF_ERROR(consumer_.Check(reply, "basic.get " + name));
  if (reply.reply.id != AMQP_BASIC_GET_OK_METHOD) return Status::Ok();  // get-empty
  const auto* ok = static_cast<const amqp_basic_get_ok_t*>(reply.reply.decoded);
  const uint64_t tag = ok->delivery_tag;
  const bool redelivered = ok->redelivered;
  ready_after = ok->message_count;
  amqp_message_t message;
  THUMBPIPE_RETURN_IF_ERROR(consumer_.Check(amqp_read_message(c, kGetChannel, &message, 0), "reading a message"));
  got.push_back(MakeHeld(kGetChannel, tag, redelivered, message.properties, message.body));
  amqp_destroy_message(&message);
  return Status::Ok();
}

Status AmqpQueue::ReadDelivery(Duration timeout, std::vector<AmqpHeld>& got, bool& cancelled) {
  amqp_connection_state_t c = consumer_.state();
  amqp_envelope_t envelope;
  timeval tv = ToTimeval(timeout);
  amqp_rpc_reply_t reply = amqp_consume_message(c, &envelope, &tv, 0);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    AmqpHeld h = MakeHeld(envelope.channel, envelope.delivery_tag, envelope.redelivered, envelope.message.properties,
                          envelope.message.body);
    if (envelope.channel == kStandingChannel) {
      // The standing consumer's (or, just after a cancel, its predecessor's: still ours to
      // hand out, but no longer counted against the new one's prefetch).
      const std::string_view tag(static_cast<const char*>(envelope.consumer_tag.bytes), envelope.consumer_tag.len);
      if (!consumer_tag_.empty() && tag == consumer_tag_) {
        h.consumer = consumer_serial_;
        ++consumer_unacked_;
      }
      buffer_.push_back(std::move(h));
    } else {
      got.push_back(std::move(h));
    }
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
      // The broker cancelled a consumer (the queue was deleted).
      if (frame.channel == kStandingChannel) consumer_tag_.clear();
      else cancelled = true;
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

Status AmqpQueue::Drain(std::vector<AmqpHeld>& got) {
  amqp_connection_state_t c = consumer_.state();
  bool cancelled = false;
  while (true) {
    bool ready = amqp_frames_enqueued(c) || amqp_data_in_buffer(c);
    if (!ready) {
      pollfd p{consumer_.fd(), POLLIN, 0};
      ready = ::poll(&p, 1, 0) > 0;
    }
    if (!ready) return Status::Ok();
    // Data has arrived: the rest of a delivery follows at once.
    THUMBPIPE_RETURN_IF_ERROR(ReadDelivery(std::chrono::seconds(2), got, cancelled));
  }
}

Status AmqpQueue::EnsureStanding(int max, int& arriving) {
  arriving = 0;
  if (!consumer_tag_.empty()) return Status::Ok();
  amqp_connection_state_t c = consumer_.state();
  const int prefetch = options_.prefetch > 0 ? options_.prefetch : max;
  // What is ready now comes at once, one frame after another: the first receive waits for all
  // of it (up to its max), as a basic.get + consumer did, rather than return the first alone.
  amqp_queue_declare_ok_t* declared = amqp_queue_declare(c, kStandingChannel, Bytes(options_.endpoint.queue),
                                                         /*passive=*/1, 0, 0, 0, amqp_empty_table);
  THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckRpc("queue.declare (passive) " + options_.endpoint.queue));
  arriving = static_cast<int>(std::min<uint64_t>(declared->message_count, static_cast<uint64_t>(prefetch)));
  amqp_basic_qos(c, kStandingChannel, 0, static_cast<uint16_t>(prefetch), 0);
  THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckRpc("basic.qos"));
  amqp_basic_consume_ok_t* ok = amqp_basic_consume(c, kStandingChannel, Bytes(options_.endpoint.queue),
                                                   amqp_empty_bytes, 0, /*no_ack=*/0, 0, amqp_empty_table);
  THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckRpc("basic.consume"));
  consumer_tag_.assign(static_cast<const char*>(ok->consumer_tag.bytes), ok->consumer_tag.len);
  ++consumer_serial_;
  consumer_unacked_ = 0;
  consumer_prefetch_ = prefetch;
  return Status::Ok();
}

Status AmqpQueue::StopStanding() {
  if (consumer_tag_.empty() && buffer_.empty()) return Status::Ok();
  amqp_connection_state_t c = consumer_.state();
  if (!consumer_tag_.empty()) {
    const std::string tag = std::move(consumer_tag_);
    consumer_tag_.clear();
    ++consumer_serial_;
    consumer_unacked_ = 0;
    amqp_basic_cancel(c, kStandingChannel, Bytes(tag));
    THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckRpc("basic.cancel"));
    // Deliveries sent before cancel-ok were queued by rabbitmq-c while it waited for it.
    std::vector<AmqpHeld> none;
    bool cancelled = false;
    while (amqp_frames_enqueued(c)) THUMBPIPE_RETURN_IF_ERROR(ReadDelivery(std::chrono::seconds(2), none, cancelled));
    amqp_maybe_release_buffers(c);
  }
  // Nobody received these: back to the queue, for other consumers.
  while (!buffer_.empty()) {
    const AmqpHeld h = std::move(buffer_.front());
    buffer_.pop_front();
    THUMBPIPE_RETURN_IF_ERROR(
        consumer_.CheckStatus(amqp_basic_nack(c, h.channel, h.tag, 0, /*requeue=*/1), "basic.nack"));
  }
  return Status::Ok();
}

Status AmqpQueue::PollOnce(std::chrono::steady_clock::time_point deadline, std::unique_lock<std::mutex>& lock,
                           bool& readable) {
  const auto real_now = std::chrono::steady_clock::now();
  Duration slice = std::chrono::duration_cast<Duration>(deadline - real_now);
  const Clock::time_point now = clock_.Now();
  for (const auto& [receipt, held] : held_) {
    slice = std::min(slice, std::chrono::duration_cast<Duration>(held.deadline - now));
  }
  slice = std::max<Duration>(slice, std::chrono::milliseconds(1));
  // Wait without the lock, so that other threads can ack and nack meanwhile (writes only).
  pollfd p[2] = {{consumer_.fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  lock.unlock();
  ::poll(p, 2, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(slice).count()) + 1);
  lock.lock();
  if (p[1].revents != 0) {
    uint64_t n;
    (void)!::read(wake_fd_, &n, sizeof n);
  }
  if (!consumer_.connected()) return Status::Unavailable("amqp consumer connection lost: " + consumer_.last_error());
  readable = p[0].revents != 0;
  return Status::Ok();
}

Status AmqpQueue::WaitStanding(std::chrono::steady_clock::time_point deadline, size_t want,
                               std::unique_lock<std::mutex>& lock, const std::stop_token& stop,
                               std::vector<AmqpHeld>& got) {
  bool first = true;
  while (true) {
    // Frames that came with the replies of consume (or an earlier call) are already read from
    // the socket: rabbitmq-c queued them, and poll(2) would not see them.
    THUMBPIPE_RETURN_IF_ERROR(Drain(got));
    if (buffer_.size() >= want || !got.empty() || consumer_tag_.empty() || stop.stop_requested()) return Status::Ok();
    if (!buffer_.empty() && first) {
      // The rest of what was ready follows at once; the short bound only matters when another
      // consumer took some of it first.
      first = false;
      deadline = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(250));
    }
    ExpireLocked();
    if (std::chrono::steady_clock::now() >= deadline) return Status::Ok();
    bool readable = false;
    THUMBPIPE_RETURN_IF_ERROR(PollOnce(deadline, lock, readable));
  }
}

void AmqpQueue::HandOut(int max, std::vector<AmqpHeld>& got) {
  while (!buffer_.empty() && static_cast<int>(got.size()) < max) {
    got.push_back(std::move(buffer_.front()));
    buffer_.pop_front();
  }
}

Status AmqpQueue::LongPoll(int max, std::chrono::steady_clock::time_point deadline, std::unique_lock<std::mutex>& lock,
                           const std::stop_token& stop, std::vector<AmqpHeld>& got) {
  amqp_connection_state_t c = consumer_.state();
  amqp_basic_qos(c, kGetChannel, 0, static_cast<uint16_t>(max), 0);
  THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckRpc("basic.qos"));
  amqp_basic_consume_ok_t* ok = amqp_basic_consume(c, kGetChannel, Bytes(options_.endpoint.queue), amqp_empty_bytes, 0,
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
    // Done once something came, here or (credit freed by an ack) to the standing consumer.
    if (got.size() > before || !buffer_.empty() || stop.stop_requested()) break;
    ExpireLocked();
    if (std::chrono::steady_clock::now() >= deadline) break;
    THUMBPIPE_RETURN_IF_ERROR(PollOnce(deadline, lock, readable));
  }
  if (!cancelled) {
    amqp_basic_cancel(c, kGetChannel, Bytes(tag));
    THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckRpc("basic.cancel"));
    // Deliveries sent before cancel-ok were queued by rabbitmq-c while it waited for it.
    while (amqp_frames_enqueued(c)) THUMBPIPE_RETURN_IF_ERROR(ReadDelivery(std::chrono::seconds(2), got, cancelled));
  }
  amqp_maybe_release_buffers(c);
  return Status::Ok();
}

Result<std::vector<Message>> AmqpQueue::Receive(int max, Duration wait, std::optional<Duration> visibility) {
  return ReceiveOrStop(max, wait, visibility, std::stop_token{});
}

Result<std::vector<Message>> AmqpQueue::ReceiveOrStop(int max, Duration wait, std::optional<Duration> visibility,
                                                      std::stop_token stop) {
  if (max < 1 || max > kMaxReceiveMessages) return Status::InvalidArgument("receive max must be 1-10");
  if (wait < Duration{0} || wait > kMaxWait) return Status::InvalidArgument("receive wait must be 0-20s");
  const Duration hide = visibility.value_or(options_.visibility_timeout);
  if (hide < Duration{0} || hide > kMaxVisibility) return Status::InvalidArgument("visibility must be 0-12h");
  const auto deadline = std::chrono::steady_clock::now() + wait;
  // A stop (before or during the call) wakes the poll; the loops then see stop_requested().
  std::stop_callback wake(stop, [this] {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  });

  std::lock_guard receive_lock(receive_mu_);
  std::unique_lock lock(consumer_.mu);
  THUMBPIPE_RETURN_IF_ERROR(EnsureConsumer());
  ExpireLocked();
  // What the standing consumer pushed comes first, at once.
  std::vector<AmqpHeld> got;
  Status s = Drain(got);
  if (s.ok()) HandOut(max, got);
  const bool waits = wait > Duration{0} && !stop.stop_requested();
  bool served = false;  // by the standing consumer, which had credit
  if (s.ok() && got.empty() && waits) {
    int arriving = 0;  // deliveries a consumer started now brings at once
    s = EnsureStanding(max, arriving);
    if (s.ok()) {
      // Without credit (the caller holds `prefetch` already) the broker pushes nothing until
      // one of them is settled: an ack on another thread (a worker's job just done) does that
      // in a moment, a retry backoff does not. Wait a moment for it, then go the old way.
      served = consumer_prefetch_ > consumer_unacked_;
      const auto until = served ? deadline : std::min(deadline, std::chrono::steady_clock::now() + kCreditGrace);
      s = WaitStanding(until, served ? static_cast<size_t>(std::clamp(arriving, 1, max)) : 1, lock, stop, got);
      if (s.ok()) HandOut(max, got);
    }
  }
  if (s.ok() && got.empty() && !served && (!waits || std::chrono::steady_clock::now() < deadline)) {
    // A receive that does not wait (the standing consumer's deliveries may still be on their
    // way), or one whose caller holds `prefetch` already: the old way, on channel 2. One
    // basic.get says whether anything is ready, and how much more; the rest of a batch comes
    // through a temporary consumer with that prefetch (every basic.get is a Raft command of
    // its own, a consumer costs two for the whole batch). Ready messages come at once; the
    // short bound only matters when another consumer took them first.
    int64_t ready_after = 0;
    s = GetOne(got, ready_after);
    if (s.ok() && !got.empty() && max > 1 && ready_after > 0) {
      const int more = static_cast<int>(std::min<int64_t>(max - 1, ready_after));
      s = LongPoll(more, std::chrono::steady_clock::now() + std::chrono::milliseconds(250), lock, stop, got);
    } else if (s.ok() && got.empty() && waits) {
      s = LongPoll(max, deadline, lock, stop, got);
    }
    if (s.ok()) HandOut(max, got);
  }
  if (s.ok() && stop.stop_requested()) s = StopStanding();
  // Whatever arrived is held even if the poll then failed: the broker counts it delivered.
  std::vector<Message> out;
  const Clock::time_point now = clock_.Now();
  int64_t received = 0;
  for (AmqpHeld& h : got) {
    const std::string receipt = NextReceipt();
    h.received_at = now;
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
  const uint16_t channel = held.channel;
  const uint64_t tag = held.tag;
  Settle(held);
  held_.erase(receipt);
  Finish(receipt, Finished::kReleased);
  if (!consumer_.connected()) return Status::Ok();  // the broker requeues it anyway
  return Settled(
      consumer_.CheckStatus(amqp_basic_nack(consumer_.state(), channel, tag, 0, /*requeue=*/1), "basic.nack"));
}

Status AmqpQueue::DeadLetterLocked(std::string receipt, AmqpHeld& held, std::string_view reason) {
  AmqpWireMessage dead = held.message;
  dead.dead_reason = std::string(reason.substr(0, kMaxReasonBytes));
  dead.dead_at = clock_.Now();
  dead.receive_count = held.receive_count;
  const uint16_t channel = held.channel;
  const uint64_t tag = held.tag;
  const std::string id = held.message.id;  // `held` dies with its entry below
  Status published = Publish(options_.endpoint.dlx(), options_.endpoint.queue, std::span(&dead, 1));
  if (!published.ok() && !publisher_.connected()) {
    return published;  // still held: it comes back when its visibility ends
  }
  Settle(held);
  held_.erase(receipt);
  Finish(receipt, Finished::kRemoved);
  if (!consumer_.connected()) {
    return Status::FailedPrecondition("stale receipt: its connection to the broker closed, which requeued the message");
  }
  if (published.ok()) {
    THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckStatus(amqp_basic_ack(consumer_.state(), channel, tag, 0), "basic.ack"));
  } else {
    // The broker refused our copy (say the dlx is gone): let its own dead-lettering take it,
    // without our reason (x-death says "rejected").
    LogWarn("amqp.dead_letter", {{"message_id", id}, {"reason", std::string(reason)},
                                 {"error", published.ToString()}, {"detail", "rejected without requeue instead"}});
    THUMBPIPE_RETURN_IF_ERROR(consumer_.CheckStatus(amqp_basic_reject(consumer_.state(), channel, tag, /*requeue=*/0),
                                                    "basic.reject"));
  }
  std::lock_guard counters_lock(counters_mu_);
  ++counters_.dead_lettered;
  return Status::Ok();
}

Status AmqpQueue::Remove(std::string_view receipt) {
  std::lock_guard lock(consumer_.mu);
  THUMBPIPE_ASSIGN_OR_RETURN(auto it, FindHeld(receipt));
  const uint16_t channel = it->second.channel;
  const uint64_t tag = it->second.tag;
  Settle(it->second);
  Finish(it->first, Finished::kRemoved);
  held_.erase(it);
  THUMBPIPE_RETURN_IF_ERROR(
      Settled(consumer_.CheckStatus(amqp_basic_ack(consumer_.state(), channel, tag, 0), "basic.ack")));
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
