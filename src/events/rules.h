// The rules that decide which writes raise which events, and where each event goes: the
// bucket's stored NotificationConfiguration plus the [trigger] section of the config file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "events/notification_config.h"
#include "store/object_store.h"

namespace thumbpipe::events {

struct Rule {
  std::string id;                   // becomes s3.configurationId
  std::string destination;          // queue ARN or name, resolved by the DestinationResolver
  std::vector<std::string> events;  // "s3:ObjectCreated:*", ...
  std::string prefix;               // "" = any
  std::string suffix;               // "" = any
  // AWS matches a configuration's filter against the *encoded* key (its documentation says to
  // write a space in a filter as "+"), case-sensitively. The [trigger] section is written
  // against plain keys and its suffixes compare case-insensitively (config.h).
  bool match_encoded_key = true;
  bool suffix_ignore_case = false;

  friend bool operator==(const Rule&, const Rule&) = default;
};

// The deliverable rules of a configuration: its QueueConfigurations, one Rule each. Topic,
// CloudFunction and EventBridge configurations yield none (they cannot be delivered here).
std::vector<Rule> RulesFromConfiguration(const NotificationConfiguration& config);

// The [trigger] rules for `bucket`: none unless trigger.bucket == bucket; else one rule per
// suffix (all with id `id`), or one rule without suffix when the list is empty. Events go to
// `destination` (the embedded queue's ARN or name).
std::vector<Rule> RulesFromTrigger(const config::TriggerConfig& trigger, std::string_view bucket,
                                   std::string_view destination, std::string_view id = "thumbpipe-trigger");

// True when `pattern` ("s3:ObjectCreated:*" or "s3:ObjectCreated:Put") matches the record
// event name `event_name` ("ObjectCreated:Put").
bool EventPatternMatches(std::string_view pattern, std::string_view event_name);

// The rules that `record` fires, in rule order. Several rules with the same id and the same
// destination fire once (several suffixes of one trigger).
std::vector<const Rule*> MatchRules(const std::vector<Rule>& rules, const store::WriteRecord& record);

}  // namespace thumbpipe::events
