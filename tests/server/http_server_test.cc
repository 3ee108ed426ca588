// HttpServer over raw sockets, with a small handler: keep-alive, streaming both ways,
// 100-continue, HEAD, the framing checks (CL+TE, repeated CL, missing Host), the limits
// (header size, body size, header timeout against a slow client, max connections) and a
// handler that throws.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace thumbpipe::server {
namespace {

using namespace std::chrono_literals;

class CountingSource final : public BodySource {
 public:
  explicit CountingSource(uint64_t n) : left_(n) {}
  Result<size_t> Read(std::span<char> buf) override {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left_, buf.size()));
    std::memset(buf.data(), 'x', n);
    left_ -= n;
    return n;
  }

 private:
  uint64_t left_;
};

// GET /stream/N streams N bytes; GET /throw throws; PUT counts the body and answers its size.
class TestExchange final : public Exchange {
 public:
  explicit TestExchange(HttpRequestHead head) : head_(std::move(head)) {}
  std::optional<HttpResponse> Begin() override {
    if (head_.target == "/throw") throw std::runtime_error("handler bug");
    if (head_.method == "PUT") return std::nullopt;
    HttpResponse r;
    if (head_.target.starts_with("/stream/")) {
      const uint64_t n = std::stoull(head_.target.substr(8));
      r.stream = std::make_unique<CountingSource>(n);
      r.content_length = n;
      return r;
    }
    r.body = "hello";
    if (head_.method == "HEAD") r.content_length = 5;
    return r;
  }
  std::optional<HttpResponse> Body(std::string_view chunk) override {
    bytes_ += chunk.size();
    return std::nullopt;
  }
  HttpResponse End() override {
    HttpResponse r;
    r.body = std::to_string(bytes_);
    return r;
  }

 private:
  HttpRequestHead head_;
  uint64_t bytes_ = 0;
};

class TestHandler final : public HttpHandler {
 public:
  std::unique_ptr<Exchange> NewExchange(HttpRequestHead head) override {
    return std::make_unique<TestExchange>(std::move(head));
  }
  HttpResponse Failure(HttpFailure failure, std::string_view) override {
    HttpResponse r;
    switch (failure) {
      case HttpFailure::kBadRequest: r.status = 400; break;
      case HttpFailure::kHeaderTooLarge: r.status = 431; break;
      case HttpFailure::kBodyTooLarge: r.status = 413; break;
      case HttpFailure::kTooManyConnections: r.status = 503; break;
      case HttpFailure::kInternal: r.status = 500; break;
      default: r.status = 408;
    }
    r.body = "failure";
    r.close = true;
    return r;
  }
};

class Socket {
 public:
  explicit Socket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("connect");
    timeval tv{10, 0};  // no test waits longer than this for a byte
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Socket() { ::close(fd_); }
  void Send(std::string_view data) { ASSERT_EQ(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size())); }
  // One response: header, then Content-Length bytes of body (none for HEAD when asked).
  std::string ReadResponse(bool head = false) {
    std::string out;
    while (out.find("\r\n\r\n") == std::string::npos) {
      if (!ReadMore(&out)) return out;
    }
    const size_t header_end = out.find("\r\n\r\n") + 4;
    size_t length = 0;
    const size_t cl = out.find("Content-Length: ");
    if (cl != std::string::npos && cl < header_end) length = std::stoul(out.substr(cl + 16));
    if (out.starts_with("HTTP/1.1 100")) return out.substr(0, header_end);
    if (head) length = 0;
    while (out.size() < header_end + length) {
      if (!ReadMore(&out)) break;
    }
    pending_ = out.substr(std::min(out.size(), header_end + length));
    return out.substr(0, header_end + length);
  }
  // True when the server closed the connection (EOF) before the receive timeout.
  bool ClosedByPeer() {
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  bool ReadMore(std::string* out) {
    if (!pending_.empty()) {
      *out += pending_;
      pending_.clear();
      return true;
    }
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    out->append(buf, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  std::string pending_;
};

int StatusOf(const std::string& response) {
  return response.size() >= 12 ? std::stoi(response.substr(9, 3)) : 0;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options = {}) {
    options.port = 0;
    server_ = std::make_unique<HttpServer>(options, &handler_);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_) server_->Stop(1s);
  }
  int port() const { return server_->port(); }

  TestHandler handler_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start();
  Socket s(port());
  for (int i = 0; i < 3; ++i) {
    s.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string r = s.ReadResponse();
    EXPECT_EQ(StatusOf(r), 200);
    EXPECT_TRUE(r.ends_with("hello"));
  }
}

