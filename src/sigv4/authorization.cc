// ParseAuthorization: the syntax of the SigV4 Authorization header. Values are checked
// by Verifier::Verify; this file only splits, so the fuzzer can hammer it alone.
#include "sigv4/verifier.h"
#include "sigv4/verifier_internal.h"

namespace thumbpipe::sigv4 {

namespace {

constexpr std::string_view kMalformed = "The authorization header is malformed; ";

AuthStatus Malformed(std::string_view why) {
  return {S3Error::kAuthorizationHeaderMalformed, std::string(kMalformed) + std::string(why)};
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

namespace internal {

bool IsHeaderNameToken(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' ||
              c == '*' || c == '+' || c == '^' || c == '`' || c == '|' || c == '~';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::vector<std::string>> SplitSignedHeaders(std::string_view list) {
  std::vector<std::string> names;
  std::size_t pos = 0;
  while (true) {
    std::size_t semi = list.find(';', pos);
    std::string_view name =
        list.substr(pos, semi == std::string_view::npos ? list.size() - pos : semi - pos);
    if (!IsHeaderNameToken(name)) return std::nullopt;
    for (const auto& seen : names) {
      if (seen == name) return std::nullopt;
    }
    names.emplace_back(name);
    if (names.size() > kMaxSignedHeaders) return std::nullopt;
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return names;
}

std::optional<CredentialParts> SplitCredential(std::string_view credential) {
  CredentialParts parts;
  std::string_view* fields[] = {&parts.access_key, &parts.date8, &parts.region, &parts.service,
                                &parts.terminator};
  std::size_t pos = 0;
  for (int i = 0; i < 5; ++i) {
    std::size_t slash = credential.find('/', pos);
    if (i < 4 && slash == std::string_view::npos) return std::nullopt;
    if (i == 4 && slash != std::string_view::npos) return std::nullopt;
    std::size_t end = i == 4 ? credential.size() : slash;
    *fields[i] = credential.substr(pos, end - pos);
    if (fields[i]->empty()) return std::nullopt;
    pos = end + 1;
  }
  if (parts.date8.size() != 8) return std::nullopt;
  for (char c : parts.date8) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return parts;
}

}  // namespace internal

AuthResult<AuthorizationHeader> ParseAuthorization(std::string_view value) {
  value = Trim(value);
  if (value.starts_with("AWS ")) {
    return AuthStatus(S3Error::kInvalidRequest,
                      "The authorization mechanism you have provided is not supported. Please use "
                      "AWS4-HMAC-SHA256.");
  }
  std::size_t space = value.find(' ');
  if (space == std::string_view::npos) return Malformed("missing the Credential component");
  AuthorizationHeader out;
  out.algorithm = std::string(value.substr(0, space));
  if (out.algorithm != kAlgorithm) {
    return Malformed("the algorithm must be AWS4-HMAC-SHA256");
  }
  std::string_view rest = value.substr(space + 1);
  bool have_credential = false, have_signed = false, have_signature = false;
  std::string_view credential;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view part = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (part.empty()) return Malformed("empty component");
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) return Malformed("a component is not of the form Key=Value");
    std::string_view key = part.substr(0, eq);
    std::string_view val = part.substr(eq + 1);
    if (key == "Credential") {
      if (have_credential) return Malformed("Credential given twice");
      have_credential = true;
      credential = val;
    } else if (key == "SignedHeaders") {
      if (have_signed) return Malformed("SignedHeaders given twice");
      have_signed = true;
      out.signed_headers_raw = std::string(val);
    } else if (key == "Signature") {
      if (have_signature) return Malformed("Signature given twice");
      have_signature = true;
      out.signature = std::string(val);
    } else {
      return Malformed("unknown component '" + std::string(key.substr(0, 32)) + "'");
    }
  }
  if (!have_credential || !have_signed || !have_signature) {
    return Malformed("Credential, SignedHeaders and Signature are all required");
  }
  auto parts = internal::SplitCredential(credential);
  if (!parts) {
    return Malformed(
        "the Credential is mal-formed; expecting "
        "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".");
  }
  out.access_key = std::string(parts->access_key);
  out.date8 = std::string(parts->date8);
  out.region = std::string(parts->region);
  out.service = std::string(parts->service);
  out.terminator = std::string(parts->terminator);
  auto names = internal::SplitSignedHeaders(out.signed_headers_raw);
  if (!names) return Malformed("SignedHeaders must be lower-case header names separated by ';'");
  out.signed_headers = std::move(*names);
  return out;
}

}  // namespace thumbpipe::sigv4
