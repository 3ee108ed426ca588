// Parses the amqp:// queue URL: amqp://USER:PASSWORD@HOST:PORT/VHOST?queue=NAME
// (RabbitMQ's URI spec: user, password and vhost are percent-decoded, so the default vhost "/"
// is written %2f; a missing user or password is "guest", a missing port 5672, a missing or
// empty vhost "/"). Parameters: queue=NAME (default "thumbnails"); the dead-letter exchange
// and queue are NAME-dlx and NAME-dlq.
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
