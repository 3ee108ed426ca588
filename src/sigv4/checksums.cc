#include "sigv4/checksums.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <limits>

namespace thumbpipe::sigv4 {

std::string_view ChecksumAlgorithmName(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return "CRC32";
    case ChecksumAlgorithm::kCrc32c:
      return "CRC32C";
    case ChecksumAlgorithm::kSha1:
      return "SHA1";
    case ChecksumAlgorithm::kSha256:
      return "SHA256";
    case ChecksumAlgorithm::kCrc64Nvme:
      return "CRC64NVME";
  }
  return "";
}

std::string_view ChecksumHeaderName(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return "x-amz-checksum-crc32";
    case ChecksumAlgorithm::kCrc32c:
      return "x-amz-checksum-crc32c";
    case ChecksumAlgorithm::kSha1:
      return "x-amz-checksum-sha1";
    case ChecksumAlgorithm::kSha256:
      return "x-amz-checksum-sha256";
    case ChecksumAlgorithm::kCrc64Nvme:
      return "x-amz-checksum-crc64nvme";
  }
  return "";
}

std::optional<ChecksumAlgorithm> ChecksumAlgorithmFromHeader(std::string_view name) {
  for (auto a : {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kSha1,
                 ChecksumAlgorithm::kSha256, ChecksumAlgorithm::kCrc64Nvme}) {
    if (EqualsIgnoreCase(name, ChecksumHeaderName(a))) return a;
  }
  return std::nullopt;
}

std::size_t ChecksumDigestSize(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
    case ChecksumAlgorithm::kCrc32c:
      return 4;
    case ChecksumAlgorithm::kSha1:
      return 20;
    case ChecksumAlgorithm::kSha256:
      return 32;
    case ChecksumAlgorithm::kCrc64Nvme:
      return 8;
  }
  return 0;
}

