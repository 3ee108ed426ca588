// Formats S3 puts on the wire: dates (RFC 1123 headers, ISO 8601 in XML), quoted ETags,
// and the conversions of object metadata to and from headers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "server/http_types.h"
#include "store/object_store.h"

namespace thumbpipe::server {

// "Wed, 12 Oct 2009 17:50:00 GMT"
std::string HttpDate(Clock::time_point t);
// "2009-10-12T17:50:30.000Z"
std::string IsoDate(Clock::time_point t);
// Parses an HTTP date (RFC 1123; also RFC 850 and asctime forms are refused: S3 ignores them).
std::optional<Clock::time_point> ParseHttpDate(std::string_view text);
// "\"<etag>\""
std::string QuotedEtag(std::string_view etag);
// The ETag without surrounding quotes (and without a W/ prefix).
std::string_view UnquoteEtag(std::string_view etag);

// PutOptions from the request's standard headers and x-amz-meta-*.
store::PutOptions PutOptionsFromHeaders(const HttpRequestHead& head);
// Content-Type, ETag, Last-Modified, Cache-Control..., x-amz-meta-* of an object, and
// X-Content-Type-Options: nosniff (the stored Content-Type is the uploader's).
void AddObjectHeaders(const store::ObjectInfo& info, HttpResponse* response);

}  // namespace thumbpipe::server
