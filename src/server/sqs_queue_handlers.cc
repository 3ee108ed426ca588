// The queue-level SQS actions: create, find, list, attributes, purge, redrive.
#include <algorithm>
#include <charconv>
#include <chrono>

#include "events/notifier.h"
#include "queue/message_rules.h"
#include "server/sqs_params.h"
#include "sigv4/crypto.h"

namespace thumbpipe::server::sqs_internal {
namespace {

using nlohmann::json;
using std::chrono::seconds;

int64_t Seconds(Duration d) { return std::chrono::duration_cast<seconds>(d).count(); }

// An attribute value that must be an integer in [lo, hi]; InvalidAttributeValue otherwise.
int64_t IntAttribute(const std::string& name, const json& value, int64_t lo, int64_t hi) {
  int64_t n = 0;
  bool ok = false;
  if (value.is_number_integer()) {
    n = value.get<int64_t>();
    ok = true;
  } else if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    ok = ec == std::errc() && end == s.data() + s.size() && !s.empty();
  }
  if (!ok || n < lo || n > hi) {
    Reject("InvalidAttributeValue", "Invalid value for the parameter " + name + ": must be an integer from " +
                                        std::to_string(lo) + " to " + std::to_string(hi) + ".");
  }
  return n;
}

// maxReceiveCount from a RedrivePolicy, after checking it names this queue's dead side.
int RedriveReceiveCount(const SqsContext& ctx, const std::string& queue, const json& value) {
  if (!value.is_string()) Reject("InvalidAttributeValue", "RedrivePolicy must be a JSON string.");
  const std::string& text = value.get_ref<const std::string&>();
  if (text.empty()) return kNoRedriveReceiveCount;  // "" removes the policy
  const json policy = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!policy.is_object()) Reject("InvalidAttributeValue", "Invalid value for the parameter RedrivePolicy: not JSON.");
  const std::string dlq_arn = SqsQueueArn(ctx.region, queue + std::string(kDlqSuffix));
  auto target = policy.find("deadLetterTargetArn");
  if (target == policy.end() || !target->is_string() || target->get_ref<const std::string&>() != dlq_arn) {
    Reject("InvalidParameterValue",
           "Value for parameter RedrivePolicy is invalid. Reason: the dead-letter queue of " + queue +
               " is its dead side " + dlq_arn + " (thumbpipe's embedded queue); deadLetterTargetArn must name it.");
  }
  auto count = policy.find("maxReceiveCount");
  if (count == policy.end()) Reject("InvalidAttributeValue", "RedrivePolicy needs maxReceiveCount.");
  return static_cast<int>(IntAttribute("RedrivePolicy.maxReceiveCount", *count, 1, kNoRedriveReceiveCount));
}

// Attributes accepted for compatibility that the embedded queue has no use for.
bool IgnoredAttribute(std::string_view name) {
  return name == "Policy" || name == "KmsMasterKeyId" || name == "KmsDataKeyReusePeriodSeconds" ||
         name == "SqsManagedSseEnabled" || name == "RedriveAllowPolicy";
}

// Applies CreateQueue / SetQueueAttributes attributes to `s`; returns the names applied.
std::vector<std::string> ApplyAttributes(const SqsContext& ctx, const json& attributes, SqsQueueSettings* s) {
  std::vector<std::string> given;
  if (attributes.is_null()) return given;
  if (!attributes.is_object()) Reject("InvalidParameterValue", "Attributes must be a map of name to value.");
  queue::SqliteQueueOptions& q = s->queue;
  for (const auto& [name, value] : attributes.items()) {
    if (name == "VisibilityTimeout") {
      q.visibility_timeout = seconds(IntAttribute(name, value, 0, 43200));
    } else if (name == "MessageRetentionPeriod") {
      q.retention = seconds(IntAttribute(name, value, 60, 1209600));
      q.dlq_retention = std::max(q.dlq_retention, q.retention);  // the DLQ keeps first-sent time
    } else if (name == "DelaySeconds") {
      q.delay = seconds(IntAttribute(name, value, 0, 900));
    } else if (name == "MaximumMessageSize") {
      q.max_message_bytes = static_cast<uint64_t>(IntAttribute(name, value, 1024, 1048576));
    } else if (name == "ReceiveMessageWaitTimeSeconds") {
      s->receive_wait_seconds = static_cast<int>(IntAttribute(name, value, 0, 20));
    } else if (name == "RedrivePolicy") {
      q.max_receive_count = RedriveReceiveCount(ctx, q.name, value);
    } else if (name == "FifoQueue") {
      if (value != "false") Reject("InvalidAttributeValue", "FIFO queues are not supported by thumbpipe.");
    } else if (!IgnoredAttribute(name)) {
      Reject("InvalidAttributeName", "Unknown Attribute " + name + ".");
    }
    given.push_back(name);
  }
  return given;
}

