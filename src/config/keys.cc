#include "config/keys.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cstdio>
#include <type_traits>
#include <utility>

#include "config/checks.h"

namespace thumbpipe::config {
namespace {

using namespace std::chrono_literals;

// ---- How each C++ field type maps to a Value -------------------------------------------

template <typename F>
struct Field;

template <>
struct Field<bool> {
  static constexpr Kind kKind = Kind::kBool;
  static Value Get(bool f) { return f; }
  static Status Set(bool& f, const Value& v) {
    f = std::get<bool>(v);
    return Status::Ok();
  }
};

// Ranges in the tables keep values within int; the check here guards keys added without one.
template <>
struct Field<int> {
  static constexpr Kind kKind = Kind::kInt;
  static Value Get(int f) { return int64_t{f}; }
  static Status Set(int& f, const Value& v) {
    const int64_t n = std::get<int64_t>(v);
    if (n < INT_MIN || n > INT_MAX) return Status::InvalidArgument("out of range");
    f = static_cast<int>(n);
    return Status::Ok();
  }
};

template <>
struct Field<uint64_t> {
  static constexpr Kind kKind = Kind::kInt;
  // TOML integers are signed 64-bit; nothing configurable comes near the top half.
  static Value Get(uint64_t f) { return static_cast<int64_t>(std::min<uint64_t>(f, INT64_MAX)); }
  static Status Set(uint64_t& f, const Value& v) {
    const int64_t n = std::get<int64_t>(v);
    if (n < 0) return Status::InvalidArgument("must not be negative");
    f = static_cast<uint64_t>(n);
    return Status::Ok();
  }
};

template <>
struct Field<Duration> {
  static constexpr Kind kKind = Kind::kDuration;
  static Value Get(Duration f) { return f; }
  static Status Set(Duration& f, const Value& v) {
    f = std::get<Duration>(v);
    return Status::Ok();
  }
};

template <>
struct Field<std::string> {
  static constexpr Kind kKind = Kind::kString;
  static Value Get(const std::string& f) { return f; }
  static Status Set(std::string& f, const Value& v) {
    f = std::get<std::string>(v);
    return Status::Ok();
  }
};

template <>
struct Field<std::filesystem::path> {
  static constexpr Kind kKind = Kind::kString;
  static Value Get(const std::filesystem::path& f) { return f.string(); }
  static Status Set(std::filesystem::path& f, const Value& v) {
    f = std::get<std::string>(v);
    return Status::Ok();
  }
};

template <>
struct Field<std::vector<std::string>> {
  static constexpr Kind kKind = Kind::kStringList;
  static Value Get(const std::vector<std::string>& f) { return f; }
  static Status Set(std::vector<std::string>& f, const Value& v) {
    f = std::get<std::vector<std::string>>(v);
    return Status::Ok();
  }
};

// An enum written as its name; kParse's error lists the allowed names.
template <typename E, auto kName, auto kParse>
struct EnumField {
  static constexpr Kind kKind = Kind::kString;
  static Value Get(E f) { return std::string(kName(f)); }
  static Status Set(E& f, const Value& v) {
    Result<E> parsed = kParse(std::get<std::string>(v));
    if (!parsed.ok()) return parsed.status();
    f = *parsed;
    return Status::Ok();
  }
};

std::string ColourName(image::Colour c) {
  char buf[10];
  if (c.a == 255) {
    std::snprintf(buf, sizeof(buf), "#%02x%02x%02x", c.r, c.g, c.b);
  } else {
    std::snprintf(buf, sizeof(buf), "#%02x%02x%02x%02x", c.r, c.g, c.b, c.a);
  }
  return buf;
}

template <>
struct Field<LogLevel> : EnumField<LogLevel, LogLevelName, ParseLogLevel> {};
template <>
struct Field<Access> : EnumField<Access, AccessName, ParseAccess> {};
template <>
struct Field<Durability> : EnumField<Durability, DurabilityName, ParseDurability> {};
template <>
struct Field<WorkerIsolation> : EnumField<WorkerIsolation, WorkerIsolationName, ParseWorkerIsolation> {};
template <>
struct Field<image::Fit> : EnumField<image::Fit, image::FitName, image::ParseFit> {};
template <>
struct Field<image::Gravity> : EnumField<image::Gravity, image::GravityName, image::ParseGravity> {
};
template <>
struct Field<image::Format> : EnumField<image::Format, image::FormatName, image::ParseFormat> {};
template <>
struct Field<image::Colour> : EnumField<image::Colour, ColourName, image::ParseColour> {};

template <>
struct Field<std::vector<image::InputFormat>> {
  static constexpr Kind kKind = Kind::kStringList;
  static Value Get(const std::vector<image::InputFormat>& f) {
    std::vector<std::string> names;
    for (image::InputFormat format : f) names.emplace_back(image::InputFormatName(format));
    return names;
  }
  static Status Set(std::vector<image::InputFormat>& f, const Value& v) {
    std::vector<image::InputFormat> formats;
    for (const std::string& name : std::get<std::vector<std::string>>(v)) {
      Result<image::InputFormat> format = image::ParseInputFormat(name);
      if (!format.ok()) return format.status();
      if (std::find(formats.begin(), formats.end(), *format) == formats.end()) {
        formats.push_back(*format);
      }
    }
    f = std::move(formats);
    return Status::Ok();
  }
};

// ---- Building table entries -------------------------------------------------------------

// Follows a chain of member pointers: Follow<&Config::server, &ServerConfig::listen>(config).
template <auto kFirst, auto... kRest, typename T>
constexpr auto& Follow(T& t) {
  if constexpr (sizeof...(kRest) == 0) {
    return t.*kFirst;
  } else {
    return Follow<kRest...>(t.*kFirst);
  }
}

struct Range {
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
};

constexpr int64_t Ms(Duration d) { return d.count(); }
constexpr Range Between(Duration lo, Duration hi) { return {Ms(lo), Ms(hi)}; }
constexpr Range AtLeast(int64_t lo) { return {lo, std::numeric_limits<int64_t>::max()}; }

using Check = Status (*)(const Value&);

template <Status (*kCheck)(std::string_view)>
Status CheckString(const Value& v) {
  return kCheck(std::get<std::string>(v));
}
template <Status (*kCheck)(std::span<const std::string>)>
Status CheckList(const Value& v) {
  return kCheck(std::get<std::vector<std::string>>(v));
}
// Below 64 MiB no image job of any size fits beside libvips' own buffers.
Status CheckMemoryBudget(const Value& v) {
  const int64_t bytes = std::get<int64_t>(v);
  if (bytes == 0 || bytes >= (int64_t{64} << 20)) return Status::Ok();
  return Status::InvalidArgument("must be 0 (automatic) or at least 67108864 (64 MiB)");
}
Status CheckListNotEmpty(const Value& v) {
  return std::get<std::vector<std::string>>(v).empty()
             ? Status::InvalidArgument("must list at least one value")
             : Status::Ok();
}

// The entry for the field reached by kPath inside T. Its kind comes from the field's type, so
// a table entry cannot disagree with the struct.
template <typename T, auto... kPath>
constexpr KeySpec<T> Key(std::string_view section, std::string_view key, Range range = {},
                         Check check = nullptr) {
  using F = std::remove_cvref_t<decltype(Follow<kPath...>(std::declval<T&>()))>;
  if constexpr (std::is_same_v<F, int>) {
    range.min = std::max<int64_t>(range.min, INT_MIN);
    range.max = std::min<int64_t>(range.max, INT_MAX);
  }
  return KeySpec<T>{
      .section = section,
      .key = key,
      .kind = Field<F>::kKind,
      .min = range.min,
      .max = range.max,
      .get = [](const T& t) -> Value { return Field<F>::Get(Follow<kPath...>(t)); },
      .set = [](T& t, const Value& v) { return Field<F>::Set(Follow<kPath...>(t), v); },
      .check = check,
  };
}

// limits.enable_svg / enable_pdf are not fields: true adds the format to allowed_formats,
// false removes it. They come after allowed_formats in the table, so that they apply to the
// list whichever source set it; reading one back says whether the format is allowed.
template <image::InputFormat kFormat>
constexpr KeySpec<Config> EnableFormatKey(std::string_view key) {
  return KeySpec<Config>{
      .section = "limits",
      .key = key,
      .kind = Kind::kBool,
      .get = [](const Config& c) -> Value {
        const auto& f = c.limits.allowed_formats;
        return std::find(f.begin(), f.end(), kFormat) != f.end();
      },
      .set =
          [](Config& c, const Value& v) {
            auto& f = c.limits.allowed_formats;
            std::erase(f, kFormat);
            if (std::get<bool>(v)) f.push_back(kFormat);
            return Status::Ok();
          },
  };
}

// ---- The tables ---------------------------------------------------------------------------

template <auto... kPath>
constexpr KeySpec<Config> C(std::string_view section, std::string_view key, Range range = {},
                            Check check = nullptr) {
  return Key<Config, kPath...>(section, key, range, check);
}

using image::InputFormat;
using image::Limits;
using image::Variant;

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kMiB = int64_t{1} << 20;

// Ranges follow the systems whose semantics we copy: SQS for the queue (visibility 0-12h,
// retention 60s-14d, delay 0-15m, message 1 KiB-1 MiB, batch 1-10, wait 0-20s) and S3 for the
// largest single PUT (5 GiB).
const KeySpec<Config> kConfigKeys[] = {
    C<&Config::data_dir>("", "data_dir", {}, CheckString<CheckNotEmpty>),
    C<&Config::log, &LogConfig::level>("log", "level"),
    C<&Config::server, &ServerConfig::listen>("server", "listen", {}, CheckString<CheckListen>),
    C<&Config::server, &ServerConfig::max_connections>("server", "max_connections", {1, 1'000'000}),
    C<&Config::server, &ServerConfig::max_header_bytes>("server", "max_header_bytes", {1024, kMiB}),
    C<&Config::server, &ServerConfig::max_body_bytes>("server", "max_body_bytes", {1, 5 * kGiB}),
    C<&Config::server, &ServerConfig::idle_timeout>("server", "idle_timeout", Between(1s, 24h)),
    C<&Config::server, &ServerConfig::header_timeout>("server", "header_timeout", Between(1s, 1h)),
    C<&Config::server, &ServerConfig::body_timeout>("server", "body_timeout", Between(1s, 24h)),
    C<&Config::server, &ServerConfig::write_timeout>("server", "write_timeout", Between(1s, 24h)),
    C<&Config::server, &ServerConfig::io_threads>("server", "io_threads", {1, 64}),
    C<&Config::server, &ServerConfig::worker_threads>("server", "worker_threads", {1, 1024}),
    C<&Config::server, &ServerConfig::region>("server", "region", {}, CheckString<CheckRegion>),
    C<&Config::server, &ServerConfig::public_url>("server", "public_url", {},
                                                  CheckString<CheckPublicUrl>),
    C<&Config::server, &ServerConfig::cors_allowed_origins>("server", "cors_allowed_origins", {},
                                                            CheckList<CheckOrigins>),
    C<&Config::server, &ServerConfig::sqs_max_long_polls>("server", "sqs_max_long_polls", {0, 64}),
    C<&Config::server, &ServerConfig::sqs_max_queues>("server", "sqs_max_queues", {0, 10'000}),
    C<&Config::store, &StoreConfig::url>("store", "url", {}, CheckString<CheckStoreUrl>),
    C<&Config::trigger, &TriggerConfig::bucket>("trigger", "bucket", {},
                                                CheckString<CheckBucketName>),
    C<&Config::trigger, &TriggerConfig::prefix>("trigger", "prefix"),
    C<&Config::trigger, &TriggerConfig::suffixes>("trigger", "suffixes", {},
                                                  CheckList<CheckSuffixes>),
    C<&Config::trigger, &TriggerConfig::events>("trigger", "events", {}, CheckList<CheckEvents>),
    C<&Config::output, &OutputConfig::bucket>("output", "bucket", {}, CheckString<CheckBucketName>),
    C<&Config::output, &OutputConfig::prefix>("output", "prefix"),
    C<&Config::queue, &QueueConfig::url>("queue", "url", {}, CheckString<CheckQueueUrl>),
    C<&Config::queue, &QueueConfig::visibility_timeout>("queue", "visibility_timeout",
                                                        Between(0s, 12h)),
    C<&Config::queue, &QueueConfig::max_receive_count>("queue", "max_receive_count", {1, 1000}),
    C<&Config::queue, &QueueConfig::retention>("queue", "retention", Between(60s, 14 * 24h)),
    C<&Config::queue, &QueueConfig::dlq_retention>("queue", "dlq_retention",
                                                   Between(60s, 14 * 24h)),
    C<&Config::queue, &QueueConfig::delay>("queue", "delay", Between(0s, 15min)),
    C<&Config::queue, &QueueConfig::max_message_bytes>("queue", "max_message_bytes", {1024, kMiB}),
    C<&Config::queue, &QueueConfig::durability>("queue", "durability"),
    C<&Config::worker, &WorkerConfig::concurrency>("worker", "concurrency", {0, 256}),
    C<&Config::worker, &WorkerConfig::batch>("worker", "batch", {1, 10}),
    C<&Config::worker, &WorkerConfig::wait>("worker", "wait", Between(0s, 20s)),
    C<&Config::worker, &WorkerConfig::heartbeat>("worker", "heartbeat", Between(0s, 12h)),
    C<&Config::worker, &WorkerConfig::shutdown_grace>("worker", "shutdown_grace", Between(0s, 1h)),
    C<&Config::worker, &WorkerConfig::job_nice>("worker", "job_nice", {0, 19}),
    C<&Config::worker, &WorkerConfig::receive_ahead>("worker", "receive_ahead", {0, 10}),
    C<&Config::worker, &WorkerConfig::metrics_listen>("worker", "metrics_listen", {},
                                                      CheckString<CheckListen>),
    C<&Config::worker, &WorkerConfig::isolation>("worker", "isolation"),
    C<&Config::worker, &WorkerConfig::memory_budget>("worker", "memory_budget",
                                                     AtLeast(0), CheckMemoryBudget),
    C<&Config::limits, &Limits::max_input_bytes>("limits", "max_input_bytes", AtLeast(1)),
    C<&Config::limits, &Limits::max_input_pixels>("limits", "max_input_pixels", AtLeast(1)),
    C<&Config::limits, &Limits::max_frames>("limits", "max_frames", {1, 10'000}),
    C<&Config::limits, &Limits::max_interlaced_pixels>("limits", "max_interlaced_pixels",
                                                       AtLeast(1)),
    C<&Config::limits, &Limits::max_processing_time>("limits", "max_processing_time", Between(1s, 1h)),
    C<&Config::limits, &Limits::allowed_formats>("limits", "allowed_formats", {},
                                                 CheckListNotEmpty),
    EnableFormatKey<InputFormat::kSvg>("enable_svg"),
    EnableFormatKey<InputFormat::kPdf>("enable_pdf"),
};

// Ranges of variant fields are image::ValidateVariant's business; only the int bounds apply.
const KeySpec<Variant> kVariantKeys[] = {
    Key<Variant, &Variant::name>("", "name"),
    Key<Variant, &Variant::width>("", "width"),
    Key<Variant, &Variant::height>("", "height"),
    Key<Variant, &Variant::fit>("", "fit"),
    Key<Variant, &Variant::gravity>("", "gravity"),
    Key<Variant, &Variant::enlarge>("", "enlarge"),
    Key<Variant, &Variant::format>("", "format"),
    Key<Variant, &Variant::quality>("", "quality"),
    Key<Variant, &Variant::effort>("", "effort"),
    Key<Variant, &Variant::progressive>("", "progressive"),
    Key<Variant, &Variant::background>("", "background"),
    Key<Variant, &Variant::animated>("", "animated"),
};

const KeySpec<Credential> kCredentialKeys[] = {
    Key<Credential, &Credential::access_key>("", "access_key", {}, CheckString<CheckAccessKey>),
    Key<Credential, &Credential::secret_key>("", "secret_key", {}, CheckString<CheckSecretKey>),
    Key<Credential, &Credential::admin>("", "admin"),
    Key<Credential, &Credential::buckets>("", "buckets", {}, CheckList<CheckBuckets>),
    Key<Credential, &Credential::access>("", "access"),
};

constexpr std::string_view kSections[] = {"log",    "server", "store",  "trigger",
                                          "output", "queue",  "worker", "limits"};

template <typename E>
struct Named {
  std::string_view name;
  E value;
};
constexpr Named<Access> kAccessNames[] = {{"read-write", Access::kReadWrite},
                                          {"read-only", Access::kReadOnly},
                                          {"write-only", Access::kWriteOnly}};
constexpr Named<Durability> kDurabilityNames[] = {{"full", Durability::kFull},
                                                  {"normal", Durability::kNormal}};
constexpr Named<WorkerIsolation> kWorkerIsolationNames[] = {{"thread", WorkerIsolation::kThread},
                                                            {"process", WorkerIsolation::kProcess}};

template <typename E, size_t N>
Result<E> LookupName(const Named<E> (&table)[N], std::string_view what, std::string_view text) {
  std::string allowed;
  for (const auto& entry : table) {
    if (entry.name == text) return entry.value;
    allowed += (allowed.empty() ? "" : ", ") + std::string(entry.name);
  }
  return Status::InvalidArgument("unknown " + std::string(what) + " \"" + std::string(text) +
                                 "\" (allowed: " + allowed + ")");
}

template <typename E, size_t N>
std::string_view NameOf(const Named<E> (&table)[N], E value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return table[0].name;
}

template <typename T>
bool SameValues(std::span<const KeySpec<T>> keys, const T& a, const T& b) {
  return std::all_of(keys.begin(), keys.end(),
                     [&](const KeySpec<T>& spec) { return spec.get(a) == spec.get(b); });
}

}  // namespace

std::span<const KeySpec<Config>> ConfigKeys() { return kConfigKeys; }
std::span<const KeySpec<image::Variant>> VariantKeys() { return kVariantKeys; }
std::span<const KeySpec<Credential>> CredentialKeys() { return kCredentialKeys; }
std::span<const std::string_view> SectionNames() { return kSections; }

std::string_view AccessName(Access access) { return NameOf(kAccessNames, access); }
std::string_view DurabilityName(Durability durability) {
  return NameOf(kDurabilityNames, durability);
}
std::string_view WorkerIsolationName(WorkerIsolation isolation) {
  return NameOf(kWorkerIsolationNames, isolation);
}
Result<Access> ParseAccess(std::string_view text) {
  return LookupName(kAccessNames, "access", text);
}
Result<Durability> ParseDurability(std::string_view text) {
  return LookupName(kDurabilityNames, "durability", text);
}
Result<WorkerIsolation> ParseWorkerIsolation(std::string_view text) {
  return LookupName(kWorkerIsolationNames, "isolation", text);
}

std::string EnvName(const KeySpec<Config>& spec) {
  std::string name = "THUMBPIPE_";
  for (char c : KeyPath(spec)) {
    name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

template <typename T>
Status CheckValue(const KeySpec<T>& spec, const Value& value) {
  if (spec.kind == Kind::kInt || spec.kind == Kind::kDuration) {
    const int64_t n =
        spec.kind == Kind::kInt ? std::get<int64_t>(value) : Ms(std::get<Duration>(value));
    if (n < spec.min || n > spec.max) {
      auto show = [&](int64_t bound) {
        return spec.kind == Kind::kInt ? std::to_string(bound) : FormatDuration(Duration{bound});
      };
      if (spec.max == std::numeric_limits<int64_t>::max()) {
        return Status::InvalidArgument("must be at least " + show(spec.min));
      }
      return Status::InvalidArgument("must be between " + show(spec.min) + " and " +
                                     show(spec.max));
    }
  }
  return spec.check == nullptr ? Status::Ok() : spec.check(value);
}

template Status CheckValue(const KeySpec<Config>&, const Value&);
template Status CheckValue(const KeySpec<image::Variant>&, const Value&);
template Status CheckValue(const KeySpec<Credential>&, const Value&);

bool operator==(const Config& a, const Config& b) {
  if (!SameValues(ConfigKeys(), a, b)) return false;
  if (a.recipe.variants.size() != b.recipe.variants.size()) return false;
  for (size_t i = 0; i < a.recipe.variants.size(); ++i) {
    if (!SameValues(VariantKeys(), a.recipe.variants[i], b.recipe.variants[i])) return false;
  }
  if (a.credentials.size() != b.credentials.size()) return false;
  for (size_t i = 0; i < a.credentials.size(); ++i) {
    if (!SameValues(CredentialKeys(), a.credentials[i], b.credentials[i])) return false;
  }
  return true;
}

}  // namespace thumbpipe::config
