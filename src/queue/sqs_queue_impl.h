// The sqs:// queue's inside (sqs_queue.h says what it does): shared by sqs_queue.cc (messages)
// and sqs_dead_letters.cc (the DLQ tools).
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "queue/sqs_api.h"
#include "queue/sqs_queue.h"

namespace thumbpipe::queue::sqs_internal {

class SqsQueue;

class SqsDeadLetters final : public DeadLetters {
 public:
  explicit SqsDeadLetters(SqsQueue& queue) : queue_(queue) {}
  Result<std::vector<DeadMessage>> List(int limit, std::string_view after_id) override;
  Result<int64_t> Redrive(std::span<const std::string> ids, double per_second) override;
  Result<int64_t> Purge() override;

 private:
  SqsQueue& queue_;
};

class SqsQueue final : public Queue {
 public:
  SqsQueue(SqsQueueOptions options, std::unique_ptr<SqsApi> api, std::string arn, std::string dlq_url,
           std::string dlq_arn)
      : options_(std::move(options)),
        api_(std::move(api)),
        arn_(std::move(arn)),
        dlq_url_(std::move(dlq_url)),
        dlq_arn_(std::move(dlq_arn)),
        dead_(*this) {}

  Result<std::string> Send(std::string_view body, const Attributes& attributes,
                           std::optional<Duration> delay) override;
  Result<std::vector<Result<std::string>>> SendBatch(std::span<const SendEntry> entries) override;
  Result<std::vector<Message>> Receive(int max, Duration wait, std::optional<Duration> visibility) override;
  Status Remove(std::string_view receipt) override;
  Result<std::vector<Status>> RemoveBatch(std::span<const std::string> receipts) override;
  Status ChangeVisibility(std::string_view receipt, Duration timeout) override;
  Status DeadLetter(std::string_view receipt, std::string_view reason) override;
  Result<QueueStats> Stats() override;
  Result<int64_t> Purge() override;
  DeadLetters& dead_letters() override { return dead_; }

  // For SqsDeadLetters.
  SqsApi& api() { return *api_; }
  const SqsQueueOptions& options() const { return options_; }
  const std::string& url() const { return options_.endpoint.queue_url; }
  const std::string& arn() const { return arn_; }
  // The DLQ's URL and ARN; FailedPrecondition when the queue has no RedrivePolicy.
  Result<std::string> DlqUrl() const;
  const std::string& dlq_arn() const { return dlq_arn_; }
  // ApproximateNumberOf* of `queue_url`, summed over `names`.
  Result<int64_t> CountOf(const std::string& queue_url, std::initializer_list<const char*> names);

 private:
  // What this object knows about a receipt it handed out.
  struct Held {
    enum class State { kHeld, kSuperseded, kRemoved } state = State::kHeld;
    Message message;
  };
  // A receipt's state before a call on it: OK to go ahead (and the message, if known), or the
  // error to answer without a request.
  Status CheckReceipt(std::string_view receipt, Message* message = nullptr);
  void Remember(const Message& m);
  void MarkRemoved(std::string_view receipt);

  const SqsQueueOptions options_;
  const std::unique_ptr<SqsApi> api_;
  const std::string arn_, dlq_url_, dlq_arn_;
  SqsDeadLetters dead_;

  // receipts_ and the order they were remembered in (oldest first, for the bound);
  // latest_ maps a message id to its newest receipt. Guarded by mutex_; no I/O under it.
  std::mutex mutex_;
  std::unordered_map<std::string, Held> receipts_;
  std::deque<std::string> order_;
  std::unordered_map<std::string, std::string> latest_;

  std::atomic<int64_t> sent_{0}, received_{0}, removed_{0}, dead_lettered_{0};
};

}  // namespace thumbpipe::queue::sqs_internal
