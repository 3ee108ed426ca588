#include "server/s3_router.h"

#include <array>

#include "sigv4/canonical.h"
#include "store/object_store.h"

namespace thumbpipe::server {
namespace {

// Sub-resources of real S3 operations thumbpipe does not implement: 501, not a wrong
// fallback (a GET ?acl must not list the bucket).
constexpr std::array kUnsupportedSubresources = {
    "acl", "policy", "versioning", "tagging", "lifecycle", "encryption", "website", "logging",
    "replication", "object-lock", "ownershipControls", "publicAccessBlock", "versions",
    "requestPayment", "accelerate", "analytics", "inventory", "metrics", "intelligent-tiering",
    "retention", "legal-hold", "torrent", "restore", "select", "attributes", "policyStatus"};

bool HasUnsupported(const Route& r) {
  for (const char* s : kUnsupportedSubresources) {
    if (r.Has(s)) return true;
  }
  return false;
}

std::string DecodeQueryPart(std::string_view s) {
  std::string plus_as_space(s);
  for (char& c : plus_as_space) {
    if (c == '+') c = ' ';
  }
  return sigv4::PercentDecode(plus_as_space);
}

std::string_view HostWithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  const size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

Status MethodNotAllowed(std::string_view method) {
  return Status::InvalidArgument("MethodNotAllowed " + std::string(method));
}

Result<Operation> ServiceOperation(std::string_view method) {
  if (method == "GET") return Operation::kListBuckets;
  if (method == "OPTIONS") return Operation::kCorsPreflight;
  return MethodNotAllowed(method);
}

Result<Operation> BucketOperation(std::string_view method, const Route& r) {
  if (method == "OPTIONS") return Operation::kCorsPreflight;
  if (method == "GET") {
    if (r.Has("location")) return Operation::kGetBucketLocation;
    if (r.Has("notification")) return Operation::kGetBucketNotification;
    if (r.Has("cors")) return Operation::kGetBucketCors;
    if (r.Has("uploads")) return Operation::kListMultipartUploads;
    if (HasUnsupported(r)) return Operation::kNotImplemented;
    if (r.Param("list-type") == "2") return Operation::kListObjectsV2;
    return Operation::kListObjects;
  }
  if (method == "PUT") {
    if (r.Has("notification")) return Operation::kPutBucketNotification;
    if (r.Has("cors")) return Operation::kPutBucketCors;
    if (HasUnsupported(r)) return Operation::kNotImplemented;
    return Operation::kCreateBucket;
  }
  if (method == "DELETE") {
    if (r.Has("cors")) return Operation::kDeleteBucketCors;
    if (HasUnsupported(r)) return Operation::kNotImplemented;
    return Operation::kDeleteBucket;
  }
  if (method == "HEAD") return Operation::kHeadBucket;
  if (method == "POST") {
    if (r.Has("delete")) return Operation::kDeleteObjects;
    return Operation::kNotImplemented;  // browser POST uploads
  }
  return MethodNotAllowed(method);
}

Result<Operation> ObjectOperation(std::string_view method, const Route& r, const HttpRequestHead& head) {
  if (method == "OPTIONS") return Operation::kCorsPreflight;
  if (HasUnsupported(r)) return Operation::kNotImplemented;
  const bool copy = head.Header("x-amz-copy-source").has_value();
  if (method == "GET") return r.Has("uploadId") ? Operation::kListParts : Operation::kGetObject;
  if (method == "HEAD") return Operation::kHeadObject;
  if (method == "PUT") {
    if (r.Has("uploadId") || r.Has("partNumber")) {
      return copy ? Operation::kUploadPartCopy : Operation::kUploadPart;
    }
    return copy ? Operation::kCopyObject : Operation::kPutObject;
  }
  if (method == "POST") {
    if (r.Has("uploads")) return Operation::kCreateMultipartUpload;
    if (r.Has("uploadId")) return Operation::kCompleteMultipartUpload;
    return Operation::kNotImplemented;
  }
  if (method == "DELETE") {
    return r.Has("uploadId") ? Operation::kAbortMultipartUpload : Operation::kDeleteObject;
  }
  return MethodNotAllowed(method);
}

}  // namespace

std::string_view OperationName(Operation op) {
  switch (op) {
    case Operation::kListBuckets: return "ListBuckets";
    case Operation::kCreateBucket: return "CreateBucket";
    case Operation::kDeleteBucket: return "DeleteBucket";
    case Operation::kHeadBucket: return "HeadBucket";
    case Operation::kGetBucketLocation: return "GetBucketLocation";
    case Operation::kListObjects: return "ListObjects";
    case Operation::kListObjectsV2: return "ListObjectsV2";
    case Operation::kListMultipartUploads: return "ListMultipartUploads";
    case Operation::kDeleteObjects: return "DeleteObjects";
    case Operation::kPutBucketNotification: return "PutBucketNotificationConfiguration";
    case Operation::kGetBucketNotification: return "GetBucketNotificationConfiguration";
    case Operation::kPutBucketCors: return "PutBucketCors";
    case Operation::kGetBucketCors: return "GetBucketCors";
    case Operation::kDeleteBucketCors: return "DeleteBucketCors";
    case Operation::kPutObject: return "PutObject";
    case Operation::kCopyObject: return "CopyObject";
    case Operation::kGetObject: return "GetObject";
    case Operation::kHeadObject: return "HeadObject";
    case Operation::kDeleteObject: return "DeleteObject";
    case Operation::kCreateMultipartUpload: return "CreateMultipartUpload";
    case Operation::kUploadPart: return "UploadPart";
    case Operation::kUploadPartCopy: return "UploadPartCopy";
    case Operation::kCompleteMultipartUpload: return "CompleteMultipartUpload";
    case Operation::kAbortMultipartUpload: return "AbortMultipartUpload";
    case Operation::kListParts: return "ListParts";
    case Operation::kCorsPreflight: return "CorsPreflight";
    case Operation::kNotImplemented: return "NotImplemented";
  }
  return "Unknown";
}

std::string Route::Resource() const {
  if (bucket.empty()) return "/";
  return key.empty() ? "/" + bucket : "/" + bucket + "/" + key;
}

std::map<std::string, std::string, std::less<>> ParseQuery(std::string_view raw) {
  std::map<std::string, std::string, std::less<>> out;
  while (!raw.empty()) {
    const size_t amp = raw.find('&');
    std::string_view part = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::string name = DecodeQueryPart(part.substr(0, eq));
    std::string value = eq == std::string_view::npos ? std::string() : DecodeQueryPart(part.substr(eq + 1));
    out.emplace(std::move(name), std::move(value));
  }
  return out;
}

std::string UrlEncodeKey(std::string_view key) { return sigv4::UriEncode(key, /*keep_slash=*/true); }

Result<Route> RouteRequest(const HttpRequestHead& head, const RouterOptions& options) {
  Route r;
  std::string_view target = head.target;
  if (target.empty() || target.front() != '/') return Status::InvalidArgument("InvalidURI target is not a path");
  const size_t qmark = target.find('?');
  r.path = std::string(target.substr(0, qmark));
  if (qmark != std::string_view::npos) r.raw_query = std::string(target.substr(qmark + 1));
  r.query = ParseQuery(r.raw_query);

  std::string_view path = std::string_view(r.path).substr(1);  // without the leading '/'
  const std::string_view host = HostWithoutPort(head.Header("host").value_or(""));
  for (const std::string& base : options.base_hosts) {
    if (host.size() > base.size() + 1 && host.ends_with(base) && host[host.size() - base.size() - 1] == '.') {
      r.bucket = std::string(host.substr(0, host.size() - base.size() - 1));
      r.virtual_host = true;
      break;
    }
  }
  std::string raw_key;
  if (r.virtual_host) {
    raw_key = std::string(path);
  } else {
    const size_t slash = path.find('/');
    r.bucket = sigv4::PercentDecode(path.substr(0, slash));
    if (slash != std::string_view::npos) raw_key = std::string(path.substr(slash + 1));
  }
  r.key = sigv4::PercentDecode(raw_key);
  if (r.key.size() > store::kMaxKeyBytes) return Status::InvalidArgument("KeyTooLongError");
  // "//key": an object key under an empty bucket name. Routed as a service request it would
  // answer `GET //key` with ListBuckets (found by fuzz/http_fuzzer).
  if (r.bucket.empty() && !r.key.empty()) {
    return Status::InvalidArgument("InvalidURI the path names an object key without a bucket");
  }

  Result<Operation> op = r.bucket.empty() ? ServiceOperation(head.method)
                         : r.key.empty()  ? BucketOperation(head.method, r)
                                          : ObjectOperation(head.method, r, head);
  if (!op.ok()) return op.status();
  r.op = *op;
  return r;
}

}  // namespace thumbpipe::server
