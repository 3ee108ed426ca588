// Value: a configuration value on its way between a source (TOML, an environment variable) and
// a field of Config, as one of five kinds. Internal to config/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/duration.h"
#include "common/result.h"

namespace thumbpipe::config {

enum class Kind { kBool, kInt, kString, kStringList, kDuration };

// Holds the alternative that matches the key's Kind, in the same order.
using Value = std::variant<bool, int64_t, std::string, std::vector<std::string>, Duration>;

// Renders a value as TOML ("60s" quoted, 42, true, ["a", "b"]); also used in error messages.
std::string RenderValue(const Value& value);
// A TOML basic string with quotes and escapes.
std::string QuoteToml(std::string_view text);

// "server.listen = \"x\"" for error messages: the path and the rendered value, except that
// secret keys are not shown and URL passwords are redacted.
std::string Assignment(std::string_view path, std::string_view key, const Value& value);

// "an integer", "a duration string such as \"60s\"", ... for type errors.
std::string_view KindName(Kind kind);

// Parses environment-variable text as a value of `kind`: integers in decimal, booleans as
// true/false/1/0 (any case), durations as ParseDuration reads them, strings as they are, and
// string lists as comma-separated items with surrounding spaces trimmed ("" = empty list).
Result<Value> ParseEnvValue(Kind kind, std::string_view text);

}  // namespace thumbpipe::config
