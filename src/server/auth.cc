#include "server/auth.h"

#include <algorithm>

#include "common/logging.h"

namespace thumbpipe::server {

Permission RequiredPermission(Operation op) {
  switch (op) {
    case Operation::kListBuckets:
    case Operation::kCorsPreflight:
    case Operation::kNotImplemented:
      return Permission::kAny;
    case Operation::kHeadBucket:
    case Operation::kGetBucketLocation:
    case Operation::kListObjects:
    case Operation::kListObjectsV2:
    case Operation::kListMultipartUploads:
    case Operation::kGetObject:
    case Operation::kHeadObject:
    case Operation::kListParts:
    case Operation::kGetBucketNotification:
    case Operation::kGetBucketCors:
      return Permission::kRead;
    case Operation::kDeleteObjects:
    case Operation::kPutObject:
    case Operation::kCopyObject:
    case Operation::kDeleteObject:
    case Operation::kCreateMultipartUpload:
    case Operation::kUploadPart:
    case Operation::kUploadPartCopy:
    case Operation::kCompleteMultipartUpload:
    case Operation::kAbortMultipartUpload:
      return Permission::kWrite;
    case Operation::kCreateBucket:
    case Operation::kDeleteBucket:
    case Operation::kPutBucketNotification:
    case Operation::kPutBucketCors:
    case Operation::kDeleteBucketCors:
      return Permission::kAdmin;
  }
  return Permission::kAdmin;
}

S3Error FromAuthStatus(const sigv4::AuthStatus& status) {
  S3Error e = MakeS3Error(status.s3_code(), status.message());
  e.status = status.http_status();
  return e;
}

sigv4::Request ToSigV4Request(const HttpRequestHead& head, const Route& route) {
  sigv4::Request req;
  req.method = head.method;
  req.path = route.path;
  req.query = route.raw_query;
  req.headers.reserve(head.headers.size());
  for (const HttpHeader& h : head.headers) req.headers.push_back({h.name, h.value});
  return req;
}

Authenticator::Authenticator(std::vector<config::Credential> credentials, std::string region, const Clock& clock)
    : credentials_(std::move(credentials)), verifier_([&] {
        sigv4::VerifierOptions o;
        o.region = std::move(region);
        o.clock = &clock;
        // The lookup reads credentials_, which is set before any Verify() call.
        o.lookup = [this](std::string_view access_key) -> std::optional<std::string> {
          for (const config::Credential& c : credentials_) {
            if (c.access_key == access_key) return c.secret_key;
          }
          return std::nullopt;
        };
        return o;
      }()) {}

std::optional<S3Error> Authenticator::Authenticate(const HttpRequestHead& head, const Route& route,
                                                   Principal* out) const {
  sigv4::AuthResult<sigv4::VerifiedRequest> verified = verifier_.Verify(ToSigV4Request(head, route), "s3");
  if (!verified.ok()) {
    if (!verified.status().log_detail().empty()) {
      // What we signed, to find the part a client signed differently; never sent to it.
      LogDebug("signature mismatch", {{"detail", verified.status().log_detail()}});
    }
    return FromAuthStatus(verified.status());
  }
  for (const config::Credential& c : credentials_) {
    if (c.access_key == verified->access_key) {
      out->credential = &c;
      out->verified = std::move(verified).value();
      return std::nullopt;
    }
  }
  return MakeS3Error("InvalidAccessKeyId");
}

sigv4::AuthResult<const config::Credential*> Authenticator::VerifyService(const sigv4::Request& request,
                                                                          std::string_view service) const {
  sigv4::AuthResult<sigv4::VerifiedRequest> verified = verifier_.Verify(request, service);
  if (!verified.ok()) {
    if (!verified.status().log_detail().empty()) {
      LogDebug("signature mismatch", {{"service", service}, {"detail", verified.status().log_detail()}});
    }
    return std::move(verified).status();
  }
  for (const config::Credential& c : credentials_) {
    if (c.access_key == verified->access_key) return &c;
  }
  return sigv4::AuthStatus(sigv4::S3Error::kInvalidAccessKeyId, "The access key is not configured.");
}

bool Authenticator::MayUseBucket(const config::Credential& credential, std::string_view bucket) {
  return std::any_of(credential.buckets.begin(), credential.buckets.end(),
                     [&](const std::string& b) { return b == "*" || b == bucket; });
}

std::optional<S3Error> Authenticator::Authorize(const config::Credential& credential, Operation op,
                                                std::string_view bucket) {
  const Permission need = RequiredPermission(op);
  if (need == Permission::kAny) return std::nullopt;
  if (!MayUseBucket(credential, bucket)) return MakeS3Error("AccessDenied");
  switch (need) {
    case Permission::kRead:
      if (credential.access == config::Access::kWriteOnly) return MakeS3Error("AccessDenied");
      break;
    case Permission::kWrite:
      if (credential.access == config::Access::kReadOnly) return MakeS3Error("AccessDenied");
      break;
    case Permission::kAdmin:
      if (!credential.admin) return MakeS3Error("AccessDenied");
      break;
    case Permission::kAny:
      break;
  }
  return std::nullopt;
}

}  // namespace thumbpipe::server