uint32_t Crc32(std::string_view data, uint32_t crc) {
  return static_cast<uint32_t>(
      crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

struct Checksummer::Digest {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Digest() { EVP_MD_CTX_free(md); }
};

Checksummer::Checksummer(ChecksumAlgorithm algorithm) : algorithm_(algorithm) {
  if (algorithm == ChecksumAlgorithm::kSha1 || algorithm == ChecksumAlgorithm::kSha256) {
    digest_ = std::make_unique<Digest>();
    EVP_DigestInit_ex(digest_->md,
                      algorithm == ChecksumAlgorithm::kSha1 ? EVP_sha1() : EVP_sha256(), nullptr);
  }
}
Checksummer::~Checksummer() = default;
Checksummer::Checksummer(Checksummer&&) noexcept = default;
Checksummer& Checksummer::operator=(Checksummer&&) noexcept = default;

void Checksummer::Update(std::string_view data) {
  if (data.empty()) return;
  switch (algorithm_) {
    case ChecksumAlgorithm::kCrc32:
      crc_ = Crc32(data, static_cast<uint32_t>(crc_));
      break;
    case ChecksumAlgorithm::kCrc32c:
      crc_ = Crc32c(data, static_cast<uint32_t>(crc_));
      break;
    case ChecksumAlgorithm::kCrc64Nvme:
      crc_ = Crc64Nvme(data, crc_);
      break;
    default:
      EVP_DigestUpdate(digest_->md, data.data(), data.size());
  }
}

std::string Checksummer::Finish() {
  if (digest_) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(digest_->md, out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
  }
  const int n = static_cast<int>(ChecksumDigestSize(algorithm_));
  std::string out(n, '\0');
  for (int i = 0; i < n; ++i) out[i] = static_cast<char>((crc_ >> (8 * (n - 1 - i))) & 0xFF);
  return out;
}

AuthResult<std::string> DecodeChecksumValue(ChecksumAlgorithm algorithm, std::string_view base64) {
  auto raw = Base64Decode(base64);
  if (!raw || raw->size() != ChecksumDigestSize(algorithm)) {
    return AuthStatus(
        S3Error::kInvalidRequest,
        "Value for " + std::string(ChecksumHeaderName(algorithm)) + " header is invalid.");
  }
  return std::move(*raw);
}

AuthResult<std::string> DecodeContentMd5(std::string_view base64) {
  auto raw = Base64Decode(base64);
  if (!raw || raw->size() != 16) {
    return AuthStatus(S3Error::kInvalidDigest, "The Content-MD5 you specified was invalid.");
  }
  return std::move(*raw);
}

struct PayloadChecker::State {
  std::optional<std::string> expected_sha256_hex;
  Sha256Hasher sha256;
  EVP_MD_CTX* md5 = EVP_MD_CTX_new();
  std::optional<std::string> expected_md5;
  std::optional<Checksummer> checksum;
  std::string expected_checksum;
  bool finished = false;
  ~State() { EVP_MD_CTX_free(md5); }
};

PayloadChecker::PayloadChecker() : state_(std::make_unique<State>()) {}
PayloadChecker::~PayloadChecker() = default;
PayloadChecker::PayloadChecker(PayloadChecker&&) noexcept = default;
PayloadChecker& PayloadChecker::operator=(PayloadChecker&&) noexcept = default;

AuthResult<PayloadChecker> PayloadChecker::Create(const Headers& headers,
                                                  std::optional<std::string> expected_sha256_hex) {
  PayloadChecker checker;
  State& s = *checker.state_;
  EVP_DigestInit_ex(s.md5, EVP_md5(), nullptr);
  if (expected_sha256_hex) s.expected_sha256_hex = ToLowerAscii(*expected_sha256_hex);
  auto md5 = FindHeaders(headers, "content-md5");
  if (md5.size() > 1)
    return AuthStatus(S3Error::kInvalidDigest, "The Content-MD5 you specified was invalid.");
  if (md5.size() == 1) {
    auto raw = DecodeContentMd5(md5[0]);
    if (!raw.ok()) return std::move(raw).status();
    s.expected_md5 = std::move(*raw);
  }
  for (const auto& h : headers) {
    auto algorithm = ChecksumAlgorithmFromHeader(h.name);
    if (!algorithm) continue;
    if (s.checksum) {
      return AuthStatus(
          S3Error::kInvalidRequest,
          "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
    }
    auto raw = DecodeChecksumValue(*algorithm, h.value);
    if (!raw.ok()) return std::move(raw).status();
    s.checksum.emplace(*algorithm);
    s.expected_checksum = std::move(*raw);
  }
  return checker;
}

void PayloadChecker::Update(std::string_view data) {
  if (data.empty()) return;
  State& s = *state_;
  if (s.expected_sha256_hex) s.sha256.Update(data);
  EVP_DigestUpdate(s.md5, data.data(), data.size());
  if (s.checksum) s.checksum->Update(data);
}

AuthStatus PayloadChecker::Finish() {
  State& s = *state_;
  if (s.finished)
    return AuthStatus(S3Error::kInvalidRequest, "internal: PayloadChecker finished twice");
  s.finished = true;
  unsigned char md5[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(s.md5, md5, &len);
  md5_.assign(reinterpret_cast<char*>(md5), len);
  // The hashes of the body are not secret, but comparing them the same way as signatures
  // keeps one rule for every digest in this room.
  if (s.expected_sha256_hex && !ConstantTimeEquals(s.sha256.FinishHex(), *s.expected_sha256_hex)) {
    return AuthStatus(
        S3Error::kXAmzContentSHA256Mismatch,
        "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  if (s.expected_md5 && !ConstantTimeEquals(md5_, *s.expected_md5)) {
    return AuthStatus(S3Error::kBadDigest,
                      "The Content-MD5 you specified did not match what we received.");
  }
  if (s.checksum) {
    std::string got = s.checksum->Finish();
    if (!ConstantTimeEquals(got, s.expected_checksum)) {
      return AuthStatus(S3Error::kBadDigest,
                        "The " + std::string(ChecksumAlgorithmName(s.checksum->algorithm())) +
                            " you specified did not match the calculated checksum.");
    }
    checksum_base64_ = Base64Encode(got);
  }
  return {};
}

std::optional<ChecksumAlgorithm> PayloadChecker::checksum_algorithm() const {
  if (!state_->checksum) return std::nullopt;
  return state_->checksum->algorithm();
}

}  // namespace thumbpipe::sigv4
