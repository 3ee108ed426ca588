#include "events/event_parse.h"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "events/key_encoding.h"
#include "store/object_store.h"

namespace thumbpipe::events {
namespace {

using Json = nlohmann::json;

Status Bad(std::string_view where, std::string_view what) {
  return Status::InvalidArgument("S3 event: " + std::string(where) + ": " + std::string(what));
}

// Parses without exceptions: a body from a queue is untrusted input.
Result<Json> ParseJson(std::string_view text, std::string_view what) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad(what, "not valid JSON");
  if (!j.is_object()) return Bad(what, "not a JSON object");
  return j;
}

// A string member: absent -> "" (when optional), wrong type -> error.
Status GetString(const Json& obj, const char* name, std::string_view where, bool required, std::string& out) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    if (required) return Bad(std::string(where) + "." + name, "missing");
    out.clear();
    return Status::Ok();
  }
  if (!it->is_string()) return Bad(std::string(where) + "." + name, "not a string");
  out = it->get<std::string>();
  return Status::Ok();
}

Result<const Json*> GetObject(const Json& obj, const char* name, std::string_view where) {
  auto it = obj.find(name);
  if (it == obj.end()) return Bad(std::string(where) + "." + name, "missing");
  if (!it->is_object()) return Bad(std::string(where) + "." + name, "not an object");
  return &*it;
}

// Size is a number in AWS and MinIO events and a string in Ceph's documentation.
Status GetSize(const Json& object, std::string_view where, std::optional<uint64_t>& out) {
  auto it = object.find("size");
  out.reset();
  if (it == object.end() || it->is_null()) return Status::Ok();
  if (it->is_number_unsigned()) {
    out = it->get<uint64_t>();
  } else if (it->is_number_integer()) {
    return Bad(std::string(where) + ".size", "negative");
  } else if (it->is_string()) {
    const std::string s = it->get<std::string>();
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) {
      return Bad(std::string(where) + ".size", "not a byte count: '" + s + "'");
    }
    out = std::stoull(s);
  } else {
    return Bad(std::string(where) + ".size", "not a number");
  }
  return Status::Ok();
}

// "2026-11-27T02:04:05Z", with any number of fraction digits (AWS: 3, Ceph: 6, MinIO: 0-9).
std::optional<Clock::time_point> ParseTime(const std::string& text) {
  int y, mo, d, h, mi, s, consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) != 6) {
    return std::nullopt;
  }
  // Clock::time_point counts nanoseconds in 64 bits (years 1677-2262): keep well inside it.
  if (y < 1970 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 ||
      s > 60) {
    return std::nullopt;
  }
  size_t i = static_cast<size_t>(consumed);
  int64_t nanos = 0;
  if (i < text.size() && text[i] == '.') {
    int64_t scale = 100'000'000;
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      nanos += (text[i] - '0') * scale;
      scale /= 10;
    }
  }
  if (i + 1 != text.size() || text[i] != 'Z') return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const std::time_t t = timegm(&tm);
  return Clock::time_point{std::chrono::duration_cast<Clock::time_point::duration>(
      std::chrono::seconds(t) + std::chrono::nanoseconds(nanos))};
}

EventSource SourceOf(const std::string& event_source) {
  if (event_source == "aws:s3") return EventSource::kAws;
  if (event_source == "minio:s3") return EventSource::kMinio;
  if (event_source == "ceph:s3") return EventSource::kCeph;
  return EventSource::kOther;
}

