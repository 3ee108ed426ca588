// The S3 service in process (real LocalStore, real HttpServer on a random loopback port) with
// aws-chunked bodies built by the sigv4 room's signer and encoder, over a raw socket: signed
// chunks store exactly the payload; a changed byte in a signed chunk, a wrong trailer
// checksum, or a bad header signature in the unsigned-trailer mode are refused and store
// nothing. A large ranged GET (a blob file, sent with sendfile) returns exactly its bytes.
// Responses with object bytes (GET, ranged, presigned, and HEAD) say nosniff.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "server/http_server.h"
#include "server/s3_service.h"
#include "sigv4/chunked.h"
#include "sigv4/signer.h"
#include "store/local_store.h"

namespace thumbpipe::server {
namespace {

constexpr char kAccess[] = "STREAMTESTKEY0000001";
constexpr char kSecret[] = "stream-test-secret-0123456789";

std::string Exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

class StreamingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tp-stream-" + std::to_string(std::random_device{}()));
    store::LocalStoreOptions so;
    so.dir = dir_;
    so.durable = false;  // semantics, not durability
    auto opened = store::OpenLocalStore(so);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    ASSERT_TRUE(store_->CreateBucket("bucket").ok());
    S3ServiceOptions o;
    config::Credential c;
    c.access_key = kAccess;
    c.secret_key = kSecret;
    c.admin = true;
    o.credentials = {c};
    service_ = std::make_unique<S3Service>(*store_, nullptr, o, RealClock::Instance());
    HttpServerOptions h;
    h.port = 0;
    server_ = std::make_unique<HttpServer>(h, service_.get());
    ASSERT_TRUE(server_->Start().ok());
    host_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_->Stop(std::chrono::seconds(1));
    server_.reset();
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A PUT of `data` as aws-chunked in `mode`; `tamper` may change the encoded body or the
  // signed headers before they are sent.
  std::string Put(const std::string& key, const std::string& data, sigv4::PayloadMode mode,
                  const std::function<void(std::string& body, std::string& authorization)>& tamper = {}) {
    sigv4::Request req;
    req.method = "PUT";
    req.path = "/bucket/" + key;
    req.headers = {{"Host", host_},
                   {"Content-Encoding", "aws-chunked"},
                   {"x-amz-decoded-content-length", std::to_string(data.size())}};
    const bool trailer = sigv4::HasTrailer(mode);
    if (trailer) req.headers.push_back({"x-amz-trailer", "x-amz-checksum-crc32"});
    req.payload_hash = std::string(sigv4::PayloadModeName(mode));
    sigv4::SigningParams params;
    params.time = std::chrono::system_clock::now();
    auto signed_req = sigv4::SignRequest(&req, {kAccess, kSecret, std::nullopt}, params);
    EXPECT_TRUE(signed_req.ok());
    sigv4::ChunkedEncodeOptions enc;
    enc.mode = mode;
    if (mode != sigv4::PayloadMode::kStreamingUnsignedTrailer) enc.signing = signed_req->chunk_context;
    if (trailer) enc.trailer_checksum = sigv4::ChecksumAlgorithm::kCrc32;
    enc.chunk_size = 64 * 1024;
    std::string body = sigv4::EncodeAwsChunked(data, enc);
    std::string authorization = signed_req->authorization;
    if (tamper) tamper(body, authorization);
    std::string text = "PUT " + req.path + " HTTP/1.1\r\n";
    for (const auto& h : req.headers) {
      if (h.name == "Authorization" || h.name == "authorization") continue;
      text += h.name + ": " + h.value + "\r\n";
    }
    text += "Authorization: " + authorization + "\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nConnection: close\r\n\r\n" + body;
    return Exchange(server_->port(), text);
  }

  bool Exists(const std::string& key) { return store_->Head("bucket", key).ok(); }

  // A signed request for `key` without a body, with `extra` headers.
  std::string Signed(const std::string& method, const std::string& key, sigv4::Headers extra = {}) {
    sigv4::Request req;
    req.method = method;
    req.path = "/bucket/" + key;
    req.headers = {{"Host", host_}};
    req.headers.insert(req.headers.end(), extra.begin(), extra.end());
    req.payload_hash = "UNSIGNED-PAYLOAD";
    sigv4::SigningParams params;
    params.time = std::chrono::system_clock::now();
    auto signed_req = sigv4::SignRequest(&req, {kAccess, kSecret, std::nullopt}, params);
    EXPECT_TRUE(signed_req.ok());
    std::string text = method + " " + req.path + " HTTP/1.1\r\n";
    for (const auto& h : req.headers) {
      if (h.name == "Authorization" || h.name == "authorization") continue;
      text += h.name + ": " + h.value + "\r\n";
    }
    text += "Authorization: " + signed_req->authorization + "\r\nConnection: close\r\n\r\n";
    return Exchange(server_->port(), text);
  }

  // A signed GET of `key` with a Range header.
  std::string GetRange(const std::string& key, const std::string& range) {
    return Signed("GET", key, {{"Range", range}});
  }

