#include "sigv4/test_util.h"

namespace thumbpipe::sigv4::testing {

std::optional<Request> ParseSuiteRequest(std::string_view text) {
  Request r;
  std::size_t eol = text.find('\n');
  std::string_view first = text.substr(0, eol);
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  std::size_t sp = first.find(' ');
  std::size_t http = first.rfind(" HTTP/");
  if (sp == std::string_view::npos || http == std::string_view::npos || http <= sp)
    return std::nullopt;
  r.method = std::string(first.substr(0, sp));
  std::string_view target = first.substr(sp + 1, http - sp - 1);
  std::size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  std::string body;
  std::size_t pos = eol == std::string_view::npos ? text.size() : eol + 1;
  while (pos < text.size()) {
    std::size_t next = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, next == std::string_view::npos ? text.size() - pos : next - pos);
    pos = next == std::string_view::npos ? text.size() : next + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      body = std::string(text.substr(pos));
      break;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !r.headers.empty()) {
      r.headers.back().value += "\n";
      r.headers.back().value += line;
      continue;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    r.headers.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
  }
  r.payload_hash = Sha256Hex(body);
  return r;
}

}  // namespace thumbpipe::sigv4::testing
