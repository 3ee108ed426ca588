#include "server/sqs_service.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <random>

#include "common/logging.h"
#include "server/s3_format.h"
#include "server/s3_router.h"
#include "server/sqs_query.h"
#include "sigv4/crypto.h"

namespace thumbpipe::server {
namespace {

using nlohmann::json;

enum class Protocol { kJson, kQuery };

std::string LowerCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The SQS error a SigV4 failure is (the verifier speaks S3's codes).
sqs::Error FromAuth(const sigv4::AuthStatus& status) {
  using sigv4::S3Error;
  switch (status.code()) {
    case S3Error::kSignatureDoesNotMatch: return sqs::MakeError("SignatureDoesNotMatch", status.message());
    case S3Error::kInvalidAccessKeyId: return sqs::MakeError("InvalidClientTokenId");
    case S3Error::kRequestTimeTooSkewed: return sqs::MakeError("RequestExpired", status.message());
    case S3Error::kAccessDenied:
      if (status.message().find("nonymous") != std::string::npos) return sqs::MakeError("MissingAuthenticationToken");
      return sqs::MakeError("AccessDenied", status.message());
    case S3Error::kInvalidToken: return sqs::MakeError("InvalidClientTokenId", status.message());
    case S3Error::kAuthorizationHeaderMalformed:
    case S3Error::kAuthorizationQueryParametersError:
    case S3Error::kInvalidRequest:
      return sqs::MakeError("IncompleteSignature", status.message());
    default:
      return sqs::MakeError("AccessDenied", status.message());
  }
}

enum class Need { kLook, kSend, kConsume, kAdmin };

Need NeedOf(std::string_view action) {
  if (action == "CreateQueue" || action == "SetQueueAttributes" || action == "PurgeQueue" ||
      action == "StartMessageMoveTask") {
    return Need::kAdmin;
  }
  if (action == "SendMessage" || action == "SendMessageBatch") return Need::kSend;
  if (action == "ReceiveMessage" || action.starts_with("DeleteMessage") || action.starts_with("ChangeMessageVisibility")) {
    return Need::kConsume;
  }
  return Need::kLook;
}

bool Allowed(const config::Credential& key, std::string_view action) {
  if (std::find(key.buckets.begin(), key.buckets.end(), "*") == key.buckets.end()) return false;
  switch (NeedOf(action)) {
    case Need::kLook: return true;
    case Need::kSend: return key.access != config::Access::kReadOnly;
    case Need::kConsume: return key.access == config::Access::kReadWrite;
    case Need::kAdmin: return key.admin;
  }
  return false;
}

class SqsExchange final : public Exchange {
 public:
  SqsExchange(SqsService& service, HttpRequestHead head)
      : service_(service), head_(std::move(head)), request_id_(service.NextRequestId()) {
    const std::optional<std::string_view> target = head_.Header("x-amz-target");
    protocol_ = target ? Protocol::kJson : Protocol::kQuery;
    if (target) action_ = std::string(target->substr(target->starts_with(sqs::kTargetPrefix) ? sqs::kTargetPrefix.size() : target->size()));
  }

  std::optional<HttpResponse> Begin() override {
    if (head_.content_length.value_or(0) > service_.options().max_body_bytes) {
      return Fail(sqs::MakeError("RequestEntityTooLarge"));
    }
    if (!head_.has_body()) return End();
    return std::nullopt;
  }

  std::optional<HttpResponse> Body(std::string_view chunk) override {
    if (body_.size() + chunk.size() > service_.options().max_body_bytes) {
      HttpResponse r = Fail(sqs::MakeError("RequestEntityTooLarge"));
      r.close = true;
      return r;
    }
    body_.append(chunk);
    return std::nullopt;
  }

  HttpResponse End() override;

 private:
  HttpResponse Fail(const sqs::Error& e);
  HttpResponse Reply(const json& result);
  HttpResponse Finish(HttpResponse r);
  Result<json> DecodeRequest();  // sets action_ for the query protocol

  SqsService& service_;
  HttpRequestHead head_;
  std::string request_id_;
  Protocol protocol_;
  std::string action_;
  std::string body_;
  std::string path_, raw_query_;
};

HttpResponse SqsExchange::Finish(HttpResponse r) {
  r.Set("x-amzn-RequestId", request_id_);
  r.Set("Date", HttpDate(service_.clock().Now()));
  r.Set("Server", "thumbpipe");
  if (metrics::Registry* registry = service_.options().registry) {
    // Known actions only as labels: a client cannot grow the registry with made-up names.
    const std::string action = IsSqsAction(action_) ? action_ : "unknown";
    registry->GetCounter("thumbpipe_sqs_requests_total", "SQS API requests by action and status",
                         {{"action", action}, {"status", std::to_string(r.status)}})
        .Inc();
  }
  const nlohmann::json fields = {{"request_id", request_id_}, {"api", "sqs"}, {"action", action_}, {"status", r.status}};
  if (r.status >= 500) {
    LogWarn("request failed", fields);
  } else {
    LogDebug("request", fields);
  }
  return r;
}

HttpResponse SqsExchange::Fail(const sqs::Error& e) {
  HttpResponse r;
  r.status = e.status;
  if (protocol_ == Protocol::kJson) {
    r.Set("Content-Type", std::string(sqs::kJsonContentType));
    r.Set("x-amzn-query-error", sqs::QueryErrorHeader(e));
    r.body = sqs::JsonErrorBody(e);
  } else {
    r.Set("Content-Type", "text/xml");
    r.body = sqs::QueryErrorXml(e, request_id_);
  }
  return Finish(std::move(r));
}

HttpResponse SqsExchange::Reply(const json& result) {
  HttpResponse r;
  if (protocol_ == Protocol::kJson) {
    r.Set("Content-Type", std::string(sqs::kJsonContentType));
    r.body = result.dump(-1, ' ', false, json::error_handler_t::replace);
  } else {
    r.Set("Content-Type", "text/xml");
    r.body = sqs::QueryResponseXml(action_, result, request_id_);
  }
  return Finish(std::move(r));
}

Result<json> SqsExchange::DecodeRequest() {
  if (protocol_ == Protocol::kJson) {
    if (body_.empty()) return json::object();
    json j = json::parse(body_, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("The request body is not a JSON object.");
    return j;
  }
  // Query: the form body, and (GET, or a POST that carries some) the query string.
  auto params = ParseQuery(raw_query_);
  const std::string content_type = LowerCase(head_.Header("content-type").value_or(""));
  if (!body_.empty()) {
    if (!content_type.starts_with("application/x-www-form-urlencoded")) {
      return Status::InvalidArgument("Content-Type must be application/x-www-form-urlencoded or application/x-amz-json-1.0.");
    }
    for (auto& [k, v] : ParseQuery(body_)) params[k] = std::move(v);
  }
  // Presigned parameters are the signature's, not the action's.
  for (auto it = params.begin(); it != params.end();) {
    it = it->first.starts_with("X-Amz-") ? params.erase(it) : std::next(it);
  }
  action_ = params.count("Action") ? params["Action"] : "";
  return sqs::QueryParamsToJson(params);
}

HttpResponse SqsExchange::End() {
  const size_t qmark = head_.target.find('?');
  path_ = head_.target.substr(0, qmark);
  if (qmark != std::string::npos) raw_query_ = head_.target.substr(qmark + 1);

  sigv4::Request signed_request;
  signed_request.method = head_.method;
  signed_request.path = path_;
  signed_request.query = raw_query_;
  for (const HttpHeader& h : head_.headers) signed_request.headers.push_back({h.name, h.value});
  signed_request.payload_hash = sigv4::Sha256Hex(body_);
  sigv4::AuthResult<const config::Credential*> key = service_.authenticator().VerifyService(signed_request, "sqs");
  if (!key.ok()) {
    LogInfo("request refused", {{"request_id", request_id_}, {"api", "sqs"}, {"detail", key.status().message()}});
    return Fail(FromAuth(key.status()));
  }

  Result<json> request = DecodeRequest();
  if (!request.ok()) {
    return Fail(sqs::MakeError(protocol_ == Protocol::kJson ? "SerializationException" : "MalformedQueryString",
                               request.status().message()));
  }
  if (action_.empty()) return Fail(sqs::MakeError("MissingAction", "The request must contain the parameter Action."));
  if (!Allowed(**key, action_)) {
    return Fail(sqs::MakeError("AccessDenied", "The access key " + (*key)->access_key + " may not " + action_ +
                                                   " (see docs/sqs-api.md, Access)."));
  }

  std::string base = service_.options().public_url;
  if (base.empty()) base = "http://" + std::string(head_.Header("host").value_or("localhost"));
  while (base.ends_with('/')) base.pop_back();
  SqsContext ctx{service_.queues(), service_.gate(), service_.tasks(), service_.clock(),
                 service_.options().region, base, path_, Allowed(**key, "ReceiveMessage")};
  SqsReply reply = HandleSqsAction(ctx, action_, *request);
  if (auto* error = std::get_if<sqs::Error>(&reply)) return Fail(*error);
  return Reply(std::get<json>(reply));
}

bool IsQueuePath(std::string_view path) {
  if (path == "/") return true;
  // "/<12 digits>/<name>"
  if (path.size() < 15 || path[0] != '/' || path[13] != '/') return false;
  for (size_t i = 1; i <= 12; ++i) {
    if (path[i] < '0' || path[i] > '9') return false;
  }
  return path.find('/', 14) == std::string_view::npos;
}

}  // namespace

bool IsSqsRequest(const HttpRequestHead& head) {
  if (const auto target = head.Header("x-amz-target")) return target->starts_with(sqs::kTargetPrefix);
  if (const auto auth = head.Header("authorization")) {
    const size_t credential = auth->find("Credential=");
    if (credential != std::string_view::npos) {
      const std::string_view scope = auth->substr(credential, auth->find_first_of(", ", credential) - credential);
      if (scope.find("/sqs/aws4_request") != std::string_view::npos) return true;
    }
  }
  const std::string_view target = head.target;
  const std::string_view path = target.substr(0, target.find('?'));
  const size_t credential = target.find("X-Amz-Credential=");
  if (credential != std::string_view::npos) {
    const std::string_view value = target.substr(credential, target.find('&', credential) - credential);
    if (value.find("%2Fsqs%2Faws4_request") != std::string_view::npos ||
        value.find("/sqs/aws4_request") != std::string_view::npos) {
      return true;
    }
  }
  if (head.method == "POST" && IsQueuePath(path)) {
    const std::string content_type = LowerCase(head.Header("content-type").value_or(""));
    return content_type.starts_with("application/x-www-form-urlencoded");
  }
  return false;
}

SqsService::SqsService(SqsQueues& queues, SqsServiceOptions options, const Clock& clock)
    : queues_(queues),
      options_(std::move(options)),
      clock_(clock),
      auth_(options_.credentials, options_.region, clock),
      gate_(options_.max_long_polls) {
  std::random_device rd;
  next_id_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

std::string SqsService::NextRequestId() {
  // UUID-shaped, as SQS request ids are.
  const uint64_t n = next_id_.fetch_add(1);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(n >> 32),
                static_cast<unsigned>((n >> 16) & 0xffff), static_cast<unsigned>(n & 0xfff),
                static_cast<unsigned>((n >> 12) & 0xfff), static_cast<unsigned long long>(n & 0xffffffffffffULL));
  return buf;
}

std::unique_ptr<Exchange> SqsService::NewExchange(HttpRequestHead head) {
  return std::make_unique<SqsExchange>(*this, std::move(head));
}

}  // namespace thumbpipe::server
