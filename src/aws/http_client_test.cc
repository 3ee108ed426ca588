// AwsHttpClient over real sockets against the project's own HTTP server with a scripted
// handler: every request is checked by the server-side SigV4 Verifier, so the client's
// signatures are proven against the same code `serve` uses. Time is a ManualClock: backoff
// sleeps advance it instead of blocking, and the test reads the sleeps back from it.
#include "aws/http_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <random>

#include "server/http_server.h"
#include "sigv4/crypto.h"
#include "sigv4/verifier.h"

namespace thumbpipe::aws {
namespace {

using server::HttpRequestHead;
using server::HttpResponse;
constexpr char kAccessKey[] = "AKIATHUMBPIPETEST01";
constexpr char kSecret[] = "test-secret-key-for-the-client";

// Deterministic bytes: byte i of a body with `seed`.
char ByteAt(uint64_t i, uint32_t seed) { return static_cast<char>((i * 2654435761u + seed) >> 13); }

struct Seen {
  std::string method, target, host, body;
  bool signature_ok = false;
  std::string auth_error;
};

class ScriptedServer : public server::HttpHandler {
 public:
  using Script = std::function<HttpResponse(int n, const HttpRequestHead&, const std::string& body)>;

  explicit ScriptedServer(const Clock* clock) {
    sigv4::VerifierOptions o;
    o.clock = clock;
    o.lookup = [](std::string_view ak) -> std::optional<std::string> {
      if (ak == kAccessKey) return std::string(kSecret);
      return std::nullopt;
    };
    verifier_ = std::make_unique<sigv4::Verifier>(o);
    server::HttpServerOptions so;
    so.port = 0;
    so.io_threads = 1;
    so.worker_threads = 2;
    server_ = std::make_unique<server::HttpServer>(so, this);
  }
  ~ScriptedServer() override { server_->Stop(std::chrono::seconds(1)); }
  Status Start() { return server_->Start(); }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  Script script;
  std::vector<Seen> seen() {
    std::scoped_lock lock(mu_);
    return seen_;
  }

  std::unique_ptr<server::Exchange> NewExchange(HttpRequestHead head) override {
    return std::make_unique<Ex>(this, std::move(head));
  }
  HttpResponse Failure(server::HttpFailure, std::string_view detail) override {
    HttpResponse r;
    r.status = 500;
    r.body = std::string(detail);
    return r;
  }

 private:
  class Ex : public server::Exchange {
   public:
    Ex(ScriptedServer* s, HttpRequestHead head) : s_(s), head_(std::move(head)) {}
    std::optional<HttpResponse> Begin() override { return std::nullopt; }
    std::optional<HttpResponse> Body(std::string_view chunk) override {
      body_.append(chunk);
      return std::nullopt;
    }
    HttpResponse End() override {
      Seen seen;
      seen.method = head_.method;
      seen.target = head_.target;
      seen.host = std::string(head_.Header("Host").value_or(""));
      sigv4::Request r;
      r.method = head_.method;
      const size_t q = head_.target.find('?');
      r.path = head_.target.substr(0, q);
      r.query = q == std::string::npos ? "" : head_.target.substr(q + 1);
      for (const auto& h : head_.headers) r.headers.push_back({h.name, h.value});
      auto verified = s_->verifier_->Verify(r, "s3");
      seen.signature_ok = verified.ok();
      if (!verified.ok()) seen.auth_error = verified.status().ToStatus().ToString();
      if (verified.ok() && verified->payload_mode == sigv4::PayloadMode::kSha256 &&
          verified->payload_sha256 != sigv4::Sha256Hex(body_)) {
        seen.signature_ok = false;
        seen.auth_error = "payload hash mismatch";
      }
      seen.body = body_;
      int n;
      {
        std::scoped_lock lock(s_->mu_);
        n = static_cast<int>(s_->seen_.size());
        s_->seen_.push_back(seen);
      }
      return s_->script(n, head_, body_);
    }

   private:
    ScriptedServer* s_;
    HttpRequestHead head_;
    std::string body_;
  };

  std::unique_ptr<sigv4::Verifier> verifier_;
  std::unique_ptr<server::HttpServer> server_;
  std::mutex mu_;
  std::vector<Seen> seen_;
};

HttpResponse Reply(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}
HttpResponse XmlError(int status, std::string_view code) {
  return Reply(status, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + std::string(code) +
                           "</Code><Message>scripted</Message></Error>");
}

class GeneratedBody : public server::BodySource {
 public:
  GeneratedBody(uint64_t size, uint32_t seed) : size_(size), seed_(seed) {}
  Result<size_t> Read(std::span<char> buffer) override {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), size_ - at_));
    for (size_t i = 0; i < n; ++i) buffer[i] = ByteAt(at_ + i, seed_);
    at_ += n;
    return n;
  }

 private:
  uint64_t size_, at_ = 0;
  uint32_t seed_;
};

