#include "sigv4/signer.h"

#include <algorithm>

namespace thumbpipe::sigv4 {

namespace {

// Not signed, as botocore: they are changed by proxies and HTTP libraries on the way.
bool IsUnsignable(std::string_view lower) {
  return lower == "authorization" || lower == "user-agent" || lower == "expect" ||
         lower == "x-amzn-trace-id" || lower == "connection" || lower == "transfer-encoding" ||
         lower == "keep-alive" || lower == "te" || lower == "upgrade";
}

std::vector<std::string> SignedNames(const Headers& headers) {
  std::vector<std::string> names;
  for (const auto& h : headers) {
    std::string lower = ToLowerAscii(h.name);
    if (IsUnsignable(lower)) continue;
    if (std::find(names.begin(), names.end(), lower) == names.end())
      names.push_back(std::move(lower));
  }
  std::sort(names.begin(), names.end());
  return names;
}

PathMode ModeFor(std::string_view service) {
  return service == "s3" ? PathMode::kS3 : PathMode::kGeneric;
}

}  // namespace

Result<SignResult> SignRequest(Request* request, const Credentials& credentials,
                               const SigningParams& params) {
  if (FindHeaders(request->headers, "host").size() != 1) {
    return Status::InvalidArgument("sigv4: the request needs exactly one Host header to be signed");
  }
  for (std::string_view name : {"authorization", "x-amz-date"}) {
    if (FindHeader(request->headers, name)) {
      return Status::InvalidArgument("sigv4: the request already has " + std::string(name));
    }
  }
  std::string amz_date = FormatAmzDate(params.time);
  std::string date8 = amz_date.substr(0, 8);
  std::string payload = request->payload_hash.value_or(std::string(kEmptySha256Hex));
  request->headers.push_back({"x-amz-date", amz_date});
  if (params.service == "s3" && !FindHeader(request->headers, "x-amz-content-sha256")) {
    request->headers.push_back({"x-amz-content-sha256", payload});
  }
  if (credentials.session_token)
    request->headers.push_back({"x-amz-security-token", *credentials.session_token});

  std::vector<std::string> names = SignedNames(request->headers);
  std::string canonical = CanonicalRequest(*request, ModeFor(params.service), names, payload);
  std::string scope = CredentialScope(date8, params.region, params.service);
  Sha256Digest key = DeriveSigningKey(credentials.secret_key, date8, params.region, params.service);
  SignResult out;
  out.signature = SignatureHex(key, StringToSign(amz_date, scope, canonical));
  out.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key + "/" +
                      scope + ", SignedHeaders=" + JoinSignedHeaders(names) +
                      ", Signature=" + out.signature;
  out.chunk_context = ChunkSigningContext{key, amz_date, scope, out.signature};
  request->headers.push_back({"Authorization", out.authorization});
  return out;
}

Result<std::string> PresignQuery(const Request& request, const Credentials& credentials,
                                 const SigningParams& params, std::chrono::seconds expires) {
  if (expires.count() < 1 || expires.count() > 604800) {
    return Status::InvalidArgument("sigv4: a presigned URL expires after 1 to 604800 seconds");
  }
  if (FindHeaders(request.headers, "host").size() != 1) {
    return Status::InvalidArgument(
        "sigv4: the request needs exactly one Host header to be presigned");
  }
  std::string amz_date = FormatAmzDate(params.time);
  std::string date8 = amz_date.substr(0, 8);
  std::string scope = CredentialScope(date8, params.region, params.service);
  std::vector<std::string> names = SignedNames(request.headers);

  std::string query = request.query;
  auto add = [&query](std::string_view name, std::string_view value) {
    if (!query.empty()) query += '&';
    query += name;
    query += '=';
    query += UriEncode(value, /*keep_slash=*/false);
  };
  add("X-Amz-Algorithm", kAlgorithm);
  add("X-Amz-Credential", credentials.access_key + "/" + scope);
  add("X-Amz-Date", amz_date);
  add("X-Amz-Expires", std::to_string(expires.count()));
  if (credentials.session_token) add("X-Amz-Security-Token", *credentials.session_token);
  add("X-Amz-SignedHeaders", JoinSignedHeaders(names));

  Request signed_request = request;
  signed_request.query = query;
  std::string payload = params.service == "s3"
                            ? std::string(kUnsignedPayload)
                            : request.payload_hash.value_or(std::string(kEmptySha256Hex));
  std::string canonical = CanonicalRequest(signed_request, ModeFor(params.service), names, payload);
  Sha256Digest key = DeriveSigningKey(credentials.secret_key, date8, params.region, params.service);
  add("X-Amz-Signature", SignatureHex(key, StringToSign(amz_date, scope, canonical)));
  return query;
}

}  // namespace thumbpipe::sigv4
