#include "events/event_json.h"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "events/key_encoding.h"

namespace thumbpipe::events {
namespace {

// AWS writes the fields of a record in a fixed order; consumers that compare bodies as text
// (and our own tests against AWS's sample) need the same order, hence ordered_json.
using OrderedJson = nlohmann::ordered_json;

std::string OrDefault(const std::string& value, std::string_view fallback) {
  return value.empty() ? std::string(fallback) : value;
}

bool IsRemoval(store::WriteKind kind) { return kind == store::WriteKind::kDelete; }

}  // namespace

std::string_view EventName(store::WriteKind kind) {
  switch (kind) {
    case store::WriteKind::kPut: return "ObjectCreated:Put";
    case store::WriteKind::kPost: return "ObjectCreated:Post";
    case store::WriteKind::kCopy: return "ObjectCreated:Copy";
    case store::WriteKind::kCompleteMultipartUpload: return "ObjectCreated:CompleteMultipartUpload";
    case store::WriteKind::kDelete: return "ObjectRemoved:Delete";
  }
  return "ObjectCreated:Put";
}

std::string Sequencer(uint64_t version) { return fmt::format("{:016X}", version); }

std::string FormatEventTime(Clock::time_point t) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int64_t millis = ms - static_cast<int64_t>(seconds) * 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

std::string EncodeEventBody(const store::WriteRecord& record, const EventContext& context) {
  const store::ObjectInfo& object = record.object;
  const std::string sequencer = Sequencer(object.version);
  const Clock::time_point time =
      (IsRemoval(record.kind) || object.last_modified == Clock::time_point{}) ? context.fallback_time
                                                                             : object.last_modified;

  OrderedJson object_json;
  object_json["key"] = EncodeEventKey(object.key);
  if (!IsRemoval(record.kind)) {
    object_json["size"] = object.size;
    object_json["eTag"] = object.etag;
  }
  object_json["sequencer"] = sequencer;

  OrderedJson bucket_json;
  bucket_json["name"] = object.bucket;
  bucket_json["ownerIdentity"] = OrderedJson{{"principalId", OrDefault(context.owner_principal, "thumbpipe")}};
  bucket_json["arn"] = "arn:aws:s3:::" + object.bucket;

  OrderedJson s3;
  s3["s3SchemaVersion"] = "1.0";
  s3["configurationId"] = context.configuration_id;
  s3["bucket"] = std::move(bucket_json);
  s3["object"] = std::move(object_json);

  OrderedJson response;
  response["x-amz-request-id"] = OrDefault(record.context.request_id, sequencer);
  response["x-amz-id-2"] = OrDefault(record.context.host_id, "thumbpipe");

  OrderedJson rec;
  rec["eventVersion"] = "2.1";
  rec["eventSource"] = "aws:s3";
  rec["awsRegion"] = context.bucket_region;
  rec["eventTime"] = FormatEventTime(time);
  rec["eventName"] = std::string(EventName(record.kind));
  rec["userIdentity"] = OrderedJson{{"principalId", OrDefault(record.context.principal_id, "thumbpipe")}};
  rec["requestParameters"] = OrderedJson{{"sourceIPAddress", OrDefault(record.context.source_ip, "127.0.0.1")}};
  rec["responseElements"] = std::move(response);
  rec["s3"] = std::move(s3);

  OrderedJson body;
  body["Records"] = OrderedJson::array({std::move(rec)});
  // The encoded key is ASCII, but the principal, request ids and source IP come from the
  // request: an invalid UTF-8 byte there is replaced, so dump() cannot throw.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string EncodeTestEvent(std::string_view bucket, std::string_view request_id, std::string_view host_id,
                            Clock::time_point time) {
  OrderedJson body;
  body["Service"] = "Amazon S3";
  body["Event"] = "s3:TestEvent";
  body["Time"] = FormatEventTime(time);
  body["Bucket"] = std::string(bucket);
  body["RequestId"] = std::string(request_id);
  body["HostId"] = std::string(host_id);
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace thumbpipe::events
