// Multipart uploads: Create, Complete, Abort, ListParts, ListMultipartUploads, UploadPartCopy
// (UploadPart itself streams in upload.cc).
#include <charconv>

#include "server/s3_format.h"
#include "server/s3_handlers.h"
#include "server/s3_xml.h"

namespace thumbpipe::server {
namespace {

void Party(XmlWriter& x, std::string_view element) {
  x.Open(element);
  x.Element("ID", "thumbpipe");
  x.Element("DisplayName", "thumbpipe");
  x.Close(element);
}

int IntParam(const Route& route, std::string_view name, int fallback) {
  if (!route.Has(name)) return fallback;
  const std::string v = route.Param(name);
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0) return -1;
  return n;
}

}  // namespace

HttpResponse CreateMultipartUpload(RequestContext& ctx) {
  store::PutOptions options = PutOptionsFromHeaders(ctx.head);
  options.kind = store::WriteKind::kCompleteMultipartUpload;
  options.context = ctx.WriteContext();
  Result<std::string> id = ctx.store().CreateMultipartUpload(ctx.route.bucket, ctx.route.key, std::move(options));
  if (!id.ok()) return ctx.StoreError(id.status(), "NoSuchBucket");
  XmlWriter x;
  x.Declaration();
  x.Open("InitiateMultipartUploadResult", true);
  x.Element("Bucket", ctx.route.bucket);
  x.Element("Key", ctx.route.key);
  x.Element("UploadId", *id);
  x.Close("InitiateMultipartUploadResult");
  return ctx.Xml(x.Take());
}

HttpResponse CompleteMultipartUpload(RequestContext& ctx, std::string_view body) {
  Result<std::vector<CompletePart>> parts = ParseCompleteRequest(body);
  if (!parts.ok()) return ctx.StoreError(parts.status());
  std::vector<store::CompletedPart> completed;
  completed.reserve(parts->size());
  for (const CompletePart& p : *parts) completed.push_back({p.number, p.etag});
  Result<store::ObjectInfo> info = ctx.store().CompleteMultipartUpload(
      ctx.route.bucket, ctx.route.key, ctx.route.Param("uploadId"), completed, ctx.WriteContext());
  if (!info.ok()) return ctx.StoreError(info.status(), "NoSuchUpload");
  XmlWriter x;
  x.Declaration();
  x.Open("CompleteMultipartUploadResult", true);
  const std::string host(ctx.head.Header("host").value_or("localhost"));
  x.Element("Location", "http://" + host + "/" + ctx.route.bucket + "/" + UrlEncodeKey(ctx.route.key));
  x.Element("Bucket", ctx.route.bucket);
  x.Element("Key", ctx.route.key);
  x.Element("ETag", QuotedEtag(info->etag));
  x.Close("CompleteMultipartUploadResult");
  return ctx.Xml(x.Take());
}

HttpResponse AbortMultipartUpload(RequestContext& ctx) {
  const Status st = ctx.store().AbortMultipartUpload(ctx.route.bucket, ctx.route.key, ctx.route.Param("uploadId"));
  if (!st.ok()) return ctx.StoreError(st, "NoSuchUpload");
  HttpResponse r;
  r.status = 204;
  return r;
}

HttpResponse ListParts(RequestContext& ctx) {
  const int max_parts = std::min(IntParam(ctx.route, "max-parts", 1000), 1000);
  const int marker = IntParam(ctx.route, "part-number-marker", 0);
  if (max_parts < 0 || marker < 0) return ctx.Error("InvalidArgument");
  Result<std::vector<store::PartInfo>> parts =
      ctx.store().ListParts(ctx.route.bucket, ctx.route.key, ctx.route.Param("uploadId"));
  if (!parts.ok()) return ctx.StoreError(parts.status(), "NoSuchUpload");
  XmlWriter x;
  x.Declaration();
  x.Open("ListPartsResult", true);
  x.Element("Bucket", ctx.route.bucket);
  x.Element("Key", ctx.route.key);
  x.Element("UploadId", ctx.route.Param("uploadId"));
  Party(x, "Initiator");
  Party(x, "Owner");
  x.Element("StorageClass", "STANDARD");
  x.Element("PartNumberMarker", std::to_string(marker));
  int shown = 0, last = marker;
  bool truncated = false;
  XmlWriter items;
  for (const store::PartInfo& p : *parts) {
    if (p.number <= marker) continue;
    if (shown == max_parts) {
      truncated = true;
      break;
    }
    items.Open("Part");
    items.Element("PartNumber", std::to_string(p.number));
    items.Element("LastModified", IsoDate(p.last_modified));
    items.Element("ETag", QuotedEtag(p.etag));
    items.Element("Size", std::to_string(p.size));
    items.Close("Part");
    last = p.number;
    ++shown;
  }
  x.Element("NextPartNumberMarker", std::to_string(last));
  x.Element("MaxParts", std::to_string(max_parts));
  x.Element("IsTruncated", truncated ? "true" : "false");
  std::string out = x.Take() + items.Take() + "</ListPartsResult>";
  return ctx.Xml(std::move(out));
}

