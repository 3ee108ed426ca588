// libFuzzer target on the HTTP request path before a handler: each input is the raw bytes a
// client sends on one connection (request line, headers, body, maybe more pipelined requests).
// The server's parsing lives in coroutines over a real socket (Beast's parser, the framing
// checks, obs-fold, body reading with its limits), so the input goes to a real HttpServer on
// 127.0.0.1, started once per process with small limits (every limit reachable by a short
// input) and a handler that routes each head with the S3 router (RouteRequest: pure, no store)
// and records what the server asked of it. The client sends the input, half-closes, and reads
// until the server closes. Besides crashes and sanitizer reports, a finding is:
//  - a request run after the server answered a framing or limit failure on the connection
//    (a smuggled request: the failure must close the connection);
//  - an exchange whose steps come out of order (Begin, Body*, End), or a Content-Length
//    request whose End saw a body of another length, or a chunk over the server's chunk size;
//  - a route outside the router's promises (key over 1024 bytes, an error without its code);
//  - a connection the server does not close within 5 s after the client's half-close (a hang),
//    or bytes back that do not start with an HTTP/1.1 status line.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "server/http_server.h"
#include "server/s3_router.h"
#include "store/object_store.h"

namespace {

using namespace thumbpipe::server;
using namespace std::chrono_literals;

constexpr size_t kChunkBytes = 1024;  // small: bodies over it take the streaming path
constexpr int kCloseDeadlineMs = 5000;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_fuzzer: %s\n", what);
    std::abort();
  }
}

// What the server did on the current input's connection (one connection at a time).
std::atomic<bool> g_failed{false};  // a Failure was answered: the connection must end

const RouterOptions& Router() {
  static const RouterOptions options{{"localhost", "s3.example.com"}};
  return options;
}

class FuzzExchange final : public Exchange {
 public:
  explicit FuzzExchange(HttpRequestHead head) : head_(std::move(head)) {}
  std::optional<HttpResponse> Begin() override {
    Check(state_ == kNew, "Begin out of order");
    state_ = kBegun;
    // Route on the pool, as S3Service does; a refused route answers at once, as S3 does.
    thumbpipe::Result<Route> route = RouteRequest(head_, Router());
    if (!route.ok()) {
      const std::string& m = route.status().message();
      Check(m.starts_with("InvalidURI") || m.starts_with("MethodNotAllowed") || m.starts_with("KeyTooLongError"),
            "router error without a code");
      HttpResponse r;
      r.status = 400;
      r.body = m;
      return r;
    }
    Check(route->key.size() <= thumbpipe::store::kMaxKeyBytes, "routed a key over 1024 bytes");
    Check(route->key.empty() || !route->bucket.empty(), "routed a key without a bucket");
    op_ = std::string(OperationName(route->op));
    return std::nullopt;
  }
  std::optional<HttpResponse> Body(std::string_view chunk) override {
    Check(state_ == kBegun, "Body out of order");
    Check(!chunk.empty() && chunk.size() <= kChunkBytes, "body chunk empty or over chunk_bytes");
    received_ += chunk.size();
    return std::nullopt;
  }
  HttpResponse End() override {
    Check(state_ == kBegun, "End out of order");
    state_ = kEnded;
    if (!head_.chunked) Check(received_ == head_.content_length.value_or(0), "body length differs from Content-Length");
    HttpResponse r;
    r.body = op_;
    return r;
  }

 private:
  enum { kNew, kBegun, kEnded } state_ = kNew;
  HttpRequestHead head_;
  std::string op_;
  uint64_t received_ = 0;
};

class FuzzHandler final : public HttpHandler {
 public:
  std::unique_ptr<Exchange> NewExchange(HttpRequestHead head) override {
    Check(!g_failed.load(), "a request ran after a framing failure on the same connection");
    Check(!head.chunked || !head.content_length, "head both chunked and with a Content-Length");
    return std::make_unique<FuzzExchange>(std::move(head));
  }
  HttpResponse Failure(HttpFailure failure, std::string_view) override {
    g_failed.store(true);
    HttpResponse r;
    r.status = failure == HttpFailure::kHeaderTooLarge ? 431 : failure == HttpFailure::kInternal ? 500 : 400;
    r.close = true;
    return r;
  }
};

int g_port = 0;

// Sends what it can of `data` without blocking (the server may stop reading at any point);
// false when the server is gone.
bool SendSome(int fd, std::string_view* data) {
  const ssize_t n = ::send(fd, data->data(), data->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n > 0) data->remove_prefix(static_cast<size_t>(n));
  return n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

// connect(2), finishing one that a signal interrupted (libFuzzer's leak check stops every
// thread with one) the way the manual says: wait until writable, then read SO_ERROR.
bool Connect(int fd, const sockaddr_in& addr) {
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return true;
  if (errno != EINTR) return false;
  pollfd p{fd, POLLOUT, 0};
  int polled;
  do {
    polled = ::poll(&p, 1, kCloseDeadlineMs);
  } while (polled < 0 && errno == EINTR);
  int error = 0;
  socklen_t len = sizeof error;
  if (polled <= 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return false;
  errno = error;
  return error == 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  HttpServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.io_threads = 1;
  o.worker_threads = 1;
  o.max_connections = 4;
  o.max_header_bytes = 2048;
  o.max_body_bytes = 8192;
  o.chunk_bytes = kChunkBytes;
  // Never reached: the client half-closes, so every read the server waits on ends at once.
  o.idle_timeout = o.header_timeout = o.body_timeout = o.write_timeout = 30s;
  // Leaked on purpose: the server runs for the whole process.
  static FuzzHandler* handler = new FuzzHandler;
  static HttpServer* server = new HttpServer(o, handler);
  const thumbpipe::Status st = server->Start();
  if (!st.ok()) {
    std::fprintf(stderr, "http_fuzzer: %s\n", st.ToString().c_str());
    std::abort();
  }
  g_port = server->port();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g_failed.store(false);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Check(fd >= 0, "socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(g_port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // The client closes first, so each connection leaves a TIME_WAIT behind on its side for a
  // minute; at hundreds of inputs a second one source address would run out of ports. Inputs
  // take turns among 127.0.0.2-255, each with its own ports. IP_BIND_ADDRESS_NO_PORT leaves
  // the port to connect(), which shares ports with other processes' connections as long as
  // the address pairs differ (a port taken by bind() would be closed to them for a minute).
  static uint32_t turn = 0;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + turn++ % 254);
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0 ||
      ::bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0 || !Connect(fd, addr)) {
    std::fprintf(stderr, "http_fuzzer: connect: %s\n", std::strerror(errno));
    std::abort();
  }

  std::string_view out(reinterpret_cast<const char*>(data), size);
  std::string in;
  bool shut = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kCloseDeadlineMs);
  for (;;) {
    if (!shut && out.empty()) {
      ::shutdown(fd, SHUT_WR);
      shut = true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    Check(left.count() > 0, "the server did not close the connection within 5 s of the client's half-close");
    pollfd p{fd, static_cast<short>(POLLIN | (shut ? 0 : POLLOUT)), 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    if ((p.revents & POLLOUT) && !SendSome(fd, &out)) out = {};  // the server is gone
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (n <= 0) break;  // closed (or reset after a response that left input unread)
      in.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  Check(in.empty() || in.starts_with("HTTP/1.1 "), "the answer is not an HTTP/1.1 response");
  return 0;
}
