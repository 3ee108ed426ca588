// Integrity checks on a request body that arrives in one piece (not aws-chunked):
// x-amz-content-sha256 (signed hex hash), Content-MD5, and the flexible checksums
// x-amz-checksum-crc32 | crc32c | crc64nvme | sha1 | sha256 (base64 of the big-endian CRC or
// digest).
// The same Checksummer checks the aws-chunked trailers (chunked.h).
//
// S3's answers: a hash that does not match -> XAmzContentSHA256Mismatch (sha256 header),
// BadDigest (Content-MD5, x-amz-checksum-*); a value that is not valid base64 of the
// right length -> InvalidDigest (Content-MD5) / InvalidRequest (x-amz-checksum-*); more
// than one x-amz-checksum-* header -> InvalidRequest.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sigv4/auth_error.h"
#include "sigv4/canonical.h"
#include "sigv4/crypto.h"

namespace thumbpipe::sigv4 {

// CRC64NVME is what the newest AWS SDKs choose for full-object checksums; a client set to it
// would otherwise fail every aws-chunked upload (x-amz-trailer names it).
enum class ChecksumAlgorithm { kCrc32, kCrc32c, kSha1, kSha256, kCrc64Nvme };

std::string_view ChecksumAlgorithmName(ChecksumAlgorithm algorithm);  // "CRC32C"
std::string_view ChecksumHeaderName(ChecksumAlgorithm algorithm);     // "x-amz-checksum-crc32c"
// From a header name in any case ("X-Amz-Checksum-CRC32" -> kCrc32); nullopt otherwise.
std::optional<ChecksumAlgorithm> ChecksumAlgorithmFromHeader(std::string_view name);
// Bytes of the raw digest: 4, 4, 20, 32, 8.
std::size_t ChecksumDigestSize(ChecksumAlgorithm algorithm);

// CRC-32 (ISO-HDLC, zlib's) and CRC-32C (Castagnoli, iSCSI), continuing from `crc`
// (0 to start). CRC-32C uses SSE4.2 when the CPU has it and a slicing table otherwise.
uint32_t Crc32(std::string_view data, uint32_t crc = 0);
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);
// CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5, check value 0xAE8B14860A799888).
uint64_t Crc64Nvme(std::string_view data, uint64_t crc = 0);

// An incremental checksum of one algorithm.
class Checksummer {
 public:
  explicit Checksummer(ChecksumAlgorithm algorithm);
  ~Checksummer();
  Checksummer(Checksummer&&) noexcept;
  Checksummer& operator=(Checksummer&&) noexcept;

  ChecksumAlgorithm algorithm() const { return algorithm_; }
  void Update(std::string_view data);
  // The raw digest (CRCs as 4 big-endian bytes). Call once.
  std::string Finish();
  std::string FinishBase64() { return Base64Encode(Finish()); }

 private:
  ChecksumAlgorithm algorithm_;
  uint64_t crc_ = 0;
  struct Digest;
  std::unique_ptr<Digest> digest_;  // SHA-1 / SHA-256 state (EVP)
};

// Decodes a base64 checksum value and checks its length for `algorithm`; InvalidRequest
// ("Value for x-amz-checksum-crc32 header is invalid.") otherwise. Returns the raw digest.
AuthResult<std::string> DecodeChecksumValue(ChecksumAlgorithm algorithm, std::string_view base64);
// Decodes Content-MD5 (base64 of 16 bytes); InvalidDigest otherwise.
AuthResult<std::string> DecodeContentMd5(std::string_view base64);

// Checks a plain body against everything its headers promise. Feed the body with
// Update() as it streams (memory stays constant), then Finish() before the object
// becomes visible. MD5 is always computed, since the ETag of a plain PUT is its hex MD5.
class PayloadChecker {
 public:
  // `expected_sha256_hex`: the verified request's payload_sha256 when its mode is kSha256,
  // else nullopt. Reads Content-MD5 and x-amz-checksum-* from `headers`.
  static AuthResult<PayloadChecker> Create(const Headers& headers,
                                           std::optional<std::string> expected_sha256_hex);
  ~PayloadChecker();
  PayloadChecker(PayloadChecker&&) noexcept;
  PayloadChecker& operator=(PayloadChecker&&) noexcept;

  void Update(std::string_view data);
  // OK, or XAmzContentSHA256Mismatch / BadDigest. Call once, after the last Update().
  AuthStatus Finish();

  // After Finish(): the raw MD5 of the body (hex it for the ETag), and the checksum that
  // was verified (algorithm, base64), if the request carried one.
  const std::string& md5() const { return md5_; }
  std::optional<ChecksumAlgorithm> checksum_algorithm() const;
  const std::string& checksum_base64() const { return checksum_base64_; }

 private:
  PayloadChecker();
  struct State;
  std::unique_ptr<State> state_;
  std::string md5_;
  std::string checksum_base64_;
};

}  // namespace thumbpipe::sigv4
