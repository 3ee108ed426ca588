// The S3 operations, one free function each (a few per file, by concern), called by
// S3Service's exchange on the worker pool once the request is routed, authenticated and
// authorized. Each returns the complete response; store errors are mapped by ctx.StoreError.
// Internal to src/server.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/auth.h"
#include "server/http_types.h"
#include "server/payload.h"
#include "server/s3_errors.h"
#include "server/s3_router.h"
#include "server/s3_service.h"
#include "store/object_store.h"

namespace thumbpipe::server {

struct RequestContext {
  S3Service& service;
  const HttpRequestHead& head;
  const Route& route;
  std::string request_id;
  Principal principal;

  store::ObjectStore& store() const { return service.store(); }
  store::WriteContext WriteContext() const;
  HttpResponse Error(const S3Error& error) const;
  HttpResponse Error(std::string_view code, std::string_view message = {}) const;
  HttpResponse StoreError(const Status& status, std::string_view not_found_code = "NoSuchKey") const;
  HttpResponse Xml(std::string body, int status = 200) const;
};

// bucket_handlers.cc
HttpResponse ListBuckets(RequestContext& ctx);
HttpResponse CreateBucket(RequestContext& ctx, std::string_view body);
HttpResponse DeleteBucket(RequestContext& ctx);
HttpResponse HeadBucket(RequestContext& ctx);
HttpResponse GetBucketLocation(RequestContext& ctx);
HttpResponse PutBucketNotification(RequestContext& ctx, std::string_view body);
HttpResponse GetBucketNotification(RequestContext& ctx);

// list_handlers.cc
HttpResponse ListObjects(RequestContext& ctx, bool v2);

// object_handlers.cc
HttpResponse GetObject(RequestContext& ctx, bool head_only);
HttpResponse DeleteObject(RequestContext& ctx);
HttpResponse DeleteObjects(RequestContext& ctx, std::string_view body);
HttpResponse CopyObject(RequestContext& ctx);

// multipart_handlers.cc
HttpResponse CreateMultipartUpload(RequestContext& ctx);
HttpResponse CompleteMultipartUpload(RequestContext& ctx, std::string_view body);
HttpResponse AbortMultipartUpload(RequestContext& ctx);
HttpResponse ListParts(RequestContext& ctx);
HttpResponse ListMultipartUploads(RequestContext& ctx);
HttpResponse UploadPartCopy(RequestContext& ctx);

// cors.cc
HttpResponse PutBucketCors(RequestContext& ctx, std::string_view body);
HttpResponse GetBucketCors(RequestContext& ctx);
HttpResponse DeleteBucketCors(RequestContext& ctx);
// OPTIONS: answered without authentication, from server.cors_allowed_origins and the
// bucket's CORS configuration.
HttpResponse CorsPreflight(S3Service& service, const HttpRequestHead& head, const Route& route,
                           const std::string& request_id);
// Access-Control-* headers for an actual request that carries Origin (none when not allowed).
void AddCorsHeaders(S3Service& service, const HttpRequestHead& head, const Route& route, HttpResponse* response);

// upload.cc: PutObject and UploadPart stream their body into a store writer.
class ObjectUpload {
 public:
  // Opens the writer; the error response when the request cannot proceed.
  static std::optional<HttpResponse> Begin(RequestContext& ctx, bool part, std::unique_ptr<ObjectUpload>* out);
  std::optional<HttpResponse> Body(RequestContext& ctx, std::string_view raw);
  HttpResponse End(RequestContext& ctx);

 private:
  bool part_ = false;
  std::unique_ptr<PayloadPipe> pipe_;
  std::unique_ptr<store::ObjectWriter> writer_;
  std::string decoded_;
};

// Parses "/bucket/key" or "bucket/key" (URL-decoded, "?versionId=" refused) of
// x-amz-copy-source.
struct CopySource {
  std::string bucket, key;
};
std::optional<CopySource> ParseCopySource(std::string_view header);

}  // namespace thumbpipe::server
