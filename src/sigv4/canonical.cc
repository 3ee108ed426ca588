#include "sigv4/canonical.h"

#include <algorithm>
#include <cstdio>

namespace thumbpipe::sigv4 {

namespace {

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// RFC 3986 section 5.2.4 for the generic services; `//` collapses too (the test suite's
// get-slashes expects "/example/" from "//example//").
std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t pos = 0;
  bool trailing = false;
  while (pos <= path.size()) {
    std::size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view seg = path.substr(pos, next - pos);
    bool last = next == path.size();
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
      trailing = last;
    } else if (seg == "." || seg.empty()) {
      trailing = last;
    } else {
      segments.push_back(seg);
      trailing = false;
    }
    pos = next + 1;
  }
  std::string out = "/";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out += '/';
    out += segments[i];
  }
  if (trailing && !segments.empty()) out += '/';
  return out;
}

}  // namespace

std::string UriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3 / 2);
  for (unsigned char c : text) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string CanonicalUri(std::string_view raw_path, PathMode mode) {
  if (raw_path.empty()) return "/";
  if (mode == PathMode::kS3) return UriEncode(PercentDecode(raw_path), /*keep_slash=*/true);
  return UriEncode(NormalizePath(raw_path), /*keep_slash=*/true);
}

std::string CanonicalQuery(std::string_view raw_query, std::string_view exclude) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t pos = 0;
  while (pos <= raw_query.size() && !raw_query.empty()) {
    std::size_t amp = raw_query.find('&', pos);
    if (amp == std::string_view::npos) amp = raw_query.size();
    std::string_view part = raw_query.substr(pos, amp - pos);
    pos = amp + 1;
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    std::string name = PercentDecode(part.substr(0, eq));
    std::string value =
        eq == std::string_view::npos ? std::string() : PercentDecode(part.substr(eq + 1));
    if (!exclude.empty() && name == exclude) continue;
    params.emplace_back(UriEncode(name, false), UriEncode(value, false));
    if (amp == raw_query.size()) break;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  bool first_line = true;
  std::size_t pos = 0;
  while (pos <= value.size()) {
    std::size_t nl = value.find('\n', pos);
    if (nl == std::string_view::npos) nl = value.size();
    std::string_view line = value.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string piece;
    bool pending_space = false;
    for (char c : line) {
      if (IsBlank(c)) {
        pending_space = !piece.empty();
        continue;
      }
      if (pending_space) piece += ' ';
      pending_space = false;
      piece += c;
    }
    if (first_line) {
      out = std::move(piece);
    } else if (!piece.empty()) {
      out += ',';
      out += piece;
    }
    first_line = false;
    if (nl == value.size()) break;
    pos = nl + 1;
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string_view> FindHeaders(const Headers& headers, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) out.emplace_back(h.value);
  }
  return out;
}

std::optional<std::string> FindHeader(const Headers& headers, std::string_view name) {
  std::optional<std::string> out;
  for (const auto& h : headers) {
    if (!EqualsIgnoreCase(h.name, name)) continue;
    if (out) {
      *out += ',';
      *out += h.value;
    } else {
      out = h.value;
    }
  }
  return out;
}

std::string CanonicalHeaders(const Headers& headers,
                             const std::vector<std::string>& signed_headers) {
  std::string out;
  for (const auto& name : signed_headers) {
    out += name;
    out += ':';
    bool first = true;
    for (const auto& h : headers) {
      if (!EqualsIgnoreCase(h.name, name)) continue;
      if (!first) out += ',';
      out += CanonicalHeaderValue(h.value);
      first = false;
    }
    out += '\n';
  }
  return out;
}

std::string JoinSignedHeaders(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ';';
    out += n;
  }
  return out;
}

std::string CanonicalRequest(const Request& request, PathMode mode,
                             const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash, std::string_view exclude_query) {
  std::string out;
  out.reserve(256);
  out += request.method;
  out += '\n';
  out += CanonicalUri(request.path, mode);
  out += '\n';
  out += CanonicalQuery(request.query, exclude_query);
  out += '\n';
  out += CanonicalHeaders(request.headers, signed_headers);
  out += '\n';
  out += JoinSignedHeaders(signed_headers);
  out += '\n';
  out += payload_hash;
  return out;
}

std::string CredentialScope(std::string_view date8, std::string_view region,
                            std::string_view service) {
  std::string out;
  out += date8;
  out += '/';
  out += region;
  out += '/';
  out += service;
  out += '/';
  out += kTerminator;
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out += '\n';
  out += amz_date;
  out += '\n';
  out += scope;
  out += '\n';
  out += Sha256Hex(canonical_request);
  return out;
}

std::string_view KeyView(const Sha256Digest& key) {
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}

Sha256Digest DeriveSigningKey(std::string_view secret, std::string_view date8,
                              std::string_view region, std::string_view service) {
  std::string k = "AWS4";
  k += secret;
  Sha256Digest date_key = HmacSha256(k, date8);
  Sha256Digest region_key = HmacSha256(KeyView(date_key), region);
  Sha256Digest service_key = HmacSha256(KeyView(region_key), service);
  return HmacSha256(KeyView(service_key), kTerminator);
}

std::string SignatureHex(const Sha256Digest& signing_key, std::string_view string_to_sign) {
  return HexEncode(HmacSha256(KeyView(signing_key), string_to_sign));
}

namespace {

using std::chrono::system_clock;

bool ParseDigits(std::string_view s, int* out) {
  int v = 0;
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

std::optional<system_clock::time_point> MakeTime(int y, int mo, int d, int h, int mi, int s) {
  using namespace std::chrono;
  if (h > 23 || mi > 59 || s > 60) return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return time_point_cast<system_clock::duration>(sys_days{ymd} + hours{h} + minutes{mi} +
                                                 seconds{s});
}

}  // namespace

std::string FormatAmzDate(system_clock::time_point t) {
  using namespace std::chrono;
  auto secs = floor<seconds>(t);
  auto days = floor<std::chrono::days>(secs);
  year_month_day ymd{days};
  hh_mm_ss<seconds> hms{secs - days};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::optional<system_clock::time_point> ParseAmzDate(std::string_view text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return std::nullopt;
  int y, mo, d, h, mi, s;
  if (!ParseDigits(text.substr(0, 4), &y) || !ParseDigits(text.substr(4, 2), &mo) ||
      !ParseDigits(text.substr(6, 2), &d) || !ParseDigits(text.substr(9, 2), &h) ||
      !ParseDigits(text.substr(11, 2), &mi) || !ParseDigits(text.substr(13, 2), &s)) {
    return std::nullopt;
  }
  return MakeTime(y, mo, d, h, mi, s);
}

std::optional<system_clock::time_point> ParseHttpDate(std::string_view text) {
  // "Fri, 24 May 2013 00:00:00 GMT"
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 29 || text[3] != ',' || text[4] != ' ' || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  int mo = 0;
  for (int i = 0; i < 12; ++i) {
    if (text.substr(8, 3) == kMonths[i]) mo = i + 1;
  }
  int y, d, h, mi, s;
  if (mo == 0 || !ParseDigits(text.substr(5, 2), &d) || !ParseDigits(text.substr(12, 4), &y) ||
      !ParseDigits(text.substr(17, 2), &h) || !ParseDigits(text.substr(20, 2), &mi) ||
      !ParseDigits(text.substr(23, 2), &s)) {
    return std::nullopt;
  }
  return MakeTime(y, mo, d, h, mi, s);
}

}  // namespace thumbpipe::sigv4
