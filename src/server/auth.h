// Authentication and authorization of S3 requests (and, with VerifyService, SQS ones): SigV4 through the sigv4 room's Verifier
// (header and presigned), then the key's policy from [[credentials]]: which buckets it may
// use, read-only / write-only / read-write, and admin for bucket configuration.
// Anonymous requests are AccessDenied. Thread-safe (immutable after construction).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/config.h"
#include "server/http_types.h"
#include "server/s3_errors.h"
#include "server/s3_router.h"
#include "sigv4/verifier.h"

namespace thumbpipe::server {

struct Principal {
  const config::Credential* credential = nullptr;
  sigv4::VerifiedRequest verified;
};

// What an operation needs of a key.
enum class Permission { kAny, kRead, kWrite, kAdmin };
Permission RequiredPermission(Operation op);

// The sigv4 error as the S3 error the client sees.
S3Error FromAuthStatus(const sigv4::AuthStatus& status);

// The request in the shape the verifier reads.
sigv4::Request ToSigV4Request(const HttpRequestHead& head, const Route& route);

class Authenticator {
 public:
  // `clock` must outlive the authenticator.
  Authenticator(std::vector<config::Credential> credentials, std::string region, const Clock& clock);

  // Verifies the signature; the error is the S3 error to answer with.
  std::optional<S3Error> Authenticate(const HttpRequestHead& head, const Route& route, Principal* out) const;

  // Verifies a request of another service signed with the same keys (the SQS API: "sqs");
  // returns the key that signed it, or the verifier's error.
  sigv4::AuthResult<const config::Credential*> VerifyService(const sigv4::Request& request,
                                                             std::string_view service) const;

  // AccessDenied unless `credential` may do `op` on `bucket`.
  static std::optional<S3Error> Authorize(const config::Credential& credential, Operation op,
                                          std::string_view bucket);
  // Whether the key's bucket list names `bucket` ("*" names all).
  static bool MayUseBucket(const config::Credential& credential, std::string_view bucket);

 private:
  std::vector<config::Credential> credentials_;
  sigv4::Verifier verifier_;
};

}  // namespace thumbpipe::server
