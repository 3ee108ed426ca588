#include "server/s3_service.h"

#include <cstdio>
#include <random>

#include "common/logging.h"
#include "server/s3_format.h"
#include "server/s3_handlers.h"
#include "server/s3_xml.h"
#include "server/sqs_service.h"

namespace thumbpipe::server {
namespace {

// Bodies the API buffers (XML documents): 10,000 parts of CompleteMultipartUpload fit.
constexpr size_t kMaxXmlBody = 4 << 20;

enum class BodyMode { kNone, kBuffer, kStream };

BodyMode BodyModeOf(Operation op) {
  switch (op) {
    case Operation::kCreateBucket:
    case Operation::kDeleteObjects:
    case Operation::kCompleteMultipartUpload:
    case Operation::kPutBucketNotification:
    case Operation::kPutBucketCors:
      return BodyMode::kBuffer;
    case Operation::kPutObject:
    case Operation::kUploadPart:
      return BodyMode::kStream;
    default:
      return BodyMode::kNone;
  }
}

// One request: route, authenticate, authorize, then run its operation.
class S3Exchange final : public Exchange {
 public:
  S3Exchange(S3Service& service, HttpRequestHead head)
      : service_(service), head_(std::move(head)), request_id_(service.NextRequestId()) {}

  std::optional<HttpResponse> Begin() override;
  std::optional<HttpResponse> Body(std::string_view chunk) override;
  HttpResponse End() override;

 private:
  HttpResponse Run();  // the bodiless and buffered operations
  HttpResponse Decorate(HttpResponse r);
  HttpResponse Fail(const S3Error& e) { return Decorate(ErrorResponse(e, route_.Resource(), request_id_)); }

