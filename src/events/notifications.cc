#include "events/notifications.h"

#include <random>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "common/logging.h"
#include "events/event_json.h"

namespace thumbpipe::events {
namespace {

// The name under which the store keeps the document (ObjectStore::PutBucketConfig).
constexpr std::string_view kConfigName = "notification";

// S3 request ids are 16 upper-case hex digits.
std::string RandomRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016X}", rng());
}

}  // namespace

Result<std::unique_ptr<Notifications>> Notifications::Open(store::ObjectStore& store, DestinationResolver resolver,
                                                           NotificationsOptions options, Clock& clock) {
  std::unique_ptr<Notifications> n(new Notifications(store, std::move(resolver), std::move(options), clock));
  THUMBPIPE_ASSIGN_OR_RETURN(std::vector<store::BucketInfo> buckets, store.ListBuckets());
  for (const store::BucketInfo& bucket : buckets) {
    auto document = store.GetBucketConfig(bucket.name, kConfigName);
    if (!document.ok()) {
      if (document.status().code() == StatusCode::kNotFound) continue;
      return document.status();
    }
    auto config = ParseNotificationXml(*document);
    if (!config.ok()) {
      // It was valid when stored; a later, stricter parser must not stop the server.
      LogError("notifications: ignoring a stored configuration that no longer parses",
               {{"bucket", bucket.name}, {"error", config.status().message()}});
      continue;
    }
    n->Install(bucket.name, *config);
  }
  return n;
}

Notifications::Notifications(store::ObjectStore& store, DestinationResolver resolver, NotificationsOptions options,
                             Clock& clock)
    : store_(store),
      resolver_(std::move(resolver)),
      options_(std::move(options)),
      clock_(clock),
      no_rules_(std::make_shared<const std::vector<Rule>>()) {
  if (options_.trigger_enabled &&
      (options_.trigger_destination.empty() || resolver_(options_.trigger_destination) == nullptr)) {
    LogWarn("notifications: [trigger] names no queue this server knows; it raises no events",
            {{"bucket", options_.trigger.bucket}, {"queue", options_.trigger_destination}});
    options_.trigger_enabled = false;
  }
  trigger_rules_ = options_.trigger_enabled
                       ? std::make_shared<const std::vector<Rule>>(RulesFromTrigger(
                             options_.trigger, options_.trigger.bucket, options_.trigger_destination))
                       : no_rules_;
}

void Notifications::Install(std::string_view bucket, const NotificationConfiguration& config) {
  std::vector<Rule> rules;
  if (options_.trigger_enabled) rules = RulesFromTrigger(options_.trigger, bucket, options_.trigger_destination);
  for (Rule& rule : RulesFromConfiguration(config)) {
    // A stored configuration may name a queue this server no longer has (its queue was
    // renamed since). Its events could never leave the outbox and would pile up in front of
    // the others; S3 drops events for a destination that is gone, and so do we.
    if (resolver_(rule.destination) == nullptr) {
      LogWarn("notifications: a stored configuration names an unknown queue; its events are dropped",
              {{"bucket", bucket}, {"id", rule.id}, {"queue", rule.destination}});
      continue;
    }
    rules.push_back(std::move(rule));
  }
  auto snapshot = std::make_shared<const std::vector<Rule>>(std::move(rules));
  std::lock_guard<std::mutex> lock(mu_);
  cache_.insert_or_assign(std::string(bucket), std::move(snapshot));
}

std::shared_ptr<const std::vector<Rule>> Notifications::rules(std::string_view bucket) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = cache_.find(bucket); it != cache_.end()) return it->second;
  return bucket == options_.trigger.bucket ? trigger_rules_ : no_rules_;
}

void Notifications::ForgetBucket(std::string_view bucket) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = cache_.find(bucket); it != cache_.end()) cache_.erase(it);
}

store::CommitHook Notifications::hook() {
  return MakeCommitHook([this](std::string_view bucket) { return rules(bucket); }, options_.notifier, clock_);
}

Status Notifications::PutConfiguration(std::string_view bucket, std::string_view xml,
                                       const ConfigurationRequest& request) {
  std::lock_guard<std::mutex> put_lock(put_mu_);
  THUMBPIPE_RETURN_IF_ERROR(store_.HeadBucket(bucket).status());
  THUMBPIPE_ASSIGN_OR_RETURN(NotificationConfiguration config, ParseNotificationXml(xml));
  const DestinationCheck check = [this](DestinationKind kind, std::string_view arn) {
    return kind == DestinationKind::kQueue && resolver_(arn) != nullptr;
  };
  THUMBPIPE_RETURN_IF_ERROR(ValidateNotificationConfiguration(config, check, request.skip_destination_validation));
  if (!request.skip_destination_validation) {
    // S3 proves each destination by sending it a test event; one that fails fails the PUT.
    std::set<std::string, std::less<>> sent;
    for (const DestinationConfig& d : config.destinations) {
      if (d.kind != DestinationKind::kQueue || !sent.insert(d.arn).second) continue;
      THUMBPIPE_RETURN_IF_ERROR(SendTestEvent(bucket, d.arn, request));
    }
  }
  THUMBPIPE_RETURN_IF_ERROR(store_.PutBucketConfig(bucket, kConfigName, ToNotificationXml(config)));
  Install(bucket, config);
  return Status::Ok();
}

Result<std::string> Notifications::GetConfiguration(std::string_view bucket) {
  THUMBPIPE_RETURN_IF_ERROR(store_.HeadBucket(bucket).status());
  auto document = store_.GetBucketConfig(bucket, kConfigName);
  if (document.ok()) return std::move(document).value();
  if (document.status().code() != StatusCode::kNotFound) return document.status();
  return ToNotificationXml(NotificationConfiguration{});
}

Status Notifications::SendTestEvent(std::string_view bucket, std::string_view destination,
                                    const ConfigurationRequest& request) {
  queue::Queue* queue = resolver_(destination);
  if (queue == nullptr) return Status::NotFound("no queue for destination " + std::string(destination));
  const std::string body =
      EncodeTestEvent(bucket, request.request_id.empty() ? RandomRequestId() : request.request_id,
                      request.host_id.empty() ? "thumbpipe" : request.host_id, clock_.Now());
  auto id = queue->Send(body);
  if (!id.ok()) {
    return Status::Unavailable("sending s3:TestEvent to " + std::string(destination) + ": " + id.status().ToString());
  }
  return Status::Ok();
}

}  // namespace thumbpipe::events