HttpResponse ListMultipartUploads(RequestContext& ctx) {
  const std::string prefix = ctx.route.Param("prefix");
  const int max_uploads = std::min(IntParam(ctx.route, "max-uploads", 1000), 1000);
  if (max_uploads < 0) return ctx.Error("InvalidArgument");
  const std::string key_marker = ctx.route.Param("key-marker");
  const std::string id_marker = ctx.route.Param("upload-id-marker");
  Result<std::vector<store::UploadInfo>> uploads = ctx.store().ListMultipartUploads(ctx.route.bucket, prefix);
  if (!uploads.ok()) return ctx.StoreError(uploads.status(), "NoSuchBucket");
  XmlWriter items;
  int shown = 0;
  bool truncated = false;
  std::string next_key, next_id;
  for (const store::UploadInfo& u : *uploads) {
    if (!key_marker.empty() && (u.key < key_marker || (u.key == key_marker && u.upload_id <= id_marker))) continue;
    if (shown == max_uploads) {
      truncated = true;
      break;
    }
    items.Open("Upload");
    items.Element("Key", u.key);
    items.Element("UploadId", u.upload_id);
    Party(items, "Initiator");
    Party(items, "Owner");
    items.Element("StorageClass", "STANDARD");
    items.Element("Initiated", IsoDate(u.initiated));
    items.Close("Upload");
    next_key = u.key;
    next_id = u.upload_id;
    ++shown;
  }
  XmlWriter x;
  x.Declaration();
  x.Open("ListMultipartUploadsResult", true);
  x.Element("Bucket", ctx.route.bucket);
  x.Element("KeyMarker", key_marker);
  x.Element("UploadIdMarker", id_marker);
  x.Element("NextKeyMarker", truncated ? next_key : "");
  x.Element("NextUploadIdMarker", truncated ? next_id : "");
  x.Element("Prefix", prefix);
  x.Element("MaxUploads", std::to_string(max_uploads));
  x.Element("IsTruncated", truncated ? "true" : "false");
  std::string out = x.Take() + items.Take() + "</ListMultipartUploadsResult>";
  return ctx.Xml(std::move(out));
}

HttpResponse UploadPartCopy(RequestContext& ctx) {
  auto source = ParseCopySource(ctx.head.Header("x-amz-copy-source").value_or(""));
  if (!source) return ctx.Error("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
  if (auto err = Authenticator::Authorize(*ctx.principal.credential, Operation::kGetObject, source->bucket)) {
    return ctx.Error(*err);
  }
  int number = IntParam(ctx.route, "partNumber", -1);
  if (number < 1 || number > 10000) {
    return ctx.Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive");
  }
  std::optional<store::ByteRange> range;
  if (auto h = ctx.head.Header("x-amz-copy-source-range")) {
    // Only "bytes=first-last" is allowed here.
    std::string_view v = *h;
    const size_t dash = v.find('-');
    if (!v.starts_with("bytes=") || dash == std::string_view::npos) return ctx.Error("InvalidArgument", "Range specified is not valid for source object");
    uint64_t a = 0, b = 0;
    const std::string_view sa = v.substr(6, dash - 6), sb = v.substr(dash + 1);
    auto ra = std::from_chars(sa.data(), sa.data() + sa.size(), a);
    auto rb = std::from_chars(sb.data(), sb.data() + sb.size(), b);
    if (ra.ec != std::errc() || rb.ec != std::errc() || b < a) return ctx.Error("InvalidArgument", "Range specified is not valid for source object");
    range = store::ByteRange{a, b, std::nullopt};
  }
  auto reader = ctx.store().Get(source->bucket, source->key, range);
  if (!reader.ok()) return ctx.StoreError(reader.status());
  auto writer = ctx.store().BeginPart(ctx.route.bucket, ctx.route.key, ctx.route.Param("uploadId"), number, std::nullopt);
  if (!writer.ok()) return ctx.StoreError(writer.status(), "NoSuchUpload");
  std::string buffer(256 * 1024, '\0');
  for (;;) {
    Result<size_t> n = (*reader)->Read(std::span<char>(buffer.data(), buffer.size()));
    if (!n.ok()) return ctx.StoreError(n.status());
    if (*n == 0) break;
    const Status st = (*writer)->Write(std::string_view(buffer.data(), *n));
    if (!st.ok()) return ctx.StoreError(st);
  }
  Result<store::ObjectInfo> info = (*writer)->Commit();
  if (!info.ok()) return ctx.StoreError(info.status(), "NoSuchUpload");
  XmlWriter x;
  x.Declaration();
  x.Open("CopyPartResult", true);
  x.Element("LastModified", IsoDate(info->last_modified));
  x.Element("ETag", QuotedEtag(info->etag));
  x.Close("CopyPartResult");
  return ctx.Xml(x.Take());
}

}  // namespace thumbpipe::server
