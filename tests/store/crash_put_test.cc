// Puts that returned survive the writer being SIGKILLed at a random moment (issue 4
// "Robustness"; reliability.md 4.4 invariants a, b, e, f), with a real child process
// (store_child) writing from several threads into one data directory, round after round:
//  - every put the child reported is readable with the right bytes and ETag;
//  - its outbox entry exists (the event was committed with the object);
//  - nothing else appeared beyond the puts in flight at the kill;
//  - after reopening, no temp blob is left and every blob file belongs to an object;
//  - PRAGMA integrity_check is ok.
// The kill moment is random; the assertions never depend on it.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "crash_body.h"
#include "store/local_store.h"

namespace thumbpipe::store::testing {
namespace {

namespace fs = std::filesystem;
using queue::testing::ChildProcess;
using queue::testing::PollUntil;
using queue::testing::ReadCompleteLines;
using queue::testing::ScratchDir;
using std::chrono::milliseconds;

constexpr int kRounds = 8;
constexpr int kThreads = 4;

std::string IntegrityCheck(const fs::path& db_path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return result;
}

size_t CountFiles(const fs::path& dir) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

std::string ReadAll(ObjectReader& reader) {
  std::string out;
  char buffer[65536];
  for (;;) {
    auto n = reader.Read(std::span<char>(buffer, sizeof buffer));
    if (!n.ok() || *n == 0) return out;
    out.append(buffer, *n);
  }
}

TEST(CrashPutTest, AcknowledgedPutsAndTheirEventsSurviveSigkill) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const fs::path data = dir.path() / "data";
  std::mt19937 rng(std::random_device{}());
  std::set<std::string> all_reported;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const fs::path out = dir.path() / ("child" + std::to_string(round) + ".out");
    ChildProcess child({STORE_CHILD_PATH, data.string(), std::to_string(round), std::to_string(kThreads)}, out);
    ASSERT_TRUE(child.ok());
    if (round == 0) {
      // Early, perhaps while the child is still creating the index: it must open after.
      std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<>(0, 30)(rng)));
    } else {
      const size_t after = std::uniform_int_distribution<size_t>(1, 300)(rng);
      ASSERT_TRUE(PollUntil([&] { return ReadCompleteLines(out).size() >= after; }, milliseconds(60'000)))
          << "the child did not report " << after << " puts";
      std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<>(0, 20)(rng)));
    }
    child.Kill();

    std::map<std::string, std::pair<uint64_t, std::string>> reported;  // key -> size, etag
    for (const std::string& line : ReadCompleteLines(out)) {
      std::istringstream in(line);
      std::string word, key, etag;
      uint64_t size = 0;
      in >> word >> key >> size >> etag;
      ASSERT_EQ(word, "ok") << line;
      reported[key] = {size, etag};
    }

    LocalStoreOptions options;
    options.dir = data;
    auto opened = OpenLocalStore(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<ObjectStore> s = std::move(opened).value();
    EXPECT_TRUE(fs::is_empty(data / "tmp")) << "a temp blob survived the start-up sweep";
    if (reported.empty()) {
      // A child killed before it made the bucket: the listings below need it.
      Status made = s->CreateBucket(kCrashBucket);
      ASSERT_TRUE(made.ok() || made.code() == StatusCode::kAlreadyExists) << made.ToString();
    }

    for (const auto& [key, expected] : reported) {
      auto reader = s->Get(kCrashBucket, key);
      ASSERT_TRUE(reader.ok()) << "lost an acknowledged put: " << key << ": " << reader.status().ToString();
      EXPECT_EQ((*reader)->info().etag, expected.second) << key;
      const int index = std::stoi(key.substr(key.rfind('/') + 1));
      EXPECT_TRUE(ReadAll(**reader) == CrashBody(key, index)) << "wrong bytes for " << key;
    }

    // Events: every reported put has its entry; they are then marked done for the next round.
    std::set<std::string> events;
    for (;;) {
      auto pending = s->outbox()->Pending(1000, Duration{0});
      ASSERT_TRUE(pending.ok()) << pending.status().ToString();
      if (pending->empty()) break;
      std::vector<int64_t> ids;
      for (const OutboxEntry& e : *pending) {
        events.insert(e.payload);
        ids.push_back(e.id);
      }
      ASSERT_TRUE(s->outbox()->Done(ids).ok());
    }
    for (const auto& [key, expected] : reported) {
      EXPECT_TRUE(events.count("put " + key + " " + expected.second)) << "no event for " << key;
    }

    // Objects of this round: the reported ones plus at most one in flight per thread, each
    // with its event; every blob file belongs to an object.
    ListRequest list;
    list.prefix = "r" + std::to_string(round) + "/";
    size_t in_round = 0;
    for (;;) {
      auto page = s->List(kCrashBucket, list);
      ASSERT_TRUE(page.ok());
      for (const ObjectInfo& o : page->objects) {
        ++in_round;
        if (!reported.count(o.key)) {
          EXPECT_TRUE(events.count("put " + o.key + " " + o.etag)) << "an object without its event: " << o.key;
        }
      }
      if (!page->truncated) break;
      list.continuation_token = page->next_continuation_token;
    }
    EXPECT_GE(in_round, reported.size());
    EXPECT_LE(in_round, reported.size() + kThreads);
    size_t files_expected = 0;
    ListRequest every;
    for (;;) {
      auto page = s->List(kCrashBucket, every);
      ASSERT_TRUE(page.ok());
      for (const ObjectInfo& o : page->objects) files_expected += o.size > LocalStoreOptions{}.inline_max_bytes;
      if (!page->truncated) break;
      every.continuation_token = page->next_continuation_token;
    }
    EXPECT_EQ(CountFiles(data / "blobs"), files_expected) << "orphaned or missing blob files";
    s.reset();
    EXPECT_EQ(IntegrityCheck(data / "index.db"), "ok");
    for (const auto& [key, expected] : reported) all_reported.insert(key);
    std::printf("[ round %d ] %zu puts reported, %zu objects in the round after the kill\n", round,
                reported.size(), in_round);
  }
  EXPECT_GT(all_reported.size(), 0u);
}

}  // namespace
}  // namespace thumbpipe::store::testing
