// An AWS service's error reply and how it becomes a Status. S3 answers errors with an XML
// document (<Error><Code>NoSuchKey</Code><Message>...</Message>...); a HEAD has no body, so
// its status code alone must speak. The Status message starts with the service's code, as
// store/object_store.h asks ("NoSuchKey The specified key does not exist. (GET /b/k)").
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "sigv4/canonical.h"

namespace thumbpipe::aws {

struct AwsError {
  int http_status = 0;  // 0: no response (network error)
  std::string code;     // "NoSuchKey"; for a bodiless reply, derived from the status
  std::string message;
  std::string request_id;
};

// Reads an XML <Error> document (S3, and SQS's query protocol wrapped in <ErrorResponse>).
// Falls back to a code named after the status ("NotFound", "Forbidden", "BadRequest",
// "InternalError" for 5xx...) when the body has none, and to x-amz-request-id for the id.
AwsError ParseXmlError(int http_status, const sigv4::Headers& headers, std::string_view body);

// True when `body` is an XML document whose root is <Error> (S3 may answer 200 OK and then
// report a failure in the body: CopyObject, CompleteMultipartUpload).
bool IsXmlErrorDocument(std::string_view body);

// The Status for an error: the code picked by what the caller can do about it
// (NoSuchKey -> kNotFound, SlowDown -> kUnavailable, BadDigest -> kCorrupt, ...), the
// message "<Code> <message> (<context>)".
Status ErrorToStatus(const AwsError& error, std::string_view context);

}  // namespace thumbpipe::aws
