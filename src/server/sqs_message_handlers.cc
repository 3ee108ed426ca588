// The message-level SQS actions: send, receive, delete, change visibility (and batches).
#include <chrono>
#include <functional>

#include "common/logging.h"
#include "queue/message_rules.h"
#include "queue/sqs_codec.h"
#include "server/sqs_params.h"

namespace thumbpipe::server::sqs_internal {
namespace {

using nlohmann::json;

constexpr int64_t kMaxVisibilitySeconds = 43200;
constexpr uint64_t kMaxBatchBytes = 1 << 20;  // SendMessageBatch's payload limit
// Receipts of messages shown from a dead-letter side (ReceiveMessage there only looks).
constexpr std::string_view kPeekReceiptPrefix = "dlq-peek.";

int64_t EpochMs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The queue a message action may change: not a dead-letter side, whose messages move only
// by redrive (StartMessageMoveTask) or purge.
std::shared_ptr<queue::Queue> LiveQueue(SqsContext& ctx, const json& req) {
  const ResolvedQueue q = QueueOf(ctx, req);
  if (q.dead_letters) {
    Reject("UnsupportedOperation", "The dead-letter queue " + q.name +
                                       " is the dead side of " + q.entry->settings.queue.name +
                                       ": its messages move by StartMessageMoveTask or PurgeQueue only.");
  }
  return q.entry->queue;
}

// A queue error on a message as the SQS error it is.
sqs::Error MessageError(const Status& st) {
  if (st.code() == StatusCode::kInvalidArgument) {
    if (st.message().find("character") != std::string::npos) {
      return sqs::MakeError("InvalidMessageContents", "Invalid characters found. " + st.message());
    }
    return sqs::MakeError("InvalidParameterValue", st.message());
  }
  return sqs::MakeError("InternalFailure", "The queue failed: try again.");
}

// One message to send, from SendMessage's request or a SendMessageBatch entry.
queue::SendEntry ReadSendEntry(const json& req) {
  queue::SendEntry entry;
  auto body = req.find("MessageBody");
  if (body == req.end() || !body->is_string() || body->get_ref<const std::string&>().empty()) {
    Reject("MissingParameter", "The request must contain the parameter MessageBody.");
  }
  entry.body = body->get<std::string>();
  if (std::optional<int64_t> delay = OptInt(req, "DelaySeconds", 0, 900)) entry.delay = std::chrono::seconds(*delay);
  Result<queue::Attributes> attributes = sqs::AttributesFromJson(req.value("MessageAttributes", json()));
  if (!attributes.ok()) Reject("InvalidParameterValue", attributes.status().message());
  entry.attributes = std::move(attributes).value();
  return entry;
}

json SentResult(const queue::SendEntry& entry, const std::string& id) {
  json r = {{"MessageId", id}, {"MD5OfMessageBody", sqs::Md5OfBody(entry.body)}};
  if (!entry.attributes.empty()) r["MD5OfMessageAttributes"] = sqs::Md5OfAttributes(entry.attributes);
  return r;
}

// Which system attributes to return (AttributeNames and MessageSystemAttributeNames).
bool Wants(const json& names, std::string_view name) {
  for (const json& n : names) {
    const std::string& s = n.get_ref<const std::string&>();
    if (s == "All" || s == name) return true;
  }
  return false;
}

json MessageJson(const json& system_names, const json& attribute_names, const std::string& id,
                 const std::string& receipt, const std::string& body, const queue::Attributes& attributes,
                 json system) {
  json m = {{"MessageId", id}, {"ReceiptHandle", receipt}, {"MD5OfBody", sqs::Md5OfBody(body)}, {"Body", body}};
  json picked = json::object();
  for (const auto& [name, value] : system.items()) {
    if (Wants(system_names, name)) picked[name] = value;
  }
  if (!picked.empty()) m["Attributes"] = std::move(picked);
  const json shown = sqs::AttributesToJson(attributes, attribute_names);
  if (!shown.empty()) {
    // The digest covers the attributes returned, which the client checks it against.
    Result<queue::Attributes> returned = sqs::AttributesFromJson(shown);
    if (returned.ok()) m["MD5OfMessageAttributes"] = sqs::Md5OfAttributes(*returned);
    m["MessageAttributes"] = shown;
  }
  return m;
}

// ReceiveMessage on a dead-letter side: the oldest dead messages, shown, not received.
json PeekDead(SqsContext& ctx, const ResolvedQueue& q, int max, const json& system_names, const json& attribute_names) {
  Result<std::vector<queue::DeadMessage>> dead = q.entry->queue->dead_letters().List(max);
  if (!dead.ok()) Reject("InternalFailure", "The dead-letter queue could not be read.");
  json messages = json::array();
  const std::string source = SqsQueueArn(ctx.region, q.entry->settings.queue.name);
  for (const queue::DeadMessage& d : *dead) {
    json system = {{"ApproximateReceiveCount", std::to_string(d.receive_count)},
                   {"SentTimestamp", std::to_string(EpochMs(d.sent_at))},
                   {"DeadLetterQueueSourceArn", source}};
    // The reason and the time it died, in the attribute the sqs:// client reads them from
    // (queue/sqs_codec.h), unless the message already has SQS's 10 attributes.
    queue::Attributes attributes = d.attributes;
    if (attributes.size() < static_cast<size_t>(queue::kMaxAttributes)) {
      attributes[std::string(queue::kDeadInfoAttribute)] = {"String", queue::DeadInfoJson(d)};
    }
    messages.push_back(MessageJson(system_names, attribute_names, d.id, std::string(kPeekReceiptPrefix) + d.id, d.body,
                                   attributes, std::move(system)));
  }
  if (messages.empty()) return json::object();
  return {{"Messages", messages}};
}

// A receipt error of Remove / ChangeVisibility as SQS answers it; ok = nullopt.
std::optional<sqs::Error> ReceiptError(const Status& st, bool removing) {
  if (st.ok()) return std::nullopt;
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      if (st.message().find("receipt") != std::string::npos) {
        return sqs::MakeError("ReceiptHandleIsInvalid", "The input receipt handle is invalid.");
      }
      return sqs::MakeError("InvalidParameterValue", st.message());
    case StatusCode::kFailedPrecondition:
    case StatusCode::kNotFound:
      // SQS: deleting with an old receipt or a deleted message's receipt succeeds (the message
      // may stay); changing the visibility of a message not in flight is an error.
      if (removing) return std::nullopt;
      return sqs::MakeError("MessageNotInflight");
    default:
      return sqs::MakeError("InternalFailure", "The queue failed: try again.");
  }
}

void CheckReceipt(const std::string& receipt) {
  if (receipt.starts_with(kPeekReceiptPrefix)) {
    Reject("UnsupportedOperation",
           "This receipt comes from a dead-letter queue, whose messages move by StartMessageMoveTask or PurgeQueue only.");
  }
}

// SendMessage to a dead-letter side is how the sqs:// client dead-letters (SendMessage to
// the RedrivePolicy's DLQ, then DeleteMessage; queue/sqs_codec.h). Here the DLQ is the dead
// side of the source queue, so instead of storing a copy, the message the dead-info
// attribute's receipt names is moved there with the reason (Queue::DeadLetter keeps its id,
// body, attributes, first-sent time and receive count); the client's DeleteMessage that
// follows then finds nothing to delete, which succeeds. A receipt that is no longer current
// (the message was received again since, removed, or already moved by an earlier try of this
// very request) moves nothing and succeeds, as DeleteMessage with it does: whoever holds the
// current receipt decides. Any other send to a dead side is refused.
json DeadLetterBySend(SqsContext& ctx, const ResolvedQueue& q, const queue::SendEntry& entry) {
  auto attribute = entry.attributes.find(queue::kDeadInfoAttribute);
  const std::optional<queue::DeadInfo> info =
      attribute == entry.attributes.end() ? std::nullopt : queue::ParseDeadInfo(attribute->second.value);
  if (!info || info->receipt.empty() || info->id.empty()) {
    Reject("UnsupportedOperation",
           "The dead-letter queue " + q.name + " is the dead side of " + q.entry->settings.queue.name +
               ": its messages move by StartMessageMoveTask or PurgeQueue, and a SendMessage to it only dead-letters a "
               "held message (the " + std::string(queue::kDeadInfoAttribute) +
               " attribute with its id and receipt; docs/sqs-api.md).");
  }
  // Moving a message is consuming it: the key must be one that may receive and delete.
  if (!ctx.may_consume) Reject("AccessDenied", "Dead-lettering a message needs a read-write key.");
  CheckReceipt(info->receipt);
  const std::string reason = info->reason.empty() ? "dead-lettered through the SQS API" : info->reason;
  const Status moved = q.entry->queue->DeadLetter(info->receipt, reason);
  if (std::optional<sqs::Error> e = ReceiptError(moved, true)) throw SqsReject{*e};
  if (!moved.ok()) {
    // Answered as success (see above); worth a line, as nothing was moved.
    LogInfo("sqs.dead_letter", {{"message_id", info->id}, {"queue", q.entry->settings.queue.name},
                                {"moved", false}, {"detail", moved.ToString()}});
  }
  return SentResult(entry, info->id);
}

}  // namespace

