#include "events/rules.h"

#include <algorithm>
#include <set>
#include <utility>

#include "events/event_json.h"
#include "events/key_encoding.h"

namespace thumbpipe::events {
namespace {

bool EndsWithIgnoreCase(std::string_view text, std::string_view suffix) {
  if (suffix.size() > text.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), text.end() - static_cast<std::ptrdiff_t>(suffix.size()),
                    [](char a, char b) {
                      return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                    });
}

bool KeyMatches(const Rule& rule, std::string_view key) {
  if (!key.starts_with(rule.prefix)) return false;
  return rule.suffix_ignore_case ? EndsWithIgnoreCase(key, rule.suffix) : key.ends_with(rule.suffix);
}

}  // namespace

std::vector<Rule> RulesFromConfiguration(const NotificationConfiguration& config) {
  std::vector<Rule> rules;
  for (const DestinationConfig& d : config.destinations) {
    if (d.kind != DestinationKind::kQueue) continue;
    Rule rule;
    rule.id = d.id;
    rule.destination = d.arn;
    rule.events = d.events;
    rule.prefix = d.prefix.value_or("");
    rule.suffix = d.suffix.value_or("");
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::vector<Rule> RulesFromTrigger(const config::TriggerConfig& trigger, std::string_view bucket,
                                   std::string_view destination, std::string_view id) {
  std::vector<Rule> rules;
  if (trigger.bucket != bucket) return rules;
  Rule base;
  base.id = std::string(id);
  base.destination = std::string(destination);
  base.events = trigger.events;
  base.prefix = trigger.prefix;
  base.match_encoded_key = false;
  base.suffix_ignore_case = true;
  if (trigger.suffixes.empty()) {
    rules.push_back(std::move(base));
    return rules;
  }
  for (const std::string& suffix : trigger.suffixes) {
    Rule rule = base;
    rule.suffix = suffix;
    rules.push_back(std::move(rule));
  }
  return rules;
}

bool EventPatternMatches(std::string_view pattern, std::string_view event_name) {
  if (!pattern.starts_with("s3:")) return false;
  pattern.remove_prefix(3);
  if (pattern == event_name) return true;
  // "ObjectCreated:*" matches "ObjectCreated:<anything>".
  return pattern.ends_with(":*") && event_name.starts_with(pattern.substr(0, pattern.size() - 1));
}

std::vector<const Rule*> MatchRules(const std::vector<Rule>& rules, const store::WriteRecord& record) {
  std::vector<const Rule*> matched;
  const std::string_view event_name = EventName(record.kind);
  const std::string& raw_key = record.object.key;
  std::string encoded_key;  // made once, only if a rule needs it
  std::set<std::pair<std::string_view, std::string_view>> fired;
  for (const Rule& rule : rules) {
    if (!std::any_of(rule.events.begin(), rule.events.end(),
                     [&](const std::string& p) { return EventPatternMatches(p, event_name); })) {
      continue;
    }
    if (rule.match_encoded_key && encoded_key.empty()) encoded_key = EncodeEventKey(raw_key);
    if (!KeyMatches(rule, rule.match_encoded_key ? std::string_view(encoded_key) : std::string_view(raw_key))) continue;
    if (!fired.emplace(rule.id, rule.destination).second) continue;
    matched.push_back(&rule);
  }
  return matched;
}

}  // namespace thumbpipe::events
