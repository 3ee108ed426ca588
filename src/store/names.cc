#include "store/names.h"

#include <string>

#include "store/object_store.h"

namespace thumbpipe::store::internal {

bool IsValidUtf8(std::string_view bytes) {
  size_t i = 0;
  const size_t n = bytes.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(bytes[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Status CheckBucketName(std::string_view b) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("InvalidBucketName \"" + std::string(b) + "\": " +
                                   std::string(why));
  };
  if (b.size() < 3 || b.size() > 63) return bad("must be 3-63 characters");
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (char c : b) {
    if (!alnum(c) && c != '.' && c != '-') return bad("only a-z, 0-9, '.' and '-' are allowed");
  }
  if (!alnum(b.front()) || !alnum(b.back())) return bad("must start and end with a letter or digit");
  if (b.find("..") != std::string_view::npos) return bad("must not contain \"..\"");
  if (b.starts_with("xn--")) return bad("must not start with \"xn--\"");
  int dots = 0;
  bool digits_and_dots = true;
  for (char c : b) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') digits_and_dots = false;
  }
  if (digits_and_dots && dots == 3) return bad("must not be formatted as an IP address");
  return Status::Ok();
}

Status CheckKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("InvalidArgument the object key is empty");
  if (key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("KeyTooLong the key is " + std::to_string(key.size()) +
                                   " bytes; at most " + std::to_string(kMaxKeyBytes));
  }
  if (!IsValidUtf8(key)) return Status::InvalidArgument("InvalidArgument the key is not valid UTF-8");
  return Status::Ok();
}

}  // namespace thumbpipe::store::internal
