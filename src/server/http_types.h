// The HTTP server's contract with whatever answers requests (the S3 API), in plain types so
// that no Boost header leaks out of http_server.cc.
//
// One request is one Exchange. The server parses the header, then calls, on its worker pool
// (where blocking store work is allowed): Begin() once; Body() for each chunk of the request
// body, in order, with memory bounded by the server's chunk size; End() once. A response
// returned by Begin() or Body() ends the exchange early: the rest of the body is not read
// and the connection is closed after the response. Destroying an Exchange without End() (a
// client that went away, a timeout) must abort whatever it started and leave nothing behind.
//
// Exchanges and handlers must not throw; the server still catches anything that escapes and
// answers with HttpHandler::Failure(kInternal).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace thumbpipe::server {

struct HttpHeader {
  std::string name;  // as received (compare case-insensitively)
  std::string value;
};

// A request as the server parsed it, before its body.
struct HttpRequestHead {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // the raw request-target: "/bucket/key?query"
  std::vector<HttpHeader> headers;
  std::string remote_ip;
  // The body's framing: a Content-Length, or chunked transfer coding (length unknown).
  std::optional<uint64_t> content_length;
  bool chunked = false;

  bool has_body() const { return chunked || content_length.value_or(0) > 0; }
  // The first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// Where a response body lies in an open file: `length` bytes from `offset` of `fd`.
struct FileRegion {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// A response body produced in chunks (an object being read); Read returns 0 at the end.
// Runs on the worker pool.
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual Result<size_t> Read(std::span<char> buffer) = 0;
  // The body as a region of an open file, when it is one: the server then sends it with
  // sendfile(2), kernel to kernel, and never calls Read. The fd must stay open while the
  // source lives. nullopt (the default): the server reads the body through Read.
  virtual std::optional<FileRegion> File() const { return std::nullopt; }
};

struct HttpResponse {
  int status = 200;
  std::vector<HttpHeader> headers;  // Content-Length is added by the server
  std::string body;                 // the body when `stream` is null
  std::unique_ptr<BodySource> stream;
  // Content-Length to announce. Unset: body.size() (or 0 with a stream, which must set it).
  // A HEAD response sets it to the object's size and has no body.
  std::optional<uint64_t> content_length;
  bool close = false;  // close the connection after this response

  void Set(std::string name, std::string value) { headers.push_back({std::move(name), std::move(value)}); }
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual std::optional<HttpResponse> Begin() = 0;
  virtual std::optional<HttpResponse> Body(std::string_view chunk) = 0;
  virtual HttpResponse End() = 0;
};

// Failures the server detects itself, before or outside an exchange.
enum class HttpFailure {
  kBadRequest,          // malformed request line, header or framing -> 400
  kHeaderTooLarge,      // request line + headers over the limit -> 431
  kBodyTooLarge,        // body over the limit -> 400 EntityTooLarge
  kIncompleteBody,      // the client stopped sending before the announced length
  kRequestTimeout,      // the body did not arrive in time -> 400 RequestTimeout
  kTooManyConnections,  // over max_connections -> 503 SlowDown
  kInternal,            // an exchange failed unexpectedly -> 500
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Cheap and non-blocking (runs on an I/O thread): the real work starts in Begin().
  virtual std::unique_ptr<Exchange> NewExchange(HttpRequestHead head) = 0;
  // The response for a failure the server detected; cheap and non-blocking.
  virtual HttpResponse Failure(HttpFailure failure, std::string_view detail) = 0;
};

// Case-insensitive ASCII comparison of header names.
bool HeaderNameEquals(std::string_view a, std::string_view b);

}  // namespace thumbpipe::server
