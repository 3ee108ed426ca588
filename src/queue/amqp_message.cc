#include "queue/amqp_message.h"

#include <cstring>
#include <string_view>

#include "queue/message_rules.h"
#include "sigv4/crypto.h"

namespace thumbpipe::queue {
namespace {

constexpr char kSentAt[] = "thumbpipe-sent-at";
constexpr char kAttributes[] = "thumbpipe-attributes";
constexpr char kDeadReason[] = "thumbpipe-dead-reason";
constexpr char kDeadAt[] = "thumbpipe-dead-at";
constexpr char kReceiveCount[] = "thumbpipe-receive-count";

amqp_bytes_t Bytes(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }
std::string_view View(amqp_bytes_t b) { return {static_cast<const char*>(b.bytes), b.len}; }

int64_t Micros(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
Clock::time_point FromMicros(int64_t us) {
  return Clock::time_point{std::chrono::duration_cast<Clock::time_point::duration>(std::chrono::microseconds(us))};
}

std::optional<int64_t> AsInt(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_I8: return v.value.i8;
    case AMQP_FIELD_KIND_U8: return v.value.u8;
    case AMQP_FIELD_KIND_I16: return v.value.i16;
    case AMQP_FIELD_KIND_U16: return v.value.u16;
    case AMQP_FIELD_KIND_I32: return v.value.i32;
    case AMQP_FIELD_KIND_U32: return v.value.u32;
    case AMQP_FIELD_KIND_I64: return v.value.i64;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP: return static_cast<int64_t>(v.value.u64);
    default: return std::nullopt;
  }
}
std::optional<std::string_view> AsString(const amqp_field_value_t& v) {
  if (v.kind == AMQP_FIELD_KIND_UTF8 || v.kind == AMQP_FIELD_KIND_BYTES) return View(v.value.bytes);
  return std::nullopt;
}

const amqp_field_value_t* Find(const amqp_table_t& table, std::string_view key) {
  for (int i = 0; i < table.num_entries; ++i) {
    if (View(table.entries[i].key) == key) return &table.entries[i].value;
  }
  return nullptr;
}

}  // namespace

AmqpOutgoing::AmqpOutgoing(AmqpWireMessage message) : message_(std::move(message)) {
  headers_.reserve(5);
  AddLong(kSentAt, Micros(message_.sent_at));
  if (!message_.attributes.empty()) {
    encoded_attributes_ = EncodeAttributes(message_.attributes);
    AddString(kAttributes, encoded_attributes_);
  }
  if (message_.dead_reason) {
    AddString(kDeadReason, *message_.dead_reason);
    AddLong(kDeadAt, Micros(message_.dead_at));
    AddLong(kReceiveCount, message_.receive_count);
  }
  properties_._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                       AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_HEADERS_FLAG;
  properties_.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  properties_.message_id = Bytes(message_.id);
  properties_.timestamp = static_cast<uint64_t>(Micros(message_.sent_at) / 1000000);
  properties_.headers.num_entries = static_cast<int>(headers_.size());
  properties_.headers.entries = headers_.data();
}

amqp_bytes_t AmqpOutgoing::body() const { return Bytes(message_.body); }

void AmqpOutgoing::AddString(const char* key, const std::string& value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;  // a longstr: length-prefixed, any bytes
  e.value.value.bytes = Bytes(value);
  headers_.push_back(e);
}

void AmqpOutgoing::AddLong(const char* key, int64_t value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = value;
  headers_.push_back(e);
}

AmqpIncoming DecodeAmqpMessage(const amqp_basic_properties_t& p, amqp_bytes_t body, Clock::time_point now) {
  AmqpIncoming in;
  AmqpWireMessage& m = in.message;
  m.body = std::string(View(body));
  if ((p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p.message_id.len > 0) m.id = std::string(View(p.message_id));
  // A stable id for messages that bring none (MinIO, Ceph): the same body is the same event.
  if (m.id.empty()) m.id = "sha256-" + sigv4::Sha256Hex(m.body).substr(0, 32);
  m.sent_at = now;
  if (p._flags & AMQP_BASIC_TIMESTAMP_FLAG) {
    m.sent_at = Clock::time_point{std::chrono::seconds(static_cast<int64_t>(p.timestamp))};
  }
  if (!(p._flags & AMQP_BASIC_HEADERS_FLAG)) return in;
  const amqp_table_t& h = p.headers;
  if (const auto* v = Find(h, kSentAt); v && AsInt(*v)) m.sent_at = FromMicros(*AsInt(*v));
  if (const auto* v = Find(h, kAttributes); v && AsString(*v)) {
    if (auto attributes = DecodeAttributes(*AsString(*v)); attributes.ok()) m.attributes = std::move(*attributes);
  }
  if (const auto* v = Find(h, kDeadReason); v && AsString(*v)) m.dead_reason = std::string(*AsString(*v));
  if (const auto* v = Find(h, kDeadAt); v && AsInt(*v)) m.dead_at = FromMicros(*AsInt(*v));
  if (const auto* v = Find(h, kReceiveCount); v && AsInt(*v)) m.receive_count = static_cast<int>(*AsInt(*v));
  if (const auto* v = Find(h, "x-delivery-count"); v && AsInt(*v)) in.delivery_count = static_cast<int>(*AsInt(*v));
  if (const auto* v = Find(h, "x-first-death-reason"); v && AsString(*v)) in.broker_dead_reason = std::string(*AsString(*v));
  if (const auto* v = Find(h, "x-death"); v && v->kind == AMQP_FIELD_KIND_ARRAY && v->value.array.num_entries > 0) {
    const amqp_field_value_t& first = v->value.array.entries[0];
    if (first.kind == AMQP_FIELD_KIND_TABLE) {
      if (const auto* t = Find(first.value.table, "time"); t && AsInt(*t)) {
        in.broker_dead_at = Clock::time_point{std::chrono::seconds(*AsInt(*t))};
      }
    }
  }
  return in;
}

}  // namespace thumbpipe::queue
