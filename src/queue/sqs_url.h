// The sqs:// queue URL: an SQS queue URL with "sqs" in place of "https" (or "sqs+http" for a
// plain-HTTP endpoint such as a `thumbpipe serve` on loopback):
//
//   sqs://sqs.eu-west-1.amazonaws.com/123456789012/thumbs          Amazon SQS (https)
//   sqs+http://127.0.0.1:9000/000000000000/thumbnails?region=us-east-1  any endpoint over http
//   sqs+https://sqs.example.internal/000000000000/thumbs
//
// Parameters (all optional): region=R (default: the host's, for sqs.REGION.amazonaws.com; else
// the AWS profile's region; else us-east-1), max_attempts=N (1-10, retries of the AWS client).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace thumbpipe::queue {

struct SqsEndpoint {
  std::string endpoint;   // "https://sqs.eu-west-1.amazonaws.com": scheme://host[:port]
  std::string queue_url;  // "https://sqs.eu-west-1.amazonaws.com/123456789012/thumbs"
  std::string account;    // "123456789012"
  std::string name;       // "thumbs"
  std::string region;     // empty when neither the URL nor the host names one
  int max_attempts = 0;   // 0 = the client's default
};

// kInvalidArgument naming what is wrong (scheme, path, parameter).
Result<SqsEndpoint> ParseSqsUrl(std::string_view url);

// The queue URL of queue `name` in `account` on the same endpoint (a DLQ named by an ARN).
std::string SqsQueueUrl(const SqsEndpoint& endpoint, std::string_view account, std::string_view name);

}  // namespace thumbpipe::queue
