#include "queue/amqp_url.h"

#include <charconv>

namespace thumbpipe::queue {
namespace {

// The url itself is left out of messages: it may hold a password.
Status Bad(std::string_view /*url*/, std::string_view why) {
  return Status::InvalidArgument("queue url amqp://...: " + std::string(why) +
                                 " (expected amqp://USER:PASSWORD@HOST:PORT/VHOST?queue=NAME)");
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view text, std::string_view what) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    const int hi = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
    const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) return Status::InvalidArgument("bad %-escape in the " + std::string(what));
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool ValidQueueName(std::string_view name) {
  if (name.empty() || name.size() > 200 || name.starts_with("amq.")) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string AmqpEndpoint::Describe() const {
  return host + ":" + std::to_string(port) + (vhost == "/" ? "/" : "/" + vhost);
}

Result<AmqpEndpoint> ParseAmqpUrl(std::string_view url) {
  if (url.starts_with("amqps://")) {
    return Bad(url, "amqps:// (TLS) is not supported yet; use amqp:// on a trusted network");
  }
  constexpr std::string_view kScheme = "amqp://";
  if (!url.starts_with(kScheme)) return Bad(url, "not an amqp:// url");
  std::string_view rest = url.substr(kScheme.size());
  AmqpEndpoint e;

  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  bool has_path = false;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    has_path = true;
    rest = rest.substr(0, slash);
  }
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = userinfo.find(':');
    auto user = PercentDecode(userinfo.substr(0, colon), "user");
    if (!user.ok()) return Bad(url, user.status().message());
    if (!user->empty()) e.user = *user;
    if (colon != std::string_view::npos) {
      auto password = PercentDecode(userinfo.substr(colon + 1), "password");
      if (!password.ok()) return Bad(url, password.status().message());
      e.password = *password;
    }
  }
  std::string_view host = rest;
  if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos && !rest.ends_with(']')) {
    host = rest.substr(0, colon);
    const std::string_view port = rest.substr(colon + 1);
    int value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return Bad(url, "port \"" + std::string(port) + "\" is not a number from 1 to 65535");
    }
    e.port = value;
  }
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  if (host.empty()) return Bad(url, "no host");
  e.host = std::string(host);
  if (has_path && !path.empty()) {
    auto vhost = PercentDecode(path, "vhost");
    if (!vhost.ok()) return Bad(url, vhost.status().message());
    e.vhost = *vhost;
  }

  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.starts_with("queue=")) {
      auto name = PercentDecode(param.substr(6), "queue name");
      if (!name.ok()) return Bad(url, name.status().message());
      if (!ValidQueueName(*name)) {
        return Bad(url, "queue name \"" + *name +
                            "\" must be 1-200 of [A-Za-z0-9_.:-] and not start with \"amq.\"");
      }
      e.queue = *name;
    } else if (param.starts_with("exchange=") || param.starts_with("routing_key=")) {
      const bool is_exchange = param.starts_with("exchange=");
      auto value = PercentDecode(param.substr(param.find('=') + 1), is_exchange ? "exchange" : "routing key");
      if (!value.ok()) return Bad(url, value.status().message());
      // RabbitMQ's limits: short strings of 255 bytes; amq.* exchanges cannot be declared.
      if (value->empty() || value->size() > 255 || (is_exchange && value->starts_with("amq."))) {
        return Bad(url, std::string(is_exchange ? "exchange" : "routing_key") +
                            " must be 1-255 bytes (and an exchange must not start with \"amq.\")");
      }
      (is_exchange ? e.exchange : e.routing_key) = *value;
    } else {
      return Bad(url, "unknown parameter \"" + std::string(param) +
                          "\" (known: queue=NAME, exchange=EXCHANGE, routing_key=KEY)");
    }
  }
  if (!e.routing_key.empty() && e.exchange.empty()) return Bad(url, "routing_key= needs exchange=");
  return e;
}

}  // namespace thumbpipe::queue