json SendMessage(SqsContext& ctx, const json& req) {
  const ResolvedQueue resolved = QueueOf(ctx, req);
  if (resolved.dead_letters) return DeadLetterBySend(ctx, resolved, ReadSendEntry(req));
  const std::shared_ptr<queue::Queue> q = LiveQueue(ctx, req);
  const queue::SendEntry entry = ReadSendEntry(req);
  Result<std::string> id = q->Send(entry.body, entry.attributes, entry.delay);
  if (!id.ok()) throw SqsReject{MessageError(id.status())};
  return SentResult(entry, *id);
}

json SendMessageBatch(SqsContext& ctx, const json& req) {
  const std::shared_ptr<queue::Queue> q = LiveQueue(ctx, req);
  const json& entries = BatchEntries(req);
  json failed = json::array();
  std::vector<queue::SendEntry> valid;
  std::vector<const json*> valid_entries;
  uint64_t total = 0;
  for (const json& e : entries) {
    try {
      valid.push_back(ReadSendEntry(e));
      valid_entries.push_back(&e);
      total += queue::MessageSize(valid.back().body, valid.back().attributes);
    } catch (const SqsReject& reject) {
      failed.push_back(FailedEntry(e, reject.error));
    }
  }
  if (total > kMaxBatchBytes) {
    Reject("BatchRequestTooLong", "Batch requests cannot be longer than 1048576 bytes. You have sent " +
                                      std::to_string(total) + " bytes.");
  }
  json successful = json::array();
  if (!valid.empty()) {
    Result<std::vector<Result<std::string>>> sent = q->SendBatch(valid);
    if (!sent.ok()) throw SqsReject{MessageError(sent.status())};
    for (size_t i = 0; i < valid.size(); ++i) {
      const Result<std::string>& one = (*sent)[i];
      if (one.ok()) {
        json r = SentResult(valid[i], *one);
        r["Id"] = (*valid_entries[i])["Id"];
        successful.push_back(std::move(r));
      } else {
        failed.push_back(FailedEntry(*valid_entries[i], MessageError(one.status())));
      }
    }
  }
  return {{"Successful", successful}, {"Failed", failed}};
}

