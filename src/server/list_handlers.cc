// ListObjectsV2 and ListObjects (v1) over ObjectStore::List.
#include <charconv>

#include "server/s3_format.h"
#include "server/s3_handlers.h"
#include "server/s3_xml.h"

namespace thumbpipe::server {
namespace {

constexpr int kMaxKeys = 1000;

void Owner(XmlWriter& x) {
  x.Open("Owner");
  x.Element("ID", "thumbpipe");
  x.Element("DisplayName", "thumbpipe");
  x.Close("Owner");
}

}  // namespace

HttpResponse ListObjects(RequestContext& ctx, bool v2) {
  const Route& route = ctx.route;
  const bool url = route.Has("encoding-type");
  if (url && route.Param("encoding-type") != "url") {
    return ctx.Error("InvalidArgument", "Invalid Encoding Method specified in Request");
  }
  auto enc = [url](std::string_view s) { return url ? UrlEncodeKey(s) : std::string(s); };

  int max_keys = kMaxKeys;
  if (route.Has("max-keys")) {
    const std::string v = route.Param("max-keys");
    long long n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || n < 0) {
      return ctx.Error("InvalidArgument", "Provided max-keys not an integer or within integer range");
    }
    max_keys = static_cast<int>(std::min<long long>(n, kMaxKeys));
  }

  store::ListRequest req;
  req.prefix = route.Param("prefix");
  req.delimiter = route.Param("delimiter");
  req.max_keys = max_keys;
  const std::string marker = route.Param(v2 ? "start-after" : "marker");
  req.start_after = marker;
  if (!v2 && !req.delimiter.empty() && marker.ends_with(req.delimiter) && marker.starts_with(req.prefix)) {
    // A v1 marker may be a common prefix: skip every key under it (0xFF never occurs in UTF-8).
    req.start_after = marker + "\xff";
  }
  if (v2) req.continuation_token = route.Param("continuation-token");

  store::ListPage page;
  if (max_keys > 0) {
    Result<store::ListPage> listed = ctx.store().List(route.bucket, req);
    if (!listed.ok()) return ctx.StoreError(listed.status(), "NoSuchBucket");
    page = std::move(listed).value();
  } else {
    Result<store::BucketInfo> info = ctx.store().HeadBucket(route.bucket);
    if (!info.ok()) return ctx.StoreError(info.status(), "NoSuchBucket");
  }

  const bool owner = !v2 || route.Param("fetch-owner") == "true";
  XmlWriter x;
  x.Declaration();
  x.Open("ListBucketResult", true);
  x.Element("Name", route.bucket);
  x.Element("Prefix", enc(req.prefix));
  if (v2) {
    if (route.Has("continuation-token")) x.Element("ContinuationToken", route.Param("continuation-token"));
    if (route.Has("start-after")) x.Element("StartAfter", enc(marker));
    x.Element("KeyCount", std::to_string(page.objects.size() + page.common_prefixes.size()));
  } else {
    x.Element("Marker", enc(marker));
  }
  x.Element("MaxKeys", std::to_string(max_keys));
  if (!req.delimiter.empty()) x.Element("Delimiter", enc(req.delimiter));
  if (url) x.Element("EncodingType", "url");
  x.Element("IsTruncated", page.truncated ? "true" : "false");
  if (page.truncated) {
    if (v2) {
      x.Element("NextContinuationToken", page.next_continuation_token);
    } else {
      std::string next = page.objects.empty() ? std::string() : page.objects.back().key;
      if (!page.common_prefixes.empty() && page.common_prefixes.back() > next) next = page.common_prefixes.back();
      x.Element("NextMarker", enc(next));
    }
  }
  for (const store::ObjectInfo& o : page.objects) {
    x.Open("Contents");
    x.Element("Key", enc(o.key));
    x.Element("LastModified", IsoDate(o.last_modified));
    x.Element("ETag", QuotedEtag(o.etag));
    x.Element("Size", std::to_string(o.size));
    if (owner) Owner(x);
    x.Element("StorageClass", "STANDARD");
    x.Close("Contents");
  }
  for (const std::string& p : page.common_prefixes) {
    x.Open("CommonPrefixes");
    x.Element("Prefix", enc(p));
    x.Close("CommonPrefixes");
  }
  x.Close("ListBucketResult");
  return ctx.Xml(x.Take());
}

}  // namespace thumbpipe::server