  // A GET of `key` through a presigned URL (the query carries the signature, as a browser sends it).
  std::string PresignedGet(const std::string& key) {
    sigv4::Request req;
    req.method = "GET";
    req.path = "/bucket/" + key;
    req.headers = {{"Host", host_}};
    sigv4::SigningParams params;
    params.time = std::chrono::system_clock::now();
    auto query = sigv4::PresignQuery(req, {kAccess, kSecret, std::nullopt}, params, std::chrono::seconds(300));
    EXPECT_TRUE(query.ok());
    return Exchange(server_->port(), "GET " + req.path + "?" + query.value_or("") + " HTTP/1.1\r\nHost: " + host_ +
                                         "\r\nConnection: close\r\n\r\n");
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::ObjectStore> store_;
  std::unique_ptr<S3Service> service_;
  std::unique_ptr<HttpServer> server_;
  std::string host_;
};

std::string Payload(size_t n) {
  std::string s(n, '\0');
  std::mt19937 rng(7);
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST_F(StreamingTest, SignedChunksStoreThePayload) {
  const std::string data = Payload(300 * 1024 + 17);
  const std::string reply = Put("signed", data, sigv4::PayloadMode::kStreamingSigned);
  ASSERT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  auto reader = store_->Get("bucket", "signed");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->info().size, data.size());
  std::string back(data.size(), '\0');
  size_t got = 0;
  while (got < back.size()) {
    auto n = (*reader)->Read(std::span<char>(back.data() + got, back.size() - got));
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
    got += *n;
  }
  EXPECT_EQ(back, data);
}

TEST_F(StreamingTest, LargeRangedGetReturnsExactlyTheRange) {
  const std::string data = Payload(12 << 20);  // far over inline_max: a blob file
  auto writer = store_->BeginPut("bucket", "large", {});
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write(data).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  ASSERT_TRUE((*store_->Get("bucket", "large", std::nullopt))->File().has_value());  // the sendfile path
  const uint64_t first = 3000001, last = (9 << 20) + 4321;
  const std::string reply = GetRange("large", "bytes=" + std::to_string(first) + "-" + std::to_string(last));
  ASSERT_TRUE(reply.starts_with("HTTP/1.1 206")) << reply.substr(0, 300);
  EXPECT_NE(reply.find("Content-Range: bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                       std::to_string(data.size())),
            std::string::npos);
  const std::string body = reply.substr(reply.find("\r\n\r\n") + 4);
  ASSERT_EQ(body.size(), last - first + 1);
  EXPECT_TRUE(body == data.substr(first, last - first + 1));  // not EXPECT_EQ: no 6 MiB diff
}

TEST_F(StreamingTest, UnsignedTrailerWithCrc32IsStoredAndAnswered) {
  const std::string reply = Put("trailer", Payload(100000), sigv4::PayloadMode::kStreamingUnsignedTrailer);
  ASSERT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  EXPECT_NE(reply.find("x-amz-checksum-crc32: "), std::string::npos);
  EXPECT_TRUE(Exists("trailer"));
}

TEST_F(StreamingTest, ChangedByteInSecondSignedChunkIsRefused) {
  const std::string reply = Put("tampered", Payload(200000), sigv4::PayloadMode::kStreamingSigned,
                                [](std::string& body, std::string&) { body[70000] ^= 1; });
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 403")) << reply;
  EXPECT_NE(reply.find("SignatureDoesNotMatch"), std::string::npos);
  EXPECT_FALSE(Exists("tampered"));
}

TEST_F(StreamingTest, WrongTrailerChecksumIsBadDigest) {
  const std::string reply = Put("badcrc", Payload(1000), sigv4::PayloadMode::kStreamingUnsignedTrailer,
                                [](std::string& body, std::string&) { body[10] ^= 1; });
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply;
  EXPECT_NE(reply.find("BadDigest"), std::string::npos);
  EXPECT_FALSE(Exists("badcrc"));
}

TEST_F(StreamingTest, UnsignedTrailerStillNeedsAValidHeaderSignature) {
  const std::string reply = Put("forged", Payload(1000), sigv4::PayloadMode::kStreamingUnsignedTrailer,
                                [](std::string&, std::string& authorization) {
                                  char& last = authorization.back();
                                  last = last == '0' ? '1' : '0';
                                });
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 403")) << reply;
  EXPECT_FALSE(Exists("forged"));
}

// A JPEG whose bytes also read as HTML: every response with object bytes says nosniff, so a
// browser keeps to the stored Content-Type and never runs the <script> as a page, whether the
// object is fetched signed, through a presigned URL, or only looked at with HEAD.
TEST_F(StreamingTest, ObjectResponsesForbidContentSniffing) {
  const std::string polyglot = std::string("\xFF\xD8\xFF\xE0\0\x10JFIF\0", 11) +
                               "<html><body><script>alert(document.cookie)</script></body></html>";
  store::PutOptions options;
  options.content_type = "image/jpeg";
  auto writer = store_->BeginPut("bucket", "uploads/cat.jpg", options);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write(polyglot).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  const std::pair<const char*, std::string> replies[] = {
      {"GET", Signed("GET", "uploads/cat.jpg")},
      {"HEAD", Signed("HEAD", "uploads/cat.jpg")},
      {"ranged GET", GetRange("uploads/cat.jpg", "bytes=0-3")},
      {"presigned GET", PresignedGet("uploads/cat.jpg")},
  };
  for (const auto& [what, reply] : replies) {
    const std::string header = reply.substr(0, reply.find("\r\n\r\n") + 2);
    EXPECT_TRUE(header.starts_with("HTTP/1.1 200") || header.starts_with("HTTP/1.1 206")) << what << ": " << header;
    EXPECT_NE(header.find("\r\nX-Content-Type-Options: nosniff\r\n"), std::string::npos) << what << ": " << header;
    EXPECT_NE(header.find("\r\nContent-Type: image/jpeg\r\n"), std::string::npos) << what << ": " << header;
  }
}

}  // namespace
}  // namespace thumbpipe::server
