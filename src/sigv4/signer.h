// Signer: signs outgoing requests for the S3 and SQS clients (issue 6) and presigns URLs,
// with the same canonicaliser the server's Verifier uses. The time comes from the
// caller (a Clock in the client), so tests sign at a fixed instant.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "sigv4/canonical.h"
#include "sigv4/payload.h"

namespace thumbpipe::sigv4 {

struct Credentials {
  std::string access_key;
  std::string secret_key;
  // Temporary credentials (STS): sent as X-Amz-Security-Token and signed.
  std::optional<std::string> session_token;
};

struct SigningParams {
  std::string region = "us-east-1";
  std::string service = "s3";  // "s3" selects PathMode::kS3 and x-amz-content-sha256
  std::chrono::system_clock::time_point time;
};

struct SignResult {
  std::string authorization;          // the Authorization header value
  std::string signature;              // hex; the seed for aws-chunked bodies
  ChunkSigningContext chunk_context;  // to sign chunks of a streaming body
};

// Signs in header mode: adds x-amz-date, x-amz-content-sha256 (service s3), and
// X-Amz-Security-Token when given, then Authorization, to request->headers. The payload
// hash is request->payload_hash (hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* value),
// or the empty body's hash when unset. Every header present is signed except
// authorization, user-agent, expect, x-amzn-trace-id and hop-by-hop ones (as botocore).
// InvalidArgument when there is no Host header or a header already set by the signer
// (x-amz-date, authorization) is present.
Result<SignResult> SignRequest(Request* request, const Credentials& credentials,
                               const SigningParams& params);

// Presigns: returns the query string to send (request.query plus X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Security-Token
// if any, and X-Amz-Signature), signing `host` only (plus any other header present in
// request.headers) and UNSIGNED-PAYLOAD. InvalidArgument when expires is not in
// 1..604800 s or Host is missing.
Result<std::string> PresignQuery(const Request& request, const Credentials& credentials,
                                 const SigningParams& params, std::chrono::seconds expires);

}  // namespace thumbpipe::sigv4
