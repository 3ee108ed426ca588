// S3 error responses: the code table (code -> HTTP status and AWS's standard message), the
// mapping from the store's Status (whose message starts with the S3 code) and the error
// document. The internal cause of a 5xx goes to the log; the client sees only the code,
// the standard message and the request id.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "server/http_types.h"

namespace thumbpipe::server {

struct S3Error {
  int status = 500;
  std::string code = "InternalError";
  std::string message;  // for the client
};

// An error with `code`'s HTTP status and standard message; `message` replaces the standard
// one when not empty. Unknown codes are 400.
S3Error MakeS3Error(std::string_view code, std::string_view message = {});

// Maps a store (or other module's) Status to the S3 error the client should see. The first
// word of the message is taken as the S3 code when it is one this table knows; otherwise the
// StatusCode decides (kNotFound -> `not_found_code`). 5xx statuses are logged with their cause.
S3Error FromStatus(const Status& status, std::string_view not_found_code = "NoSuchKey");

// The XML error document as a response: Code, Message, Resource, RequestId (and HostId).
HttpResponse ErrorResponse(const S3Error& error, std::string_view resource, std::string_view request_id);

// The HTTP status of a known code (400 for unknown ones).
int StatusOfCode(std::string_view code);

}  // namespace thumbpipe::server
