// aws-chunked bodies (Content-Encoding: aws-chunked), the three streaming payload modes:
//
//   STREAMING-AWS4-HMAC-SHA256-PAYLOAD          hex-size;chunk-signature=SIG\r\n data \r\n
//                                               ... 0;chunk-signature=SIG\r\n\r\n
//   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER  ... 0;chunk-signature=SIG\r\n
//                                               x-amz-checksum-crc32:B64\r\n
//                                               x-amz-trailer-signature:SIG\r\n\r\n
//   STREAMING-UNSIGNED-PAYLOAD-TRAILER          hex-size\r\n data \r\n ... 0\r\n
//                                               x-amz-checksum-crc32:B64\r\n\r\n
//
// Chunk n's signature is HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope
// "\n" signature(n-1) "\n" sha256("") "\n" sha256(data n)), chained from the request's
// own signature (the seed), so chunks cannot be dropped, reordered or swapped between
// requests; the trailer's is "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope "\n"
// signature(final chunk) "\n" sha256("name:value\n" per trailer).
//
// The decoder is push-style: feed arbitrary slices of the HTTP body; it appends decoded
// payload bytes to `out` as soon as they arrive. Memory is bounded (one line buffer of
// at most max_line_bytes / max_trailer_bytes); data is NOT held back until its chunk
// signature is checked, so the caller must write into a temporary and commit only when
// Finish() returns OK. Any error is final: later calls return the same error.
//
// Checks: chunk-size lines (hex, at most 16 digits, no blanks, CRLF, line length bounded
// -> InvalidRequest), chunk signatures in constant time
// (SignatureDoesNotMatch), the CRLF after each chunk, the running total never beyond
// x-amz-decoded-content-length and equal to it at the final chunk (IncompleteBody /
// InvalidRequest), trailers: only the announced x-amz-checksum-* (plus
// x-amz-trailer-signature in the signed variant), checksum equal to the decoded body's
// (BadDigest), trailer signature (SignatureDoesNotMatch); a missing final chunk or
// trailer at Finish() -> IncompleteBody.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sigv4/auth_error.h"
#include "sigv4/checksums.h"
#include "sigv4/payload.h"
#include "sigv4/verifier.h"

namespace thumbpipe::sigv4 {

struct ChunkedOptions {
  // One of the three streaming modes.
  PayloadMode mode = PayloadMode::kStreamingSigned;
  // REQUIRED for the signed modes.
  std::optional<ChunkSigningContext> signing;
  // x-amz-decoded-content-length: the size of the object.
  uint64_t decoded_length = 0;
  // The checksum named by x-amz-trailer (trailer modes: required; S3 allows only one).
  std::optional<ChecksumAlgorithm> trailer_checksum;
  // A chunk-size line is ~86 bytes ("10000;chunk-signature=" + 64 hex): anything longer
  // is garbage or an attempt to make us buffer.
  std::size_t max_line_bytes = 256;
  // The trailer section: a checksum line and a signature line are under 200 bytes.
  std::size_t max_trailer_bytes = 4096;
};

class AwsChunkedDecoder {
 public:
  // InvalidArgument / InvalidRequest when the options do not fit the mode.
  static AuthResult<AwsChunkedDecoder> Create(ChunkedOptions options);
  ~AwsChunkedDecoder();
  AwsChunkedDecoder(AwsChunkedDecoder&&) noexcept;
  AwsChunkedDecoder& operator=(AwsChunkedDecoder&&) noexcept;

  // Consumes all of `input`, appending decoded payload bytes to *out (not cleared).
  AuthStatus Feed(std::string_view input, std::string* out);
  // The HTTP body ended: OK only if the final chunk (and trailers) were complete.
  AuthStatus Finish();

  // The final chunk and trailer section have been read and verified.
  bool done() const;
  uint64_t decoded_bytes() const;
  // The verified trailer checksum (base64), once done() and in a trailer mode.
  std::optional<std::string> trailer_checksum_base64() const;

 private:
  AwsChunkedDecoder();
  struct State;
  std::unique_ptr<State> state_;
};

// Builds a decoder for a verified streaming request: reads x-amz-decoded-content-length
// (required: MissingContentLength; not a number: InvalidArgument) and x-amz-trailer
// (required in trailer modes, one x-amz-checksum-* name: InvalidRequest), and takes the
// chunk signing context from `verified`. REQUIRES: IsStreaming(verified.payload_mode).
AuthResult<AwsChunkedDecoder> NewChunkedDecoder(const VerifiedRequest& verified,
                                                const Headers& headers,
                                                const ChunkedOptions& limits = {});

// The Content-Encoding to store with the object: the header without its aws-chunked token
// ("aws-chunked" -> "", "aws-chunked,gzip" -> "gzip"), as S3 does, since aws-chunked
// describes the transfer, not the object.
std::string StripAwsChunked(std::string_view content_encoding);

// The signature of one chunk / of the trailer section (lines "name:value\n").
std::string ChunkSignature(const ChunkSigningContext& context, std::string_view previous_signature,
                           std::string_view chunk_data);
std::string TrailerSignature(const ChunkSigningContext& context,
                             std::string_view previous_signature,
                             std::string_view canonical_trailers);

// Encodes `data` as an aws-chunked body (clients, tests): chunks of `chunk_size` bytes
// (the last shorter), then the final chunk and, in trailer modes, the checksum trailer
// (and its signature). REQUIRES: signing context for the signed modes. chunk_size 0 means
// the whole data in one chunk.
struct ChunkedEncodeOptions {
  PayloadMode mode = PayloadMode::kStreamingSigned;
  std::optional<ChunkSigningContext> signing;
  std::optional<ChecksumAlgorithm> trailer_checksum;
  std::size_t chunk_size = 64 * 1024;
};
std::string EncodeAwsChunked(std::string_view data, const ChunkedEncodeOptions& options);

}  // namespace thumbpipe::sigv4
