// The sqs:// queue's messages: send, receive, remove, visibility, dead-letter, stats.
#include <algorithm>
#include <string>

#include "aws/credentials.h"
#include "common/logging.h"
#include "queue/message_rules.h"
#include "queue/sqs_codec.h"
#include "queue/sqs_queue_impl.h"

namespace thumbpipe::queue {
namespace sqs_internal {
namespace {

using nlohmann::json;
constexpr uint64_t kMaxBatchBytes = 1 << 20;  // SQS's limit on a SendMessageBatch payload

int64_t Seconds(Duration d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

// A batch answer's Failed entry as a Status (SenderFault or not, its code first, as SqsApi does).
Status FailedEntryStatus(const json& failed, std::string_view action) {
  const std::string code = failed.value("Code", std::string("InternalFailure"));
  Status s(failed.value("SenderFault", true) ? StatusCode::kInvalidArgument : StatusCode::kUnavailable,
           code + " " + failed.value("Message", std::string()) + " (SQS " + std::string(action) + ")");
  return MapSqsStatus(std::move(s));
}

// A batch answer as {entry index -> Successful entry} and {entry index -> Status}.
struct BatchAnswer {
  std::unordered_map<size_t, json> ok;
  std::unordered_map<size_t, Status> failed;
};
BatchAnswer ReadBatchAnswer(const json& answer, std::string_view action) {
  BatchAnswer out;
  auto index_of = [](const json& entry) -> std::optional<size_t> {
    const std::string id = entry.value("Id", std::string());
    if (id.empty() || !std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    return static_cast<size_t>(std::stoul(id));
  };
  for (const json& e : answer.value("Successful", json::array())) {
    if (auto i = index_of(e)) out.ok[*i] = e;
  }
  for (const json& e : answer.value("Failed", json::array())) {
    if (auto i = index_of(e)) out.failed.emplace(*i, FailedEntryStatus(e, action));
  }
  return out;
}

// A message that went through our DeadLetter and came back by redrive carries its first id
// and sent time in kDeadInfoAttribute: give them back and drop the attribute.
void RestoreRedriven(Message& m) {
  if (m.attributes.find(kDeadInfoAttribute) == m.attributes.end()) return;
  const int count = m.receive_count;
  std::string receipt = std::move(m.receipt);
  DeadMessage d = DeadFromMessage(std::move(m));
  m = Message{d.id, std::move(receipt), std::move(d.body), std::move(d.attributes), count, d.sent_at};
}

}  // namespace

Result<std::string> SqsQueue::DlqUrl() const {
  if (dlq_url_.empty()) {
    return Status::FailedPrecondition("SQS queue " + url() +
                                      " has no RedrivePolicy: give it a dead-letter queue (deadLetterTargetArn, maxReceiveCount)");
  }
  return dlq_url_;
}

Result<int64_t> SqsQueue::CountOf(const std::string& queue_url, std::initializer_list<const char*> names) {
  json wanted = json::array();
  for (const char* n : names) wanted.push_back(n);
  THUMBPIPE_ASSIGN_OR_RETURN(json answer, api_->Call("GetQueueAttributes", {{"QueueUrl", queue_url}, {"AttributeNames", wanted}}));
  const json attributes = answer.value("Attributes", json::object());
  int64_t total = 0;
  for (const char* n : names) {
    const std::string v = attributes.is_object() ? attributes.value(n, std::string("0")) : "0";
    try {
      total += std::stoll(v);
    } catch (const std::exception&) {
      return Status::Corrupt("SQS GetQueueAttributes: " + std::string(n) + " is not a number: " + v);
    }
  }
  return total;
}

// ---- receipts ----------------------------------------------------------------------------

Status SqsQueue::CheckReceipt(std::string_view receipt, Message* message) {
  if (receipt.empty()) return Status::InvalidArgument("empty receipt");
  std::lock_guard lock(mutex_);
  auto it = receipts_.find(std::string(receipt));
  if (it == receipts_.end()) return Status::Ok();
  switch (it->second.state) {
    case Held::State::kSuperseded:
      return Status::FailedPrecondition("stale receipt: message " + it->second.message.id +
                                        " was received again since (through this queue object)");
    case Held::State::kRemoved:
      return Status::NotFound("message " + it->second.message.id + " was already removed with this receipt");
    case Held::State::kHeld:
      if (message != nullptr) *message = it->second.message;
      return Status::Ok();
  }
  return Status::Ok();
}

void SqsQueue::Remember(const Message& m) {
  std::lock_guard lock(mutex_);
  if (auto old = latest_.find(m.id); old != latest_.end()) {
    if (auto held = receipts_.find(old->second); held != receipts_.end()) {
      held->second.state = Held::State::kSuperseded;
      held->second.message.body.clear();  // only the state is needed now
      held->second.message.attributes.clear();
    }
  }
  latest_[m.id] = m.receipt;
  receipts_[m.receipt] = Held{Held::State::kHeld, m};
  order_.push_back(m.receipt);
  while (order_.size() > options_.remembered_receipts) {
    auto gone = receipts_.find(order_.front());
    if (gone != receipts_.end()) {
      if (auto l = latest_.find(gone->second.message.id); l != latest_.end() && l->second == order_.front()) latest_.erase(l);
      receipts_.erase(gone);
    }
    order_.pop_front();
  }
}

void SqsQueue::MarkRemoved(std::string_view receipt) {
  std::lock_guard lock(mutex_);
  auto it = receipts_.find(std::string(receipt));
  if (it == receipts_.end()) return;
  it->second.state = Held::State::kRemoved;
  it->second.message.body.clear();
  it->second.message.attributes.clear();
}

// ---- sending -----------------------------------------------------------------------------

Result<std::string> SqsQueue::Send(std::string_view body, const Attributes& attributes, std::optional<Duration> delay) {
  THUMBPIPE_RETURN_IF_ERROR(CheckMessage(body, attributes, delay, options_.max_message_bytes));
  const SendEntry entry{std::string(body), attributes, delay};
  json request = SendEntryJson(entry);
  request["QueueUrl"] = url();
  THUMBPIPE_ASSIGN_OR_RETURN(json answer, api_->Call("SendMessage", request));
  THUMBPIPE_ASSIGN_OR_RETURN(std::string id, SentMessageId(answer, entry));
  ++sent_;
  return id;
}

Result<std::vector<Result<std::string>>> SqsQueue::SendBatch(std::span<const SendEntry> entries) {
  if (entries.empty()) return Status::InvalidArgument("send batch is empty");
  if (entries.size() > static_cast<size_t>(kMaxBatchEntries)) {
    return Status::InvalidArgument("send batch has " + std::to_string(entries.size()) + " entries; at most 10");
  }
  uint64_t total = 0;
  for (const SendEntry& e : entries) total += MessageSize(e.body, e.attributes);
  if (total > kMaxBatchBytes) return Status::InvalidArgument("send batch is " + std::to_string(total) + " bytes; at most 1 MiB in all");
  std::vector<Result<std::string>> results(entries.size(), Status::Internal("not sent"));
  json batch = json::array();
  for (size_t i = 0; i < entries.size(); ++i) {
    Status valid = CheckMessage(entries[i].body, entries[i].attributes, entries[i].delay, options_.max_message_bytes);
    if (!valid.ok()) {
      results[i] = std::move(valid);
      continue;
    }
    json e = SendEntryJson(entries[i]);
    e["Id"] = std::to_string(i);
    batch.push_back(std::move(e));
  }
  if (batch.empty()) return results;
  THUMBPIPE_ASSIGN_OR_RETURN(json answer, api_->Call("SendMessageBatch", {{"QueueUrl", url()}, {"Entries", batch}}));
  BatchAnswer read = ReadBatchAnswer(answer, "SendMessageBatch");
  for (const json& e : batch) {
    const size_t i = std::stoul(e["Id"].get<std::string>());
    if (auto ok = read.ok.find(i); ok != read.ok.end()) {
      results[i] = SentMessageId(ok->second, entries[i]);
      if (results[i].ok()) ++sent_;
    } else if (auto failed = read.failed.find(i); failed != read.failed.end()) {
      results[i] = failed->second;
    } else {
      results[i] = Status::Corrupt("SQS SendMessageBatch did not answer for entry " + std::to_string(i));
    }
  }
  return results;
}

// ---- receiving and acknowledging ---------------------------------------------------------

Result<std::vector<Message>> SqsQueue::Receive(int max, Duration wait, std::optional<Duration> visibility) {
  if (max < 1 || max > kMaxReceiveMessages) return Status::InvalidArgument("receive max must be 1-10");
  if (wait.count() < 0 || wait > kMaxWait) return Status::InvalidArgument("receive wait must be 0-20 s");
  if (visibility && (visibility->count() < 0 || *visibility > kMaxVisibility)) {
    return Status::InvalidArgument("visibility timeout must be 0-12 h");
  }
  const json system = json::array({"ApproximateReceiveCount", "SentTimestamp"});
  json request = {{"QueueUrl", url()},
                  {"MaxNumberOfMessages", max},
                  {"WaitTimeSeconds", Seconds(wait)},
                  {"MessageSystemAttributeNames", system},
                  {"AttributeNames", system},  // the older name, for services that predate the new one
                  {"MessageAttributeNames", json::array({"All"})}};
  if (visibility) request["VisibilityTimeout"] = Seconds(*visibility);
  THUMBPIPE_ASSIGN_OR_RETURN(json answer, api_->Call("ReceiveMessage", request));
  std::vector<Message> out;
  const json messages = answer.value("Messages", json::array());
  if (!messages.is_array()) return Status::Corrupt("SQS ReceiveMessage: Messages is not a list");
  for (const json& j : messages) {
    THUMBPIPE_ASSIGN_OR_RETURN(Message m, MessageFromJson(j));
    RestoreRedriven(m);
    out.push_back(std::move(m));
  }
  for (const Message& m : out) Remember(m);
  received_ += static_cast<int64_t>(out.size());
  return out;
}

Status SqsQueue::Remove(std::string_view receipt) {
  THUMBPIPE_RETURN_IF_ERROR(CheckReceipt(receipt));
  THUMBPIPE_RETURN_IF_ERROR(api_->Call("DeleteMessage", {{"QueueUrl", url()}, {"ReceiptHandle", receipt}}).status());
  MarkRemoved(receipt);
  ++removed_;
  return Status::Ok();
}

Result<std::vector<Status>> SqsQueue::RemoveBatch(std::span<const std::string> receipts) {
  if (receipts.empty()) return Status::InvalidArgument("remove batch is empty");
  if (receipts.size() > static_cast<size_t>(kMaxBatchEntries)) {
    return Status::InvalidArgument("remove batch has " + std::to_string(receipts.size()) + " entries; at most 10");
  }
  std::vector<Status> results(receipts.size());
  json batch = json::array();
  for (size_t i = 0; i < receipts.size(); ++i) {
    results[i] = CheckReceipt(receipts[i]);
    if (results[i].ok()) batch.push_back({{"Id", std::to_string(i)}, {"ReceiptHandle", receipts[i]}});
  }
  if (batch.empty()) return results;
  THUMBPIPE_ASSIGN_OR_RETURN(json answer, api_->Call("DeleteMessageBatch", {{"QueueUrl", url()}, {"Entries", batch}}));
  BatchAnswer read = ReadBatchAnswer(answer, "DeleteMessageBatch");
  for (const json& e : batch) {
    const size_t i = std::stoul(e["Id"].get<std::string>());
    if (read.ok.count(i) != 0) {
      MarkRemoved(receipts[i]);
      ++removed_;
    } else if (auto failed = read.failed.find(i); failed != read.failed.end()) {
      results[i] = failed->second;
    } else {
      results[i] = Status::Corrupt("SQS DeleteMessageBatch did not answer for entry " + std::to_string(i));
    }
  }
  return results;
}

Status SqsQueue::ChangeVisibility(std::string_view receipt, Duration timeout) {
  if (timeout.count() < 0 || timeout > kMaxVisibility) return Status::InvalidArgument("visibility timeout must be 0-12 h");
  THUMBPIPE_RETURN_IF_ERROR(CheckReceipt(receipt));
  return api_
      ->Call("ChangeMessageVisibility", {{"QueueUrl", url()}, {"ReceiptHandle", receipt}, {"VisibilityTimeout", Seconds(timeout)}})
      .status();
}

Status SqsQueue::DeadLetter(std::string_view receipt, std::string_view reason) {
  Message message;
  THUMBPIPE_RETURN_IF_ERROR(CheckReceipt(receipt, &message));
  if (message.id.empty()) {
    return Status::FailedPrecondition("DeadLetter on SQS needs the message: only a receipt received through this queue object "
                                      "(and not removed since) can be dead-lettered");
  }
  THUMBPIPE_ASSIGN_OR_RETURN(std::string dlq, DlqUrl());
  SendEntry entry{message.body, message.attributes, std::nullopt};
  if (entry.attributes.size() < static_cast<size_t>(kMaxAttributes)) {
    entry.attributes[std::string(kDeadInfoAttribute)] = {"String", DeadInfoJson(message, reason, api_->clock().Now())};
  } else {
    LogWarn("sqs.dead_letter", {{"message_id", message.id}, {"reason", std::string(reason)},
                                {"why", "the message has 10 attributes: no room for the reason"}});
  }
  json request = SendEntryJson(entry);
  request["QueueUrl"] = dlq;
  THUMBPIPE_ASSIGN_OR_RETURN(json answer, api_->Call("SendMessage", request));
  THUMBPIPE_RETURN_IF_ERROR(SentMessageId(answer, entry).status());
  // Sent first, deleted second: a failure in between leaves a copy in both (at-least-once).
  THUMBPIPE_RETURN_IF_ERROR(api_->Call("DeleteMessage", {{"QueueUrl", url()}, {"ReceiptHandle", receipt}}).status());
  MarkRemoved(receipt);
  ++dead_lettered_;
  return Status::Ok();
}

Result<QueueStats> SqsQueue::Stats() {
  THUMBPIPE_ASSIGN_OR_RETURN(
      json answer, api_->Call("GetQueueAttributes",
                              {{"QueueUrl", url()},
                               {"AttributeNames", {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                                   "ApproximateNumberOfMessagesDelayed"}}}));
  const json a = answer.value("Attributes", json::object());
  auto number = [&](const char* name) -> int64_t {
    const std::string v = a.is_object() ? a.value(name, std::string("0")) : "0";
    try {
      return std::stoll(v);
    } catch (const std::exception&) {
      return 0;
    }
  };
  QueueStats s;
  s.visible = number("ApproximateNumberOfMessages");
  s.in_flight = number("ApproximateNumberOfMessagesNotVisible");
  s.delayed = number("ApproximateNumberOfMessagesDelayed");
  if (!dlq_url_.empty()) {
    THUMBPIPE_ASSIGN_OR_RETURN(s.dead, CountOf(dlq_url_, {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                                          "ApproximateNumberOfMessagesDelayed"}));
  }
  s.sent = sent_;
  s.received = received_;
  s.removed = removed_;
  s.dead_lettered = dead_lettered_;
  return s;
}

Result<int64_t> SqsQueue::Purge() {
  THUMBPIPE_ASSIGN_OR_RETURN(int64_t before, CountOf(url(), {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                                             "ApproximateNumberOfMessagesDelayed"}));
  THUMBPIPE_RETURN_IF_ERROR(api_->Call("PurgeQueue", {{"QueueUrl", url()}}).status());
  return before;
}

}  // namespace sqs_internal

Result<std::unique_ptr<Queue>> OpenSqsQueue(SqsQueueOptions options) {
  SqsApiOptions api;
  api.endpoint = options.endpoint.endpoint;
  api.region = !options.endpoint.region.empty() ? options.endpoint.region : aws::ResolveRegion(options.env).value_or("us-east-1");
  api.max_attempts = options.endpoint.max_attempts;
  api.fallback_credentials = options.fallback_credentials;
  api.env = options.env;
  api.clock = options.clock;
  THUMBPIPE_ASSIGN_OR_RETURN(std::unique_ptr<SqsApi> client, SqsApi::Create(api));
  const std::string& url = options.endpoint.queue_url;
  THUMBPIPE_ASSIGN_OR_RETURN(
      nlohmann::json answer,
      client->Call("GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", {"QueueArn", "RedrivePolicy"}}}));
  const nlohmann::json a = answer.value("Attributes", nlohmann::json::object());
  const std::string arn = a.is_object() ? a.value("QueueArn", std::string()) : "";
  std::string dlq_url, dlq_arn;
  const std::string policy_text = a.is_object() ? a.value("RedrivePolicy", std::string()) : "";
  if (!policy_text.empty()) {
    const nlohmann::json policy = nlohmann::json::parse(policy_text, nullptr, /*allow_exceptions=*/false);
    const std::string target = policy.is_object() ? policy.value("deadLetterTargetArn", std::string()) : "";
    // arn:aws:sqs:REGION:ACCOUNT:NAME
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      const size_t colon = target.find(':', start);
      parts.push_back(target.substr(start, colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if (parts.size() != 6 || parts[2] != "sqs") {
      return Status::Corrupt("SQS queue " + url + ": RedrivePolicy has no usable deadLetterTargetArn: " + policy_text);
    }
    dlq_arn = target;
    dlq_url = SqsQueueUrl(options.endpoint, parts[4], parts[5]);
  }
  return std::unique_ptr<Queue>(std::make_unique<sqs_internal::SqsQueue>(std::move(options), std::move(client), arn,
                                                                         std::move(dlq_url), std::move(dlq_arn)));
}

}  // namespace thumbpipe::queue
