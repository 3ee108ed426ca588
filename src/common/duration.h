// Durations as people write them in config files and flags: "500ms", "60s", "15m", "12h",
// "4d", or combinations such as "1h30m". A bare "0" means zero. Negative values, unknown
// units, overflow and empty text are errors that say what was expected.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace thumbpipe {

using Duration = std::chrono::milliseconds;

Result<Duration> ParseDuration(std::string_view text);

// The shortest exact spelling that ParseDuration reads back: "1h30m", "250ms", "0s".
std::string FormatDuration(Duration d);

}  // namespace thumbpipe
