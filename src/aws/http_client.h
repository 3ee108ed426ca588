// AwsHttpClient: the HTTP core the S3 store and the SQS queue share. It sends a request to an
// AWS-style endpoint over libcurl, signs every attempt with the project's SigV4 signer
// (sigv4/signer.h, the same canonicaliser the server verifies with), retries what may
// succeed later (5xx, 429, SlowDown and other throttling codes, network errors) a bounded
// number of times with exponential backoff and full jitter (retry.h), and turns everything
// else into a Status whose message starts with the service's error code (error.h).
//
// Bodies stream both ways: a request body may come from a BodySource (known length,
// rewound for a retry) and a response body may be read in chunks through a ResponseStream,
// so memory does not grow with object size.
//
// Connections are reused: the client keeps a pool of idle curl handles (each an easy handle
// with the multi handle that drives it, which owns its connection cache). A thread takes the
// most recently returned handle, so a thread issuing requests one after another keeps one
// warm connection, as with a handle per thread; unlike a strict handle per thread, a thread
// that holds a streaming response open and sends another request meanwhile simply gets a
// second handle. Safe for concurrent use by many threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aws/error.h"
#include "aws/retry.h"
#include "common/clock.h"
#include "common/result.h"
#include "sigv4/signer.h"

namespace thumbpipe::aws {

// A request body read in chunks. size() is sent as Content-Length; Rewind() starts it over
// for a retry.
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual uint64_t size() const = 0;
  virtual Result<size_t> Read(std::span<char> buffer) = 0;
  virtual Status Rewind() = 0;
};

struct HttpRequest {
  std::string method = "GET";
  std::string host;        // authority to send to ("bucket.s3.amazonaws.com"); empty = the endpoint's
  std::string path = "/";  // already encoded, as sent and signed
  std::string query;       // already encoded, without '?'
  sigv4::Headers headers;  // besides Host and what the signer adds
  std::string_view body;   // a small body held by the caller; ignored when body_source is set
  BodySource* body_source = nullptr;
  // Hex SHA-256 of the body, or UNSIGNED-PAYLOAD. Unset: computed for `body`, UNSIGNED-PAYLOAD
  // for a body_source (S3 accepts it; the part's Content-MD5 still protects it).
  std::optional<std::string> payload_hash;
  // S3 can answer 200 and then put an <Error> in the body (CopyObject,
  // CompleteMultipartUpload); Send treats such a reply as the error it carries.
  bool error_in_ok_body = false;
  std::string context;  // names the request in error messages: "GET b/k"
};

struct HttpResponse {
  int status = 0;
  sigv4::Headers headers;  // names as received
  std::string body;
  std::optional<std::string> Header(std::string_view name) const { return sigv4::FindHeader(headers, name); }
};

// A 2xx response whose body has not been read yet. Read() returns 0 at the end; a transfer
// that breaks off midway is kUnavailable (the caller may open it again with a Range).
// Destroying it early abandons the transfer (its connection is closed, not reused).
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  virtual int status() const = 0;
  virtual const sigv4::Headers& headers() const = 0;
  std::optional<std::string> Header(std::string_view name) const { return sigv4::FindHeader(headers(), name); }
  virtual Result<size_t> Read(std::span<char> buffer) = 0;
};

using ErrorParser = std::function<AwsError(int http_status, const sigv4::Headers&, std::string_view body)>;

struct ClientOptions {
  // "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000": scheme, host, optional
  // port, no path.
  std::string endpoint;
  std::string region = "us-east-1";
  std::string service = "s3";
  sigv4::Credentials credentials;
  RetryPolicy retry;
  // Time to sign with and to sleep between attempts (ManualClock in tests: no real sleeps).
  Clock* clock = &RealClock::Instance();
  Random random = DefaultRandom();
  ErrorParser parse_error = ParseXmlError;
  Duration connect_timeout = std::chrono::seconds(10);
  // A transfer that moves no byte for this long is cut off (a network error, so retried).
  Duration stall_timeout = std::chrono::seconds(60);
  // Send() keeps at most this much of a response body (listings); more is kTooLarge.
  uint64_t max_response_bytes = uint64_t{64} << 20;
  // A ResponseStream buffers at most about this much ahead of its reader.
  size_t stream_buffer_bytes = 256 * 1024;
  size_t max_idle_handles = 64;
};

class AwsHttpClient {
 public:
  // kInvalidArgument for an endpoint that is not scheme://host[:port].
  static Result<std::unique_ptr<AwsHttpClient>> Create(ClientOptions options);
  ~AwsHttpClient();
  AwsHttpClient(const AwsHttpClient&) = delete;
  AwsHttpClient& operator=(const AwsHttpClient&) = delete;

  // Sends with retries and returns the 2xx response with its whole body (at most
  // max_response_bytes), or the error as a Status (error.h).
  Result<HttpResponse> Send(const HttpRequest& request);
  // As Send, but returns once the headers of a 2xx response are in; the body is streamed.
  // Retries happen only before that point.
  Result<std::unique_ptr<ResponseStream>> Open(const HttpRequest& request);

  const ClientOptions& options() const { return options_; }
  // "127.0.0.1:9000": the endpoint's authority (what path-style requests send as Host).
  const std::string& endpoint_host() const { return host_; }
  const std::string& scheme() const { return scheme_; }
  // New connections opened so far (requests minus this = connections reused).
  uint64_t connections_opened() const { return connections_opened_.load(); }
  // Attempts made so far, retries included.
  uint64_t attempts() const { return attempts_.load(); }

 private:
  struct Slot;
  class Transfer;
  friend class Transfer;
  AwsHttpClient(ClientOptions options, std::string scheme, std::string host);
  std::unique_ptr<Slot> Acquire();
  void Release(std::unique_ptr<Slot> slot);
  Result<std::unique_ptr<Transfer>> Run(const HttpRequest& request, bool collect_body);

  ClientOptions options_;
  std::string scheme_, host_;
  std::atomic<uint64_t> connections_opened_{0}, attempts_{0};
  struct Pool;
  std::unique_ptr<Pool> pool_;
};

}  // namespace thumbpipe::aws
