#include "server/s3_format.h"

#include <ctime>

#include "sigv4/canonical.h"

namespace thumbpipe::server {

std::string HttpDate(Clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string IsoDate(Clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

std::optional<Clock::time_point> ParseHttpDate(std::string_view text) {
  return sigv4::ParseHttpDate(text);
}

std::string QuotedEtag(std::string_view etag) { return "\"" + std::string(etag) + "\""; }

std::string_view UnquoteEtag(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

store::PutOptions PutOptionsFromHeaders(const HttpRequestHead& head) {
  store::PutOptions o;
  for (const HttpHeader& h : head.headers) {
    const std::string name = sigv4::ToLowerAscii(h.name);
    if (name == "content-type") {
      o.content_type = h.value;
    } else if (name == "cache-control") {
      o.cache_control = h.value;
    } else if (name == "content-disposition") {
      o.content_disposition = h.value;
    } else if (name == "content-encoding") {
      // aws-chunked is the transfer framing of this request, not a property of the object.
      std::string kept;
      std::string_view v = h.value;
      while (!v.empty()) {
        const size_t comma = v.find(',');
        std::string_view part = v.substr(0, comma);
        v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
        if (part.empty() || sigv4::EqualsIgnoreCase(part, "aws-chunked")) continue;
        if (!kept.empty()) kept += ",";
        kept += part;
      }
      o.content_encoding = kept;
    } else if (name == "content-language") {
      o.content_language = h.value;
    } else if (name.starts_with("x-amz-meta-")) {
      o.metadata[name.substr(11)] = h.value;
    }
  }
  return o;
}

void AddObjectHeaders(const store::ObjectInfo& info, HttpResponse* r) {
  r->Set("Content-Type", info.content_type.empty() ? "binary/octet-stream" : info.content_type);
  r->Set("ETag", QuotedEtag(info.etag));
  r->Set("Last-Modified", HttpDate(info.last_modified));
  r->Set("Accept-Ranges", "bytes");
  // The Content-Type is the uploader's (S3 semantics), and an upload can be a JPEG that also
  // reads as HTML: nosniff keeps a browser to the stated type, so it never guesses "HTML" and
  // runs a script from our origin.
  r->Set("X-Content-Type-Options", "nosniff");
  if (!info.cache_control.empty()) r->Set("Cache-Control", info.cache_control);
  if (!info.content_disposition.empty()) r->Set("Content-Disposition", info.content_disposition);
  if (!info.content_encoding.empty()) r->Set("Content-Encoding", info.content_encoding);
  if (!info.content_language.empty()) r->Set("Content-Language", info.content_language);
  for (const auto& [name, value] : info.metadata) r->Set("x-amz-meta-" + name, value);
}

}  // namespace thumbpipe::server
