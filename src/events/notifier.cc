#include "events/notifier.h"

#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "events/event_json.h"

namespace thumbpipe::events {

std::string EmbeddedQueueArn(std::string_view region, std::string_view queue_name) {
  return "arn:aws:sqs:" + std::string(region) + ":000000000000:" + std::string(queue_name);
}

std::string_view QueueNameOfArn(std::string_view arn) {
  if (!arn.starts_with("arn:")) return {};
  // arn:PARTITION:sqs:REGION:ACCOUNT:NAME
  size_t pos = 0;
  std::string_view parts[5];
  for (auto& part : parts) {
    const size_t colon = arn.find(':', pos);
    if (colon == std::string_view::npos) return {};
    part = arn.substr(pos, colon - pos);
    pos = colon + 1;
  }
  if (parts[2] != "sqs") return {};
  const std::string_view name = arn.substr(pos);
  return name.find(':') == std::string_view::npos ? name : std::string_view{};
}

std::string EncodeOutboxPayload(const OutboxPayload& payload) {
  nlohmann::ordered_json j;
  j["v"] = 1;
  j["queue"] = payload.queue;
  j["body"] = payload.body;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<OutboxPayload> DecodeOutboxPayload(std::string_view payload) {
  const nlohmann::json j = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("outbox payload: not a JSON object");
  auto v = j.find("v");
  auto queue = j.find("queue");
  auto body = j.find("body");
  if (v == j.end() || !v->is_number_integer() || v->get<int64_t>() != 1) {
    return Status::InvalidArgument("outbox payload: missing or unknown version \"v\"");
  }
  if (queue == j.end() || !queue->is_string() || queue->get_ref<const std::string&>().empty()) {
    return Status::InvalidArgument("outbox payload: missing \"queue\"");
  }
  if (body == j.end() || !body->is_string()) return Status::InvalidArgument("outbox payload: missing \"body\"");
  return OutboxPayload{queue->get<std::string>(), body->get<std::string>()};
}

store::CommitHook MakeCommitHook(RulesSource rules, NotifierOptions options, Clock& clock) {
  return [rules = std::move(rules), options = std::move(options), &clock](const store::WriteRecord& record) {
    std::vector<std::string> payloads;
    const std::shared_ptr<const std::vector<Rule>> bucket_rules = rules(record.object.bucket);
    if (!bucket_rules || bucket_rules->empty()) return payloads;
    const std::vector<const Rule*> matched = MatchRules(*bucket_rules, record);
    if (matched.empty()) return payloads;
    EventContext context;
    context.bucket_region = options.region;
    context.owner_principal = options.owner_principal;
    context.fallback_time = clock.Now();
    payloads.reserve(matched.size());
    for (const Rule* rule : matched) {
      context.configuration_id = rule->id;
      payloads.push_back(EncodeOutboxPayload({rule->destination, EncodeEventBody(record, context)}));
    }
    return payloads;
  };
}

}  // namespace thumbpipe::events
