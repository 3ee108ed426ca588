// Helpers shared by the verifier's files; not part of the room's interface.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace thumbpipe::sigv4::internal {

// More signed headers than any client sends; bounds the canonicalisation work.
inline constexpr std::size_t kMaxSignedHeaders = 64;

struct CredentialParts {
  std::string_view access_key, date8, region, service, terminator;
};

// "AK/yyyymmdd/region/service/terminator" with five non-empty parts and 8 digits of date.
std::optional<CredentialParts> SplitCredential(std::string_view credential);
// "a;b;c": lower-case tokens, no duplicates, at most kMaxSignedHeaders.
std::optional<std::vector<std::string>> SplitSignedHeaders(std::string_view list);
bool IsHeaderNameToken(std::string_view name);

}  // namespace thumbpipe::sigv4::internal
