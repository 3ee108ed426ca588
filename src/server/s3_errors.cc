#include "server/s3_errors.h"

#include <array>

#include "common/logging.h"
#include "server/s3_xml.h"

namespace thumbpipe::server {
namespace {

struct CodeInfo {
  std::string_view code;
  int status;
  std::string_view message;
};

// From the S3 API reference's error code list (the subset thumbpipe can produce), and
// InsufficientCapacity for a full disk, which AWS never reports: 507 Insufficient Storage
// (RFC 4918), the status MinIO answers a full disk with.
constexpr std::array kCodes = {
    CodeInfo{"AccessDenied", 403, "Access Denied"},
    CodeInfo{"AuthorizationHeaderMalformed", 400, "The authorization header is malformed."},
    CodeInfo{"AuthorizationQueryParametersError", 400, "Error parsing the X-Amz-Credential parameter."},
    CodeInfo{"BadDigest", 400, "The Content-MD5 or checksum value that you specified did not match what the server received."},
    CodeInfo{"BucketAlreadyExists", 409, "The requested bucket name is not available."},
    CodeInfo{"BucketAlreadyOwnedByYou", 409, "Your previous request to create the named bucket succeeded and you already own it."},
    CodeInfo{"BucketNotEmpty", 409, "The bucket you tried to delete is not empty"},
    CodeInfo{"EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size"},
    CodeInfo{"EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size."},
    CodeInfo{"IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
    CodeInfo{"InsufficientCapacity", 507, "There is not enough free space on the server to store this."},
    CodeInfo{"InternalError", 500, "We encountered an internal error. Please try again."},
    CodeInfo{"InvalidAccessKeyId", 403, "The AWS access key Id you provided does not exist in our records."},
    CodeInfo{"InvalidArgument", 400, "Invalid Argument"},
    CodeInfo{"InvalidBucketName", 400, "The specified bucket is not valid."},
    CodeInfo{"InvalidDigest", 400, "The Content-MD5 you specified is not valid."},
    CodeInfo{"InvalidPart", 400, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."},
    CodeInfo{"InvalidPartOrder", 400, "The list of parts was not in ascending order. Parts must be ordered by part number."},
    CodeInfo{"InvalidRange", 416, "The requested range is not satisfiable"},
    CodeInfo{"InvalidRequest", 400, "Invalid Request"},
    CodeInfo{"InvalidToken", 400, "The provided token is malformed or otherwise invalid."},
    CodeInfo{"KeyTooLongError", 400, "Your key is too long"},
    CodeInfo{"MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema."},
    CodeInfo{"MethodNotAllowed", 405, "The specified method is not allowed against this resource."},
    CodeInfo{"MissingContentLength", 411, "You must provide the Content-Length HTTP header."},
    CodeInfo{"NoSuchBucket", 404, "The specified bucket does not exist"},
    CodeInfo{"NoSuchCORSConfiguration", 404, "The CORS configuration does not exist"},
    CodeInfo{"NoSuchKey", 404, "The specified key does not exist."},
    CodeInfo{"NoSuchUpload", 404, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."},
    CodeInfo{"NotImplemented", 501, "A header you provided implies functionality that is not implemented."},
    CodeInfo{"PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold"},
    CodeInfo{"RequestHeaderSectionTooLarge", 431, "Your request header section exceeds the maximum allowed size."},
    CodeInfo{"RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large."},
    CodeInfo{"RequestTimeout", 400, "Your socket connection to the server was not read from or written to within the timeout period."},
    CodeInfo{"ServiceUnavailable", 503, "Please reduce your request rate."},
    CodeInfo{"SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
    CodeInfo{"SlowDown", 503, "Please reduce your request rate."},
    CodeInfo{"XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed."},
};

const CodeInfo* Find(std::string_view code) {
  for (const CodeInfo& info : kCodes) {
    if (info.code == code) return &info;
  }
  return nullptr;
}

// Codes whose store message is safe and useful to show (validation text, not internals).
bool ShowsDetail(std::string_view code) {
  return code == "InvalidArgument" || code == "InvalidRequest" || code == "MalformedXML" ||
         code == "InvalidBucketName" || code == "InvalidPart" || code == "EntityTooSmall";
}

}  // namespace

int StatusOfCode(std::string_view code) {
  const CodeInfo* info = Find(code);
  return info ? info->status : 400;
}

S3Error MakeS3Error(std::string_view code, std::string_view message) {
  const CodeInfo* info = Find(code);
  S3Error e;
  e.code = std::string(code);
  e.status = info ? info->status : 400;
  e.message = !message.empty() ? std::string(message) : info ? std::string(info->message) : std::string(code);
  return e;
}

S3Error FromStatus(const Status& status, std::string_view not_found_code) {
  const std::string& msg = status.message();
  const size_t end = msg.find_first_of(" :");
  std::string_view first = std::string_view(msg).substr(0, end);
  if (first == "KeyTooLong") first = "KeyTooLongError";
  if (const CodeInfo* info = Find(first); info && info->status < 500) {
    std::string_view rest;
    if (end != std::string::npos) {
      rest = std::string_view(msg).substr(end);
      while (!rest.empty() && (rest.front() == ':' || rest.front() == ' ')) rest.remove_prefix(1);
    }
    return MakeS3Error(info->code, ShowsDetail(info->code) && !rest.empty() ? rest : std::string_view());
  }
  switch (status.code()) {
    case StatusCode::kNotFound: return MakeS3Error(not_found_code);
    case StatusCode::kAlreadyExists: return MakeS3Error("BucketAlreadyOwnedByYou");
    case StatusCode::kCorrupt: return MakeS3Error("BadDigest");
    case StatusCode::kTooLarge: return MakeS3Error("EntityTooLarge");
    case StatusCode::kInvalidArgument: return MakeS3Error("InvalidArgument", msg);
    case StatusCode::kUnavailable:
      LogWarn("service unavailable", {{"cause", status.ToString()}});
      return MakeS3Error("ServiceUnavailable");
    case StatusCode::kIOError:
      if (!status.IsDiskFull()) break;
      // The client sees what is wrong rather than an internal error, and the AWS SDKs do not
      // retry a 507 at once (they do a 500), which a full disk would only refuse again.
      LogError("disk full", {{"cause", status.ToString()}});
      return MakeS3Error("InsufficientCapacity");
    default:
      break;
  }
  LogError("internal error", {{"cause", status.ToString()}});
  return MakeS3Error("InternalError");
}

HttpResponse ErrorResponse(const S3Error& error, std::string_view resource, std::string_view request_id) {
  HttpResponse r;
  r.status = error.status;
  XmlWriter x;
  x.Declaration();
  x.Open("Error", /*with_namespace=*/false);
  x.Element("Code", error.code);
  x.Element("Message", error.message);
  if (!resource.empty()) x.Element("Resource", resource);
  x.Element("RequestId", request_id);
  x.Element("HostId", request_id);
  x.Close("Error");
  r.body = x.Take();
  r.Set("Content-Type", "application/xml");
  return r;
}

}  // namespace thumbpipe::server
