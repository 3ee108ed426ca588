#include "store/md5.h"

#include <openssl/evp.h>

namespace thumbpipe::store::internal {

struct Md5::Ctx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(ctx); }
};

Md5::Md5() : ctx_(std::make_unique<Ctx>()) { EVP_DigestInit_ex(ctx_->ctx, EVP_md5(), nullptr); }

Md5::~Md5() = default;

void Md5::Update(std::string_view bytes) {
  if (!bytes.empty()) EVP_DigestUpdate(ctx_->ctx, bytes.data(), bytes.size());
}

std::string Md5::Finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_->ctx, digest, &n);
  return std::string(reinterpret_cast<const char*>(digest), n);
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

Result<std::string> HexDecode(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return Status::InvalidArgument("odd number of hex digits");
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("not hex");
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

Result<std::string> MultipartEtag(std::span<const std::string> part_etags) {
  Md5 md5;
  for (const std::string& etag : part_etags) {
    if (etag.size() != 32) return Status::InvalidArgument("part etag is not an MD5: " + etag);
    THUMBPIPE_ASSIGN_OR_RETURN(std::string raw, HexDecode(etag));
    md5.Update(raw);
  }
  return HexEncode(md5.Finish()) + "-" + std::to_string(part_etags.size());
}

}  // namespace thumbpipe::store::internal
