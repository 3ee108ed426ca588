// Parses the amqp:// queue URL: amqp://USER:PASSWORD@HOST:PORT/VHOST?queue=NAME
// (RabbitMQ's URI spec: user, password and vhost are percent-decoded, so the default vhost "/"
// is written %2f; a missing user or password is "guest", a missing port 5672, a missing or
// empty vhost "/"). Parameters: queue=NAME (default "thumbnails"); the dead-letter exchange
// and queue are NAME-dlx and NAME-dlq. exchange=EX[&routing_key=KEY]: the queue is also bound
// to the durable direct exchange EX (declared if absent) with KEY (default: the queue name),
// for S3 services that publish their events to an exchange of their own (Ceph RGW publishes to
// its topic's amqp-exchange with the topic name as routing key; MinIO to its exchange and
// routing_key).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace thumbpipe::queue {

struct AmqpEndpoint {
  std::string host;
  int port = 5672;
  std::string vhost = "/";
  std::string user = "guest";
  std::string password = "guest";
  std::string queue = "thumbnails";
  std::string exchange;     // "" = no extra binding
  std::string routing_key;  // "" = the queue name

  std::string binding_key() const { return routing_key.empty() ? queue : routing_key; }
  std::string dlx() const { return queue + "-dlx"; }
  std::string dlq() const { return queue + "-dlq"; }
  // host:port/vhost, for messages (never the password).
  std::string Describe() const;
};

// kInvalidArgument naming what is wrong (bad scheme, port, escape, unknown parameter, a queue
// name RabbitMQ would refuse: 1-200 bytes of [A-Za-z0-9_.:-], not starting with "amq.").
// amqps:// is refused with a clear message: TLS is not supported yet.
Result<AmqpEndpoint> ParseAmqpUrl(std::string_view url);

}  // namespace thumbpipe::queue
