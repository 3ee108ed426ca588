#include "common/duration.h"

#include <cctype>
#include <cstdint>
#include <limits>

namespace thumbpipe {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t millis;
};

// Longest suffixes first so that "ms" is not read as "m" followed by garbage.
constexpr Unit kUnits[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000},
};

Status BadDuration(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("invalid duration \"" + std::string(text) + "\": " +
                                 std::string(why) +
                                 " (expected a number and a unit: ms, s, m, h, d; e.g. \"500ms\", "
                                 "\"60s\", \"4d\")");
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return BadDuration(text, "empty");
  if (text == "0") return Duration{0};
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return BadDuration(text, "expected a digit at position " + std::to_string(i));
    }
    int64_t number = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (number > (std::numeric_limits<int64_t>::max() - 9) / 10) return BadDuration(text, "too large");
      number = number * 10 + (text[i] - '0');
      ++i;
    }
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.suffix.size()) == u.suffix) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return BadDuration(text, "missing or unknown unit");
    i += unit->suffix.size();
    if (number > (std::numeric_limits<int64_t>::max() - total) / unit->millis) {
      return BadDuration(text, "too large");
    }
    total += number * unit->millis;
  }
  return Duration{total};
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it) {
    if (ms >= it->millis) {
      out += std::to_string(ms / it->millis);
      out += it->suffix;
      ms %= it->millis;
    }
  }
  return out;
}

}  // namespace thumbpipe
