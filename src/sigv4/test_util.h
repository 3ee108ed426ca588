// Helpers for the sigv4 tests: parsing the AWS test-suite request format and building
// signed requests to mutate.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sigv4/canonical.h"

namespace thumbpipe::sigv4::testing {

// Parses a test-suite .req/.sreq: "METHOD PATH HTTP/1.1", header lines (a line starting
// with a blank continues the previous value, joined with "\n"), a blank line, the body.
// The payload hash is the SHA-256 of the body.
std::optional<Request> ParseSuiteRequest(std::string_view text);

}  // namespace thumbpipe::sigv4::testing
