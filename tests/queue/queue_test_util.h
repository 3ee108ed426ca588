// Helpers shared by the queue process tests: opening the test's own view of the database and
// draining it, parsing queue_child's output.
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "queue/sqlite_queue.h"

namespace thumbpipe::queue::testing {

// Opens the queue file as the tests' "restarted process" does; fails the test on error.
std::unique_ptr<Queue> OpenForTest(const std::filesystem::path& db, bool durable = true);

// Receives until a receive with no wait comes back empty; returns every message received.
// Each is then in flight for `visibility`.
std::vector<Message> DrainVisible(Queue& queue, Duration visibility = std::chrono::minutes(10));

// The second field of every line that starts with `tag` and a space ("s ID" -> ID).
std::vector<std::string> Field(const std::vector<std::string>& lines, std::string_view tag);

// Lines starting with "e " (calls that failed in the child).
std::vector<std::string> ErrorLines(const std::vector<std::string>& lines);

// "PRAGMA integrity_check" on the database file; "ok" when it is sound.
std::string IntegrityCheck(const std::filesystem::path& db);

}  // namespace thumbpipe::queue::testing
