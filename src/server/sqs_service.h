// SqsService: the SQS API of `serve` over its embedded queue (SqsQueues), in both of SQS's
// protocols: JSON (POST / with `X-Amz-Target: AmazonSQS.<Action>`, what current SDKs send)
// and query (form-encoded `Action=...`, to / or to the queue URL; what aws-cli 2.9 and
// boto3 1.26 send). SigV4 with service "sqs" and the S3 API's keys. The S3 service hands it
// the requests IsSqsRequest recognises, on the same port (S3ServiceOptions::sqs).
//
// A key may use the SQS API when its buckets are ["*"] (queues carry the events of every
// bucket). Looking (GetQueueUrl, GetQueueAttributes, List*) takes any such key; sending
// takes read-write or write-only; receiving and its acks take read-write; CreateQueue,
// SetQueueAttributes, PurgeQueue and StartMessageMoveTask take an admin key.
//
// Thread-safe: one SqsService serves every connection.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "config/config.h"
#include "server/auth.h"
#include "server/http_types.h"
#include "server/sqs_handlers.h"
#include "server/sqs_queues.h"

namespace thumbpipe::server {

struct SqsServiceOptions {
  std::string region = "us-east-1";
  std::vector<config::Credential> credentials;
  // Base of queue URLs ("http://host:port"); "" = from the request's Host header.
  std::string public_url;
  // Largest request body: a 1 MiB SendMessageBatch grows when form-encoded (up to 3 bytes a
  // byte) or JSON-escaped, so 4 MiB; anything larger is RequestEntityTooLarge before it is read.
  uint64_t max_body_bytes = 4 << 20;
  // ReceiveMessage calls that may long-poll at once (each holds an HTTP worker thread).
  int max_long_polls = 4;
  // Counts every answer as thumbpipe_sqs_requests_total{action,status} (not owned); null: none.
  metrics::Registry* registry = nullptr;
};

// Whether `head` is an SQS request: an X-Amz-Target of AmazonSQS, a SigV4 credential scope
// of service "sqs" (header or presigned), or a form-encoded POST to "/" or to a queue URL
// path "/<12 digits>/<name>" (no S3 operation has that shape).
bool IsSqsRequest(const HttpRequestHead& head);

class SqsService {
 public:
  // `queues` and `clock` must outlive the service.
  SqsService(SqsQueues& queues, SqsServiceOptions options, const Clock& clock);

  std::unique_ptr<Exchange> NewExchange(HttpRequestHead head);

  const SqsServiceOptions& options() const { return options_; }
  SqsQueues& queues() { return queues_; }
  LongPollGate& gate() { return gate_; }
  MoveTasks& tasks() { return tasks_; }
  const Clock& clock() const { return clock_; }
  const Authenticator& authenticator() const { return auth_; }
  std::string NextRequestId();

 private:
  SqsQueues& queues_;
  const SqsServiceOptions options_;
  const Clock& clock_;
  Authenticator auth_;
  LongPollGate gate_;
  MoveTasks tasks_;
  std::atomic<uint64_t> next_id_{0};
};

}  // namespace thumbpipe::server
