#include "queue/message_rules.h"

#include <array>
#include <cctype>
#include <chrono>
#include <random>
#include <string>

#include <fmt/format.h>

namespace thumbpipe::queue {
namespace {

bool AllowedCodePoint(uint32_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
         (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

Status CheckDataType(std::string_view name, const AttributeValue& v) {
  const std::string_view type = v.data_type;
  std::string_view base = type.substr(0, type.find('.'));
  if (base != "String" && base != "Number" && base != "Binary") {
    return Status::InvalidArgument(fmt::format(
        "attribute \"{}\": data type \"{}\" is not String, Number or Binary (with an optional "
        ".suffix)", name, type));
  }
  if (type.size() > 256 || (type.size() > base.size() && type.size() == base.size() + 1)) {
    return Status::InvalidArgument(fmt::format("attribute \"{}\": bad data type \"{}\"", name, type));
  }
  if (v.value.empty()) {
    return Status::InvalidArgument(fmt::format("attribute \"{}\": empty value", name));
  }
  if (base != "Binary") {
    THUMBPIPE_RETURN_IF_ERROR(CheckSqsCharacters(v.value, fmt::format("attribute \"{}\"", name)));
  }
  return Status::Ok();
}

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }());
  return rng;
}

void PutU32(std::string& out, size_t n) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
}

bool GetU32(std::string_view& in, uint32_t& n) {
  if (in.size() < 4) return false;
  n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(in[i]);
  in.remove_prefix(4);
  return true;
}

bool GetField(std::string_view& in, std::string& out) {
  uint32_t n = 0;
  if (!GetU32(in, n) || in.size() < n) return false;
  out.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

}  // namespace

Status CheckSqsCharacters(std::string_view text, std::string_view what) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // Printable ASCII first: nearly all of an S3 event's JSON (and of the bench's bodies).
    while (i < n && p[i] >= 0x20 && p[i] < 0x80) ++i;
    if (i == n) break;
    uint32_t c = p[i];
    size_t len = 1;
    uint32_t min = 0;
    if (c >= 0xF0 && c <= 0xF4) { len = 4; c &= 0x07; min = 0x10000; }
    else if (c >= 0xE0) { len = (c <= 0xEF) ? 3 : 0; c &= 0x0F; min = 0x800; }
    else if (c >= 0xC2) { len = 2; c &= 0x1F; min = 0x80; }
    else if (c >= 0x80) { len = 0; }
    if (len == 0 || i + len > n) {
      return Status::InvalidArgument(fmt::format("{}: invalid UTF-8 at byte {}", what, i));
    }
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) {
        return Status::InvalidArgument(fmt::format("{}: invalid UTF-8 at byte {}", what, i));
      }
      c = (c << 6) | (p[i + k] & 0x3F);
    }
    if (c < min || !AllowedCodePoint(c)) {  // overlong forms, surrogates, controls
      return Status::InvalidArgument(
          fmt::format("{}: character U+{:04X} at byte {} is not allowed by SQS", what, c, i));
    }
    i += len;
  }
  return Status::Ok();
}

Status CheckAttributeName(std::string_view name) {
  if (name.empty() || name.size() > 256) {
    return Status::InvalidArgument(fmt::format("attribute name \"{}\": 1-256 characters", name));
  }
  for (char ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-' && ch != '.') {
      return Status::InvalidArgument(
          fmt::format("attribute name \"{}\": only A-Z a-z 0-9 _ - . are allowed", name));
    }
  }
  if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("attribute name \"{}\": no leading, trailing or double '.'", name));
  }
  if (StartsWithNoCase(name, "AWS.") || StartsWithNoCase(name, "Amazon.")) {
    return Status::InvalidArgument(
        fmt::format("attribute name \"{}\": the AWS. and Amazon. prefixes are reserved", name));
  }
  return Status::Ok();
}

uint64_t MessageSize(std::string_view body, const Attributes& attributes) {
  uint64_t size = body.size();
  for (const auto& [name, v] : attributes) size += name.size() + v.data_type.size() + v.value.size();
  return size;
}

Status CheckDedupId(std::string_view dedup_id) {
  if (dedup_id.empty() || dedup_id.size() > kMaxDedupIdBytes) {
    return Status::InvalidArgument(fmt::format("deduplication id of {} characters; 1-{} allowed",
                                               dedup_id.size(), kMaxDedupIdBytes));
  }
  for (const char c : dedup_id) {
    if (c < '!' || c > '~') {
      return Status::InvalidArgument(
          "deduplication id: only alphanumerics and punctuation ('!' to '~') are allowed");
    }
  }
  return Status::Ok();
}

Status CheckMessage(std::string_view body, const Attributes& attributes,
                    std::optional<Duration> delay, uint64_t max_message_bytes) {
  if (body.empty()) return Status::InvalidArgument("message body is empty");
  THUMBPIPE_RETURN_IF_ERROR(CheckSqsCharacters(body, "message body"));
  if (attributes.size() > kMaxAttributes) {
    return Status::InvalidArgument(
        fmt::format("{} message attributes; at most {}", attributes.size(), kMaxAttributes));
  }
  for (const auto& [name, v] : attributes) {
    THUMBPIPE_RETURN_IF_ERROR(CheckAttributeName(name));
    THUMBPIPE_RETURN_IF_ERROR(CheckDataType(name, v));
  }
  const uint64_t size = MessageSize(body, attributes);
  if (size > max_message_bytes) {
    return Status::InvalidArgument(fmt::format(
        "message is {} bytes (body and attributes); the limit is {}", size, max_message_bytes));
  }
  if (delay && (delay->count() < 0 || *delay > kMaxDelay)) {
    return Status::InvalidArgument(
        fmt::format("delay {}: must be 0-15m", FormatDuration(*delay)));
  }
  return Status::Ok();
}

std::string NewMessageId() {
  // UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Ids of
  // messages sent close together are close in the database's unique index on id, so a batch
  // of sends (or of removes, which come in roughly send order) touches one or two index
  // pages instead of one random page per message.
  const auto ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count());
  std::array<uint64_t, 2> r = {Rng()(), Rng()()};
  r[0] = (ms << 16) | (r[0] & 0x0FFFULL) | 0x7000ULL;     // version 7
  r[1] = (r[1] & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", r[0] >> 32, (r[0] >> 16) & 0xFFFF,
                     r[0] & 0xFFFF, r[1] >> 48, r[1] & 0xFFFFFFFFFFFFULL);
}

std::string NewNonce() { return fmt::format("{:016x}{:016x}", Rng()(), Rng()()); }

std::string EncodeAttributes(const Attributes& attributes) {
  std::string out;
  for (const auto& [name, v] : attributes) {
    for (std::string_view field : {std::string_view(name), std::string_view(v.data_type),
                                   std::string_view(v.value)}) {
      PutU32(out, field.size());
      out.append(field);
    }
  }
  return out;
}

Result<Attributes> DecodeAttributes(std::string_view bytes) {
  Attributes out;
  while (!bytes.empty()) {
    std::string name;
    AttributeValue v;
    if (!GetField(bytes, name) || !GetField(bytes, v.data_type) || !GetField(bytes, v.value)) {
      return Status::Corrupt("stored message attributes are truncated");
    }
    out.emplace(std::move(name), std::move(v));
  }
  return out;
}

}  // namespace thumbpipe::queue
