// A bucket's NotificationConfiguration document (PutBucketNotificationConfiguration), as XML
// and as data, with the checks Amazon S3 makes before it accepts one.
//
// Errors are Status kInvalidArgument whose message starts with the S3 error code and a colon,
// "MalformedXML: ..." or "InvalidArgument: ...", then AWS's own wording where it is known
// ("Configurations overlap. Configurations on the same bucket cannot share a common event
// type."). S3ErrorCode() splits the code off for the server.
//
// What the embedded server can deliver: only to its queues. A QueueConfiguration must name a
// queue the server knows (see DestinationResolver in notifier.h); TopicConfiguration and
// CloudFunctionConfiguration name SNS topics and Lambda functions that do not exist here, so
// they fail the destination check exactly as AWS fails an unreachable destination ("Unable to
// validate the following destination configurations"), unless the request skips destination
// validation (x-amz-skip-destination-validation: true), in which case they are kept and never
// fire. EventBridgeConfiguration is accepted and kept (it names no destination); it never
// fires either.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace thumbpipe::events {

enum class DestinationKind { kQueue, kTopic, kCloudFunction };

// One QueueConfiguration / TopicConfiguration / CloudFunctionConfiguration.
struct DestinationConfig {
  DestinationKind kind = DestinationKind::kQueue;
  std::string id;                      // generated when the document has none
  std::string arn;                     // Queue / Topic / CloudFunction
  std::vector<std::string> events;     // "s3:ObjectCreated:*", in document order
  std::optional<std::string> prefix;   // Filter/S3Key/FilterRule Name=prefix
  std::optional<std::string> suffix;   // ... Name=suffix

  friend bool operator==(const DestinationConfig&, const DestinationConfig&) = default;
};

struct NotificationConfiguration {
  std::vector<DestinationConfig> destinations;  // in document order
  bool event_bridge = false;                    // <EventBridgeConfiguration/> present

  bool empty() const { return destinations.empty() && !event_bridge; }
  friend bool operator==(const NotificationConfiguration&, const NotificationConfiguration&) = default;
};

// Limits on a document from outside.
inline constexpr size_t kMaxNotificationXmlBytes = 1u << 20;
inline constexpr size_t kMaxDestinations = 1000;
inline constexpr size_t kMaxFilterValueBytes = 1024;
inline constexpr size_t kMaxConfigIdBytes = 255;

// Parses the XML (the S3 namespace optional, element names case-sensitive as in S3). Checks
// shape only: MalformedXML for bad XML, a wrong root, an unknown element, a missing ARN or
// Event; InvalidArgument for a filter rule name other than prefix/suffix (any case), two
// prefix or two suffix rules, a value over 1024 bytes. Missing Ids are left empty (Validate
// fills them). <NotificationConfiguration/> is valid: it turns notifications off (an empty
// body is MalformedXML, as in S3).
Result<NotificationConfiguration> ParseNotificationXml(std::string_view xml);

// The document as GetBucketNotificationConfiguration returns it (S3 namespace, rule names
// "Prefix"/"Suffix"). ParseNotificationXml reads it back to an equal value.
std::string ToNotificationXml(const NotificationConfiguration& config);

// Says whether the server can deliver to a destination; true for a known queue.
using DestinationCheck = std::function<bool(DestinationKind kind, std::string_view arn)>;

// Amazon S3's acceptance rules, in the order S3 applies them:
//  - every event is one S3 knows (KnownEventName), else InvalidArgument "The event is not
//    supported for notifications"; every ARN has the shape arn:PARTITION:SERVICE:... with the
//    service its element implies (sqs, sns, lambda), else InvalidArgument "The ARN could not be
//    parsed";
//  - Ids are unique and at most 255 bytes; missing ones are generated;
//  - no two destinations share an event type while their filters overlap (Overlaps), else
//    InvalidArgument "Configurations overlap. ...";
//  - every destination passes `check` (unless skip_destination_validation), else
//    InvalidArgument "Unable to validate the following destination configurations".
// Fills in missing Ids in `config`.
Status ValidateNotificationConfiguration(NotificationConfiguration& config, const DestinationCheck& check,
                                         bool skip_destination_validation = false);

// True for an event name S3 accepts in a configuration (s3:ObjectCreated:*, :Put, :Post,
// :Copy, :CompleteMultipartUpload, s3:ObjectRemoved:*, :Delete, :DeleteMarkerCreated, and the
// restore, replication, lifecycle, tagging, ACL and RRS events, which the embedded store never
// raises).
bool KnownEventName(std::string_view name);

// True when event pattern `a` and `b` can match the same event ("s3:ObjectCreated:*" and
// "s3:ObjectCreated:Put" can; ":Put" and ":Copy" cannot).
bool EventsIntersect(std::string_view a, std::string_view b);

// S3's overlap rule for two destinations: they share an event type, one prefix is a prefix of
// the other (absent = "") and one suffix is a suffix of the other (absent = "").
bool Overlaps(const DestinationConfig& a, const DestinationConfig& b);

// The S3 error code at the start of a message made here ("MalformedXML"), or "" when none.
std::string_view S3ErrorCode(const Status& status);
// The message without its code prefix.
std::string_view S3ErrorMessage(const Status& status);

}  // namespace thumbpipe::events
