// The sqs:// queue's dead-letter side: look (ReceiveMessage with visibility 0), redrive
// (StartMessageMoveTask, waited for), purge (PurgeQueue).
#include <algorithm>
#include <cmath>

#include "queue/sqs_codec.h"
#include "queue/sqs_queue_impl.h"

namespace thumbpipe::queue::sqs_internal {

using nlohmann::json;

Result<std::vector<DeadMessage>> SqsDeadLetters::List(int limit, std::string_view after_id) {
  if (limit < 1) return Status::InvalidArgument("list limit must be at least 1");
  THUMBPIPE_ASSIGN_OR_RETURN(std::string dlq, queue_.DlqUrl());
  const json system = json::array({"ApproximateReceiveCount", "SentTimestamp"});
  // Visibility 0: on Amazon SQS this is a receive that leaves the message visible at once;
  // SQS returns at most 10 messages a call, so that is all one List can see.
  THUMBPIPE_ASSIGN_OR_RETURN(json answer, queue_.api().Call("ReceiveMessage", {{"QueueUrl", dlq},
                                                                               {"MaxNumberOfMessages", 10},
                                                                               {"WaitTimeSeconds", 0},
                                                                               {"VisibilityTimeout", 0},
                                                                               {"MessageSystemAttributeNames", system},
                                                                               {"AttributeNames", system},
                                                                               {"MessageAttributeNames", {"All"}}}));
  std::vector<DeadMessage> all;
  for (const json& j : answer.value("Messages", json::array())) {
    THUMBPIPE_ASSIGN_OR_RETURN(Message m, MessageFromJson(j));
    all.push_back(DeadFromMessage(std::move(m)));
  }
  std::stable_sort(all.begin(), all.end(), [](const DeadMessage& a, const DeadMessage& b) { return a.sent_at < b.sent_at; });
  auto from = all.begin();
  if (!after_id.empty()) {
    auto at = std::find_if(all.begin(), all.end(), [&](const DeadMessage& d) { return d.id == after_id; });
    from = at == all.end() ? all.end() : at + 1;
  }
  std::vector<DeadMessage> out;
  for (auto it = from; it != all.end() && static_cast<int>(out.size()) < limit; ++it) out.push_back(std::move(*it));
  return out;
}

Result<int64_t> SqsDeadLetters::Redrive(std::span<const std::string> ids, double per_second) {
  if (!ids.empty()) {
    return Status::Unsupported("SQS moves a dead-letter queue back whole (StartMessageMoveTask); it cannot pick messages by id");
  }
  THUMBPIPE_RETURN_IF_ERROR(queue_.DlqUrl().status());
  json request = {{"SourceArn", queue_.dlq_arn()}, {"DestinationArn", queue_.arn()}};
  if (per_second > 0) request["MaxNumberOfMessagesPerSecond"] = std::clamp(static_cast<int>(std::ceil(per_second)), 1, 500);
  THUMBPIPE_ASSIGN_OR_RETURN(json started, queue_.api().Call("StartMessageMoveTask", request));
  const std::string handle = started.value("TaskHandle", std::string());
  // The task runs on the service; wait for it to end, polling on the injected clock.
  Clock& clock = queue_.api().clock();
  const auto deadline = clock.Now() + queue_.options().move_task_timeout;
  for (;;) {
    THUMBPIPE_ASSIGN_OR_RETURN(json tasks,
                               queue_.api().Call("ListMessageMoveTasks", {{"SourceArn", queue_.dlq_arn()}, {"MaxResults", 10}}));
    const json results = tasks.value("Results", json::array());
    // Newest first. SQS shows a task's handle only while it runs, and one task runs per queue
    // at a time: ours is the one with our handle, else the newest.
    const json* task = results.is_array() && !results.empty() ? &results[0] : nullptr;
    for (const json& t : results) {
      if (!handle.empty() && t.value("TaskHandle", std::string()) == handle) task = &t;
    }
    if (task == nullptr) return Status::Corrupt("SQS ListMessageMoveTasks does not show the move task just started");
    const std::string status = task->value("Status", std::string());
    const int64_t moved = task->value("ApproximateNumberOfMessagesMoved", int64_t{0});
    if (status == "COMPLETED") return moved;
    if (status != "RUNNING") {
      return Status::Unavailable("SQS message move task " + status + " after " + std::to_string(moved) +
                                 " messages: " + task->value("FailureReason", std::string()));
    }
    if (clock.Now() >= deadline) {
      return Status::Unavailable("SQS message move task still running after " + std::to_string(moved) +
                                 " messages; it goes on on the service");
    }
    clock.SleepFor(queue_.options().move_task_poll);
  }
}

Result<int64_t> SqsDeadLetters::Purge() {
  THUMBPIPE_ASSIGN_OR_RETURN(std::string dlq, queue_.DlqUrl());
  THUMBPIPE_ASSIGN_OR_RETURN(int64_t before, queue_.CountOf(dlq, {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                                                  "ApproximateNumberOfMessagesDelayed"}));
  THUMBPIPE_RETURN_IF_ERROR(queue_.api().Call("PurgeQueue", {{"QueueUrl", dlq}}).status());
  return before;
}

}  // namespace thumbpipe::queue::sqs_internal
