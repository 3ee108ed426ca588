// MD5 as S3 uses it: the ETag of a simple object is the hex MD5 of its bytes; the ETag of a
// multipart object is the MD5 of its parts' binary MD5s followed by "-<part count>".
// OpenSSL's EVP interface does the hashing (the low-level MD5_* calls are deprecated in 3.0).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/hex.h"
#include "common/result.h"

namespace thumbpipe::store::internal {

// A running MD5. Not thread-safe; one owner.
class Md5 {
 public:
  Md5();
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  ~Md5();

  void Update(std::string_view bytes);
  // The 16 raw digest bytes. REQUIRES: called once.
  std::string Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

using thumbpipe::HexDecode;  // common/hex.h
using thumbpipe::HexEncode;

// "<hex md5 of the concatenated binary part digests>-<count>". REQUIRES: every part etag is
// 32 hex digits (a simple MD5 ETag).
Result<std::string> MultipartEtag(std::span<const std::string> part_etags);

}  // namespace thumbpipe::store::internal
