// S3Service: the S3 API as an HttpHandler, over one ObjectStore. It routes each request,
// authenticates and authorizes it, runs the operation (on the HTTP server's worker pool,
// where blocking store calls are allowed) and answers exactly as S3 does: XML bodies in the
// S3 namespace, quoted ETags, RFC 1123 dates, x-amz-request-id on every response, and error
// documents whose internal cause goes to the log only.
//
// Thread-safe: one S3Service serves every connection.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/config.h"
#include "server/auth.h"
#include "server/http_types.h"
#include "server/ops_endpoints.h"
#include "server/s3_router.h"
#include "store/object_store.h"

namespace thumbpipe::events {
class Notifications;
}

namespace thumbpipe::server {

class SqsService;

struct S3ServiceOptions {
  std::string region = "us-east-1";
  uint64_t max_body_bytes = 5ull << 30;  // largest object in one PUT or part
  std::vector<std::string> cors_allowed_origins;  // server-wide CORS ("*" = any origin)
  RouterOptions router;
  std::vector<config::Credential> credentials;
  // GET /metrics, /healthz, /readyz on the same port (ops_endpoints.h); unset: none, and no
  // request counting. With a registry, every S3 response is counted by operation and status.
  std::optional<OpsOptions> ops;
  // The SQS API on the same port (not owned; must outlive the service): requests that
  // IsSqsRequest recognises go to it. Null: none.
  SqsService* sqs = nullptr;
};

class S3Service final : public HttpHandler {
 public:
  // `store`, `clock` and `notifications` (may be null: notification configuration then
  // answers NotImplemented) must outlive the service.
  S3Service(store::ObjectStore& store, events::Notifications* notifications, S3ServiceOptions options,
            const Clock& clock);

  std::unique_ptr<Exchange> NewExchange(HttpRequestHead head) override;
  HttpResponse Failure(HttpFailure failure, std::string_view detail) override;

  store::ObjectStore& store() { return store_; }
  events::Notifications* notifications() { return notifications_; }
  const S3ServiceOptions& options() const { return options_; }
  const Authenticator& authenticator() const { return auth_; }
  const Clock& clock() const { return clock_; }
  // A new request id: 16 upper-case hex digits, unique in this process.
  std::string NextRequestId();

 private:
  store::ObjectStore& store_;
  events::Notifications* notifications_;
  S3ServiceOptions options_;
  const Clock& clock_;
  Authenticator auth_;
  std::atomic<uint64_t> next_id_;
};

}  // namespace thumbpipe::server
