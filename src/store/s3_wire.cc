// How ObjectStore values travel in S3 requests and replies (headers, timestamps, encoded
// keys), for the S3 store's files.
#include <cctype>
#include <ctime>

#include "sigv4/canonical.h"
#include "sigv4/crypto.h"
#include "store/s3_store_impl.h"

namespace thumbpipe::store::internal {

void AddPutHeaders(const PutOptions& o, sigv4::Headers* headers) {
  if (!o.content_type.empty()) headers->push_back({"Content-Type", o.content_type});
  if (!o.cache_control.empty()) headers->push_back({"Cache-Control", o.cache_control});
  if (!o.content_disposition.empty()) headers->push_back({"Content-Disposition", o.content_disposition});
  if (!o.content_encoding.empty()) headers->push_back({"Content-Encoding", o.content_encoding});
  if (!o.content_language.empty()) headers->push_back({"Content-Language", o.content_language});
  for (const auto& [name, value] : o.metadata) headers->push_back({"x-amz-meta-" + name, value});
}

std::string Unquote(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

ObjectInfo InfoFromHeaders(std::string_view bucket, std::string_view key, const sigv4::Headers& headers) {
  ObjectInfo info;
  info.bucket = std::string(bucket);
  info.key = std::string(key);
  info.content_type.clear();
  for (const sigv4::Header& h : headers) {
    const std::string name = sigv4::ToLowerAscii(h.name);
    if (name == "content-length") {
      info.size = std::strtoull(h.value.c_str(), nullptr, 10);
    } else if (name == "etag") {
      info.etag = Unquote(h.value);
    } else if (name == "content-type") {
      info.content_type = h.value;
    } else if (name == "cache-control") {
      info.cache_control = h.value;
    } else if (name == "content-disposition") {
      info.content_disposition = h.value;
    } else if (name == "content-encoding") {
      info.content_encoding = h.value;
    } else if (name == "content-language") {
      info.content_language = h.value;
    } else if (name == "last-modified") {
      if (auto t = sigv4::ParseHttpDate(h.value)) info.last_modified = *t;
    } else if (name.starts_with("x-amz-meta-")) {
      info.metadata[name.substr(11)] = h.value;
    }
  }
  // A range reply's Content-Length is the range's; the object's size is after the '/'.
  if (auto range = sigv4::FindHeader(headers, "content-range")) {
    if (const size_t slash = range->rfind('/'); slash != std::string::npos && range->substr(slash + 1) != "*") {
      info.size = std::strtoull(range->c_str() + slash + 1, nullptr, 10);
    }
  }
  if (info.content_type.empty()) info.content_type = "binary/octet-stream";
  return info;
}

Clock::time_point ParseIsoTime(std::string_view text) {
  std::tm tm{};
  int fields = std::sscanf(std::string(text).c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                           &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
  if (fields != 6) return {};
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return Clock::time_point{std::chrono::seconds{timegm(&tm)}};
}

std::string UrlDecodeKey(std::string_view text) {
  std::string plus_as_space(text);
  for (char& c : plus_as_space) {
    if (c == '+') c = ' ';
  }
  return sigv4::PercentDecode(plus_as_space);
}

Status WithCode(const Status& status, StatusCode code, std::string_view s3_code) {
  const std::string& m = status.message();
  const size_t space = m.find(' ');
  return Status(code, std::string(s3_code) + (space == std::string::npos ? "" : m.substr(space)));
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return Status::InvalidArgument("\"" + std::string(text) + "\" is not a size");
  uint64_t value = std::stoull(std::string(text.substr(0, digits)));
  const std::string_view unit = text.substr(digits);
  if (unit.empty() || unit == "B") return value;
  if (unit == "KiB") return value << 10;
  if (unit == "MiB") return value << 20;
  if (unit == "GiB") return value << 30;
  return Status::InvalidArgument("\"" + std::string(text) + "\": size units are B, KiB, MiB, GiB");
}

}  // namespace thumbpipe::store::internal