Result<EventRecord> ParseRecord(const Json& r, size_t index) {
  const std::string where = "Records[" + std::to_string(index) + "]";
  if (!r.is_object()) return Bad(where, "not an object");
  EventRecord rec;
  std::string source;
  THUMBPIPE_RETURN_IF_ERROR(GetString(r, "eventVersion", where, true, rec.event_version));
  // The parse rule S3 documents: same major version, any minor (2.0 MinIO, 2.1 AWS, 2.2 Ceph
  // and replication, 2.3 lifecycle).
  if (!rec.event_version.starts_with("2.") && rec.event_version != "2") {
    return Bad(where + ".eventVersion", "unsupported version '" + rec.event_version + "' (expected 2.x)");
  }
  THUMBPIPE_RETURN_IF_ERROR(GetString(r, "eventSource", where, false, source));
  rec.source = SourceOf(source);
  THUMBPIPE_RETURN_IF_ERROR(GetString(r, "eventName", where, true, rec.event_name));
  // MinIO writes the configuration form ("s3:ObjectCreated:Put"); AWS and Ceph do not.
  if (rec.event_name.starts_with("s3:")) rec.event_name.erase(0, 3);
  if (rec.event_name.empty()) return Bad(where + ".eventName", "empty");
  THUMBPIPE_RETURN_IF_ERROR(GetString(r, "eventTime", where, false, rec.event_time));
  if (!rec.event_time.empty()) rec.time = ParseTime(rec.event_time);
  THUMBPIPE_RETURN_IF_ERROR(GetString(r, "opaqueData", where, false, rec.opaque_data));

  THUMBPIPE_ASSIGN_OR_RETURN(const Json* s3, GetObject(r, "s3", where));
  const std::string s3_where = where + ".s3";
  THUMBPIPE_RETURN_IF_ERROR(GetString(*s3, "configurationId", s3_where, false, rec.configuration_id));
  THUMBPIPE_ASSIGN_OR_RETURN(const Json* bucket, GetObject(*s3, "bucket", s3_where));
  THUMBPIPE_RETURN_IF_ERROR(GetString(*bucket, "name", s3_where + ".bucket", true, rec.bucket));
  if (rec.bucket.empty()) return Bad(s3_where + ".bucket.name", "empty");
  THUMBPIPE_ASSIGN_OR_RETURN(const Json* object, GetObject(*s3, "object", s3_where));
  const std::string object_where = s3_where + ".object";
  std::string encoded_key;
  THUMBPIPE_RETURN_IF_ERROR(GetString(*object, "key", object_where, true, encoded_key));
  const KeyEncoding encoding = rec.source == EventSource::kCeph ? KeyEncoding::kRaw : KeyEncoding::kForm;
  auto key = DecodeEventKey(encoded_key, encoding);
  if (!key.ok()) return Bad(object_where + ".key", key.status().message());
  if (key->size() > store::kMaxKeyBytes) return Bad(object_where + ".key", "longer than 1024 bytes");
  rec.key = std::move(key).value();
  THUMBPIPE_RETURN_IF_ERROR(GetSize(*object, object_where, rec.size));
  THUMBPIPE_RETURN_IF_ERROR(GetString(*object, "eTag", object_where, false, rec.etag));
  THUMBPIPE_RETURN_IF_ERROR(GetString(*object, "sequencer", object_where, false, rec.sequencer));
  THUMBPIPE_RETURN_IF_ERROR(GetString(*object, "versionId", object_where, false, rec.version_id));
  return rec;
}

Result<ParsedEvent> ParseDocument(const Json& doc, const ParseLimits& limits, bool inside_envelope) {
  // SNS envelope (S3 -> SNS -> SQS without raw delivery): the event is a JSON string in Message.
  if (auto type = doc.find("Type"); type != doc.end() && type->is_string() && *type == "Notification") {
    if (inside_envelope) return Bad("Message", "an SNS envelope inside an SNS envelope");
    auto message = doc.find("Message");
    if (message == doc.end() || !message->is_string()) return Bad("SNS envelope", "Message missing or not a string");
    const std::string& text = message->get_ref<const std::string&>();
    THUMBPIPE_ASSIGN_OR_RETURN(Json inner, ParseJson(text, "SNS Message"));
    return ParseDocument(inner, limits, true);
  }
  if (auto event = doc.find("Event"); event != doc.end() && event->is_string() && *event == "s3:TestEvent") {
    ParsedEvent parsed;
    parsed.test_event = true;
    if (auto b = doc.find("Bucket"); b != doc.end() && b->is_string()) parsed.test_bucket = b->get<std::string>();
    return parsed;
  }
  // AWS, Ceph and bare MinIO records; MinIO's webhook/AMQP wrapper {EventName, Key, Records}
  // carries the same records, so the wrapper's own fields need no reading.
  auto records = doc.find("Records");
  if (records == doc.end()) return Bad("body", "neither Records nor an s3:TestEvent");
  if (!records->is_array()) return Bad("Records", "not an array");
  if (records->empty()) return Bad("Records", "empty");
  if (records->size() > limits.max_records) {
    return Bad("Records", std::to_string(records->size()) + " records, more than the limit of " +
                              std::to_string(limits.max_records));
  }
  ParsedEvent parsed;
  parsed.records.reserve(records->size());
  for (size_t i = 0; i < records->size(); ++i) {
    THUMBPIPE_ASSIGN_OR_RETURN(EventRecord rec, ParseRecord((*records)[i], i));
    parsed.records.push_back(std::move(rec));
  }
  return parsed;
}

}  // namespace

Result<ParsedEvent> ParseEventBody(std::string_view body, const ParseLimits& limits) {
  if (body.size() > limits.max_body_bytes) {
    return Bad("body", std::to_string(body.size()) + " bytes, more than the limit of " +
                           std::to_string(limits.max_body_bytes));
  }
  THUMBPIPE_ASSIGN_OR_RETURN(Json doc, ParseJson(body, "body"));
  return ParseDocument(doc, limits, false);
}

int CompareSequencers(std::string_view a, std::string_view b) {
  const size_t width = std::max(a.size(), b.size());
  const std::string pa = std::string(width - a.size(), '0') + std::string(a);
  const std::string pb = std::string(width - b.size(), '0') + std::string(b);
  return pa.compare(pb);
}

}  // namespace thumbpipe::events