json ReceiveMessage(SqsContext& ctx, const json& req) {
  const ResolvedQueue q = QueueOf(ctx, req);
  const int max = static_cast<int>(OptInt(req, "MaxNumberOfMessages", 1, 10).value_or(1));
  const std::optional<int64_t> visibility = OptInt(req, "VisibilityTimeout", 0, kMaxVisibilitySeconds);
  int64_t wait = OptInt(req, "WaitTimeSeconds", 0, 20).value_or(q.entry->settings.receive_wait_seconds);
  json system_names = OptStringList(req, "AttributeNames");
  for (const json& n : OptStringList(req, "MessageSystemAttributeNames")) system_names.push_back(n);
  const json attribute_names = OptStringList(req, "MessageAttributeNames");
  if (q.dead_letters) return PeekDead(ctx, q, max, system_names, attribute_names);

  // Long polls are bounded (LongPollGate); past the bound a receive polls without waiting.
  const bool waits = wait > 0 && ctx.gate.TryEnter();
  if (!waits) wait = 0;
  Result<std::vector<queue::Message>> got = q.entry->queue->Receive(
      max, std::chrono::seconds(wait),
      visibility ? std::optional<Duration>(std::chrono::seconds(*visibility)) : std::nullopt);
  if (waits) ctx.gate.Leave();
  if (!got.ok()) {
    if (got.status().code() == StatusCode::kInvalidArgument) Reject("InvalidParameterValue", got.status().message());
    Reject("InternalFailure", "The queue failed: try again.");
  }
  const int64_t now_ms = EpochMs(ctx.clock.Now());
  json messages = json::array();
  for (const queue::Message& m : *got) {
    json system = {{"ApproximateReceiveCount", std::to_string(m.receive_count)},
                   {"SentTimestamp", std::to_string(EpochMs(m.sent_at))}};
    // The queue keeps the time of the latest receive only: the first one is known on the
    // first receive (documented in docs/sqs-api.md).
    if (m.receive_count == 1) system["ApproximateFirstReceiveTimestamp"] = std::to_string(now_ms);
    messages.push_back(MessageJson(system_names, attribute_names, m.id, m.receipt, m.body, m.attributes,
                                   std::move(system)));
  }
  if (messages.empty()) return json::object();  // SQS leaves "Messages" out when none came
  return {{"Messages", messages}};
}

