// SqsApi: one SQS endpoint spoken to in the JSON protocol (AWS JSON 1.0: `POST /`,
// `X-Amz-Target: AmazonSQS.<Action>`, `Content-Type: application/x-amz-json-1.0`), signed with
// SigV4 service "sqs" by the shared AWS client core (aws/http_client.h: retries with backoff,
// credential chain). Errors come back as a Status whose message starts with SQS's code, and
// whose StatusCode says what a caller of queue.h can do about it:
//   QueueDoesNotExist                                   kNotFound
//   ReceiptHandleIsInvalid, MessageNotInflight          kFailedPrecondition (a receipt that is
//                                                       not, or no longer, the message's)
//   InvalidParameterValue, InvalidMessageContents, MissingParameter, batch request errors,
//   InvalidAttributeName/Value                          kInvalidArgument
//   UnsupportedOperation, InvalidAction                 kUnsupported
//   PurgeQueueInProgress, OverLimit, throttling, 5xx    kUnavailable
// Safe for concurrent use.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "common/result.h"

namespace thumbpipe::queue {

struct SqsApiOptions {
  std::string endpoint;  // scheme://host[:port]
  std::string region = "us-east-1";
  int max_attempts = 0;  // 0 = the client's default
  // Used when neither the environment nor the AWS profile files have keys.
  std::optional<sigv4::Credentials> fallback_credentials;
  aws::EnvLookup env = aws::ProcessEnv();
  Clock* clock = &RealClock::Instance();
};

class SqsApi {
 public:
  // kNotFound when no credentials are found, kInvalidArgument for a bad endpoint.
  static Result<std::unique_ptr<SqsApi>> Create(const SqsApiOptions& options);

  // Sends `request` (a JSON object) as action `action` ("ReceiveMessage") and returns the
  // answer's JSON object ({} for an empty body).
  Result<nlohmann::json> Call(std::string_view action, const nlohmann::json& request);

  Clock& clock() const { return *client_->options().clock; }

 private:
  explicit SqsApi(std::unique_ptr<aws::AwsHttpClient> client) : client_(std::move(client)) {}
  std::unique_ptr<aws::AwsHttpClient> client_;
};

// The JSON protocol's error answer as the AWS client core wants it (sqs_wire.h reads it).
aws::AwsError ParseSqsJsonError(int http_status, const sigv4::Headers& headers, std::string_view body);

// `status` (from the AWS client core) with its StatusCode chosen by the SQS code its message
// starts with, per the table above; other statuses unchanged.
Status MapSqsStatus(Status status);

}  // namespace thumbpipe::queue
