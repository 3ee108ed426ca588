// The checkpointer thread: woken by the WAL's size, the WAL starting over after a pass that
// copied it all, failures of its pass reported; stopped by its destructor.
#include "common/sqlite_checkpointer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/sqlite_handle.h"

namespace thumbpipe::sqlite {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kThreshold = 16;  // pages

class CheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("thumbpipe_checkpointer_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    writer_ = Open();
    checkpoints_ = Open();
    ASSERT_TRUE(writer_.Exec("CREATE TABLE t(body BLOB)").ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  Db Open() {
    Result<Db> db = Db::Open((dir_ / "t.db").string(), Db::Sync::kNormal, 5000);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return std::move(db).value();
  }

  // One commit of about `pages` 4 KiB pages (a row of 3,500 bytes each).
  void Commit(int pages) {
    ASSERT_TRUE(writer_.Exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
                             std::to_string(pages) + ") INSERT INTO t(body) SELECT randomblob(3500) FROM n").ok());
  }

  // The pass the checkpointer runs: a PASSIVE checkpoint, recorded.
  Result<std::pair<int, int>> Pass() {
    Result<std::pair<int, int>> done = checkpoints_.Checkpoint(/*restart=*/false);
    std::scoped_lock lock(mu_);
    passes_.push_back(done.ok() ? done->first : -1);
    ran_.notify_all();
    return done;
  }

  bool WaitForPasses(size_t n) {
    std::unique_lock lock(mu_);
    return ran_.wait_for(lock, 10s, [&] { return passes_.size() >= n; });
  }

  std::vector<int> passes() {
    std::scoped_lock lock(mu_);
    return passes_;
  }

  fs::path dir_;
  Db writer_, checkpoints_;
  std::mutex mu_;
  std::condition_variable ran_;
  std::vector<int> passes_;  // the WAL's size in pages at each pass
};

TEST_F(CheckpointerTest, RunsWhenTheWalReachesTheThresholdAndAgainAfterItStartedOver) {
  Checkpointer checkpointer(kThreshold, [&] { return Pass(); }, [](const Status& e) { ADD_FAILURE() << e.ToString(); });
  writer_.SetWalHook(&Checkpointer::OnWalCommit, &checkpointer);
  // A commit that takes the WAL past the threshold wakes the thread; each commit here waits
  // for the pass it woke, so no commit races a pass.
  Commit(kThreshold);
  ASSERT_TRUE(WaitForPasses(1));
  EXPECT_GE(passes()[0], kThreshold);
  // Everything was copied, so the next commit starts the WAL over: the pass it wakes sees
  // that commit's pages only, not both commits'.
  Commit(kThreshold);
  ASSERT_TRUE(WaitForPasses(2));
  EXPECT_GE(passes()[1], kThreshold);
  EXPECT_LT(passes()[1], passes()[0] + kThreshold / 2) << "the WAL did not start over after the first pass";
  writer_.SetWalHook(nullptr, nullptr);
}

TEST_F(CheckpointerTest, AFailedPassIsReportedAndTheThreadGoesOn) {
  std::mutex mu;
  std::vector<std::string> errors;
  int calls = 0;
  Checkpointer checkpointer(
      kThreshold,
      [&]() -> Result<std::pair<int, int>> {
        std::scoped_lock lock(mu);
        if (++calls == 1) return Status::IOError("injected: disk full");
        return Pass();
      },
      [&](const Status& e) {
        std::scoped_lock lock(mu);
        errors.push_back(e.ToString());
      });
  writer_.SetWalHook(&Checkpointer::OnWalCommit, &checkpointer);
  // The failed pass set the threshold back to its base: the next commit past it asks again.
  for (int i = 0; i < 20 && passes().empty(); ++i) Commit(kThreshold);
  ASSERT_TRUE(WaitForPasses(1));
  writer_.SetWalHook(nullptr, nullptr);
  std::scoped_lock lock(mu);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("injected: disk full"), std::string::npos);
}

}  // namespace
}  // namespace thumbpipe::sqlite
