// The dispatcher of the SQS actions and the parameter readers they share.
#include "server/sqs_handlers.h"

#include <map>
#include <set>

#include "common/logging.h"
#include "events/notifier.h"
#include "server/sqs_params.h"

namespace thumbpipe::server {
namespace sqs_internal {

using nlohmann::json;

std::optional<std::string> OptString(const json& req, std::string_view name) {
  auto it = req.find(name);
  if (it == req.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) Reject("InvalidParameterValue", "Value for parameter " + std::string(name) + " must be a string.");
  return it->get<std::string>();
}

std::string ReqString(const json& req, std::string_view name) {
  std::optional<std::string> value = OptString(req, name);
  if (!value || value->empty()) {
    Reject("MissingParameter", "The request must contain the parameter " + std::string(name) + ".");
  }
  return *value;
}

std::optional<int64_t> OptInt(const json& req, std::string_view name, int64_t lo, int64_t hi) {
  auto it = req.find(name);
  if (it == req.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi) {
    Reject("InvalidParameterValue", "Value " + it->dump(-1, ' ', false, json::error_handler_t::replace) +
                                        " for parameter " + std::string(name) + " is invalid. Reason: must be between " +
                                        std::to_string(lo) + " and " + std::to_string(hi) + ".");
  }
  return it->get<int64_t>();
}

json OptStringList(const json& req, std::string_view name) {
  auto it = req.find(name);
  if (it == req.end() || it->is_null()) return json::array();
  if (!it->is_array()) Reject("InvalidParameterValue", std::string(name) + " must be a list of strings.");
  for (const json& v : *it) {
    if (!v.is_string()) Reject("InvalidParameterValue", std::string(name) + " must be a list of strings.");
  }
  return *it;
}

std::string QueueUrl(const SqsContext& ctx, std::string_view name) {
  return ctx.base_url + "/" + std::string(kSqsAccountId) + "/" + std::string(name);
}

ResolvedQueue QueueOf(SqsContext& ctx, const json& req) {
  std::optional<std::string> url = OptString(req, "QueueUrl");
  std::string_view path = url ? std::string_view(*url) : std::string_view(ctx.path);
  if (url) {
    // Any scheme and host: clients reach us under names we cannot know (proxies, Docker).
    const size_t scheme = path.find("://");
    if (scheme != std::string_view::npos) {
      path = path.substr(scheme + 3);
      const size_t slash = path.find('/');
      path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
    }
  }
  // "/<account>/<name>"
  if (path.empty() || path == "/") {
    Reject("MissingParameter", "The request must contain the parameter QueueUrl.");
  }
  const size_t last = path.rfind('/');
  const std::string_view name = path.substr(last + 1);
  const std::string_view account = path.substr(0, last);
  if (account != "/" + std::string(kSqsAccountId)) Reject("QueueDoesNotExist");
  Result<ResolvedQueue> found = ctx.queues.Find(name);
  if (!found.ok()) Reject("QueueDoesNotExist");
  return std::move(found).value();
}

const json& BatchEntries(const json& req) {
  auto it = req.find("Entries");
  if (it == req.end() || !it->is_array() || it->empty()) Reject("EmptyBatchRequest");
  if (it->size() > 10) {
    Reject("TooManyEntriesInBatchRequest",
           "Maximum number of entries per request are 10. You have sent " + std::to_string(it->size()) + ".");
  }
  std::set<std::string> ids;
  for (const json& entry : *it) {
    const auto id = entry.is_object() ? entry.find("Id") : entry.end();
    if (!entry.is_object() || id == entry.end() || !id->is_string()) {
      Reject("InvalidBatchEntryId", "A batch entry has no Id.");
    }
    const std::string& s = id->get_ref<const std::string&>();
    const bool valid = !s.empty() && s.size() <= 80 &&
                       s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
                           std::string::npos;
    if (!valid) {
      Reject("InvalidBatchEntryId",
             "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
             "It can be at most 80 letters long.");
    }
    if (!ids.insert(s).second) Reject("BatchEntryIdsNotDistinct", "Id " + s + " repeated.");
  }
  return *it;
}

json FailedEntry(const json& entry, const sqs::Error& error) {
  return {{"Id", entry.value("Id", "")}, {"SenderFault", error.sender}, {"Code", error.query_code},
          {"Message", error.message}};
}

}  // namespace sqs_internal

std::string SqsQueueArn(std::string_view region, std::string_view name) {
  return events::EmbeddedQueueArn(region, name);
}

namespace {

using Handler = nlohmann::json (*)(SqsContext&, const nlohmann::json&);

const std::map<std::string, Handler, std::less<>>& Handlers() {
  using namespace sqs_internal;
  static const auto* handlers = new std::map<std::string, Handler, std::less<>>{
      {"CreateQueue", CreateQueue},
      {"GetQueueUrl", GetQueueUrl},
      {"ListQueues", ListQueues},
      {"GetQueueAttributes", GetQueueAttributes},
      {"SetQueueAttributes", SetQueueAttributes},
      {"PurgeQueue", PurgeQueue},
      {"ListDeadLetterSourceQueues", ListDeadLetterSourceQueues},
      {"StartMessageMoveTask", StartMessageMoveTask},
      {"ListMessageMoveTasks", ListMessageMoveTasks},
      {"SendMessage", SendMessage},
      {"SendMessageBatch", SendMessageBatch},
      {"ReceiveMessage", ReceiveMessage},
      {"DeleteMessage", DeleteMessage},
      {"DeleteMessageBatch", DeleteMessageBatch},
      {"ChangeMessageVisibility", ChangeMessageVisibility},
      {"ChangeMessageVisibilityBatch", ChangeMessageVisibilityBatch},
  };
  return *handlers;
}

}  // namespace

bool IsSqsAction(std::string_view action) { return Handlers().contains(action); }

SqsReply HandleSqsAction(SqsContext& ctx, std::string_view action, const nlohmann::json& request) {
  using namespace sqs_internal;
  auto it = Handlers().find(action);
  if (it == Handlers().end()) {
    return sqs::MakeError("InvalidAction", "The action " + std::string(action) + " is not valid for this endpoint.");
  }
  if (!request.is_object()) return sqs::MakeError("SerializationException", "The request body must be a JSON object.");
  try {
    return it->second(ctx, request);
  } catch (const SqsReject& reject) {
    return reject.error;
  } catch (const nlohmann::json::exception& e) {
    // A shape the readers above did not foresee: the client's fault, said plainly.
    return sqs::MakeError("InvalidParameterValue", std::string("Malformed request: ") + e.what());
  } catch (const std::exception& e) {
    LogError("sqs action failed", {{"action", action}, {"cause", e.what()}});
    return sqs::MakeError("InternalFailure");
  }
}

MoveTasks::~MoveTasks() {
  std::vector<std::thread> threads;
  {
    std::scoped_lock lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  stop_cv_.notify_all();
  for (std::thread& t : threads) {
    if (t.joinable()) t.join();
  }
}

bool MoveTasks::Start(Task task, std::shared_ptr<queue::Queue> queue) {
  std::scoped_lock lock(mu_);
  for (const auto& t : tasks_) {
    if (t->source_arn == task.source_arn && t->status == "RUNNING") return false;
  }
  // Reap what has finished, so that tasks started again and again use bounded memory: a
  // task no longer RUNNING has set its status under mu_ and will not take it again, so its
  // thread is exiting and the join is short. The oldest finished tasks are forgotten.
  for (size_t i = 0; i < tasks_.size();) {
    const bool finished = tasks_[i]->status != "RUNNING";
    if (finished && threads_[i].joinable()) threads_[i].join();
    if (finished && tasks_.size() > kMaxKept) {
      tasks_.erase(tasks_.begin() + static_cast<std::ptrdiff_t>(i));
      threads_.erase(threads_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  auto shared = std::make_shared<Task>(std::move(task));
  tasks_.push_back(shared);
  threads_.emplace_back([this, shared, queue = std::move(queue)] { Run(shared, queue); });
  return true;
}

void MoveTasks::Run(const std::shared_ptr<Task>& task, const std::shared_ptr<queue::Queue>& queue) {
  // Steps of List + Redrive by id (rather than one rate-limited Redrive of everything), so
  // that a stop is noticed between steps and the count moves as the task goes.
  const int step = task->per_second > 0 ? static_cast<int>(task->per_second) : 500;
  int64_t moved = 0;
  Status failure = Status::Ok();
  for (;;) {
    {
      std::scoped_lock lock(mu_);
      if (stopping_ || (task->to_move > 0 && moved >= task->to_move)) break;
    }
    const int64_t want = task->to_move > 0 ? std::min<int64_t>(step, task->to_move - moved) : step;
    Result<std::vector<queue::DeadMessage>> dead = queue->dead_letters().List(static_cast<int>(want));
    if (!dead.ok()) {
      failure = dead.status();
      break;
    }
    if (dead->empty()) break;
    std::vector<std::string> ids;
    for (const queue::DeadMessage& d : *dead) ids.push_back(d.id);
    Result<int64_t> n = queue->dead_letters().Redrive(ids, 0);
    if (!n.ok()) {
      failure = n.status();
      break;
    }
    moved += *n;
    std::unique_lock lock(mu_);
    task->moved = moved;
    if (*n == 0) break;  // nothing moved (someone else redrove them): do not spin
    if (task->per_second > 0) stop_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
  }
  std::scoped_lock lock(mu_);
  task->moved = moved;
  if (!failure.ok()) {
    task->status = "FAILED";
    task->failure = failure.message();
  } else {
    task->status = stopping_ ? "CANCELLED" : "COMPLETED";
  }
}

std::vector<MoveTasks::Task> MoveTasks::List(std::string_view source_arn) const {
  std::scoped_lock lock(mu_);
  std::vector<Task> out;
  for (auto it = tasks_.rbegin(); it != tasks_.rend(); ++it) {  // the most recent first
    if ((*it)->source_arn == source_arn) out.push_back(**it);
  }
  return out;
}

}  // namespace thumbpipe::server
