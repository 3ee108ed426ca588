#include "queue/sqs_url.h"

#include <charconv>

namespace thumbpipe::queue {
namespace {

bool IsQueueName(std::string_view name) {
  if (name.empty() || name.size() > 80) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// "sqs.eu-west-1.amazonaws.com" -> "eu-west-1"; the legacy "eu-west-1.queue.amazonaws.com" too.
std::string RegionOfHost(std::string_view host) {
  host = host.substr(0, host.find(':'));
  if (!host.ends_with(".amazonaws.com") && !host.ends_with(".amazonaws.com.cn")) return {};
  if (host.starts_with("sqs.")) {
    const std::string_view rest = host.substr(4);
    return std::string(rest.substr(0, rest.find('.')));
  }
  if (const size_t at = host.find(".queue."); at != std::string_view::npos) return std::string(host.substr(0, at));
  return {};
}

}  // namespace

Result<SqsEndpoint> ParseSqsUrl(std::string_view url) {
  std::string shown(url.substr(0, url.find('?')));
  // Never echo a password someone put in the url.
  if (const size_t at = shown.find('@'), start = shown.find("://"); at != std::string::npos && start != std::string::npos && start < at) {
    shown.replace(start + 3, at - start - 3, "<redacted>");
  }
  auto bad = [&](std::string why) {
    return Status::InvalidArgument("queue url \"" + shown + "\": " + why +
                                   " (expected sqs://HOST/ACCOUNT/NAME or sqs+http://HOST:PORT/ACCOUNT/NAME, "
                                   "with optional ?region=R&max_attempts=N)");
  };
  std::string scheme;
  std::string_view rest;
  for (const auto& [prefix, s] : {std::pair{"sqs://", "https"}, {"sqs+https://", "https"}, {"sqs+http://", "http"}}) {
    if (url.starts_with(prefix)) {
      scheme = s;
      rest = url.substr(std::string_view(prefix).size());
      break;
    }
  }
  if (scheme.empty()) return bad("not an sqs:// url");
  std::string_view params;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    params = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) return bad("no host");
  SqsEndpoint e;
  const std::string_view host = rest.substr(0, slash);
  if (host.find('@') != std::string_view::npos) return bad("credentials do not belong in the url (use the AWS credential chain)");
  const std::string_view path = rest.substr(slash + 1);
  const size_t second = path.find('/');
  if (second == std::string_view::npos || second == 0) return bad("the path must be /ACCOUNT/NAME");
  e.account = std::string(path.substr(0, second));
  e.name = std::string(path.substr(second + 1));
  if (!e.name.empty() && e.name.back() == '/') e.name.pop_back();
  if (!IsQueueName(e.name)) return bad("queue name \"" + e.name + "\" is not 1-80 of [A-Za-z0-9_-]");
  for (char c : e.account) {
    if (c < '0' || c > '9') return bad("account \"" + e.account + "\" is not digits");
  }
  e.endpoint = scheme + "://" + std::string(host);
  e.queue_url = SqsQueueUrl(e, e.account, e.name);
  e.region = RegionOfHost(host);
  while (!params.empty()) {
    const size_t amp = params.find('&');
    const std::string_view pair = params.substr(0, amp);
    params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (key == "region" && !value.empty()) {
      e.region = std::string(value);
    } else if (key == "max_attempts") {
      int n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > 10) {
        return bad("max_attempts must be 1-10");
      }
      e.max_attempts = n;
    } else {
      return bad("unknown parameter \"" + std::string(key) + "\"");
    }
  }
  return e;
}

std::string SqsQueueUrl(const SqsEndpoint& endpoint, std::string_view account, std::string_view name) {
  return endpoint.endpoint + "/" + std::string(account) + "/" + std::string(name);
}

}  // namespace thumbpipe::queue
