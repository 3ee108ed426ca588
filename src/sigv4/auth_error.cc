#include "sigv4/auth_error.h"

namespace thumbpipe::sigv4 {

std::string_view S3ErrorName(S3Error code) {
  switch (code) {
    case S3Error::kNone:
      return "";
    case S3Error::kAccessDenied:
      return "AccessDenied";
    case S3Error::kSignatureDoesNotMatch:
      return "SignatureDoesNotMatch";
    case S3Error::kInvalidAccessKeyId:
      return "InvalidAccessKeyId";
    case S3Error::kRequestTimeTooSkewed:
      return "RequestTimeTooSkewed";
    case S3Error::kAuthorizationHeaderMalformed:
      return "AuthorizationHeaderMalformed";
    case S3Error::kAuthorizationQueryParametersError:
      return "AuthorizationQueryParametersError";
    case S3Error::kInvalidArgument:
      return "InvalidArgument";
    case S3Error::kInvalidRequest:
      return "InvalidRequest";
    case S3Error::kInvalidToken:
      return "InvalidToken";
    case S3Error::kXAmzContentSHA256Mismatch:
      return "XAmzContentSHA256Mismatch";
    case S3Error::kBadDigest:
      return "BadDigest";
    case S3Error::kInvalidDigest:
      return "InvalidDigest";
    case S3Error::kIncompleteBody:
      return "IncompleteBody";
    case S3Error::kMissingContentLength:
      return "MissingContentLength";
    case S3Error::kEntityTooLarge:
      return "EntityTooLarge";
    case S3Error::kNotImplemented:
      return "NotImplemented";
  }
  return "InternalError";
}

int HttpStatusOf(S3Error code) {
  switch (code) {
    case S3Error::kNone:
      return 200;
    case S3Error::kAccessDenied:
    case S3Error::kSignatureDoesNotMatch:
    case S3Error::kInvalidAccessKeyId:
    case S3Error::kRequestTimeTooSkewed:
      return 403;
    case S3Error::kMissingContentLength:
      return 411;
    case S3Error::kNotImplemented:
      return 501;
    default:
      return 400;
  }
}

std::string AuthStatus::ToString() const {
  if (ok()) return "ok";
  std::string out(s3_code());
  out += ": ";
  out += message_;
  return out;
}

Status AuthStatus::ToStatus() const {
  if (ok()) return Status::Ok();
  if (code_ == S3Error::kNotImplemented) return Status::Unsupported(ToString());
  return Status::InvalidArgument(ToString());
}

}  // namespace thumbpipe::sigv4
