#include "queue/sqs_api.h"

#include <array>
#include <utility>

#include "server/sqs_wire.h"

namespace thumbpipe::queue {

aws::AwsError ParseSqsJsonError(int http_status, const sigv4::Headers& headers, std::string_view body) {
  const sqs::Error e =
      sqs::ErrorFromJsonResponse(http_status, sigv4::FindHeader(headers, "x-amzn-query-error").value_or(""), body);
  aws::AwsError out;
  out.http_status = http_status;
  out.code = e.code;
  out.message = e.message;
  out.request_id = sigv4::FindHeader(headers, "x-amzn-RequestId").value_or("");
  return out;
}

Status MapSqsStatus(Status status) {
  if (status.ok()) return status;
  const std::string& message = status.message();
  const std::string_view code = std::string_view(message).substr(0, message.find(' '));
  static constexpr std::array<std::pair<std::string_view, StatusCode>, 20> kTable = {{
      {"QueueDoesNotExist", StatusCode::kNotFound},
      {"AWS.SimpleQueueService.NonExistentQueue", StatusCode::kNotFound},
      {"ReceiptHandleIsInvalid", StatusCode::kFailedPrecondition},
      {"MessageNotInflight", StatusCode::kFailedPrecondition},
      {"AWS.SimpleQueueService.MessageNotInflight", StatusCode::kFailedPrecondition},
      {"InvalidParameterValue", StatusCode::kInvalidArgument},
      {"InvalidMessageContents", StatusCode::kInvalidArgument},
      {"MissingParameter", StatusCode::kInvalidArgument},
      {"InvalidAttributeName", StatusCode::kInvalidArgument},
      {"InvalidAttributeValue", StatusCode::kInvalidArgument},
      {"TooManyEntriesInBatchRequest", StatusCode::kInvalidArgument},
      {"EmptyBatchRequest", StatusCode::kInvalidArgument},
      {"BatchEntryIdsNotDistinct", StatusCode::kInvalidArgument},
      {"BatchRequestTooLong", StatusCode::kInvalidArgument},
      {"InvalidBatchEntryId", StatusCode::kInvalidArgument},
      {"UnsupportedOperation", StatusCode::kUnsupported},
      {"InvalidAction", StatusCode::kUnsupported},
      {"PurgeQueueInProgress", StatusCode::kUnavailable},
      {"OverLimit", StatusCode::kUnavailable},
      {"RequestThrottled", StatusCode::kUnavailable},
  }};
  for (const auto& [name, mapped] : kTable) {
    if (code == name) return Status(mapped, message);
  }
  return status;
}

Result<std::unique_ptr<SqsApi>> SqsApi::Create(const SqsApiOptions& options) {
  THUMBPIPE_ASSIGN_OR_RETURN(aws::ResolvedCredentials creds,
                             aws::ResolveCredentials(options.env, options.fallback_credentials));
  aws::ClientOptions o;
  o.endpoint = options.endpoint;
  o.region = options.region;
  o.service = "sqs";
  o.credentials = creds.credentials;
  o.clock = options.clock;
  o.parse_error = ParseSqsJsonError;
  if (options.max_attempts > 0) o.retry.max_attempts = options.max_attempts;
  // A long poll waits up to 20 s with no byte moving; give it room before calling it stalled.
  o.stall_timeout = std::chrono::seconds(60);
  o.max_response_bytes = uint64_t{16} << 20;  // 10 messages of 1 MiB, base64 attributes and all
  THUMBPIPE_ASSIGN_OR_RETURN(std::unique_ptr<aws::AwsHttpClient> client, aws::AwsHttpClient::Create(std::move(o)));
  return std::unique_ptr<SqsApi>(new SqsApi(std::move(client)));
}

Result<nlohmann::json> SqsApi::Call(std::string_view action, const nlohmann::json& request) {
  std::string body;
  try {
    body = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception&) {
    return Status::InvalidArgument("SQS " + std::string(action) + ": a text value is not valid UTF-8");
  }
  aws::HttpRequest r;
  r.method = "POST";
  r.path = "/";
  r.headers = {{"Content-Type", std::string(sqs::kJsonContentType)},
               {"X-Amz-Target", std::string(sqs::kTargetPrefix) + std::string(action)}};
  r.body = body;
  r.context = "SQS " + std::string(action);
  Result<aws::HttpResponse> reply = client_->Send(r);
  if (!reply.ok()) return MapSqsStatus(reply.status());
  if (reply->body.empty()) return nlohmann::json::object();
  nlohmann::json parsed = nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    return Status::Corrupt("SQS " + std::string(action) + " answered with something that is not a JSON object");
  }
  return parsed;
}

}  // namespace thumbpipe::queue