namespace {

// One receipt's remove or visibility change, as DeleteMessage and each entry of
// DeleteMessageBatch take it (`entry` is the request or the batch entry); throws SqsReject.
void RemoveOne(queue::Queue& q, const json& entry) {
  const std::string receipt = ReqString(entry, "ReceiptHandle");
  CheckReceipt(receipt);
  if (std::optional<sqs::Error> e = ReceiptError(q.Remove(receipt), true)) throw SqsReject{*e};
}

void ChangeVisibilityOne(queue::Queue& q, const json& entry) {
  const std::string receipt = ReqString(entry, "ReceiptHandle");
  CheckReceipt(receipt);
  const std::optional<int64_t> timeout = OptInt(entry, "VisibilityTimeout", 0, kMaxVisibilitySeconds);
  if (!timeout) Reject("MissingParameter", "The request must contain the parameter VisibilityTimeout.");
  if (std::optional<sqs::Error> e = ReceiptError(q.ChangeVisibility(receipt, std::chrono::seconds(*timeout)), false)) {
    throw SqsReject{*e};
  }
}

// A batch of receipt actions: each entry succeeds or fails alone, as SQS answers them.
json EachReceiptEntry(const json& req, const std::function<void(const json&)>& one) {
  json successful = json::array(), failed = json::array();
  for (const json& e : BatchEntries(req)) {
    try {
      one(e);
      successful.push_back(json{{"Id", e["Id"]}});
    } catch (const SqsReject& reject) {
      failed.push_back(FailedEntry(e, reject.error));
    }
  }
  return {{"Successful", successful}, {"Failed", failed}};
}

}  // namespace

json DeleteMessage(SqsContext& ctx, const json& req) {
  RemoveOne(*LiveQueue(ctx, req), req);
  return json::object();
}

json DeleteMessageBatch(SqsContext& ctx, const json& req) {
  const std::shared_ptr<queue::Queue> q = LiveQueue(ctx, req);
  return EachReceiptEntry(req, [&](const json& e) { RemoveOne(*q, e); });
}

json ChangeMessageVisibility(SqsContext& ctx, const json& req) {
  ChangeVisibilityOne(*LiveQueue(ctx, req), req);
  return json::object();
}

json ChangeMessageVisibilityBatch(SqsContext& ctx, const json& req) {
  const std::shared_ptr<queue::Queue> q = LiveQueue(ctx, req);
  return EachReceiptEntry(req, [&](const json& e) { ChangeVisibilityOne(*q, e); });
}

}  // namespace thumbpipe::server::sqs_internal
