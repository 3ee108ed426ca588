// What a verified request says about its body: the payload mode named by
// x-amz-content-sha256, and for the signed streaming modes the keys needed to check the
// chunk and trailer signatures that chain on the request's own (seed) signature.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sigv4/crypto.h"

namespace thumbpipe::sigv4 {

enum class PayloadMode {
  // x-amz-content-sha256 is the hex SHA-256 of the body: hash it as it streams in
  // (Sha256Hasher / PayloadChecker) and reject a mismatch (XAmzContentSHA256Mismatch)
  // before the object becomes visible.
  kSha256,
  // UNSIGNED-PAYLOAD (presigned URLs, TLS clients): the body is not covered.
  kUnsigned,
  // STREAMING-AWS4-HMAC-SHA256-PAYLOAD: aws-chunked body, every chunk signed.
  kStreamingSigned,
  // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: as above plus a signed trailer.
  kStreamingSignedTrailer,
  // STREAMING-UNSIGNED-PAYLOAD-TRAILER: aws-chunked without chunk signatures, checksum
  // trailer (what current AWS SDKs send by default). The header signature still counts.
  kStreamingUnsignedTrailer,
};

std::string_view PayloadModeName(PayloadMode mode);  // the x-amz-content-sha256 spelling
// Parses an x-amz-content-sha256 value (any of the above or 64 lower-case hex digits).
std::optional<PayloadMode> ParsePayloadMode(std::string_view value);
// True for the three aws-chunked modes (Content-Encoding aws-chunked, decoder needed).
bool IsStreaming(PayloadMode mode);
bool HasTrailer(PayloadMode mode);

// Chains chunk signatures onto the request signature (sigv4-streaming.html).
struct ChunkSigningContext {
  Sha256Digest signing_key{};
  std::string amz_date;        // "20130524T000000Z"
  std::string scope;           // "20130524/us-east-1/s3/aws4_request"
  std::string seed_signature;  // the request's signature, hex
};

}  // namespace thumbpipe::sigv4