class GeneratedSource : public BodySource {
 public:
  GeneratedSource(uint64_t size, uint32_t seed) : size_(size), seed_(seed) {}
  uint64_t size() const override { return size_; }
  Result<size_t> Read(std::span<char> buffer) override {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), size_ - at_));
    for (size_t i = 0; i < n; ++i) buffer[i] = ByteAt(at_ + i, seed_);
    at_ += n;
    return n;
  }
  Status Rewind() override {
    at_ = 0;
    ++rewinds;
    return Status::Ok();
  }
  int rewinds = 0;

 private:
  uint64_t size_, at_ = 0;
  uint32_t seed_;
};

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }
  std::unique_ptr<AwsHttpClient> Client(std::string endpoint = {}, int attempts = 4) {
    ClientOptions o;
    o.endpoint = endpoint.empty() ? server_.endpoint() : endpoint;
    o.credentials = {kAccessKey, kSecret, std::nullopt};
    o.clock = &clock_;
    o.random = [] { return 0.5; };
    o.retry.max_attempts = attempts;
    o.retry.base_delay = std::chrono::milliseconds(100);
    o.connect_timeout = std::chrono::seconds(5);
    auto c = AwsHttpClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }
  static std::string Expected(uint64_t size, uint32_t seed) {
    std::string s(size, '\0');
    for (uint64_t i = 0; i < size; ++i) s[i] = ByteAt(i, seed);
    return s;
  }

  ManualClock clock_;
  ScriptedServer server_{&clock_};
};

TEST_F(HttpClientTest, SignedRequestsPassTheServersVerifier) {
  server_.script = [](int, const HttpRequestHead&, const std::string& body) { return Reply(200, "got " + body); };
  auto client = Client();
  HttpRequest get;
  get.path = "/bucket/a%20key/..%2Fx";
  get.query = "list-type=2&prefix=a%2Fb";
  get.headers = {{"x-amz-meta-note", "hello"}};
  auto r = client->Send(get);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "got ");
  HttpRequest put;
  put.method = "PUT";
  put.path = "/bucket/k";
  put.body = "payload bytes";
  ASSERT_TRUE(client->Send(put).ok());
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 2u);
  for (const Seen& s : seen) EXPECT_TRUE(s.signature_ok) << s.method << " " << s.target << ": " << s.auth_error;
  EXPECT_EQ(seen[0].target, "/bucket/a%20key/..%2Fx?list-type=2&prefix=a%2Fb") << "sent as given, not normalised";
  EXPECT_EQ(seen[1].body, "payload bytes");
}

TEST_F(HttpClientTest, WrongSecretIsRejectedByTheVerifier) {
  server_.script = [](int, const HttpRequestHead&, const std::string&) { return Reply(200, ""); };
  ClientOptions o;
  o.endpoint = server_.endpoint();
  o.credentials = {kAccessKey, "not-the-secret", std::nullopt};
  o.clock = &clock_;
  auto client = AwsHttpClient::Create(o);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Send(HttpRequest{}).ok());
  EXPECT_FALSE(server_.seen()[0].signature_ok) << "the test's verifier would accept anything";
}

TEST_F(HttpClientTest, SlowDownIsRetriedWithBackoffAndResigned) {
  server_.script = [](int n, const HttpRequestHead&, const std::string&) {
    return n < 2 ? XmlError(503, "SlowDown") : Reply(200, "finally");
  };
  auto client = Client();
  const auto start = clock_.Now();
  HttpRequest put;
  put.method = "PUT";
  put.path = "/b/k";
  put.body = "body";
  auto r = client->Send(put);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "finally");
  EXPECT_EQ(client->attempts(), 3u);
  // Jitter draw 0.5: half of 100 ms, then half of 200 ms.
  EXPECT_EQ(clock_.Now() - start, std::chrono::milliseconds(150));
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 3u);
  for (const Seen& s : seen) {
    EXPECT_TRUE(s.signature_ok) << s.auth_error;
    EXPECT_EQ(s.body, "body");
  }
}

TEST_F(HttpClientTest, NoSuchKeyIsNotRetried) {
  server_.script = [](int, const HttpRequestHead&, const std::string&) { return XmlError(404, "NoSuchKey"); };
  auto client = Client();
  const auto start = clock_.Now();
  auto r = client->Send(HttpRequest{});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(r.status().message().starts_with("NoSuchKey scripted")) << r.status().message();
  EXPECT_EQ(client->attempts(), 1u);
  EXPECT_EQ(clock_.Now(), start) << "no sleep";
}

TEST_F(HttpClientTest, RetriesAreBounded) {
  server_.script = [](int, const HttpRequestHead&, const std::string&) { return XmlError(500, "InternalError"); };
  auto client = Client({}, 3);
  auto r = client->Send(HttpRequest{});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("after 3 attempts"), std::string::npos) << r.status().message();
  EXPECT_EQ(server_.seen().size(), 3u);
}

