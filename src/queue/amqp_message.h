// How a queue message looks on the AMQP wire, both ways. thumbpipe's own messages carry the
// body as is (so S3 event JSON stays byte-for-byte what the notifier wrote), the message id in
// the message-id property, and headers:
//   thumbpipe-sent-at     long (l)     microseconds since the epoch of the first send
//   thumbpipe-attributes  longstr (S)  the attributes, EncodeAttributes' lossless form
// and, in the dead-letter queue:
//   thumbpipe-dead-reason, thumbpipe-dead-at (l), thumbpipe-receive-count (l).
// Foreign messages (MinIO's and Ceph RGW's bucket notifications, published straight to the
// queue) have none of these: their id is the message-id property or a digest of the body, their
// sent time the timestamp property or the time of the receive, and no attributes.
#pragma once

#include <amqp.h>

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "queue/queue.h"

namespace thumbpipe::queue {

struct AmqpWireMessage {
  std::string id;
  std::string body;
  Attributes attributes;
  Clock::time_point sent_at;
  // Set for messages going to (or read from) the dead-letter queue.
  std::optional<std::string> dead_reason;
  Clock::time_point dead_at;
  int receive_count = 0;
};

// The properties and body of one publish; owns every byte the rabbitmq-c structs point to.
class AmqpOutgoing {
 public:
  explicit AmqpOutgoing(AmqpWireMessage message);
  AmqpOutgoing(const AmqpOutgoing&) = delete;
  AmqpOutgoing& operator=(const AmqpOutgoing&) = delete;

  const amqp_basic_properties_t* properties() const { return &properties_; }
  amqp_bytes_t body() const;

 private:
  void AddString(const char* key, const std::string& value);
  void AddLong(const char* key, int64_t value);

  AmqpWireMessage message_;
  std::string encoded_attributes_;
  std::vector<amqp_table_entry_t> headers_;
  amqp_basic_properties_t properties_{};
};

// What a delivered message says about itself.
struct AmqpIncoming {
  AmqpWireMessage message;
  int delivery_count = -1;         // x-delivery-count (quorum queues); -1 when absent
  std::string broker_dead_reason;  // x-first-death-reason when the broker dead-lettered it
  std::optional<Clock::time_point> broker_dead_at;  // x-death[0].time
};

// Never fails: a header of the wrong type or corrupt attributes are ignored (the body, which
// the worker needs, always comes through).
AmqpIncoming DecodeAmqpMessage(const amqp_basic_properties_t& properties, amqp_bytes_t body,
                               Clock::time_point now);

}  // namespace thumbpipe::queue
