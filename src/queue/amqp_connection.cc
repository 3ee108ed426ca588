#include "queue/amqp_connection.h"

#include <amqp_tcp_socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

#include "common/logging.h"

namespace thumbpipe::queue {
namespace {

constexpr Duration kFirstBackoff = std::chrono::milliseconds(100);
constexpr Duration kMaxBackoff = std::chrono::seconds(10);

timeval ToTimeval(Duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

std::string BytesToString(amqp_bytes_t b) {
  return std::string(static_cast<const char*>(b.bytes), b.len);
}

}  // namespace

AmqpConnection::AmqpConnection(AmqpEndpoint endpoint, std::string role, bool confirms)
    : endpoint_(std::move(endpoint)), role_(std::move(role)), confirms_(confirms) {}

AmqpConnection::~AmqpConnection() {
  std::lock_guard lock(mu);
  if (state_ != nullptr && !broken_) {
    // Polite close, so the broker requeues at once and logs no "client unexpectedly closed".
    amqp_channel_close(state_, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  }
  Close();
}

int AmqpConnection::fd() const { return state_ == nullptr ? -1 : amqp_get_sockfd(state_); }

void AmqpConnection::Break(std::string why) {
  if (!broken_ && state_ != nullptr) {
    LogWarn("amqp.connection", {{"role", role_}, {"broker", endpoint_.Describe()}, {"error", why}});
  }
  broken_ = true;
  last_error_ = std::move(why);
}

void AmqpConnection::Close() {
  if (state_ != nullptr) amqp_destroy_connection(state_);
  state_ = nullptr;
  broken_ = false;
}

Status AmqpConnection::Ensure() {
  if (connected()) return Status::Ok();
  Close();
  const auto now = std::chrono::steady_clock::now();
  if (failures_ > 0 && now < next_attempt_) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now).count();
    return Status::Unavailable("amqp broker " + endpoint_.Describe() + ": " + last_error_ +
                               " (next connection attempt in " + std::to_string(ms) + " ms)");
  }
  Status s = Open();
  if (s.ok()) {
    failures_ = 0;
    ++generation_;
    next_publish_seq = 1;
    return s;
  }
  Close();
  ++failures_;
  const Duration backoff = std::min<Duration>(kMaxBackoff, kFirstBackoff * (1 << std::min(failures_ - 1, 10)));
  next_attempt_ = now + backoff;
  last_error_ = s.message();
  return s;
}

Status AmqpConnection::Open() {
  state_ = amqp_new_connection();
  if (state_ == nullptr) return Status::Internal("amqp: out of memory");
  amqp_socket_t* socket = amqp_tcp_socket_new(state_);
  if (socket == nullptr) return Status::Internal("amqp: cannot make a socket");
  timeval timeout = ToTimeval(kAmqpRpcTimeout);
  amqp_set_handshake_timeout(state_, &timeout);
  amqp_set_rpc_timeout(state_, &timeout);
  const int opened = amqp_socket_open_noblock(socket, endpoint_.host.c_str(), endpoint_.port, &timeout);
  if (opened != AMQP_STATUS_OK) {
    return Status::Unavailable("cannot connect to amqp broker " + endpoint_.Describe() + ": " +
                               amqp_error_string2(opened));
  }
  // A broker that vanished without a FIN (a dead machine) is noticed by keepalive probes.
  const int on = 1, idle = 30, interval = 10, count = 3;
  setsockopt(fd(), SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd(), IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd(), IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  setsockopt(fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);

  // heartbeat 0: rabbitmq-c only answers heartbeats from inside its own calls, and a worker
  // may not call for minutes while it works; keepalive covers dead peers instead.
  amqp_rpc_reply_t login = amqp_login(state_, endpoint_.vhost.c_str(), 0, 131072, 0,
                                      AMQP_SASL_METHOD_PLAIN, endpoint_.user.c_str(),
                                      endpoint_.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    Status s = Check(login, "login as \"" + endpoint_.user + "\" to vhost \"" + endpoint_.vhost + "\"");
    return Status::Unavailable(s.message() + " (check the user, password and vhost in the queue url)");
  }
  amqp_channel_open(state_, 1);
  THUMBPIPE_RETURN_IF_ERROR(CheckRpc("channel.open"));
  if (confirms_) {
    amqp_confirm_select(state_, 1);
    THUMBPIPE_RETURN_IF_ERROR(CheckRpc("confirm.select"));
  }
  broken_ = false;
  return Status::Ok();
}

Status AmqpConnection::Check(amqp_rpc_reply_t reply, std::string_view what) {
  const std::string where = "amqp " + std::string(what) + " on " + endpoint_.Describe();
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return Status::Ok();
    case AMQP_RESPONSE_NONE:
      Break(where + ": no reply");
      return Status::Unavailable(where + ": no reply from the broker");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: {
      const std::string text = where + ": " + amqp_error_string2(reply.library_error);
      Break(text);
      return Status::Unavailable(text);
    }
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      break;
  }
  uint16_t code = 0;
  std::string text;
  if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* m = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
    code = m->reply_code;
    text = BytesToString(m->reply_text);
  } else if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* m = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
    code = m->reply_code;
    text = BytesToString(m->reply_text);
  }
  const std::string message = where + ": the broker said " + std::to_string(code) + " " + text;
  Break(message);
  if (code == AMQP_PRECONDITION_FAILED || code == AMQP_ACCESS_REFUSED) {
    return Status::FailedPrecondition(message);
  }
  if (code == AMQP_NOT_FOUND) return Status::NotFound(message);
  return Status::Unavailable(message);
}

Status AmqpConnection::CheckStatus(int status, std::string_view what) {
  if (status == AMQP_STATUS_OK) return Status::Ok();
  const std::string text = "amqp " + std::string(what) + " on " + endpoint_.Describe() + ": " +
                           amqp_error_string2(status);
  Break(text);
  return Status::Unavailable(text);
}

}  // namespace thumbpipe::queue
