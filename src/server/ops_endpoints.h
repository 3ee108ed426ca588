// The operator's endpoints beside the S3 API: GET /metrics (Prometheus text format of a
// metrics::Registry), GET /healthz (the process answers) and GET /readyz (it can do its work:
// a readiness check, e.g. the queue answers). No authentication: they carry no object data,
// and scrapers and orchestrators do not sign requests.
//
// On the S3 port they take only an exact, unsigned `GET /metrics|/healthz|/readyz` (no query,
// no Authorization header, no X-Amz-Signature): a signed request for a bucket named "metrics"
// is still S3's. OpsHandler alone serves them on a port of their own (`thumbpipe worker`).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "common/status.h"
#include "server/http_types.h"

namespace thumbpipe::server {

struct OpsOptions {
  metrics::Registry* registry = nullptr;  // null: /metrics is 404
  std::function<Status()> ready;          // null: ready whenever healthy
};

// True for the requests OpsEndpoints answers (see above).
bool IsOpsRequest(const HttpRequestHead& head);

// The response to an ops request; cheap except /metrics, which reads the gauges.
HttpResponse AnswerOps(const OpsOptions& options, const HttpRequestHead& head);

// An Exchange that answers an ops request in Begin() (on the server's worker pool, where the
// gauges' queue reads may block).
std::unique_ptr<Exchange> NewOpsExchange(const OpsOptions& options, HttpRequestHead head);

// A handler that serves only the ops endpoints (404 for anything else).
class OpsHandler final : public HttpHandler {
 public:
  explicit OpsHandler(OpsOptions options) : options_(std::move(options)) {}
  std::unique_ptr<Exchange> NewExchange(HttpRequestHead head) override;
  HttpResponse Failure(HttpFailure failure, std::string_view detail) override;

 private:
  OpsOptions options_;
};

}  // namespace thumbpipe::server
