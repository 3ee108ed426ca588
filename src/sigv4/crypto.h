// The hashing and encoding primitives SigV4 is made of, on OpenSSL's libcrypto:
// SHA-256 (one-shot and incremental), HMAC-SHA256, lower-case hex, base64, and the
// constant-time comparison that every signature check in this room goes through.
// All functions are thread-safe; Sha256Hasher objects are not shared between threads.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/hex.h"

namespace thumbpipe::sigv4 {

using Sha256Digest = std::array<unsigned char, 32>;

// Hex of the SHA-256 of the empty string (the payload hash of a GET).
inline constexpr std::string_view kEmptySha256Hex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

Sha256Digest Sha256(std::string_view data);
std::string Sha256Hex(std::string_view data);
Sha256Digest HmacSha256(std::string_view key, std::string_view data);

// Lower-case hex, as SigV4 writes every hash and signature (common/hex.h), also for digests.
using thumbpipe::HexEncode;
template <std::size_t N>
std::string HexEncode(const std::array<unsigned char, N>& bytes) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(bytes.data()), N));
}
// True when `text` is exactly 64 lower-case hex digits (a SHA-256 or a signature).
bool IsLowerHex64(std::string_view text);

// Standard base64 with padding (RFC 4648 section 4), as Content-MD5 and x-amz-checksum-*.
std::string Base64Encode(std::string_view bytes);
// Strict decoding: only the standard alphabet, length a multiple of 4, padding only at the
// end and canonical (unused bits zero). nullopt for anything else.
std::optional<std::string> Base64Decode(std::string_view text);

// Compares without an early exit (CRYPTO_memcmp), so the time taken does not reveal how
// many leading bytes of a guessed signature were right. Different lengths are unequal
// (the lengths of signatures are public).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Incremental SHA-256 for bodies that stream through (x-amz-content-sha256, chunk data).
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(Sha256Hasher&&) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&&) noexcept;
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::string_view data);
  // Returns the digest and resets the hasher for a new message.
  Sha256Digest Finish();
  std::string FinishHex() { return HexEncode(Finish()); }

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace thumbpipe::sigv4
