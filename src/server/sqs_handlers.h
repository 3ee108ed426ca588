// The SQS actions over SqsQueues: pure functions from a request in the JSON shape
// (sqs_wire.h) to a result in the same shape, or an SQS error. No sockets, no protocol: the
// service (sqs_service.cc) decodes and encodes. Thread-safe given a thread-safe context.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "server/sqs_queues.h"
#include "server/sqs_wire.h"

namespace thumbpipe::server {

// Bounds how many ReceiveMessage calls may wait at once: each waiting call holds one of the
// HTTP server's worker threads, which S3 requests need too. A receive that finds the gate
// full polls once without waiting (an empty answer is valid SQS; the client asks again).
class LongPollGate {
 public:
  explicit LongPollGate(int max) : max_(max) {}
  bool TryEnter() {
    int now = waiting_.load();
    while (now < max_) {
      if (waiting_.compare_exchange_weak(now, now + 1)) return true;
    }
    return false;
  }
  void Leave() { waiting_.fetch_sub(1); }

 private:
  const int max_;
  std::atomic<int> waiting_{0};
};

// StartMessageMoveTask's tasks: each redrive runs on a thread of its own, moving the dead
// messages there were at its start back to their queue in steps of per_second messages a
// second (500 at once when unlimited); ListMessageMoveTasks reports them. Destruction
// cancels what still runs (between steps) and joins.
class MoveTasks {
 public:
  struct Task {
    std::string handle, source_arn, destination_arn;
    double per_second = 0;
    int64_t started_ms = 0;
    int64_t to_move = 0;
    std::string status = "RUNNING";  // RUNNING, COMPLETED, FAILED, CANCELLED
    int64_t moved = 0;
    std::string failure;
  };
  MoveTasks() = default;
  MoveTasks(const MoveTasks&) = delete;
  MoveTasks& operator=(const MoveTasks&) = delete;
  ~MoveTasks();
  // Starts moving the dead messages of `queue` back (task.to_move of them at most) unless a
  // task of task.source_arn is running (then false).
  bool Start(Task task, std::shared_ptr<queue::Queue> queue);
  std::vector<Task> List(std::string_view source_arn) const;

 private:
  static constexpr size_t kMaxKept = 100;  // finished tasks ListMessageMoveTasks still reports
  mutable std::mutex mu_;  // protects tasks_ and threads_ (threads_[i] runs tasks_[i])
  std::vector<std::shared_ptr<Task>> tasks_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;  // protected by mu_
  std::condition_variable stop_cv_;
  void Run(const std::shared_ptr<Task>& task, const std::shared_ptr<queue::Queue>& queue);
};

struct SqsContext {
  SqsQueues& queues;
  LongPollGate& gate;
  MoveTasks& tasks;
  const Clock& clock;
  std::string region;
  std::string base_url;  // "http://host:port": queue URLs are base_url/<account>/<name>
  std::string path;      // the request's path (the query protocol may address the queue by it)
  bool may_consume = true;  // the key may receive and delete (a dead-letter send moves a message)
};

// The result of one action: its result object, or the error to answer with.
using SqsReply = std::variant<nlohmann::json, sqs::Error>;

// Runs `action` (e.g. "SendMessage") on `request`. Unknown actions are InvalidAction; bad
// input of any shape is an SQS error, never an exception.
SqsReply HandleSqsAction(SqsContext& ctx, std::string_view action, const nlohmann::json& request);

// Whether `action` is one HandleSqsAction runs.
bool IsSqsAction(std::string_view action);

// The ARN of queue `name` (events::EmbeddedQueueArn: account kSqsAccountId).
std::string SqsQueueArn(std::string_view region, std::string_view name);

}  // namespace thumbpipe::server