TEST_F(HttpServerTest, StreamsLargeBodiesBothWays) {
  Start();
  Socket s(port());
  const std::string body(10 << 20, 'b');
  s.Send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  s.Send(body);
  EXPECT_TRUE(s.ReadResponse().ends_with("\r\n\r\n" + std::to_string(body.size())));
  s.Send("GET /stream/5000000 HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string r = s.ReadResponse();
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_EQ(r.size() - (r.find("\r\n\r\n") + 4), 5000000u);
}

TEST_F(HttpServerTest, ChunkedRequestBody) {
  Start();
  Socket s(port());
  s.Send("PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_TRUE(s.ReadResponse().ends_with("\r\n\r\n8"));
}

TEST_F(HttpServerTest, ExpectContinue) {
  Start();
  Socket s(port());
  s.Send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(StatusOf(s.ReadResponse()), 100);
  s.Send("abcd");
  const std::string r = s.ReadResponse();
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_TRUE(r.ends_with("4"));
}

TEST_F(HttpServerTest, HeadHasNoBody) {
  Start();
  Socket s(port());
  s.Send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string r = s.ReadResponse(/*head=*/true);
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_NE(r.find("Content-Length: 5"), std::string::npos);
  s.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");  // the next response starts right after the header
  EXPECT_TRUE(s.ReadResponse().ends_with("hello"));
}

struct BadFraming {
  const char* name;
  const char* request;
  int status;
};

class FramingTest : public HttpServerTest, public ::testing::WithParamInterface<BadFraming> {};

TEST_P(FramingTest, AnswersAndCloses) {
  Start();
  Socket s(port());
  // A pipelined second request must never run.
  s.Send(std::string(GetParam().request) + "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(s.ReadResponse()), GetParam().status);
  EXPECT_TRUE(s.ClosedByPeer());
}

INSTANTIATE_TEST_SUITE_P(
    Smuggling, FramingTest,
    ::testing::Values(
        BadFraming{"ClThenTe", "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        BadFraming{"TeThenCl", "PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
        BadFraming{"RepeatedCl", "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
        BadFraming{"ConflictingCl", "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
        BadFraming{"ClList", "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
        BadFraming{"TeGzip", "PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
        BadFraming{"TeNotChunked", "PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        BadFraming{"SignedCl", "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400},
        BadFraming{"NoHost", "GET / HTTP/1.1\r\n\r\n", 400},
        BadFraming{"TwoHosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        BadFraming{"BadChunkSize", "PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n", 400},
        BadFraming{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400}),
    [](const auto& p) { return std::string(p.param.name); });

TEST_F(HttpServerTest, OversizedHeaderGets431) {
  HttpServerOptions o;
  o.max_header_bytes = 2048;
  Start(o);
  Socket s(port());
  s.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
  EXPECT_EQ(StatusOf(s.ReadResponse()), 431);
  EXPECT_TRUE(s.ClosedByPeer());
}

TEST_F(HttpServerTest, BodyOverTheLimitIsRefused) {
  HttpServerOptions o;
  o.max_body_bytes = 1000;
  Start(o);
  Socket s(port());
  s.Send("PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  s.Send("200000\r\n" + std::string(0x200000, 'a') + "\r\n0\r\n\r\n");
  EXPECT_EQ(StatusOf(s.ReadResponse()), 413);
}

TEST_F(HttpServerTest, SlowLorisIsCutOffAndDoesNotStarveOthers) {
  HttpServerOptions o;
  o.header_timeout = 1s;
  o.io_threads = 1;
  Start(o);
  std::vector<std::unique_ptr<Socket>> slow;
  for (int i = 0; i < 20; ++i) {
    slow.push_back(std::make_unique<Socket>(port()));
    slow.back()->Send("GET / HTTP/1.1\r\nHost: x\r\nX-A: ");  // and never finishes the header
  }
  Socket normal(port());
  normal.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(normal.ReadResponse()), 200);
  const auto start = std::chrono::steady_clock::now();
  for (auto& s : slow) EXPECT_TRUE(s->ClosedByPeer());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 9s);
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitGet503) {
  HttpServerOptions o;
  o.max_connections = 2;
  Start(o);
  Socket a(port()), b(port());
  a.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(a.ReadResponse()), 200);
  b.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(b.ReadResponse()), 200);
  Socket c(port());
  EXPECT_EQ(StatusOf(c.ReadResponse()), 503);
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndTheServerLives) {
  Start();
  {
    Socket s(port());
    s.Send("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(StatusOf(s.ReadResponse()), 500);
  }
  Socket s(port());
  s.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(s.ReadResponse()), 200);
}

TEST_F(HttpServerTest, StopClosesIdleConnections) {
  Start();
  Socket s(port());
  s.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(s.ReadResponse()), 200);
  server_->Stop(5s);
  EXPECT_TRUE(s.ClosedByPeer());
  EXPECT_EQ(server_->active_connections(), 0);
}

}  // namespace
}  // namespace thumbpipe::server
