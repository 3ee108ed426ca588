// Verifier: authenticates an incoming request signed with AWS Signature Version 4, either
// in the Authorization header or as a presigned URL (query string). Used by the S3 API
// (service "s3") and the SQS API (service "sqs").
//
// Verify() checks, in this order (the first failure is returned, with S3's code):
//   1. exactly one mechanism: Authorization header or X-Amz-Algorithm query (else
//      AccessDenied for anonymous, InvalidArgument for both); SigV2 "AWS ak:sig" and other
//      algorithms -> InvalidRequest / AuthorizationHeaderMalformed /
//      AuthorizationQueryParametersError.
//   2. the syntax: Credential=AK/yyyymmdd/region/service/aws4_request, SignedHeaders (lower
//      case, ';'-separated), Signature (64 lower-case hex) -> *Malformed / *ParametersError.
//   3. X-Amz-Security-Token present -> InvalidToken (we issue no temporary credentials).
//   4. the access key, through the lookup callback -> InvalidAccessKeyId (403, not 500).
//   5. the date: x-amz-date (or Date) parsable -> AccessDenied (X-Amz-Date of a presigned
//      URL -> AuthorizationQueryParametersError);
//      header auth: within max_skew of the injected Clock -> RequestTimeTooSkewed;
//      presigned: X-Amz-Expires an integer in 0..604800 -> AuthorizationQueryParametersError
//      (status 403, as s3-tests expect),
//      not expired -> AccessDenied "Request has expired", not starting later than now +
//      max_skew -> AccessDenied "Request is not valid yet".
//   6. the scope: date equals the day of the request date, region equals ours, service
//      equals the caller's, terminator aws4_request -> *Malformed / *ParametersError.
//   7. `host` is signed (AccessDenied) and present exactly once (InvalidRequest), and
//      (option, on by default) every x-amz-* header present is signed -> AccessDenied: an
//      unsigned x-amz-meta-* or x-amz-copy-source could be swapped by anyone on the path.
//   8. the payload mode (S3): x-amz-content-sha256 present for header auth
//      (InvalidRequest), one of the known values (InvalidArgument; the ECDSA ones are
//      NotImplemented); presigned requests default to UNSIGNED-PAYLOAD and may not stream.
//   9. the signature, recomputed with the shared canonicaliser and compared in constant
//      time -> SignatureDoesNotMatch.
// The header signature is verified whatever the payload mode: an unsigned or trailer
// payload never skips step 9 (MinIO's CVE-2026-40344 was exactly that).
//
// On SignatureDoesNotMatch the status carries log_detail() (canonical request and string
// to sign) for the server log. A Verifier is immutable after construction and safe to use
// from many threads, provided the lookup callback is.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "sigv4/auth_error.h"
#include "sigv4/canonical.h"
#include "sigv4/payload.h"

namespace thumbpipe::sigv4 {

// Returns the secret key of `access_key`, or nullopt when no such key is configured.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key)>;

inline constexpr int64_t kMaxPresignExpiresSeconds = 604800;  // 7 days, as AWS

struct VerifierOptions {
  // The region clients must sign for (the credential scope's region).
  std::string region = "us-east-1";
  // REQUIRED: the source of "now" (RealClock in production, ManualClock in tests).
  const Clock* clock = nullptr;
  // REQUIRED: access key -> secret.
  SecretLookup lookup;
  // Allowed distance between the request date and our clock (S3: 15 minutes).
  std::chrono::seconds max_skew{15 * 60};
  // Upper bound of X-Amz-Expires.
  int64_t max_presign_expires = kMaxPresignExpiresSeconds;
  // Reject requests carrying x-amz-* headers that are not signed (as S3 does).
  bool require_signed_amz_headers = true;
};

// What a successful verification establishes.
struct VerifiedRequest {
  std::string access_key;  // the principal
  bool presigned = false;
  PayloadMode payload_mode = PayloadMode::kUnsigned;
  // kSha256: the hex hash the body must have (lower case).
  std::string payload_sha256;
  // The signed streaming modes: what AwsChunkedDecoder needs (chunked.h).
  std::optional<ChunkSigningContext> chunk_context;
  std::string region;
  std::string service;
  std::chrono::system_clock::time_point request_time;
};

// The parsed Authorization header (public for tests and the fuzzer).
struct AuthorizationHeader {
  std::string algorithm;
  std::string access_key;
  std::string date8;
  std::string region;
  std::string service;
  std::string terminator;
  std::vector<std::string> signed_headers;
  std::string signed_headers_raw;
  std::string signature;
};

// Parses "AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request,
// SignedHeaders=a;b, Signature=hex" (components in any order, blanks after commas
// optional). Syntax only: the values are checked by Verify(). Errors are
// AuthorizationHeaderMalformed (InvalidRequest for SigV2).
AuthResult<AuthorizationHeader> ParseAuthorization(std::string_view value);

class Verifier {
 public:
  explicit Verifier(VerifierOptions options);

  // Authenticates `request` for `service` ("s3" or "sqs"; "s3" selects PathMode::kS3 and
  // the x-amz-content-sha256 rules). For other services the payload hash comes from
  // x-amz-content-sha256 when present, else request.payload_hash (the caller hashed the
  // body), else InvalidRequest.
  AuthResult<VerifiedRequest> Verify(const Request& request, std::string_view service) const;

  const VerifierOptions& options() const { return options_; }

 private:
  VerifierOptions options_;
};

}  // namespace thumbpipe::sigv4
