// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-26T22:40:01.123Z","level":"info","msg":"thumbnail done","key":"a.jpg","ms":12}
// Backed by spdlog (thread-safe sink, level filtering). Call InitLogging once at start-up;
// before that, records go to stderr at level info.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace thumbpipe {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };

// Parses "trace", "debug", "info", "warn", "error", "off".
Result<LogLevel> ParseLogLevel(std::string_view text);
// The name ParseLogLevel reads back.
std::string_view LogLevelName(LogLevel level);

// Sends records at `level` and above to stderr.
void InitLogging(LogLevel level);

// Emits one record. `fields` must be a JSON object (or null); its members are added to the
// record beside ts, level and msg.
void Log(LogLevel level, std::string_view msg, const nlohmann::json& fields = nullptr);

inline void LogDebug(std::string_view msg, const nlohmann::json& f = nullptr) { Log(LogLevel::kDebug, msg, f); }
inline void LogInfo(std::string_view msg, const nlohmann::json& f = nullptr) { Log(LogLevel::kInfo, msg, f); }
inline void LogWarn(std::string_view msg, const nlohmann::json& f = nullptr) { Log(LogLevel::kWarn, msg, f); }
inline void LogError(std::string_view msg, const nlohmann::json& f = nullptr) { Log(LogLevel::kError, msg, f); }

// Builds the JSON line for a record (exposed for tests).
std::string FormatLogRecord(LogLevel level, std::string_view msg, const nlohmann::json& fields,
                            std::chrono::system_clock::time_point ts);

}  // namespace thumbpipe
