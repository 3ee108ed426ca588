// CRC-32C known values (RFC 3720 appendix B.4), both CRC-32C paths agreeing, base64
// strictness, and PayloadChecker's answers for plain bodies.
#include "sigv4/checksums.h"

#include <gtest/gtest.h>

#include <random>

namespace thumbpipe::sigv4 {
namespace internal {
uint32_t Crc32cPortable(std::string_view data, uint32_t crc);
}
namespace {

TEST(Crc32c, KnownValues) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string up(32, '\0'), down(32, '\0');
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<char>(i);
    down[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(Crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(down), 0x113FDB5Cu);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(Crc32c, HardwareAndTableAgreeAtEveryLengthAndAlignment) {
  std::mt19937 rng(1);
  std::string data(4096, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  for (std::size_t offset = 0; offset < 9; ++offset) {
    for (std::size_t len : {0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4000}) {
      std::string_view s(data.data() + offset, len);
      EXPECT_EQ(Crc32c(s), internal::Crc32cPortable(s, 0)) << offset << " " << len;
    }
  }
  // Incremental equals one shot.
  uint32_t crc = 0;
  for (std::size_t i = 0; i < data.size(); i += 333)
    crc = Crc32c(std::string_view(data).substr(i, 333), crc);
  EXPECT_EQ(crc, Crc32c(data));
}

TEST(Crc32, KnownValue) { EXPECT_EQ(Crc32("123456789"), 0xCBF43926u); }

TEST(Crc64Nvme, KnownValuesAndIncremental) {
  EXPECT_EQ(Crc64Nvme("123456789"), 0xAE8B14860A799888ull);
  EXPECT_EQ(Crc64Nvme(""), 0u);
  std::string data(1000, 'x');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  uint64_t crc = 0;
  for (std::size_t i = 0; i < data.size(); i += 13)
    crc = Crc64Nvme(std::string_view(data).substr(i, 13), crc);
  EXPECT_EQ(crc, Crc64Nvme(data));
}

TEST(Checksummer, Base64OfBigEndianDigests) {
  auto b64 = [](ChecksumAlgorithm a, std::string_view data) {
    Checksummer c(a);
    for (char ch : data) c.Update(std::string_view(&ch, 1));
    return c.FinishBase64();
  };
  EXPECT_EQ(b64(ChecksumAlgorithm::kCrc32, "hello world"), "DUoRhQ==");
  EXPECT_EQ(b64(ChecksumAlgorithm::kCrc32c, ""), "AAAAAA==");
  EXPECT_EQ(b64(ChecksumAlgorithm::kCrc32c, "123456789"), "4waSgw==");
  EXPECT_EQ(b64(ChecksumAlgorithm::kSha1, "hello world"), "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
  EXPECT_EQ(b64(ChecksumAlgorithm::kSha256, ""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(b64(ChecksumAlgorithm::kCrc64Nvme, "hello world"), "jSnVw/bqjr4=");
  EXPECT_EQ(ChecksumAlgorithmFromHeader("X-Amz-Checksum-CRC32C"), ChecksumAlgorithm::kCrc32c);
  EXPECT_EQ(ChecksumAlgorithmFromHeader("x-amz-checksum-crc64nvme"), ChecksumAlgorithm::kCrc64Nvme);
  EXPECT_FALSE(ChecksumAlgorithmFromHeader("x-amz-checksum-md5").has_value());
}

TEST(Base64, StrictDecoding) {
  EXPECT_EQ(Base64Decode("").value(), "");
  EXPECT_EQ(Base64Decode("Zg==").value(), "f");
  EXPECT_EQ(Base64Decode("Zm8=").value(), "fo");
  EXPECT_EQ(Base64Decode("Zm9v").value(), "foo");
  for (const char* bad :
       {"Zg", "Zg=", "Zh==", "Zm9=", "Z===", "=Zg=", "Zg==Zg==", "Zm9v\n", "Zm-v", "Zm_v"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n < all.size(); n += 17)
    EXPECT_EQ(Base64Decode(Base64Encode(all.substr(0, n))), all.substr(0, n));
}

AuthStatus Check(const Headers& headers, std::string_view body,
                 std::optional<std::string> sha = std::nullopt) {
  auto c = PayloadChecker::Create(headers, std::move(sha));
  if (!c.ok()) return c.status();
  c->Update(body);
  return c->Finish();
}

TEST(PayloadChecker, Sha256Md5AndChecksums) {
  const std::string body = "Welcome to Amazon S3.";
  EXPECT_TRUE(Check({}, body, Sha256Hex(body)).ok());
  EXPECT_TRUE(Check({}, body, ToLowerAscii(Sha256Hex(body))).ok());
  EXPECT_EQ(Check({}, body + "!", Sha256Hex(body)).code(), S3Error::kXAmzContentSHA256Mismatch);

  std::string md5 = "1B2M2Y8AsgTpgAmY7PhCfg==";  // MD5 of ""
  EXPECT_TRUE(Check({{"Content-MD5", md5}}, "").ok());
  EXPECT_EQ(Check({{"Content-MD5", md5}}, "x").code(), S3Error::kBadDigest);
  EXPECT_EQ(Check({{"Content-MD5", "nope"}}, "").code(), S3Error::kInvalidDigest);
  EXPECT_EQ(Check({{"Content-MD5", "AAAA"}}, "").code(), S3Error::kInvalidDigest);

  for (auto a : {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kSha1,
                 ChecksumAlgorithm::kSha256, ChecksumAlgorithm::kCrc64Nvme}) {
    SCOPED_TRACE(ChecksumAlgorithmName(a));
    Checksummer c(a);
    c.Update(body);
    std::string good = c.FinishBase64();
    std::string name(ChecksumHeaderName(a));
    auto checker = PayloadChecker::Create({{name, good}}, std::nullopt);
    ASSERT_TRUE(checker.ok());
    checker->Update(body);
    EXPECT_TRUE(checker->Finish().ok());
    EXPECT_EQ(checker->checksum_algorithm(), a);
    EXPECT_EQ(checker->checksum_base64(), good);
    AuthStatus bad = Check({{name, good}}, body + " ");
    EXPECT_EQ(bad.code(), S3Error::kBadDigest);
    EXPECT_EQ(bad.message(), "The " + std::string(ChecksumAlgorithmName(a)) +
                                 " you specified did not match the calculated checksum.");
    EXPECT_EQ(Check({{name, "AAAAAAAA"}}, body).code(), S3Error::kInvalidRequest);  // wrong length
    EXPECT_EQ(Check({{name, "%%%%"}}, body).code(), S3Error::kInvalidRequest);
  }
  EXPECT_EQ(Check({{"x-amz-checksum-crc32", "DUoRhQ=="},
                   {"x-amz-checksum-sha1", "Kq5sNclPz7QV2+lfQIuc6R7oRu0="}},
                  "hello world")
                .code(),
            S3Error::kInvalidRequest);
}

TEST(PayloadChecker, Md5ForTheETag) {
  auto c = PayloadChecker::Create({}, std::nullopt);
  ASSERT_TRUE(c.ok());
  c->Update("hello ");
  c->Update("world");
  ASSERT_TRUE(c->Finish().ok());
  EXPECT_EQ(HexEncode(c->md5()), "5eb63bbbe01eeed093cb22bb8f5acdc3");
  EXPECT_FALSE(c->checksum_algorithm().has_value());
}

}  // namespace
}  // namespace thumbpipe::sigv4
