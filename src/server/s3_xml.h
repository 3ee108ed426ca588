// XML in and out of the S3 API. Out: a small writer that escapes text and puts the S3
// namespace on the root element. In: parsers (pugixml) for the request documents the API
// accepts, with size limits checked by the caller and errors as "MalformedXML: ..." Statuses.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace thumbpipe::server {

inline constexpr std::string_view kS3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

class XmlWriter {
 public:
  void Declaration();
  // <name> (with xmlns="http://s3.amazonaws.com/doc/2006-03-01/" when asked).
  void Open(std::string_view name, bool with_namespace = false);
  void Close(std::string_view name);
  // <name>escaped text</name>
  void Element(std::string_view name, std::string_view text);
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string XmlEscape(std::string_view text);

// DeleteObjects: <Delete><Quiet>true</Quiet><Object><Key>k</Key></Object>...</Delete>.
struct DeleteRequest {
  bool quiet = false;
  std::vector<std::string> keys;
};
Result<DeleteRequest> ParseDeleteRequest(std::string_view xml);

// CompleteMultipartUpload: <Part><PartNumber>n</PartNumber><ETag>"e"</ETag></Part>...
struct CompletePart {
  int number = 0;
  std::string etag;  // quotes removed
};
Result<std::vector<CompletePart>> ParseCompleteRequest(std::string_view xml);

// CORSConfiguration: <CORSRule> with AllowedOrigin+, AllowedMethod+, AllowedHeader*,
// ExposeHeader*, MaxAgeSeconds?, ID?.
struct CorsRule {
  std::string id;
  std::vector<std::string> allowed_origins, allowed_methods, allowed_headers, expose_headers;
  int max_age_seconds = -1;  // -1 = absent
};
Result<std::vector<CorsRule>> ParseCorsConfiguration(std::string_view xml);
std::string CorsConfigurationXml(const std::vector<CorsRule>& rules);

// CreateBucketConfiguration's LocationConstraint ("" when the body is empty or has none).
Result<std::string> ParseLocationConstraint(std::string_view xml);

}  // namespace thumbpipe::server