void CheckQueueName(const std::string& name) {
  if (name.ends_with(".fifo")) Reject("InvalidParameterValue", "FIFO queues are not supported by thumbpipe.");
  const bool valid = name.size() <= 80 && name.find_first_not_of(
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos;
  if (!valid) {
    Reject("InvalidParameterValue",
           "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
  }
}

json QueueAttributes(const SqsContext& ctx, const ResolvedQueue& q) {
  const SqsQueueSettings& s = q.entry->settings;
  json a = json::object();
  Result<queue::QueueStats> stats = q.entry->queue->Stats();
  if (!stats.ok()) Reject("InternalFailure", "The queue's counts could not be read.");
  a["QueueArn"] = SqsQueueArn(ctx.region, q.name);
  a["CreatedTimestamp"] = std::to_string(s.created_s);
  a["LastModifiedTimestamp"] = std::to_string(s.modified_s);
  a["VisibilityTimeout"] = std::to_string(Seconds(s.queue.visibility_timeout));
  a["MaximumMessageSize"] = std::to_string(s.queue.max_message_bytes);
  a["DelaySeconds"] = q.dead_letters ? "0" : std::to_string(Seconds(s.queue.delay));
  a["ReceiveMessageWaitTimeSeconds"] = std::to_string(s.receive_wait_seconds);
  a["SqsManagedSseEnabled"] = "false";
  if (q.dead_letters) {
    a["MessageRetentionPeriod"] = std::to_string(Seconds(s.queue.dlq_retention));
    a["ApproximateNumberOfMessages"] = std::to_string(stats->dead);
    a["ApproximateNumberOfMessagesNotVisible"] = "0";
    a["ApproximateNumberOfMessagesDelayed"] = "0";
    a["RedriveAllowPolicy"] = json({{"redrivePermission", "byQueue"},
                                    {"sourceQueueArns", {SqsQueueArn(ctx.region, s.queue.name)}}})
                                  .dump();
  } else {
    a["MessageRetentionPeriod"] = std::to_string(Seconds(s.queue.retention));
    a["ApproximateNumberOfMessages"] = std::to_string(stats->visible);
    a["ApproximateNumberOfMessagesNotVisible"] = std::to_string(stats->in_flight);
    a["ApproximateNumberOfMessagesDelayed"] = std::to_string(stats->delayed);
    if (s.queue.max_receive_count < kNoRedriveReceiveCount) {
      a["RedrivePolicy"] = json({{"deadLetterTargetArn", SqsQueueArn(ctx.region, s.queue.name + std::string(kDlqSuffix))},
                                 {"maxReceiveCount", s.queue.max_receive_count}})
                               .dump();
    }
  }
  return a;
}

// The queue a StartMessageMoveTask / ListMessageMoveTasks SourceArn names: a "-dlq" side.
ResolvedQueue DeadSideOfArn(SqsContext& ctx, const std::string& arn) {
  const std::string_view name = events::QueueNameOfArn(arn);
  if (name.empty() || arn != SqsQueueArn(ctx.region, name)) {
    Reject("ResourceNotFoundException", "The resource that you specified for the SourceArn parameter doesn't exist.");
  }
  Result<ResolvedQueue> found = ctx.queues.Find(name);
  if (!found.ok()) {
    Reject("ResourceNotFoundException", "The resource that you specified for the SourceArn parameter doesn't exist.");
  }
  if (!found->dead_letters) {
    Reject("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.");
  }
  return std::move(found).value();
}

}  // namespace

json CreateQueue(SqsContext& ctx, const json& req) {
  const std::string name = ReqString(req, "QueueName");
  CheckQueueName(name);
  SqsQueueSettings s;
  s.queue = ctx.queues.options().defaults;
  s.queue.name = name;
  s.queue.max_receive_count = kNoRedriveReceiveCount;
  s.created_s = s.modified_s = std::chrono::duration_cast<seconds>(ctx.clock.Now().time_since_epoch()).count();
  const bool dead_side = name.size() > kDlqSuffix.size() && name.ends_with(kDlqSuffix);
  if (dead_side) {
    // The dead side of queue X is X-dlq, made with X; asking for it first (as one does on AWS,
    // DLQ before its source) answers with its URL.
    return {{"QueueUrl", QueueUrl(ctx, name)}};
  }
  const std::vector<std::string> given = ApplyAttributes(ctx, req.value("Attributes", json()), &s);
  Result<ResolvedQueue> made = ctx.queues.Create(std::move(s), given);
  if (!made.ok()) {
    if (made.status().code() == StatusCode::kAlreadyExists) Reject("QueueNameExists", made.status().message());
    if (made.status().code() == StatusCode::kTooLarge) Reject("OverLimit", made.status().message());
    Reject("InternalFailure", "The queue could not be created.");
  }
  return {{"QueueUrl", QueueUrl(ctx, name)}};
}

json GetQueueUrl(SqsContext& ctx, const json& req) {
  const std::string name = ReqString(req, "QueueName");
  if (std::optional<std::string> owner = OptString(req, "QueueOwnerAWSAccountId"); owner && *owner != kSqsAccountId) {
    Reject("QueueDoesNotExist");
  }
  if (!ctx.queues.Find(name).ok()) Reject("QueueDoesNotExist");
  return {{"QueueUrl", QueueUrl(ctx, name)}};
}

json ListQueues(SqsContext& ctx, const json& req) {
  const std::string prefix = OptString(req, "QueueNamePrefix").value_or("");
  const std::optional<int64_t> max = OptInt(req, "MaxResults", 1, 1000);
  std::string after;
  if (std::optional<std::string> token = OptString(req, "NextToken"); token && !token->empty()) {
    std::optional<std::string> decoded = sigv4::Base64Decode(*token);
    if (!decoded) Reject("InvalidParameterValue", "Invalid NextToken.");
    after = *decoded;
  }
  json urls = json::array();
  json out = json::object();
  for (const std::string& name : ctx.queues.Names(prefix)) {
    if (!after.empty() && name <= after) continue;
    if (max && static_cast<int64_t>(urls.size()) == *max) {
      out["NextToken"] = sigv4::Base64Encode(urls.back().get<std::string>().substr(urls.back().get<std::string>().rfind('/') + 1));
      break;
    }
    urls.push_back(QueueUrl(ctx, name));
  }
  if (!urls.empty()) out["QueueUrls"] = std::move(urls);
  return out;
}

json GetQueueAttributes(SqsContext& ctx, const json& req) {
  const ResolvedQueue q = QueueOf(ctx, req);
  const json names = OptStringList(req, "AttributeNames");
  const json all = QueueAttributes(ctx, q);
  json picked = json::object();
  for (const json& n : names) {
    const std::string& name = n.get_ref<const std::string&>();
    if (name == "All") return {{"Attributes", all}};
    if (all.contains(name)) {
      picked[name] = all[name];
    } else if (name != "RedrivePolicy" && name != "RedriveAllowPolicy" && name != "Policy" &&
               name != "ApproximateAgeOfOldestMessage") {
      Reject("InvalidAttributeName", "Unknown Attribute " + name + ".");
    }
  }
  if (picked.empty()) return json::object();
  return {{"Attributes", picked}};
}

json SetQueueAttributes(SqsContext& ctx, const json& req) {
  const ResolvedQueue q = QueueOf(ctx, req);
  const json attributes = req.value("Attributes", json::object());
  SqsQueueSettings s = q.entry->settings;
  s.modified_s = std::chrono::duration_cast<seconds>(ctx.clock.Now().time_since_epoch()).count();
  if (q.dead_letters) {
    // The dead side has one setting of its own: how long it keeps messages.
    for (const auto& [name, value] : attributes.items()) {
      if (name == "MessageRetentionPeriod") {
        s.queue.dlq_retention = seconds(IntAttribute(name, value, 60, 1209600));
      } else if (!IgnoredAttribute(name)) {
        Reject("InvalidAttributeName", "A dead-letter queue of thumbpipe takes only MessageRetentionPeriod, not " + name + ".");
      }
    }
  } else {
    ApplyAttributes(ctx, attributes, &s);
  }
  const std::string name = s.queue.name;
  const Status st = ctx.queues.Update(name, std::move(s));
  if (st.code() == StatusCode::kFailedPrecondition) Reject("InvalidParameterValue", st.message());
  if (!st.ok()) Reject("InternalFailure", "The queue's attributes could not be saved.");
  return json::object();
}

json PurgeQueue(SqsContext& ctx, const json& req) {
  const ResolvedQueue q = QueueOf(ctx, req);
  Result<int64_t> purged = q.dead_letters ? q.entry->queue->dead_letters().Purge() : q.entry->queue->Purge();
  if (!purged.ok()) Reject("InternalFailure", "The queue could not be purged.");
  return json::object();
}

json ListDeadLetterSourceQueues(SqsContext& ctx, const json& req) {
  const ResolvedQueue q = QueueOf(ctx, req);
  json urls = json::array();
  if (q.dead_letters) urls.push_back(QueueUrl(ctx, q.entry->settings.queue.name));
  return {{"queueUrls", urls}};
}

json StartMessageMoveTask(SqsContext& ctx, const json& req) {
  const std::string source = ReqString(req, "SourceArn");
  const ResolvedQueue q = DeadSideOfArn(ctx, source);
  const std::string back = SqsQueueArn(ctx.region, q.entry->settings.queue.name);
  if (std::optional<std::string> dest = OptString(req, "DestinationArn"); dest && !dest->empty() && *dest != back) {
    Reject("InvalidParameterValue", "thumbpipe moves dead messages back to their source queue " + back + " only.");
  }
  const std::optional<int64_t> rate = OptInt(req, "MaxNumberOfMessagesPerSecond", 1, 500);
  Result<queue::QueueStats> stats = q.entry->queue->Stats();
  MoveTasks::Task task;
  task.handle = sigv4::Base64Encode(json({{"taskId", queue::NewMessageId()}, {"sourceArn", source}}).dump());
  task.source_arn = source;
  task.destination_arn = back;
  task.per_second = static_cast<double>(rate.value_or(0));
  task.started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ctx.clock.Now().time_since_epoch()).count();
  task.to_move = stats.ok() ? stats->dead : 0;
  const std::string handle = task.handle;
  if (!ctx.tasks.Start(std::move(task), q.entry->queue)) {  // the task holds the queue until it ends
    Reject("UnsupportedOperation", "A message move task is already running on " + source + ".");
  }
  return {{"TaskHandle", handle}};
}

json ListMessageMoveTasks(SqsContext& ctx, const json& req) {
  const std::string source = ReqString(req, "SourceArn");
  DeadSideOfArn(ctx, source);
  const int64_t max = OptInt(req, "MaxResults", 1, 10).value_or(1);
  json results = json::array();
  for (const MoveTasks::Task& t : ctx.tasks.List(source)) {
    if (static_cast<int64_t>(results.size()) == max) break;
    json r = {{"Status", t.status},
              {"SourceArn", t.source_arn},
              {"DestinationArn", t.destination_arn},
              {"ApproximateNumberOfMessagesMoved", t.moved},
              {"ApproximateNumberOfMessagesToMove", t.to_move},
              {"StartedTimestamp", t.started_ms}};
    if (t.status == "RUNNING") r["TaskHandle"] = t.handle;
    if (t.per_second > 0) r["MaxNumberOfMessagesPerSecond"] = static_cast<int64_t>(t.per_second);
    if (!t.failure.empty()) r["FailureReason"] = t.failure;
    results.push_back(std::move(r));
  }
  return {{"Results", results}};
}

}  // namespace thumbpipe::server::sqs_internal
