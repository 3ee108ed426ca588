// The canonical form of a request and the SigV4 signature over it, shared by the server's
// verifier (verifier.h) and the clients' signer (signer.h), so both sides canonicalise
// with the same code. It works on a plain description of a request (no HTTP library).
//
// Reference: the AWS SigV4 test suite (../shared/reference/sigv4-testsuite) is reproduced
// byte for byte in generic mode; S3 mode differs only in the path (see PathMode).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sigv4/crypto.h"

namespace thumbpipe::sigv4 {

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kTerminator = "aws4_request";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// One header line as received: name in any case, value untrimmed. Repeated names are
// allowed and keep their order (SigV4 joins them with commas in that order).
struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

// A request as it arrived (or as it will be sent).
struct Request {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // raw path from the request line, as sent ("/b/my%20key")
  std::string query;   // raw query string after '?', without it ("" if none)
  Headers headers;     // in received order, duplicates allowed
  // The body's hash when the caller knows it (hex SHA-256 or UNSIGNED-PAYLOAD). The S3
  // verifier reads x-amz-content-sha256 instead; the SQS verifier and the signer use this.
  std::optional<std::string> payload_hash;
};

// How the path becomes the canonical URI.
enum class PathMode {
  // S3: no normalisation, `//`, `.` and `..` kept literally; the path is percent-decoded
  // and URI-encoded once ('/' kept). A key named `a//b/../c` is a key, not a path.
  kS3,
  // Every other service (SQS, the test suite): RFC 3986 dot-segment removal and `//`
  // collapsed, then URI-encoded (so a path sent encoded is encoded a second time).
  kGeneric,
};

// AWS UriEncode: every byte except A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex);
// '/' too unless `keep_slash`. UTF-8 is encoded byte by byte.
std::string UriEncode(std::string_view text, bool keep_slash);
// Percent-decoding ("%2F" -> "/"); '+' stays '+'. Malformed escapes are kept literally.
std::string PercentDecode(std::string_view text);

std::string CanonicalUri(std::string_view raw_path, PathMode mode);
// Parameters decoded and re-encoded, sorted by name then value, `name=` kept for an empty
// value. Parameters named in `exclude` (exact, case-sensitive) are left out: the verifier
// leaves out X-Amz-Signature of a presigned URL.
std::string CanonicalQuery(std::string_view raw_query, std::string_view exclude = {});

// A header value as SigV4 signs it: leading/trailing blanks trimmed, runs of blanks
// collapsed to one space (inside quotes too), and obsolete line folding (a newline
// followed by blanks) turned into ',' like a repeated header.
std::string CanonicalHeaderValue(std::string_view value);

// The canonical headers block ("name:value\n" per signed header, in `signed_headers`
// order) for the lower-case names listed; repeated headers joined with ',' in order. A
// listed header that the request lacks canonicalises to "name:" (its signature then fails).
std::string CanonicalHeaders(const Headers& headers,
                             const std::vector<std::string>& signed_headers);

// "host;x-amz-date" from a list of names.
std::string JoinSignedHeaders(const std::vector<std::string>& names);

// The full canonical request:
// method \n uri \n query \n headers-block \n signed-headers \n payload-hash
std::string CanonicalRequest(const Request& request, PathMode mode,
                             const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash, std::string_view exclude_query = {});

// "20150830/us-east-1/service/aws4_request"
std::string CredentialScope(std::string_view date8, std::string_view region,
                            std::string_view service);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical request>"
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date8), region), service), "aws4_request")
Sha256Digest DeriveSigningKey(std::string_view secret, std::string_view date8,
                              std::string_view region, std::string_view service);
std::string_view KeyView(const Sha256Digest& key);

// Hex HMAC-SHA256 of `string_to_sign` under the signing key.
std::string SignatureHex(const Sha256Digest& signing_key, std::string_view string_to_sign);

// Timestamps: "20130524T000000Z" (ISO 8601 basic, UTC) <-> time point.
std::string FormatAmzDate(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> ParseAmzDate(std::string_view text);
// RFC 1123 ("Fri, 24 May 2013 00:00:00 GMT"), the Date header a client may send instead.
std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view text);

// Case-insensitive ASCII comparison and lower-casing for header names.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string ToLowerAscii(std::string_view s);
// The values of every header named `name` (any case), in order.
std::vector<std::string_view> FindHeaders(const Headers& headers, std::string_view name);
// The single value of `name`, nullopt when absent. Repeated headers are joined with ','.
std::optional<std::string> FindHeader(const Headers& headers, std::string_view name);

}  // namespace thumbpipe::sigv4
