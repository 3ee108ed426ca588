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
