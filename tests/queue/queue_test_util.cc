#include "queue_test_util.h"

#include <sqlite3.h>

#include <gtest/gtest.h>

namespace thumbpipe::queue::testing {

std::unique_ptr<Queue> OpenForTest(const std::filesystem::path& db, bool durable) {
  SqliteQueueOptions options;
  options.path = db;
  options.durable_sends = durable;
  auto queue = OpenSqliteQueue(options);
  EXPECT_TRUE(queue.ok()) << queue.status().ToString();
  if (!queue.ok()) return nullptr;
  return std::move(queue).value();
}

std::vector<Message> DrainVisible(Queue& queue, Duration visibility) {
  std::vector<Message> all;
  for (;;) {
    auto batch = queue.Receive(10, Duration{0}, visibility);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok() || batch->empty()) return all;
    for (Message& m : *batch) all.push_back(std::move(m));
  }
}

std::vector<std::string> Field(const std::vector<std::string>& lines, std::string_view tag) {
  std::vector<std::string> out;
  for (const std::string& line : lines) {
    if (line.size() <= tag.size() + 1 || line.compare(0, tag.size(), tag) != 0 ||
        line[tag.size()] != ' ') {
      continue;
    }
    const size_t start = tag.size() + 1;
    const size_t end = line.find(' ', start);
    out.push_back(line.substr(start, end == std::string::npos ? end : end - start));
  }
  return out;
}

std::vector<std::string> ErrorLines(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const std::string& line : lines) {
    if (line.rfind("e ", 0) == 0) out.push_back(line);
  }
  return out;
}

std::string IntegrityCheck(const std::filesystem::path& db) {
  // Straight to SQLite, not through the queue: the check is about the file the killed
  // process left, whatever the queue makes of it.
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string error = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close_v2(raw);
    return "open failed: " + error;
  }
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> handle(raw, sqlite3_close_v2);
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &stmt, nullptr) != SQLITE_OK) {
    return std::string("prepare failed: ") + sqlite3_errmsg(raw);
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owned(stmt, sqlite3_finalize);
  std::string result;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    if (!result.empty()) result += "; ";
    result += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  return result;
}

}  // namespace thumbpipe::queue::testing
