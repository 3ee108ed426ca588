#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <mutex>

namespace thumbpipe {
namespace {

constexpr std::string_view kLevelNames[] = {"trace", "debug", "info", "warn", "error", "off"};

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return spdlog::level::trace;
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

// The logger is made on first use so that code (and tests) that log before InitLogging
// still write JSON to stderr. The record is already JSON, so the sink pattern is just %v.
spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>("thumbpipe",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::info);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

std::string Timestamp(std::chrono::system_clock::time_point ts) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(ts.time_since_epoch()).count() % 1000;
  const std::time_t secs = system_clock::to_time_t(ts);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(buf, n) + fmt::format(".{:03d}Z", static_cast<int>(ms));
}

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view text) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (text == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  return Status::InvalidArgument("unknown log level \"" + std::string(text) +
                                 "\" (allowed: trace, debug, info, warn, error, off)");
}

std::string_view LogLevelName(LogLevel level) { return kLevelNames[static_cast<size_t>(level)]; }

void InitLogging(LogLevel level) { Logger().set_level(ToSpdlog(level)); }

std::string FormatLogRecord(LogLevel level, std::string_view msg, const nlohmann::json& fields,
                            std::chrono::system_clock::time_point ts) {
  nlohmann::ordered_json record;
  record["ts"] = Timestamp(ts);
  record["level"] = LogLevelName(level);
  record["msg"] = msg;
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items()) {
      if (k == "ts" || k == "level" || k == "msg") {
        record["field." + k] = v;  // never let a field overwrite the envelope
      } else {
        record[k] = v;
      }
    }
  } else if (!fields.is_null()) {
    record["fields"] = fields;
  }
  // Replace invalid UTF-8 (object keys, library messages) rather than throw.
  return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Log(LogLevel level, std::string_view msg, const nlohmann::json& fields) {
  spdlog::logger& logger = Logger();
  const auto lvl = ToSpdlog(level);
  if (!logger.should_log(lvl)) return;
  logger.log(lvl, "{}", FormatLogRecord(level, msg, fields, std::chrono::system_clock::now()));
}

}  // namespace thumbpipe
