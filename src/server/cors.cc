// CORS for browser uploads with presigned URLs: server-wide origins from
// server.cors_allowed_origins, and per-bucket CORSConfiguration documents (Put/Get/Delete
// BucketCors), evaluated as S3 does: the first rule whose origin, method and requested
// headers all match answers.
#include "server/s3_handlers.h"
#include "server/s3_xml.h"
#include "sigv4/canonical.h"

namespace thumbpipe::server {
namespace {

constexpr std::string_view kCorsConfigName = "cors";
constexpr std::string_view kAllMethods = "GET, PUT, POST, DELETE, HEAD";
// What a browser script may read from a response: the ETag (multipart uploads need it) and
// the ids, beside the CORS-safelisted headers.
constexpr std::string_view kExposeHeaders =
    "ETag, x-amz-request-id, x-amz-id-2, x-amz-version-id, x-amz-checksum-crc32, x-amz-checksum-crc32c, "
    "x-amz-checksum-sha1, x-amz-checksum-sha256, Content-Range, Content-Length, Last-Modified";

// S3 allows one '*' in AllowedOrigin / AllowedHeader.
bool WildcardMatch(std::string_view pattern, std::string_view text, bool ignore_case) {
  auto eq = [ignore_case](std::string_view a, std::string_view b) {
    return ignore_case ? sigv4::EqualsIgnoreCase(a, b) : a == b;
  };
  const size_t star = pattern.find('*');
  if (star == std::string_view::npos) return eq(pattern, text);
  const std::string_view head = pattern.substr(0, star), tail = pattern.substr(star + 1);
  return text.size() >= head.size() + tail.size() && eq(text.substr(0, head.size()), head) &&
         eq(text.substr(text.size() - tail.size()), tail);
}

std::vector<std::string> SplitList(std::string_view v) {
  std::vector<std::string> out;
  while (!v.empty()) {
    const size_t comma = v.find(',');
    std::string_view item = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

// The verdict for one (origin, method, headers) question.
struct CorsGrant {
  std::string allow_origin;
  std::string allow_methods;
  std::string allow_headers;
  std::string expose_headers;
  int max_age = -1;
};

std::optional<std::vector<CorsRule>> BucketRules(S3Service& service, std::string_view bucket) {
  if (bucket.empty()) return std::nullopt;
  Result<std::string> doc = service.store().GetBucketConfig(bucket, kCorsConfigName);
  if (!doc.ok() || doc->empty()) return std::nullopt;
  Result<std::vector<CorsRule>> rules = ParseCorsConfiguration(*doc);
  if (!rules.ok()) return std::nullopt;
  return std::move(rules).value();
}

std::optional<CorsGrant> Evaluate(S3Service& service, std::string_view bucket, std::string_view origin,
                                  std::string_view method, const std::vector<std::string>& headers) {
  for (const std::string& allowed : service.options().cors_allowed_origins) {
    if (allowed == "*" || allowed == origin) {
      CorsGrant g;
      g.allow_origin = std::string(origin);
      g.allow_methods = std::string(kAllMethods);
      g.allow_headers = Join(headers);
      g.expose_headers = std::string(kExposeHeaders);
      g.max_age = 3600;
      return g;
    }
  }
  std::optional<std::vector<CorsRule>> rules = BucketRules(service, bucket);
  if (!rules) return std::nullopt;
  for (const CorsRule& rule : *rules) {
    const bool origin_ok = std::any_of(rule.allowed_origins.begin(), rule.allowed_origins.end(),
                                       [&](const std::string& p) { return WildcardMatch(p, origin, false); });
    const bool method_ok = std::find(rule.allowed_methods.begin(), rule.allowed_methods.end(), method) !=
                           rule.allowed_methods.end();
    const bool headers_ok = std::all_of(headers.begin(), headers.end(), [&](const std::string& h) {
      return std::any_of(rule.allowed_headers.begin(), rule.allowed_headers.end(),
                         [&](const std::string& p) { return WildcardMatch(p, h, true); });
    });
    if (!origin_ok || !method_ok || !headers_ok) continue;
    CorsGrant g;
    const bool any = std::find(rule.allowed_origins.begin(), rule.allowed_origins.end(), "*") !=
                     rule.allowed_origins.end();
    g.allow_origin = any ? "*" : std::string(origin);
    g.allow_methods = Join(rule.allowed_methods);
    g.allow_headers = Join(headers);
    g.expose_headers = Join(rule.expose_headers);
    g.max_age = rule.max_age_seconds;
    return g;
  }
  return std::nullopt;
}

}  // namespace

HttpResponse CorsPreflight(S3Service& service, const HttpRequestHead& head, const Route& route,
                           const std::string& request_id) {
  const auto origin = head.Header("origin");
  const auto method = head.Header("access-control-request-method");
  if (!origin) {
    return ErrorResponse(MakeS3Error("BadRequest", "Insufficient information. Origin request header needed."),
                         route.Resource(), request_id);
  }
  if (!method) {
    return ErrorResponse(MakeS3Error("BadRequest", "Invalid Access-Control-Request-Method: null"),
                         route.Resource(), request_id);
  }
  const std::vector<std::string> headers = SplitList(head.Header("access-control-request-headers").value_or(""));
  std::optional<CorsGrant> grant = Evaluate(service, route.bucket, *origin, *method, headers);
  if (!grant) {
    S3Error e = MakeS3Error("AccessForbidden",
                            "CORSResponse: This CORS request is not allowed. This is usually because the evalution "
                            "of Origin, request method / Access-Control-Request-Method or "
                            "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.");
    e.status = 403;
    return ErrorResponse(e, route.Resource(), request_id);
  }
  HttpResponse r;
  r.Set("Access-Control-Allow-Origin", grant->allow_origin);
  r.Set("Access-Control-Allow-Methods", grant->allow_methods);
  if (!grant->allow_headers.empty()) r.Set("Access-Control-Allow-Headers", grant->allow_headers);
  if (!grant->expose_headers.empty()) r.Set("Access-Control-Expose-Headers", grant->expose_headers);
  if (grant->max_age >= 0) r.Set("Access-Control-Max-Age", std::to_string(grant->max_age));
  r.Set("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
  return r;
}

void AddCorsHeaders(S3Service& service, const HttpRequestHead& head, const Route& route, HttpResponse* r) {
  const auto origin = head.Header("origin");
  if (!origin) return;
  std::optional<CorsGrant> grant = Evaluate(service, route.bucket, *origin, head.method, {});
  if (!grant) return;
  r->Set("Access-Control-Allow-Origin", grant->allow_origin);
  r->Set("Access-Control-Allow-Methods", grant->allow_methods);
  if (!grant->expose_headers.empty()) r->Set("Access-Control-Expose-Headers", grant->expose_headers);
  if (grant->max_age >= 0) r->Set("Access-Control-Max-Age", std::to_string(grant->max_age));
  r->Set("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
}

HttpResponse PutBucketCors(RequestContext& ctx, std::string_view body) {
  Result<std::vector<CorsRule>> rules = ParseCorsConfiguration(body);
  if (!rules.ok()) return ctx.StoreError(rules.status());
  const Status st = ctx.store().PutBucketConfig(ctx.route.bucket, kCorsConfigName, CorsConfigurationXml(*rules));
  if (!st.ok()) return ctx.StoreError(st, "NoSuchBucket");
  return HttpResponse{};
}

HttpResponse GetBucketCors(RequestContext& ctx) {
  Result<store::BucketInfo> info = ctx.store().HeadBucket(ctx.route.bucket);
  if (!info.ok()) return ctx.StoreError(info.status(), "NoSuchBucket");
  Result<std::string> doc = ctx.store().GetBucketConfig(ctx.route.bucket, kCorsConfigName);
  if (!doc.ok() && doc.status().code() != StatusCode::kNotFound) return ctx.StoreError(doc.status(), "NoSuchBucket");
  if (!doc.ok() || doc->empty()) return ctx.Error("NoSuchCORSConfiguration");
  return ctx.Xml(std::move(doc).value());
}

HttpResponse DeleteBucketCors(RequestContext& ctx) {
  // The store keeps documents until replaced; an empty one means "none".
  const Status st = ctx.store().PutBucketConfig(ctx.route.bucket, kCorsConfigName, "");
  if (!st.ok()) return ctx.StoreError(st, "NoSuchBucket");
  HttpResponse r;
  r.status = 204;
  return r;
}

}  // namespace thumbpipe::server