TEST_F(HttpClientTest, NetworkErrorsAreRetriedThenReported) {
  // A port nobody listens on: bind one, note it, close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  auto client = Client("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), 3);
  const auto start = clock_.Now();
  auto r = client->Send(HttpRequest{});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(r.status().message().starts_with("NetworkError")) << r.status().message();
  EXPECT_EQ(client->attempts(), 3u);
  EXPECT_EQ(clock_.Now() - start, std::chrono::milliseconds(150));
}

TEST_F(HttpClientTest, ErrorInsideAnOkReply) {
  server_.script = [](int n, const HttpRequestHead&, const std::string&) {
    if (n == 0) return Reply(200, "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code></Error>");
    return Reply(200, "<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>");
  };
  auto client = Client();
  HttpRequest complete;
  complete.method = "POST";
  complete.error_in_ok_body = true;
  auto r = client->Send(complete);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(r.status().message().starts_with("NoSuchUpload gone")) << r.status().message();
  EXPECT_EQ(server_.seen().size(), 2u) << "InternalError in a 200 is retried";
}

TEST_F(HttpClientTest, StreamsLargeBodiesBothWaysAndRewindsForARetry) {
  static constexpr uint64_t kSize = 12 << 20;
  server_.script = [](int n, const HttpRequestHead& head, const std::string&) {
    if (head.method == "PUT" && n == 0) return XmlError(503, "SlowDown");
    HttpResponse r;
    if (head.method == "GET") {
      r.stream = std::make_unique<GeneratedBody>(kSize, 9);
      r.content_length = kSize;
    }
    return r;
  };
  auto client = Client();
  GeneratedSource source(kSize, 3);
  HttpRequest put;
  put.method = "PUT";
  put.path = "/b/big";
  put.body_source = &source;
  ASSERT_TRUE(client->Send(put).ok());
  EXPECT_EQ(source.rewinds, 1);
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[1].body == Expected(kSize, 3)) << "the retried body arrived whole";
  EXPECT_TRUE(seen[1].signature_ok) << seen[1].auth_error;

  auto stream = client->Open(HttpRequest{});
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  EXPECT_EQ((*stream)->Header("content-length").value_or(""), std::to_string(kSize));
  sigv4::Sha256Hasher got;
  uint64_t total = 0;
  char buffer[3000];
  for (;;) {
    auto n = (*stream)->Read(std::span<char>(buffer, sizeof buffer));
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    if (*n == 0) break;
    got.Update(std::string_view(buffer, *n));
    total += *n;
  }
  EXPECT_EQ(total, kSize);
  EXPECT_EQ(got.FinishHex(), sigv4::Sha256Hex(Expected(kSize, 9)));
}

TEST_F(HttpClientTest, AnAbandonedStreamDoesNotPoisonTheNextRequest) {
  server_.script = [](int, const HttpRequestHead& head, const std::string&) {
    HttpResponse r;
    if (head.target == "/big") {
      r.stream = std::make_unique<GeneratedBody>(uint64_t{8} << 20, 1);
      r.content_length = 8 << 20;
    } else {
      r.body = "small";
    }
    return r;
  };
  auto client = Client();
  {
    HttpRequest big;
    big.path = "/big";
    auto stream = client->Open(big);
    ASSERT_TRUE(stream.ok());
    char b[100];
    ASSERT_GT((*stream)->Read(std::span<char>(b, sizeof b)).value_or(0), 0u);
    // While it is open, the same thread sends another request (a second handle).
    HttpRequest small;
    small.path = "/small";
    EXPECT_EQ(client->Send(small)->body, "small");
  }
  HttpRequest small;
  small.path = "/small";
  EXPECT_EQ(client->Send(small)->body, "small");
}

TEST_F(HttpClientTest, ConnectionsAreReused) {
  server_.script = [](int, const HttpRequestHead&, const std::string&) { return Reply(200, "ok"); };
  auto client = Client();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(client->Send(HttpRequest{}).ok());
  EXPECT_EQ(client->connections_opened(), 1u);
}

TEST_F(HttpClientTest, EndpointsAreChecked) {
  for (const char* bad : {"", "ftp://x", "http://", "http://host/path", "127.0.0.1:9000"}) {
    ClientOptions o;
    o.endpoint = bad;
    EXPECT_EQ(AwsHttpClient::Create(o).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  ClientOptions o;
  o.endpoint = "https://s3.eu-west-1.amazonaws.com/";
  auto c = AwsHttpClient::Create(o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->endpoint_host(), "s3.eu-west-1.amazonaws.com");
  EXPECT_EQ((*c)->scheme(), "https");
}

}  // namespace
}  // namespace thumbpipe::aws