  S3Service& service_;
  HttpRequestHead head_;
  std::string request_id_;
  Route route_;
  std::unique_ptr<RequestContext> ctx_;
  BodyMode mode_ = BodyMode::kNone;
  std::unique_ptr<PayloadPipe> pipe_;  // kBuffer
  std::string body_;
  std::unique_ptr<ObjectUpload> upload_;  // kStream
};

HttpResponse S3Exchange::Decorate(HttpResponse r) {
  r.Set("x-amz-request-id", request_id_);
  r.Set("x-amz-id-2", request_id_);
  r.Set("Date", HttpDate(service_.clock().Now()));
  r.Set("Server", "thumbpipe");
  if (route_.op != Operation::kCorsPreflight) AddCorsHeaders(service_, head_, route_, &r);
  if (const auto& ops = service_.options().ops; ops && ops->registry != nullptr) {
    // Looked up per request (a map under a lock): cheap beside the request's own store work.
    ops->registry->GetCounter("thumbpipe_http_requests_total", "S3 API requests by operation and status",
                              {{"operation", std::string(OperationName(route_.op))}, {"status", std::to_string(r.status)}})
        .Inc();
  }
  const nlohmann::json fields = {{"request_id", request_id_}, {"op", OperationName(route_.op)},
                                 {"status", r.status}, {"bucket", route_.bucket}, {"key", route_.key}};
  if (r.status >= 500) {
    LogWarn("request failed", fields);
  } else {
    LogDebug("request", fields);  // the access log, at debug level
  }
  return r;
}

std::optional<HttpResponse> S3Exchange::Begin() {
  Result<Route> route = RouteRequest(head_, service_.options().router);
  if (!route.ok()) {
    const std::string& msg = route.status().message();
    const std::string code = msg.substr(0, msg.find(' '));
    return Fail(MakeS3Error(code == "InvalidURI" ? "InvalidArgument" : code));
  }
  route_ = std::move(route).value();
  if (route_.op == Operation::kCorsPreflight) {
    return Decorate(CorsPreflight(service_, head_, route_, request_id_));
  }
  Principal principal;
  if (auto err = service_.authenticator().Authenticate(head_, route_, &principal)) {
    LogInfo("request refused", {{"request_id", request_id_}, {"code", err->code}, {"detail", err->message}});
    return Fail(*err);
  }
  if (route_.op == Operation::kNotImplemented) return Fail(MakeS3Error("NotImplemented"));
  if (auto err = Authenticator::Authorize(*principal.credential, route_.op, route_.bucket)) return Fail(*err);
  ctx_ = std::make_unique<RequestContext>(RequestContext{service_, head_, route_, request_id_, std::move(principal)});

  mode_ = BodyModeOf(route_.op);
  switch (mode_) {
    case BodyMode::kNone:
      return Decorate(Run());
    case BodyMode::kBuffer:
      if (auto err = PayloadPipe::Create(head_, ctx_->principal.verified, kMaxXmlBody, false, &pipe_)) {
        return Fail(*err);
      }
      if (!head_.has_body()) return End();
      return std::nullopt;
    case BodyMode::kStream: {
      std::optional<HttpResponse> early =
          ObjectUpload::Begin(*ctx_, route_.op == Operation::kUploadPart, &upload_);
      if (early) return Decorate(std::move(*early));
      if (!head_.has_body()) return End();
      return std::nullopt;
    }
  }
  return Fail(MakeS3Error("InternalError"));
}

std::optional<HttpResponse> S3Exchange::Body(std::string_view chunk) {
  if (mode_ == BodyMode::kStream) {
    std::optional<HttpResponse> early = upload_->Body(*ctx_, chunk);
    if (early) return Decorate(std::move(*early));
    return std::nullopt;
  }
  if (mode_ == BodyMode::kBuffer) {
    if (auto err = pipe_->Feed(chunk, &body_)) return Fail(*err);
    return std::nullopt;
  }
  return std::nullopt;  // a body nobody asked for is dropped
}

HttpResponse S3Exchange::End() {
  if (mode_ == BodyMode::kStream) return Decorate(upload_->End(*ctx_));
  if (mode_ == BodyMode::kBuffer) {
    if (auto err = pipe_->Finish()) return Fail(*err);
    return Decorate(Run());
  }
  return Decorate(Run());
}

HttpResponse S3Exchange::Run() {
  RequestContext& ctx = *ctx_;
  switch (route_.op) {
    case Operation::kListBuckets: return ListBuckets(ctx);
    case Operation::kCreateBucket: return CreateBucket(ctx, body_);
    case Operation::kDeleteBucket: return DeleteBucket(ctx);
    case Operation::kHeadBucket: return HeadBucket(ctx);
    case Operation::kGetBucketLocation: return GetBucketLocation(ctx);
    case Operation::kListObjects: return ListObjects(ctx, false);
    case Operation::kListObjectsV2: return ListObjects(ctx, true);
    case Operation::kListMultipartUploads: return ListMultipartUploads(ctx);
    case Operation::kDeleteObjects: return DeleteObjects(ctx, body_);
    case Operation::kPutBucketNotification: return PutBucketNotification(ctx, body_);
    case Operation::kGetBucketNotification: return GetBucketNotification(ctx);
    case Operation::kPutBucketCors: return PutBucketCors(ctx, body_);
    case Operation::kGetBucketCors: return GetBucketCors(ctx);
    case Operation::kDeleteBucketCors: return DeleteBucketCors(ctx);
    case Operation::kCopyObject: return CopyObject(ctx);
    case Operation::kGetObject: return GetObject(ctx, false);
    case Operation::kHeadObject: return GetObject(ctx, true);
    case Operation::kDeleteObject: return DeleteObject(ctx);
    case Operation::kCreateMultipartUpload: return CreateMultipartUpload(ctx);
    case Operation::kUploadPartCopy: return UploadPartCopy(ctx);
    case Operation::kCompleteMultipartUpload: return CompleteMultipartUpload(ctx, body_);
    case Operation::kAbortMultipartUpload: return AbortMultipartUpload(ctx);
    case Operation::kListParts: return ListParts(ctx);
    case Operation::kPutObject:
    case Operation::kUploadPart:
    case Operation::kCorsPreflight:
    case Operation::kNotImplemented:
      break;
  }
  return ctx.Error("NotImplemented");
}

}  // namespace

store::WriteContext RequestContext::WriteContext() const {
  store::WriteContext w;
  w.request_id = request_id;
  w.host_id = request_id;
  w.principal_id = principal.credential ? principal.credential->access_key : std::string();
  w.source_ip = head.remote_ip;
  return w;
}

HttpResponse RequestContext::Error(const S3Error& error) const {
  return ErrorResponse(error, route.Resource(), request_id);
}

HttpResponse RequestContext::Error(std::string_view code, std::string_view message) const {
  return Error(MakeS3Error(code, message));
}

HttpResponse RequestContext::StoreError(const Status& status, std::string_view not_found_code) const {
  const S3Error e = FromStatus(status, not_found_code);
  if (e.status >= 500) {
    LogError("store error", {{"request_id", request_id}, {"op", OperationName(route.op)},
                             {"cause", status.ToString()}});
  }
  return Error(e);
}

HttpResponse RequestContext::Xml(std::string body, int status) const {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.Set("Content-Type", "application/xml");
  return r;
}

S3Service::S3Service(store::ObjectStore& store, events::Notifications* notifications, S3ServiceOptions options,
                     const Clock& clock)
    : store_(store),
      notifications_(notifications),
      options_(std::move(options)),
      clock_(clock),
      auth_(options_.credentials, options_.region, clock) {
  std::random_device rd;
  next_id_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

std::string S3Service::NextRequestId() {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(next_id_.fetch_add(1)));
  return buf;
}

std::unique_ptr<Exchange> S3Service::NewExchange(HttpRequestHead head) {
  if (options_.ops && IsOpsRequest(head)) return NewOpsExchange(*options_.ops, std::move(head));
  if (options_.sqs != nullptr && IsSqsRequest(head)) return options_.sqs->NewExchange(std::move(head));
  return std::make_unique<S3Exchange>(*this, std::move(head));
}

HttpResponse S3Service::Failure(HttpFailure failure, std::string_view detail) {
  std::string code;
  switch (failure) {
    case HttpFailure::kBadRequest: code = "InvalidRequest"; break;
    case HttpFailure::kHeaderTooLarge: code = "RequestHeaderSectionTooLarge"; break;
    case HttpFailure::kBodyTooLarge: code = "EntityTooLarge"; break;
    case HttpFailure::kIncompleteBody: code = "IncompleteBody"; break;
    case HttpFailure::kRequestTimeout: code = "RequestTimeout"; break;
    case HttpFailure::kTooManyConnections: code = "SlowDown"; break;
    case HttpFailure::kInternal: code = "InternalError"; break;
  }
  LogInfo("http failure", {{"code", code}, {"detail", detail}});
  S3Error e = MakeS3Error(code);
  if (failure == HttpFailure::kBadRequest) e.message = "Malformed request: " + std::string(detail);
  const std::string id = NextRequestId();
  HttpResponse r = ErrorResponse(e, "", id);
  r.Set("x-amz-request-id", id);
  r.Set("Date", HttpDate(clock_.Now()));
  r.Set("Server", "thumbpipe");
  r.close = true;
  return r;
}

}  // namespace thumbpipe::server
