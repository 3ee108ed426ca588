// AuthStatus and AuthResult<T>: the outcome of authenticating or integrity-checking a
// request, carrying the exact S3 error code and HTTP status the server must answer with.
// thumbpipe's Status (common/status.h) has no room for S3's codes, and the server has to
// produce `<Error><Code>SignatureDoesNotMatch</Code>...` byte for byte, so this room keeps
// its own small pair shaped like Status/Result. ToStatus() converts for logs and for
// callers that only need a thumbpipe Status.
//
// The message is meant for the client (it goes into the XML <Message>): it never contains
// the secret, the expected signature or the canonical request.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace thumbpipe::sigv4 {

// S3 error codes this room can produce. Each maps to one HTTP status (HttpStatusOf).
enum class S3Error {
  kNone = 0,                           // 200, not an error
  kAccessDenied,                       // 403: anonymous, expired presign, unsigned headers
  kSignatureDoesNotMatch,              // 403: header, chunk or trailer signature wrong
  kInvalidAccessKeyId,                 // 403: the access key is not configured
  kRequestTimeTooSkewed,               // 403: x-amz-date more than 15 min from our clock
  kAuthorizationHeaderMalformed,       // 400: Authorization unparsable, or scope wrong
  kAuthorizationQueryParametersError,  // 400: presigned query unparsable, or scope wrong
  kInvalidArgument,                    // 400: e.g. a bad x-amz-content-sha256 value
  kInvalidRequest,                     // 400: unsupported mechanism, conflicting headers
  kInvalidToken,                       // 400: X-Amz-Security-Token (we issue no tokens)
  kXAmzContentSHA256Mismatch,          // 400: body does not hash to x-amz-content-sha256
  kBadDigest,                          // 400: Content-MD5 or x-amz-checksum-* mismatch
  kInvalidDigest,                      // 400: Content-MD5 / checksum value not decodable
  kIncompleteBody,                     // 400: body shorter than announced, chunks cut
  kMissingContentLength,               // 411: aws-chunked without decoded length
  kEntityTooLarge,                     // 400: (for the server) a body beyond the size limit
  kNotImplemented,                     // 501: e.g. SigV4a (ECDSA) payload modes
};

// "SignatureDoesNotMatch" etc.; "" for kNone.
std::string_view S3ErrorName(S3Error code);
// 403, 400, 411 or 501 (200 for kNone).
int HttpStatusOf(S3Error code);

class [[nodiscard]] AuthStatus {
 public:
  AuthStatus() = default;  // OK
  AuthStatus(S3Error code, std::string message) : code_(code), message_(std::move(message)) {}
  // For the few answers where S3 pairs a code with another status than its usual one
  // (AuthorizationQueryParametersError is 403 for an X-Amz-Expires out of range).
  AuthStatus(S3Error code, std::string message, int http_status)
      : code_(code), message_(std::move(message)), http_status_(http_status) {}

  static AuthStatus Ok() { return {}; }

  bool ok() const { return code_ == S3Error::kNone; }
  S3Error code() const { return code_; }
  std::string_view s3_code() const { return S3ErrorName(code_); }
  int http_status() const { return http_status_ != 0 ? http_status_ : HttpStatusOf(code_); }
  const std::string& message() const { return message_; }

  // "SignatureDoesNotMatch: <message>", or "ok".
  std::string ToString() const;
  // A thumbpipe Status: kInvalidArgument for 4xx, kUnsupported for 501; the message keeps
  // the S3 code in front so logs stay greppable.
  Status ToStatus() const;

  // For the server log only, never for the client: on SignatureDoesNotMatch, the
  // canonical request and string to sign we computed, which is what it takes to find the
  // part a client signed differently. Empty otherwise.
  const std::string& log_detail() const { return log_detail_; }
  AuthStatus WithLogDetail(std::string detail) && {
    log_detail_ = std::move(detail);
    return std::move(*this);
  }

 private:
  S3Error code_ = S3Error::kNone;
  std::string message_;
  std::string log_detail_;
  int http_status_ = 0;  // 0: HttpStatusOf(code_)
};

// A value or a non-OK AuthStatus (the AuthStatus counterpart of Result<T>).
template <typename T>
class [[nodiscard]] AuthResult {
 public:
  // REQUIRES: !status.ok()
  AuthResult(AuthStatus status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok());
    if (status_.ok()) status_ = AuthStatus(S3Error::kAccessDenied, "internal: empty result");
  }
  AuthResult(T value) : value_(std::move(value)) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const AuthStatus& status() const& { return status_; }
  AuthStatus status() && { return std::move(status_); }

  // REQUIRES: ok()
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T value() && {
    assert(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::optional<T> value_;
  AuthStatus status_;
};

#define THUMBPIPE_SIGV4_RETURN_IF_ERROR(expr)              \
  do {                                                     \
    ::thumbpipe::sigv4::AuthStatus sigv4_status_ = (expr); \
    if (!sigv4_status_.ok()) return sigv4_status_;         \
  } while (0)

}  // namespace thumbpipe::sigv4
