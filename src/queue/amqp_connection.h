// One RabbitMQ connection with one channel (number 1), over rabbitmq-c. rabbitmq-c is not
// thread-safe ("built with event-driven, single-threaded applications in mind"): every call on
// state() happens with mu held. The connection reopens itself after a failure, at most once per
// backoff step (100 ms doubling to 10 s), so a dead broker costs a fast kUnavailable, not a hang.
// Each successful open bumps generation(): delivery tags are only meaningful within one.
#pragma once

#include <amqp.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/duration.h"
#include "common/result.h"
#include "queue/amqp_url.h"

namespace thumbpipe::queue {

class AmqpConnection {
 public:
  // `confirms`: put the channel in publisher-confirm mode (confirm.select) on every open.
  AmqpConnection(AmqpEndpoint endpoint, std::string role, bool confirms);
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  // Guards every member below and every rabbitmq-c call on state().
  std::mutex mu;

  // REQUIRES: mu. Opens the connection if it is not open (respecting the backoff).
  Status Ensure();
  bool connected() const { return state_ != nullptr && !broken_; }
  uint64_t generation() const { return generation_; }
  amqp_connection_state_t state() const { return state_; }
  int fd() const;

  // REQUIRES: mu. Maps a synchronous reply to a Status. Any failure (a socket error, a
  // timeout, the broker closing the channel or the connection) leaves the connection broken;
  // the next Ensure() reopens it. 406 PRECONDITION_FAILED -> kFailedPrecondition, 404 NOT_FOUND
  // -> kNotFound, 403 ACCESS_REFUSED -> kFailedPrecondition, the rest -> kUnavailable.
  Status Check(amqp_rpc_reply_t reply, std::string_view what);
  Status CheckRpc(std::string_view what) { return Check(amqp_get_rpc_reply(state_), what); }
  // For rabbitmq-c calls that return an int status (writes: publish, ack, nack).
  Status CheckStatus(int status, std::string_view what);
  // Marks the connection unusable; `Close` then tears it down (only the thread that may
  // read the socket calls Close: another thread may be polling its fd without mu).
  void Break(std::string why);
  void Close();

  // Sequence number the next publish gets on a confirm channel (1 after confirm.select).
  uint64_t next_publish_seq = 1;
  const AmqpEndpoint& endpoint() const { return endpoint_; }
  const std::string& last_error() const { return last_error_; }

 private:
  Status Open();

  const AmqpEndpoint endpoint_;
  const std::string role_;
  const bool confirms_;
  amqp_connection_state_t state_ = nullptr;
  bool broken_ = false;
  uint64_t generation_ = 0;
  int failures_ = 0;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::string last_error_;
};

// How long a synchronous call on the broker may take before the connection counts as dead.
inline constexpr Duration kAmqpRpcTimeout = std::chrono::seconds(10);

}  // namespace thumbpipe::queue
