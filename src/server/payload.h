// The request body between the socket and the store: aws-chunked decoding (signed chunks,
// trailer checksums) when the payload mode streams, and every integrity check the headers
// promise (x-amz-content-sha256, Content-MD5, x-amz-checksum-*), computed as the body
// streams through. Nothing is trusted until Finish() returns no error; callers write into a
// store writer and commit only then.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/http_types.h"
#include "server/s3_errors.h"
#include "sigv4/checksums.h"
#include "sigv4/chunked.h"
#include "sigv4/verifier.h"

namespace thumbpipe::server {

class PayloadPipe {
 public:
  // Validates the framing headers against `max_bytes` (EntityTooLarge before any byte is
  // read; MissingContentLength when the object size is unknown and `require_length`).
  static std::optional<S3Error> Create(const HttpRequestHead& head, const sigv4::VerifiedRequest& verified,
                                       uint64_t max_bytes, bool require_length,
                                       std::unique_ptr<PayloadPipe>* out);

  // Decodes `raw` (a slice of the HTTP body) into *out (appended).
  std::optional<S3Error> Feed(std::string_view raw, std::string* out);
  // The body ended: every check. Afterwards md5() is the raw MD5 of the payload.
  std::optional<S3Error> Finish();

  // The object's size as announced (Content-Length or x-amz-decoded-content-length).
  std::optional<uint64_t> declared_length() const { return declared_length_; }
  uint64_t payload_bytes() const { return payload_bytes_; }
  const std::string& md5() const { return checker_->md5(); }
  // The verified checksum header to echo ("x-amz-checksum-crc32", base64), if any.
  std::optional<std::pair<std::string, std::string>> checksum() const;

 private:
  PayloadPipe() = default;
  std::optional<sigv4::AwsChunkedDecoder> decoder_;
  std::optional<sigv4::PayloadChecker> checker_;
  std::optional<uint64_t> declared_length_;
  uint64_t payload_bytes_ = 0;
  uint64_t max_bytes_ = 0;
  std::string trailer_name_;  // x-amz-trailer, lower case ("x-amz-checksum-crc32")
  std::optional<std::pair<std::string, std::string>> trailer_checksum_;
};

}  // namespace thumbpipe::server
