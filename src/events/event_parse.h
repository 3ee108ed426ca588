// Reads S3 event notification bodies as a worker receives them from any S3 service:
//  - Amazon S3 records (eventVersion 2.x, "aws:s3"), straight from S3 to SQS;
//  - MinIO (eventVersion 2.0, "minio:s3", eventName with the "s3:" prefix), bare or inside its
//    webhook/AMQP wrapper {"EventName":..., "Key":"bucket/key", "Records":[...]};
//  - Ceph RGW ("ceph:s3", eventVersion 2.1/2.2, size possibly a string, keys not encoded,
//    opaqueData, eventId);
//  - any of these inside an SNS envelope {"Type":"Notification","Message":"<json string>"};
//  - the s3:TestEvent body, which has no Records (consumers must delete it, not crash).
// Every record comes out in one normalized form with its key decoded.
//
// Bad input (not JSON, wrong shape, a missing field, over a limit) is kInvalidArgument with a
// message naming what is wrong and where ("Records[2].s3.object.key: missing"); nothing throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace thumbpipe::events {

enum class EventSource { kAws, kMinio, kCeph, kOther };

struct EventRecord {
  EventSource source = EventSource::kAws;
  std::string event_version;         // "2.1"
  std::string event_name;            // record form, no "s3:" prefix: "ObjectCreated:Put"
  std::string bucket;
  std::string key;                   // decoded
  std::optional<uint64_t> size;      // absent on deletes (and sometimes on MinIO)
  std::string etag;                  // "" when absent
  std::string sequencer;             // "" when absent
  std::string version_id;            // "" when absent
  std::string configuration_id;
  std::string event_time;            // as sent
  std::optional<Clock::time_point> time;  // parsed from event_time when it parses
  std::string opaque_data;           // Ceph's opaqueData; "" elsewhere

  bool created() const { return event_name.starts_with("ObjectCreated:"); }
  bool removed() const { return event_name.starts_with("ObjectRemoved:"); }
};

struct ParsedEvent {
  bool test_event = false;           // s3:TestEvent: no records, delete the message
  std::string test_bucket;           // its Bucket
  std::vector<EventRecord> records;
};

struct ParseLimits {
  size_t max_body_bytes = 2u << 20;  // an SQS message is at most 1 MiB; SNS adds escaping
  size_t max_records = 100;          // S3 sends one record per message
};

Result<ParsedEvent> ParseEventBody(std::string_view body, const ParseLimits& limits = {});

// Compares two sequencers of the same key as S3 says to: left-pad the shorter with zeros, then
// compare as strings. Negative, zero or positive.
int CompareSequencers(std::string_view a, std::string_view b);

}  // namespace thumbpipe::events
