// GetObject / HeadObject (ranges and conditional requests), DeleteObject, DeleteObjects and
// CopyObject.
#include <charconv>

#include "common/logging.h"
#include "server/s3_format.h"
#include "server/s3_handlers.h"
#include "server/s3_xml.h"
#include "sigv4/canonical.h"

namespace thumbpipe::server {
namespace {

// Streams an ObjectReader as a response body.
class ReaderSource final : public BodySource {
 public:
  explicit ReaderSource(std::unique_ptr<store::ObjectReader> reader) : reader_(std::move(reader)) {}
  Result<size_t> Read(std::span<char> buffer) override { return reader_->Read(buffer); }
  std::optional<FileRegion> File() const override {
    const std::optional<store::FileRegion> f = reader_->File();
    if (!f) return std::nullopt;
    return FileRegion{f->fd, f->offset, f->length};
  }

 private:
  std::unique_ptr<store::ObjectReader> reader_;
};

std::optional<uint64_t> ParseU64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "bytes=first-last", "bytes=first-", "bytes=-suffix". Anything else (several ranges, other
// units, junk) is ignored, as RFC 9110 allows and S3 does: the whole object is returned.
std::optional<store::ByteRange> ParseRange(std::string_view header) {
  if (!header.starts_with("bytes=")) return std::nullopt;
  std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return std::nullopt;
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  store::ByteRange range;
  if (a.empty()) {
    auto n = ParseU64(b);
    if (!n) return std::nullopt;
    range.suffix_length = *n;
    return range;
  }
  auto first = ParseU64(a);
  if (!first) return std::nullopt;
  range.first = *first;
  if (!b.empty()) {
    auto last = ParseU64(b);
    if (!last || *last < *first) return std::nullopt;
    range.last = *last;
  }
  return range;
}

bool EtagMatches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "*" || UnquoteEtag(item) == etag) return true;
  }
  return false;
}

// S3's precedence: If-Match beats If-Unmodified-Since (412), If-None-Match beats
// If-Modified-Since (304); the 412 checks come first.
std::optional<int> CheckConditions(const HttpRequestHead& head, const store::ObjectInfo& info) {
  const auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(info.last_modified);
  if (auto m = head.Header("if-match")) {
    if (!EtagMatches(*m, info.etag)) return 412;
  } else if (auto since = head.Header("if-unmodified-since")) {
    if (auto t = ParseHttpDate(*since); t && seconds > *t) return 412;
  }
  if (auto m = head.Header("if-none-match")) {
    if (EtagMatches(*m, info.etag)) return 304;
  } else if (auto since = head.Header("if-modified-since")) {
    if (auto t = ParseHttpDate(*since); t && seconds <= *t) return 304;
  }
  return std::nullopt;
}

// response-content-type and friends: a presigned GET may choose these headers.
void ApplyResponseOverrides(const Route& route, HttpResponse* r) {
  static constexpr std::pair<const char*, const char*> kOverrides[] = {
      {"response-content-type", "Content-Type"},
      {"response-content-language", "Content-Language"},
      {"response-expires", "Expires"},
      {"response-cache-control", "Cache-Control"},
      {"response-content-disposition", "Content-Disposition"},
      {"response-content-encoding", "Content-Encoding"},
  };
  for (const auto& [param, header] : kOverrides) {
    if (!route.Has(param)) continue;
    std::erase_if(r->headers, [h = header](const HttpHeader& x) { return HeaderNameEquals(x.name, h); });
    r->Set(header, route.Param(param));
  }
}

}  // namespace

HttpResponse GetObject(RequestContext& ctx, bool head_only) {
  const Route& route = ctx.route;
  std::optional<store::ByteRange> range;
  if (auto h = ctx.head.Header("range")) range = ParseRange(*h);

  store::ObjectInfo info;
  std::unique_ptr<store::ObjectReader> reader;
  if (head_only) {
    Result<store::ObjectInfo> r = ctx.store().Head(route.bucket, route.key);
    if (!r.ok()) return ctx.StoreError(r.status());
    info = std::move(r).value();
  } else {
    Result<std::unique_ptr<store::ObjectReader>> r = ctx.store().Get(route.bucket, route.key, range);
    if (!r.ok()) {
      HttpResponse err = ctx.StoreError(r.status());
      return err;
    }
    reader = std::move(r).value();
    info = reader->info();
  }

  if (auto code = CheckConditions(ctx.head, info)) {
    if (*code == 412) return ctx.Error("PreconditionFailed");
    HttpResponse r;
    r.status = 304;
    r.Set("ETag", QuotedEtag(info.etag));
    r.Set("Last-Modified", HttpDate(info.last_modified));
    return r;
  }

  HttpResponse r;
  AddObjectHeaders(info, &r);
  uint64_t length = info.size;
  if (range) {
    Result<store::ResolvedRange> resolved = store::ResolveRange(*range, info.size);
    if (!resolved.ok()) {
      HttpResponse err = ctx.Error("InvalidRange");
      err.Set("Content-Range", "bytes */" + std::to_string(info.size));
      return err;
    }
    r.status = 206;
    length = resolved->length;
    r.Set("Content-Range", "bytes " + std::to_string(resolved->first) + "-" +
                               std::to_string(resolved->first + resolved->length - 1) + "/" +
                               std::to_string(info.size));
  }
  ApplyResponseOverrides(route, &r);
  r.content_length = length;
  if (reader) r.stream = std::make_unique<ReaderSource>(std::move(reader));
  return r;
}

