// The S3 event notification body the embedded notifier writes: byte for byte the JSON that
// Amazon S3 sends to SQS (eventVersion 2.1, field names, order and types as AWS writes them;
// ../shared/reference/queue-s3.md section 3.1), and the s3:TestEvent body S3 sends when a
// notification configuration is saved.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "store/object_store.h"

namespace thumbpipe::events {

// What an event says besides the write itself.
struct EventContext {
  std::string bucket_region = "us-east-1";  // awsRegion
  std::string configuration_id;             // s3.configurationId: the rule's Id
  // s3.bucket.ownerIdentity.principalId. The embedded store keeps no bucket owner, so the
  // server names one (its account); "thumbpipe" by default.
  std::string owner_principal = "thumbpipe";
  // eventTime for writes whose record carries no time (deletes); else the object's
  // last_modified is the event time.
  Clock::time_point fallback_time;
};

// "ObjectCreated:Put", "ObjectCreated:Post", "ObjectCreated:Copy",
// "ObjectCreated:CompleteMultipartUpload" or "ObjectRemoved:Delete" (the record form, without
// the "s3:" prefix that configurations use).
std::string_view EventName(store::WriteKind kind);

// S3's sequencer for a store version: upper-case hex, zero-padded to 16 digits so that the
// strings sort as the versions do.
std::string Sequencer(uint64_t version);

// ISO-8601 UTC with milliseconds and "Z": "2026-11-27T02:04:05.123Z".
std::string FormatEventTime(Clock::time_point t);

// The body {"Records":[{...}]} for one write. ObjectRemoved records carry key and sequencer
// only (no size, no eTag), as AWS does for a delete of an unversioned object. Empty context
// fields are filled with what a local write means: principal "thumbpipe", source IP
// 127.0.0.1, request id = the sequencer.
std::string EncodeEventBody(const store::WriteRecord& record, const EventContext& context);

// The s3:TestEvent body: {"Service":"Amazon S3","Event":"s3:TestEvent","Time":...,
// "Bucket":...,"RequestId":...,"HostId":...}.
std::string EncodeTestEvent(std::string_view bucket, std::string_view request_id, std::string_view host_id,
                            Clock::time_point time);

}  // namespace thumbpipe::events
