#include "aws/error.h"

#include <pugixml.hpp>

#include <utility>

namespace thumbpipe::aws {
namespace {

std::string CodeForStatus(int status) {
  switch (status) {
    case 301: return "PermanentRedirect";
    case 304: return "NotModified";
    case 400: return "BadRequest";
    case 403: return "AccessDenied";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 411: return "MissingContentLength";
    case 412: return "PreconditionFailed";
    case 416: return "InvalidRange";
    case 429: return "SlowDown";
    case 501: return "NotImplemented";
    case 503: return "ServiceUnavailable";
    default: return status >= 500 ? "InternalError" : "HttpError" + std::to_string(status);
  }
}

StatusCode CodeFor(const AwsError& e) {
  static const std::pair<std::string_view, StatusCode> kTable[] = {
      {"NoSuchKey", StatusCode::kNotFound},
      {"NoSuchBucket", StatusCode::kNotFound},
      {"NoSuchUpload", StatusCode::kNotFound},
      {"NoSuchVersion", StatusCode::kNotFound},
      {"NoSuchCORSConfiguration", StatusCode::kNotFound},
      {"NoSuchBucketPolicy", StatusCode::kNotFound},
      {"NoSuchConfiguration", StatusCode::kNotFound},
      {"NotFound", StatusCode::kNotFound},
      {"BucketAlreadyExists", StatusCode::kAlreadyExists},
      {"BucketAlreadyOwnedByYou", StatusCode::kAlreadyExists},
      {"BucketNotEmpty", StatusCode::kFailedPrecondition},
      {"InvalidPart", StatusCode::kFailedPrecondition},
      {"InvalidPartOrder", StatusCode::kFailedPrecondition},
      {"EntityTooSmall", StatusCode::kFailedPrecondition},
      {"PreconditionFailed", StatusCode::kFailedPrecondition},
      {"NotModified", StatusCode::kFailedPrecondition},
      // Wrong keys or a missing permission: a deployment problem, not the input's fault,
      // so not "permanent" (a worker retries later instead of dead-lettering images).
      {"AccessDenied", StatusCode::kFailedPrecondition},
      {"InvalidAccessKeyId", StatusCode::kFailedPrecondition},
      {"SignatureDoesNotMatch", StatusCode::kFailedPrecondition},
      {"RequestTimeTooSkewed", StatusCode::kFailedPrecondition},
      {"ExpiredToken", StatusCode::kFailedPrecondition},
      {"InvalidToken", StatusCode::kFailedPrecondition},
      {"PermanentRedirect", StatusCode::kFailedPrecondition},
      {"AuthorizationHeaderMalformed", StatusCode::kFailedPrecondition},
      {"BadDigest", StatusCode::kCorrupt},
      {"XAmzContentSHA256Mismatch", StatusCode::kCorrupt},
      {"IncompleteBody", StatusCode::kCorrupt},
      {"EntityTooLarge", StatusCode::kTooLarge},
      {"MaxMessageLengthExceeded", StatusCode::kTooLarge},
      {"NotImplemented", StatusCode::kUnsupported},
      {"MethodNotAllowed", StatusCode::kUnsupported},
  };
  for (const auto& [code, status] : kTable) {
    if (e.code == code) return status;
  }
  if (e.http_status == 0 || e.http_status == 429 || e.http_status >= 500) return StatusCode::kUnavailable;
  if (e.code == "SlowDown" || e.code == "RequestTimeout" || e.code.find("Throttl") != std::string::npos) {
    return StatusCode::kUnavailable;
  }
  if (e.http_status == 404) return StatusCode::kNotFound;
  if (e.http_status == 403) return StatusCode::kFailedPrecondition;
  return StatusCode::kInvalidArgument;  // 400 InvalidArgument, InvalidRange, MalformedXML, ...
}

}  // namespace

AwsError ParseXmlError(int http_status, const sigv4::Headers& headers, std::string_view body) {
  AwsError e;
  e.http_status = http_status;
  pugi::xml_document doc;
  if (!body.empty() && doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8)) {
    pugi::xml_node error = doc.child("Error");
    if (!error) error = doc.child("ErrorResponse").child("Error");
    if (error) {
      e.code = error.child_value("Code");
      e.message = error.child_value("Message");
      e.request_id = error.child_value("RequestId");
      if (e.request_id.empty()) e.request_id = doc.child("ErrorResponse").child_value("RequestId");
    }
  }
  if (e.code.empty()) e.code = CodeForStatus(http_status);
  if (e.request_id.empty()) e.request_id = sigv4::FindHeader(headers, "x-amz-request-id").value_or("");
  return e;
}

bool IsXmlErrorDocument(std::string_view body) {
  if (body.find("<Error>") == std::string_view::npos) return false;  // cheap reject for large replies
  pugi::xml_document doc;
  return doc.load_buffer(body.data(), body.size()) && doc.document_element().name() == std::string_view("Error");
}

Status ErrorToStatus(const AwsError& error, std::string_view context) {
  std::string message = error.code;
  if (!error.message.empty()) message += " " + error.message;
  std::string where(context);
  if (error.http_status != 0) where += (where.empty() ? "" : ", ") + std::string("HTTP ") + std::to_string(error.http_status);
  if (!error.request_id.empty()) where += ", request id " + error.request_id;
  if (!where.empty()) message += " (" + where + ")";
  return Status(CodeFor(error), std::move(message));
}

}  // namespace thumbpipe::aws
