#include "config/value.h"

#include <cctype>
#include <charconv>
#include <cstdio>

#include "config/checks.h"

namespace thumbpipe::config {
namespace {

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string QuoteToml(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string RenderValue(const Value& value) {
  struct Visitor {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t n) const { return std::to_string(n); }
    std::string operator()(const std::string& s) const { return QuoteToml(s); }
    std::string operator()(Duration d) const { return QuoteToml(FormatDuration(d)); }
    std::string operator()(const std::vector<std::string>& list) const {
      std::string out = "[";
      for (const std::string& s : list) out += (out.size() > 1 ? ", " : "") + QuoteToml(s);
      return out + "]";
    }
  };
  return std::visit(Visitor{}, value);
}

std::string Assignment(std::string_view path, std::string_view key, const Value& value) {
  if (key == "secret_key") return std::string(path);
  if (const auto* text = std::get_if<std::string>(&value)) {
    return std::string(path) + " = " + QuoteToml(RedactUrlPassword(*text));
  }
  return std::string(path) + " = " + RenderValue(value);
}

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kBool:
      return "a boolean";
    case Kind::kInt:
      return "an integer";
    case Kind::kString:
      return "a string";
    case Kind::kStringList:
      return "an array of strings";
    case Kind::kDuration:
      return "a duration string such as \"60s\"";
  }
  return "a value";
}

Result<Value> ParseEnvValue(Kind kind, std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("expected " + std::string(KindName(kind)) + ", found \"" +
                                   std::string(text) + "\"");
  };
  switch (kind) {
    case Kind::kBool: {
      const std::string lower = Lower(text);
      if (lower == "true" || lower == "1") return Value{true};
      if (lower == "false" || lower == "0") return Value{false};
      return bad();
    }
    case Kind::kInt: {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return bad();
      return Value{n};
    }
    case Kind::kString:
      return Value{std::string(text)};
    case Kind::kStringList: {
      std::vector<std::string> items;
      if (Trim(text).empty()) return Value{items};
      size_t start = 0;
      while (true) {
        const size_t comma = text.find(',', start);
        items.push_back(Trim(text.substr(start, comma - start)));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      return Value{std::move(items)};
    }
    case Kind::kDuration: {
      Result<Duration> d = ParseDuration(text);
      if (!d.ok()) return d.status();
      return Value{*d};
    }
  }
  return bad();
}

}  // namespace thumbpipe::config
