#include "events/key_encoding.h"

namespace thumbpipe::events {
namespace {

bool KeptAsIs(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '*' || c == '/';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string EncodeEventKey(std::string_view key) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(key.size() + key.size() / 2);
  for (char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (KeptAsIs(c)) {
      out += ch;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

Result<std::string> DecodeEventKey(std::string_view encoded, KeyEncoding encoding) {
  if (encoding == KeyEncoding::kRaw) {
    if (encoded.empty()) return Status::InvalidArgument("empty object key");
    return std::string(encoded);
  }
  std::string out;
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (encoded.size() - i < 3) {
        return Status::InvalidArgument("object key '" + std::string(encoded) + "': truncated %-escape at byte " +
                                       std::to_string(i));
      }
      const int h = HexValue(encoded[i + 1]), l = HexValue(encoded[i + 2]);
      if (h < 0 || l < 0) {
        return Status::InvalidArgument("object key '" + std::string(encoded) + "': bad %-escape at byte " +
                                       std::to_string(i));
      }
      out += static_cast<char>(h * 16 + l);
      i += 2;
    } else {
      out += c;
    }
  }
  if (out.empty()) return Status::InvalidArgument("empty object key");
  return out;
}

}  // namespace thumbpipe::events
