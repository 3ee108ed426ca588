// PutObject and UploadPart: the body streams through PayloadPipe (decoding, hashing) into a
// store writer, and is committed only after every check passed. The 200 goes out after the
// commit, which (with the local store) includes the event's outbox row.
#include <charconv>

#include "server/s3_format.h"
#include "server/s3_handlers.h"

namespace thumbpipe::server {

namespace {

std::optional<int> ParsePartNumber(const std::string& s) {
  int n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size() || n < 1 || n > 10000) return std::nullopt;
  return n;
}

}  // namespace

std::optional<HttpResponse> ObjectUpload::Begin(RequestContext& ctx, bool part, std::unique_ptr<ObjectUpload>* out) {
  auto upload = std::make_unique<ObjectUpload>();
  upload->part_ = part;
  if (auto err = PayloadPipe::Create(ctx.head, ctx.principal.verified, ctx.service.options().max_body_bytes,
                                     /*require_length=*/true, &upload->pipe_)) {
    return ctx.Error(*err);
  }
  const Route& route = ctx.route;
  if (part) {
    const std::optional<int> number = ParsePartNumber(route.Param("partNumber"));
    if (!number) return ctx.Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive");
    auto writer = ctx.store().BeginPart(route.bucket, route.key, route.Param("uploadId"), *number, std::nullopt);
    if (!writer.ok()) return ctx.StoreError(writer.status(), "NoSuchUpload");
    upload->writer_ = std::move(writer).value();
  } else {
    store::PutOptions options = PutOptionsFromHeaders(ctx.head);
    options.kind = store::WriteKind::kPut;
    options.context = ctx.WriteContext();
    options.caller_md5 = true;  // PayloadPipe hashes every byte anyway (End passes its MD5)
    auto writer = ctx.store().BeginPut(route.bucket, route.key, std::move(options));
    if (!writer.ok()) return ctx.StoreError(writer.status(), "NoSuchBucket");
    upload->writer_ = std::move(writer).value();
  }
  *out = std::move(upload);
  return std::nullopt;
}

std::optional<HttpResponse> ObjectUpload::Body(RequestContext& ctx, std::string_view raw) {
  decoded_.clear();
  if (auto err = pipe_->Feed(raw, &decoded_)) return ctx.Error(*err);
  if (decoded_.empty()) return std::nullopt;
  const Status st = writer_->Write(decoded_);
  if (!st.ok()) return ctx.StoreError(st);
  return std::nullopt;
}

HttpResponse ObjectUpload::End(RequestContext& ctx) {
  if (auto err = pipe_->Finish()) return ctx.Error(*err);
  Result<store::ObjectInfo> info = writer_->CommitWithMd5(pipe_->md5());
  writer_.reset();
  if (!info.ok()) return ctx.StoreError(info.status(), part_ ? "NoSuchUpload" : "NoSuchBucket");
  HttpResponse r;
  r.Set("ETag", QuotedEtag(info->etag));
  if (auto checksum = pipe_->checksum()) r.Set(checksum->first, checksum->second);
  return r;
}

}  // namespace thumbpipe::server
