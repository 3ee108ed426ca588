#include "queue/sqs_codec.h"

#include <charconv>
#include <limits>

#include "server/sqs_wire.h"

namespace thumbpipe::queue {
namespace {

using nlohmann::json;

std::string StringMember(const json& j, std::string_view name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<int64_t> IntText(std::string_view text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

Clock::time_point FromEpochMs(int64_t ms) {
  return Clock::time_point(std::chrono::duration_cast<Clock::time_point::duration>(std::chrono::milliseconds(ms)));
}

int64_t EpochMs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

json SendEntryJson(const SendEntry& entry) {
  json j = {{"MessageBody", entry.body}};
  if (entry.delay) j["DelaySeconds"] = std::chrono::duration_cast<std::chrono::seconds>(*entry.delay).count();
  if (!entry.attributes.empty()) j["MessageAttributes"] = sqs::AttributesToJson(entry.attributes);
  return j;
}

Result<std::string> SentMessageId(const json& answer, const SendEntry& sent) {
  const std::string id = StringMember(answer, "MessageId");
  if (id.empty()) return Status::Corrupt("SQS SendMessage answered without a MessageId");
  const std::string body_md5 = StringMember(answer, "MD5OfMessageBody");
  if (body_md5 != sqs::Md5OfBody(sent.body)) {
    return Status::Corrupt("SQS SendMessage: MD5OfMessageBody " + body_md5 + " of message " + id +
                           " does not match the body sent (it was stored changed)");
  }
  const std::string attributes_md5 = StringMember(answer, "MD5OfMessageAttributes");
  if (attributes_md5 != sqs::Md5OfAttributes(sent.attributes)) {
    return Status::Corrupt("SQS SendMessage: MD5OfMessageAttributes \"" + attributes_md5 + "\" of message " + id +
                           " does not match the attributes sent");
  }
  return id;
}

Result<Message> MessageFromJson(const json& j) {
  if (!j.is_object()) return Status::Corrupt("SQS ReceiveMessage: a message is not a JSON object");
  Message m;
  m.id = StringMember(j, "MessageId");
  m.receipt = StringMember(j, "ReceiptHandle");
  m.body = StringMember(j, "Body");
  if (m.id.empty() || m.receipt.empty()) {
    return Status::Corrupt("SQS ReceiveMessage: a message without MessageId or ReceiptHandle");
  }
  if (StringMember(j, "MD5OfBody") != sqs::Md5OfBody(m.body)) {
    return Status::Corrupt("SQS ReceiveMessage: the body of message " + m.id + " does not match its MD5OfBody");
  }
  auto attributes = sqs::AttributesFromJson(j.contains("MessageAttributes") ? j["MessageAttributes"] : json());
  if (!attributes.ok()) {
    return Status::Corrupt("SQS ReceiveMessage: message " + m.id + ": " + attributes.status().message());
  }
  m.attributes = std::move(attributes).value();
  if (StringMember(j, "MD5OfMessageAttributes") != sqs::Md5OfAttributes(m.attributes)) {
    return Status::Corrupt("SQS ReceiveMessage: the attributes of message " + m.id +
                           " do not match its MD5OfMessageAttributes");
  }
  const json system = j.value("Attributes", json::object());
  if (!system.is_object()) return Status::Corrupt("SQS ReceiveMessage: Attributes is not a map");
  const std::optional<int64_t> count = IntText(StringMember(system, "ApproximateReceiveCount"));
  const std::optional<int64_t> sent = IntText(StringMember(system, "SentTimestamp"));
  if (!count || !sent) {
    return Status::Corrupt("SQS ReceiveMessage: message " + m.id +
                           " lacks ApproximateReceiveCount or SentTimestamp (asked for)");
  }
  m.receive_count = static_cast<int>(*count);
  m.sent_at = FromEpochMs(*sent);
  return m;
}

std::optional<DeadInfo> ParseDeadInfo(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  DeadInfo info;
  info.reason = StringMember(j, "reason");
  info.id = StringMember(j, "id");
  info.receipt = StringMember(j, "receipt");
  if (auto ms = j.find("sent_at_ms"); ms != j.end() && ms->is_number_integer()) info.sent_at = FromEpochMs(ms->get<int64_t>());
  if (auto ms = j.find("dead_at_ms"); ms != j.end() && ms->is_number_integer()) info.dead_at = FromEpochMs(ms->get<int64_t>());
  if (auto n = j.find("receive_count"); n != j.end() && n->is_number_integer()) {
    const int64_t count = n->get<int64_t>();
    if (count >= 0 && count <= std::numeric_limits<int>::max()) info.receive_count = static_cast<int>(count);
  }
  return info;
}

std::string DeadInfoJson(const DeadInfo& info) {
  json j = json::object();
  if (!info.reason.empty()) j["reason"] = info.reason;
  if (!info.id.empty()) j["id"] = info.id;
  if (info.sent_at) j["sent_at_ms"] = EpochMs(*info.sent_at);
  if (info.dead_at) j["dead_at_ms"] = EpochMs(*info.dead_at);
  if (info.receive_count) j["receive_count"] = *info.receive_count;
  if (!info.receipt.empty()) j["receipt"] = info.receipt;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

DeadMessage DeadFromMessage(Message message) {
  DeadMessage d;
  d.id = message.id;
  d.body = std::move(message.body);
  d.receive_count = message.receive_count;
  d.sent_at = message.sent_at;
  d.dead_at = message.sent_at;  // when it reached the DLQ: unknown to SQS, its sent time is the best guess
  d.reason = "max_receive_count exceeded (moved by the queue's RedrivePolicy)";
  auto attribute = message.attributes.find(kDeadInfoAttribute);
  if (attribute != message.attributes.end()) {
    if (std::optional<DeadInfo> info = ParseDeadInfo(attribute->second.value)) {
      if (!info->reason.empty()) d.reason = info->reason;
      if (!info->id.empty()) d.id = info->id;
      if (info->sent_at) d.sent_at = *info->sent_at;
      if (info->dead_at) d.dead_at = *info->dead_at;
      if (info->receive_count) d.receive_count = *info->receive_count;
      message.attributes.erase(attribute);
    }
  }
  d.attributes = std::move(message.attributes);
  return d;
}

std::string DeadInfoJson(const Message& message, std::string_view reason, Clock::time_point now) {
  return DeadInfoJson(DeadInfo{std::string(reason), message.id, message.receipt, message.sent_at, now, message.receive_count});
}

std::string DeadInfoJson(const DeadMessage& dead) {
  return DeadInfoJson(DeadInfo{dead.reason, dead.id, {}, dead.sent_at, dead.dead_at, dead.receive_count});
}

}  // namespace thumbpipe::queue