HttpResponse DeleteObject(RequestContext& ctx) {
  const Status st = ctx.store().Delete(ctx.route.bucket, ctx.route.key, ctx.WriteContext());
  if (!st.ok()) return ctx.StoreError(st, "NoSuchBucket");
  HttpResponse r;
  r.status = 204;
  return r;
}

HttpResponse DeleteObjects(RequestContext& ctx, std::string_view body) {
  Result<DeleteRequest> req = ParseDeleteRequest(body);
  if (!req.ok()) return ctx.StoreError(req.status());
  XmlWriter x;
  x.Declaration();
  x.Open("DeleteResult", true);
  for (const std::string& key : req->keys) {
    Status st = key.empty() || key.size() > store::kMaxKeyBytes
                    ? Status::InvalidArgument(key.empty() ? "InvalidArgument empty key" : "KeyTooLong")
                    : ctx.store().Delete(ctx.route.bucket, key, ctx.WriteContext());
    if (st.ok()) {
      if (req->quiet) continue;
      x.Open("Deleted");
      x.Element("Key", key);
      x.Close("Deleted");
      continue;
    }
    const S3Error e = FromStatus(st, "NoSuchBucket");
    if (e.code == "NoSuchBucket") return ctx.Error(e);
    x.Open("Error");
    x.Element("Key", key);
    x.Element("Code", e.code);
    x.Element("Message", e.message);
    x.Close("Error");
  }
  x.Close("DeleteResult");
  return ctx.Xml(x.Take());
}

std::optional<CopySource> ParseCopySource(std::string_view header) {
  if (header.find('?') != std::string_view::npos) {
    // "?versionId=null" names the only version an unversioned bucket has.
    const size_t q = header.find('?');
    if (header.substr(q) != "?versionId=null") return std::nullopt;
    header = header.substr(0, q);
  }
  std::string decoded = sigv4::PercentDecode(header);
  std::string_view v = decoded;
  if (v.starts_with("/")) v.remove_prefix(1);
  const size_t slash = v.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == v.size()) return std::nullopt;
  return CopySource{std::string(v.substr(0, slash)), std::string(v.substr(slash + 1))};
}

HttpResponse CopyObject(RequestContext& ctx) {
  auto source = ParseCopySource(ctx.head.Header("x-amz-copy-source").value_or(""));
  if (!source) return ctx.Error("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
  if (auto err = Authenticator::Authorize(*ctx.principal.credential, Operation::kGetObject, source->bucket)) {
    return ctx.Error(*err);
  }
  const std::string directive(ctx.head.Header("x-amz-metadata-directive").value_or("COPY"));
  if (directive != "COPY" && directive != "REPLACE") {
    return ctx.Error("InvalidArgument", "Unknown metadata directive.");
  }
  const bool replace = directive == "REPLACE";
  if (!replace && source->bucket == ctx.route.bucket && source->key == ctx.route.key) {
    return ctx.Error("InvalidRequest",
                     "This copy request is illegal because it is trying to copy an object to itself without "
                     "changing the object's metadata, storage class, website redirect location or encryption "
                     "attributes.");
  }
  if (ctx.head.Header("x-amz-copy-source-if-match") || ctx.head.Header("x-amz-copy-source-if-none-match")) {
    Result<store::ObjectInfo> src = ctx.store().Head(source->bucket, source->key);
    if (!src.ok()) return ctx.StoreError(src.status());
    if (auto m = ctx.head.Header("x-amz-copy-source-if-match"); m && !EtagMatches(*m, src->etag)) {
      return ctx.Error("PreconditionFailed");
    }
    if (auto m = ctx.head.Header("x-amz-copy-source-if-none-match"); m && EtagMatches(*m, src->etag)) {
      return ctx.Error("PreconditionFailed");
    }
  }
  store::PutOptions options = PutOptionsFromHeaders(ctx.head);
  options.kind = store::WriteKind::kCopy;
  options.context = ctx.WriteContext();
  Result<store::ObjectInfo> copied =
      ctx.store().Copy(source->bucket, source->key, ctx.route.bucket, ctx.route.key, replace, std::move(options));
  if (!copied.ok()) return ctx.StoreError(copied.status());
  XmlWriter x;
  x.Declaration();
  x.Open("CopyObjectResult", true);
  x.Element("LastModified", IsoDate(copied->last_modified));
  x.Element("ETag", QuotedEtag(copied->etag));
  x.Close("CopyObjectResult");
  return ctx.Xml(x.Take());
}

}  // namespace thumbpipe::server
