#include "server/ops_endpoints.h"

namespace thumbpipe::server {
namespace {

HttpResponse Text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8") {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.Set("Content-Type", std::move(content_type));
  r.Set("Cache-Control", "no-store");
  return r;
}

class OpsExchange final : public Exchange {
 public:
  OpsExchange(const OpsOptions& options, HttpRequestHead head) : options_(options), head_(std::move(head)) {}
  std::optional<HttpResponse> Begin() override { return AnswerOps(options_, head_); }
  std::optional<HttpResponse> Body(std::string_view) override { return std::nullopt; }
  HttpResponse End() override { return AnswerOps(options_, head_); }

 private:
  const OpsOptions& options_;
  HttpRequestHead head_;
};

}  // namespace

bool IsOpsRequest(const HttpRequestHead& head) {
  if (head.method != "GET") return false;
  if (head.target != "/metrics" && head.target != "/healthz" && head.target != "/readyz") return false;
  // A signed request is an S3 request (ListObjects of a bucket of that name).
  return !head.Header("Authorization").has_value();
}

HttpResponse AnswerOps(const OpsOptions& options, const HttpRequestHead& head) {
  if (head.target == "/healthz") return Text(200, "ok\n");
  if (head.target == "/readyz") {
    const Status st = options.ready ? options.ready() : Status::Ok();
    return st.ok() ? Text(200, "ready\n") : Text(503, "not ready: " + st.ToString() + "\n");
  }
  if (head.target == "/metrics" && options.registry != nullptr) {
    return Text(200, options.registry->RenderPrometheus(), "text/plain; version=0.0.4; charset=utf-8");
  }
  return Text(404, "not found\n");
}

std::unique_ptr<Exchange> NewOpsExchange(const OpsOptions& options, HttpRequestHead head) {
  return std::make_unique<OpsExchange>(options, std::move(head));
}

std::unique_ptr<Exchange> OpsHandler::NewExchange(HttpRequestHead head) {
  return NewOpsExchange(options_, std::move(head));
}

HttpResponse OpsHandler::Failure(HttpFailure failure, std::string_view detail) {
  HttpResponse r = Text(failure == HttpFailure::kTooManyConnections ? 503 : 400, std::string(detail) + "\n");
  if (failure == HttpFailure::kInternal) r.status = 500;
  r.close = true;
  return r;
}

}  // namespace thumbpipe::server
