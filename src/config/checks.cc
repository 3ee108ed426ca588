#include "config/checks.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <initializer_list>

#include "config/config.h"

namespace thumbpipe::config {
namespace {

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Checks that `url` starts with one of `schemes` and has something after it. The message lists
// the schemes so that a typo ("sqllite://") is answered with the fix.
Status CheckScheme(std::string_view url, std::initializer_list<std::string_view> schemes) {
  std::string allowed;
  for (std::string_view scheme : schemes) {
    if (url.starts_with(scheme)) {
      if (url.size() == scheme.size()) {
        return Status::InvalidArgument(Quoted(url) + " has nothing after " + std::string(scheme));
      }
      return Status::Ok();
    }
    if (!allowed.empty()) allowed += ", ";
    allowed += scheme;
  }
  return Status::InvalidArgument("unsupported URL " + Quoted(url) +
                                 " (allowed schemes: " + allowed + ")");
}

}  // namespace

Result<HostPort> ParseHostPort(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("bad address " + Quoted(text) + ": " + std::string(why) +
                                   " (expected host:port, e.g. \"127.0.0.1:9000\" or "
                                   "\"[::1]:9000\")");
  };
  HostPort out;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ]");
    out.host = std::string(text.substr(1, close - 1));
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("missing :port");
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing :port");
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) return bad("an IPv6 host needs [brackets]");
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty()) return bad("empty host (use 0.0.0.0 or [::] for every interface)");
  if (std::any_of(out.host.begin(), out.host.end(),
                  [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
    return bad("space in host");
  }
  const char* end = port_text.data() + port_text.size();
  auto [ptr, ec] = std::from_chars(port_text.data(), end, out.port);
  if (port_text.empty() || ec != std::errc() || ptr != end || out.port < 1 || out.port > 65535) {
    return bad("port must be 1-65535");
  }
  return out;
}

Status CheckNotEmpty(std::string_view text) {
  return text.empty() ? Status::InvalidArgument("must not be empty") : Status::Ok();
}

Status CheckListen(std::string_view text) { return ParseHostPort(text).status(); }

Status CheckStoreUrl(std::string_view url) { return CheckScheme(url, {"file://", "s3://"}); }

Status CheckQueueUrl(std::string_view url) {
  return CheckScheme(url, {"sqlite://", "sqs://", "sqs+https://", "sqs+http://", "amqps://", "amqp://"});
}

Status CheckPublicUrl(std::string_view url) {
  if (url.empty()) return Status::Ok();
  return CheckScheme(url, {"https://", "http://"});
}

Status CheckRegion(std::string_view region) {
  const bool ok = !region.empty() && std::all_of(region.begin(), region.end(), [](char c) {
    return IsLowerAlnum(c) || c == '-' || c == '_';
  });
  return ok ? Status::Ok()
            : Status::InvalidArgument("must be a region name of a-z 0-9 - _ (e.g. \"us-east-1\")");
}

// S3's rules for new buckets, so that a config that works here also works on AWS.
Status CheckBucketName(std::string_view bucket) {
  const bool ok = bucket.size() >= 3 && bucket.size() <= 63 && IsLowerAlnum(bucket.front()) &&
                  IsLowerAlnum(bucket.back()) &&
                  std::all_of(bucket.begin(), bucket.end(),
                              [](char c) { return IsLowerAlnum(c) || c == '-' || c == '.'; });
  return ok ? Status::Ok()
            : Status::InvalidArgument(
                  "must be a bucket name: 3-63 characters of a-z 0-9 . -, starting and ending "
                  "with a letter or digit");
}

Status CheckSuffixes(std::span<const std::string> suffixes) {
  if (suffixes.empty()) return Status::InvalidArgument("must list at least one suffix");
  for (const std::string& s : suffixes) {
    if (s.size() < 2 || s.front() != '.') {
      return Status::InvalidArgument("suffix " + Quoted(s) +
                                     " must start with \".\" (e.g. \".jpg\")");
    }
  }
  return Status::Ok();
}

// The event names S3 can deliver for object creation and removal, the only ones the pipeline
// acts on.
Status CheckEvents(std::span<const std::string> events) {
  static constexpr std::string_view kKnown[] = {"s3:ObjectCreated:*",
                                                "s3:ObjectCreated:Put",
                                                "s3:ObjectCreated:Post",
                                                "s3:ObjectCreated:Copy",
                                                "s3:ObjectCreated:CompleteMultipartUpload",
                                                "s3:ObjectRemoved:*",
                                                "s3:ObjectRemoved:Delete",
                                                "s3:ObjectRemoved:DeleteMarkerCreated"};
  if (events.empty()) return Status::InvalidArgument("must list at least one event");
  for (const std::string& e : events) {
    if (std::find(std::begin(kKnown), std::end(kKnown), e) == std::end(kKnown)) {
      std::string allowed;
      for (std::string_view k : kKnown) allowed += (allowed.empty() ? "" : ", ") + std::string(k);
      return Status::InvalidArgument("unknown event " + Quoted(e) + " (allowed: " + allowed + ")");
    }
  }
  return Status::Ok();
}

Status CheckOrigins(std::span<const std::string> origins) {
  for (const std::string& origin : origins) {
    if (origin == "*") continue;
    if (!origin.starts_with("http://") && !origin.starts_with("https://")) {
      return Status::InvalidArgument("origin " + Quoted(origin) +
                                     " must be \"*\" or start with http:// or https://");
    }
  }
  return Status::Ok();
}

Status CheckBuckets(std::span<const std::string> buckets) {
  if (buckets.empty()) return Status::InvalidArgument("must list at least one bucket (or \"*\")");
  for (const std::string& bucket : buckets) {
    if (bucket == "*") continue;
    Status s = CheckBucketName(bucket);
    if (!s.ok()) return s.WithContext(Quoted(bucket));
  }
  return Status::Ok();
}

Status CheckAccessKey(std::string_view key) {
  const bool ok =
      key.size() >= 16 && key.size() <= 128 && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      });
  return ok ? Status::Ok()
            : Status::InvalidArgument("must be 16-128 characters of A-Z 0-9 (as AWS access keys)");
}

Status CheckSecretKey(std::string_view key) {
  return key.size() >= 16 ? Status::Ok()
                          : Status::InvalidArgument("must be at least 16 characters");
}

std::string RedactUrlPassword(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const size_t authority = scheme_end + 3;
  const size_t authority_end = url.find_first_of("/?#", authority);
  const size_t at = url.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos || at < authority) return std::string(url);
  const size_t colon = url.substr(0, at).find(':', authority);
  if (colon == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "<redacted>" + std::string(url.substr(at));
}

}  // namespace thumbpipe::config
