// The one description of every configuration key: its place (section and name), its type,
// its range and how to read and write it in a Config. The TOML reader, the environment
// overrides, Validate, ToToml, equality and the documentation test all walk these tables, so
// a key added here is read, overridden, checked, printed and documented in one go.
//
// Internal to config/. Values travel as a Value (one of five kinds) so that the readers do not
// need to know the C++ type of each field.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/duration.h"
#include "common/result.h"
#include "config/config.h"
#include "config/value.h"

namespace thumbpipe::config {

// One key of a table of type T (Config, image::Variant or Credential).
template <typename T>
struct KeySpec {
  std::string_view section;  // "" for the top level of T
  std::string_view key;
  Kind kind;
  // Inclusive range of a kInt value, or of a kDuration value in milliseconds.
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
  Value (*get)(const T&) = nullptr;
  // Stores a value of the right kind and range; fails when the text is not one of the allowed
  // names (enums) or does not fit the field.
  Status (*set)(T&, const Value&) = nullptr;
  // Further check of the value's form (listen addresses, URLs); nullptr = none.
  Status (*check)(const Value&) = nullptr;
};

// The scalar keys of Config, in documentation order. Sections: log, server, store, trigger,
// output, queue, worker, limits.
std::span<const KeySpec<Config>> ConfigKeys();
// The keys of one [[variant]] / [[credentials]] table.
std::span<const KeySpec<image::Variant>> VariantKeys();
std::span<const KeySpec<Credential>> CredentialKeys();

// The sections that hold scalar keys, in documentation order, and the arrays of tables.
std::span<const std::string_view> SectionNames();
inline constexpr std::string_view kVariantArray = "variant";
inline constexpr std::string_view kCredentialsArray = "credentials";

// "server.listen", or "data_dir" for a top-level key.
template <typename T>
std::string KeyPath(const KeySpec<T>& spec) {
  if (spec.section.empty()) return std::string(spec.key);
  return std::string(spec.section) + "." + std::string(spec.key);
}

// THUMBPIPE_SERVER_LISTEN for server.listen.
std::string EnvName(const KeySpec<Config>& spec);

// The comma-separated key names of `section` in `keys` ("listen, max_connections, ...").
template <typename T>
std::string AllowedKeys(std::span<const KeySpec<T>> keys, std::string_view section) {
  std::string out;
  for (const auto& spec : keys) {
    if (spec.section != section) continue;
    if (!out.empty()) out += ", ";
    out += spec.key;
  }
  return out;
}

// Checks `value` against the spec's range and check function. The message says only what is
// wrong ("must be between 0s and 12h"); callers prefix the key and where it came from.
template <typename T>
Status CheckValue(const KeySpec<T>& spec, const Value& value);

// Applies spec.set after CheckValue, so that every reader range-checks the same way.
template <typename T>
Status CheckAndSet(const KeySpec<T>& spec, T& target, const Value& value) {
  THUMBPIPE_RETURN_IF_ERROR(CheckValue(spec, value));
  return spec.set(target, value);
}

}  // namespace thumbpipe::config
