// Notifications is the one object the server uses for bucket notifications: it keeps each
// bucket's rules (the [trigger] section plus the stored NotificationConfiguration), answers
// Put/GetBucketNotificationConfiguration, gives the store its CommitHook, and sends
// s3:TestEvent when a configuration is saved, as AWS does.
//
// Wiring in `serve` (the store must be the one whose outbox the Relay drains):
//   THUMBPIPE_ASSIGN_OR_RETURN(auto notifications,
//                              events::Notifications::Open(*store, resolver, options, clock));
//   store->SetCommitHook(notifications->hook());
//   events::Relay relay(*store->outbox(), resolver, clock);
//   relay.Start();                 ... relay.Stop(grace) at shutdown.
// Durability: a PUT's event is durable when the store's Commit() returns (the outbox row is in
// the object's transaction), so the server answers 200 right after Commit(); the Relay moves
// the event to the queue moments later, and again after a crash if it had not finished.
//
// Thread-safe. Configuration changes take effect for writes that commit after
// PutConfiguration returns.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "events/notification_config.h"
#include "events/notifier.h"
#include "events/rules.h"
#include "store/object_store.h"

namespace thumbpipe::events {

struct NotificationsOptions {
  NotifierOptions notifier;        // region and bucket owner written into events
  config::TriggerConfig trigger;   // [trigger]; its bucket's rules go to trigger_destination
  bool trigger_enabled = true;
  std::string trigger_destination; // ARN or name of the queue [trigger] events go to
};

// Who asked to save a configuration (for the TestEvent's RequestId / HostId).
struct ConfigurationRequest {
  std::string request_id;
  std::string host_id;
  bool skip_destination_validation = false;  // x-amz-skip-destination-validation: true
};

class Notifications {
 public:
  // Reads every bucket's stored configuration once (ListBuckets + GetBucketConfig), so that the
  // commit hook never has to touch the store from inside a commit. `store`, `clock` and the
  // resolver's queues must outlive the object. Store errors pass through.
  static Result<std::unique_ptr<Notifications>> Open(store::ObjectStore& store, DestinationResolver resolver,
                                                     NotificationsOptions options, Clock& clock);
  Notifications(const Notifications&) = delete;
  Notifications& operator=(const Notifications&) = delete;

  // PutBucketNotificationConfiguration: parses and validates `xml` (errors as in
  // notification_config.h, with the S3 code first in the message), stores it with
  // PutBucketConfig(bucket, "notification"), and sends s3:TestEvent to each queue it names
  // (unless skip_destination_validation). A TestEvent that cannot be sent fails the request
  // (kUnavailable), as S3 fails a PUT whose destination it cannot reach; nothing is stored then.
  // Store errors (NoSuchBucket) pass through.
  Status PutConfiguration(std::string_view bucket, std::string_view xml, const ConfigurationRequest& request = {});

  // GetBucketNotificationConfiguration: the stored document, normalized (generated Ids,
  // "Prefix"/"Suffix"), or an empty <NotificationConfiguration/> when none was ever stored.
  Result<std::string> GetConfiguration(std::string_view bucket);

  // The rules for `bucket` now ([trigger] first, then the configuration's), from memory: what
  // Open read and PutConfiguration since. Never touches the store (the hook calls it inside
  // commits). A stored document that no longer parses, and a stored rule (or the [trigger])
  // whose queue the resolver does not know, are logged and left out: their events could never
  // be delivered.
  std::shared_ptr<const std::vector<Rule>> rules(std::string_view bucket);

  // Drops the bucket's configuration from memory; the server calls it after DeleteBucket, so
  // that a bucket created again under the same name starts without one, as in S3.
  void ForgetBucket(std::string_view bucket);

  // The hook to install with ObjectStore::SetCommitHook. It refers to this object: uninstall
  // it (SetCommitHook(nullptr)) before destroying the Notifications.
  store::CommitHook hook();

  // Sends one s3:TestEvent for `bucket` to `destination` now (not through the outbox: S3 sends
  // it synchronously while validating the configuration).
  Status SendTestEvent(std::string_view bucket, std::string_view destination, const ConfigurationRequest& request = {});

 private:
  Notifications(store::ObjectStore& store, DestinationResolver resolver, NotificationsOptions options, Clock& clock);
  // Replaces the bucket's cached rules with [trigger] + `config`.
  void Install(std::string_view bucket, const NotificationConfiguration& config);

  store::ObjectStore& store_;
  DestinationResolver resolver_;
  NotificationsOptions options_;
  Clock& clock_;

  // bucket -> its rules, for buckets with a stored configuration. Protected by mu_. Entries
  // are replaced, never mutated, so a reader keeps a consistent snapshot through its pointer.
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const std::vector<Rule>>, std::less<>> cache_;
  std::shared_ptr<const std::vector<Rule>> no_rules_;       // for buckets without any
  std::shared_ptr<const std::vector<Rule>> trigger_rules_;  // the trigger bucket without a configuration
  // Serialises PutConfiguration so that two writers cannot interleave store and cache.
  std::mutex put_mu_;
};

}  // namespace thumbpipe::events
