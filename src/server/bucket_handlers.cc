// ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation and the bucket
// notification configuration.
#include "events/notification_config.h"
#include "events/notifications.h"
#include "server/s3_format.h"
#include "server/s3_handlers.h"
#include "server/s3_xml.h"

namespace thumbpipe::server {
namespace {

// The single account of the embedded server, as S3 shows a bucket owner.
constexpr std::string_view kOwnerId = "thumbpipe";

}  // namespace

HttpResponse ListBuckets(RequestContext& ctx) {
  Result<std::vector<store::BucketInfo>> buckets = ctx.store().ListBuckets();
  if (!buckets.ok()) return ctx.StoreError(buckets.status());
  XmlWriter x;
  x.Declaration();
  x.Open("ListAllMyBucketsResult", true);
  x.Open("Owner");
  x.Element("ID", kOwnerId);
  x.Element("DisplayName", kOwnerId);
  x.Close("Owner");
  x.Open("Buckets");
  for (const store::BucketInfo& b : *buckets) {
    if (!Authenticator::MayUseBucket(*ctx.principal.credential, b.name)) continue;
    x.Open("Bucket");
    x.Element("Name", b.name);
    x.Element("CreationDate", IsoDate(b.created));
    x.Close("Bucket");
  }
  x.Close("Buckets");
  x.Close("ListAllMyBucketsResult");
  return ctx.Xml(x.Take());
}

HttpResponse CreateBucket(RequestContext& ctx, std::string_view body) {
  Result<std::string> location = ParseLocationConstraint(body);
  if (!location.ok()) return ctx.StoreError(location.status());
  const std::string& region = ctx.service.options().region;
  if (!location->empty() && *location != region) {
    return ctx.Error("IllegalLocationConstraintException",
                     "The " + *location + " location constraint is incompatible for the region specific endpoint this request was sent to.");
  }
  const Status st = ctx.store().CreateBucket(ctx.route.bucket);
  if (!st.ok()) return ctx.StoreError(st, "NoSuchBucket");
  HttpResponse r;
  r.Set("Location", "/" + ctx.route.bucket);
  return r;
}

HttpResponse DeleteBucket(RequestContext& ctx) {
  const Status st = ctx.store().DeleteBucket(ctx.route.bucket);
  if (!st.ok()) return ctx.StoreError(st, "NoSuchBucket");
  // A bucket created again under this name starts without a notification configuration.
  if (events::Notifications* n = ctx.service.notifications()) n->ForgetBucket(ctx.route.bucket);
  HttpResponse r;
  r.status = 204;
  return r;
}

HttpResponse HeadBucket(RequestContext& ctx) {
  Result<store::BucketInfo> info = ctx.store().HeadBucket(ctx.route.bucket);
  if (!info.ok()) return ctx.StoreError(info.status(), "NoSuchBucket");
  HttpResponse r;
  r.Set("x-amz-bucket-region", ctx.service.options().region);
  return r;
}

HttpResponse GetBucketLocation(RequestContext& ctx) {
  Result<store::BucketInfo> info = ctx.store().HeadBucket(ctx.route.bucket);
  if (!info.ok()) return ctx.StoreError(info.status(), "NoSuchBucket");
  const std::string& region = ctx.service.options().region;
  XmlWriter x;
  x.Declaration();
  x.Open("LocationConstraint", true);
  // S3 answers an empty constraint for us-east-1 (its legacy default region).
  std::string body = x.Take() + (region == "us-east-1" ? "" : XmlEscape(region)) + "</LocationConstraint>";
  return ctx.Xml(std::move(body));
}

HttpResponse PutBucketNotification(RequestContext& ctx, std::string_view body) {
  events::Notifications* n = ctx.service.notifications();
  if (n == nullptr) return ctx.Error("NotImplemented");
  Result<store::BucketInfo> info = ctx.store().HeadBucket(ctx.route.bucket);
  if (!info.ok()) return ctx.StoreError(info.status(), "NoSuchBucket");
  events::ConfigurationRequest req;
  req.request_id = ctx.request_id;
  req.host_id = ctx.request_id;
  req.skip_destination_validation =
      ctx.head.Header("x-amz-skip-destination-validation").value_or("") == "true";
  const Status st = n->PutConfiguration(ctx.route.bucket, body, req);
  if (!st.ok()) return ctx.StoreError(st, "NoSuchBucket");
  return HttpResponse{};
}

HttpResponse GetBucketNotification(RequestContext& ctx) {
  events::Notifications* n = ctx.service.notifications();
  if (n == nullptr) return ctx.Error("NotImplemented");
  Result<store::BucketInfo> info = ctx.store().HeadBucket(ctx.route.bucket);
  if (!info.ok()) return ctx.StoreError(info.status(), "NoSuchBucket");
  Result<std::string> doc = n->GetConfiguration(ctx.route.bucket);
  if (!doc.ok()) return ctx.StoreError(doc.status(), "NoSuchBucket");
  return ctx.Xml(std::move(doc).value());
}

}  // namespace thumbpipe::server
