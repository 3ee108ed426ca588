// The WAL-batching VFS: one write per commit, and nothing a reader could miss.
#include "common/sqlite_wal_batch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/sqlite_handle.h"

namespace thumbpipe::sqlite {
namespace {

namespace fs = std::filesystem;

fs::path FreshPath() {
  static int counter = 0;
  const fs::path dir = fs::path(::testing::TempDir()) /
                       ("thumbpipe_walbatch_" + std::to_string(::getpid()) + "_" +
                        std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir / "t.db";
}

Db OpenBatched(const fs::path& path) {
  Result<Db> db = Db::Open(path.string(), Db::Sync::kNormal, 5000, WalBatchVfsName());
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return std::move(db).value();
}

Db OpenPlain(const fs::path& path) {
  Result<Db> db = Db::Open(path.string(), Db::Sync::kNormal, 5000);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return std::move(db).value();
}

int64_t Count(Db& db) {
  Result<Stmt> stmt = db.Prepare("SELECT count(*) FROM t");
  EXPECT_TRUE(stmt.ok());
  EXPECT_TRUE(stmt->Step().ok());
  return stmt->Int(0);
}

std::string IntegrityCheck(Db& db) {
  Result<Stmt> stmt = db.Prepare("PRAGMA integrity_check");
  EXPECT_TRUE(stmt.ok());
  EXPECT_TRUE(stmt->Step().ok());
  return stmt->Text(0);
}

Status InsertRows(Db& db, int rows, int bytes) {
  return db.Transaction([&]() -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease insert,
                               db.Cached("INSERT INTO t(body) VALUES(randomblob(?))"));
    for (int i = 0; i < rows; ++i) {
      insert->Reset();
      insert->Bind(1, int64_t{bytes});
      THUMBPIPE_RETURN_IF_ERROR(insert->Run().status());
    }
    return Status::Ok();
  });
}

TEST(SqliteWalBatchTest, ACommitOfManyPagesIsOneWrite) {
  const fs::path path = FreshPath();
  Db db = OpenBatched(path);
  ASSERT_TRUE(db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)").ok());
  const uint64_t before = WalBatchWrites();
  // 20 rows of 1,000 bytes: five or more table pages, each a WAL frame (two writes each
  // without the batching).
  ASSERT_TRUE(InsertRows(db, 20, 1000).ok());
  EXPECT_EQ(WalBatchWrites() - before, 1u);
  // Every frame is in the file: its size is the header plus whole frames.
  const auto wal_bytes = fs::file_size(path.string() + "-wal");
  EXPECT_GT(wal_bytes, 32u + 5 * (4096 + 24));
  EXPECT_EQ((wal_bytes - 32) % (4096 + 24), 0u);
}

TEST(SqliteWalBatchTest, AnotherConnectionWithoutItSeesEveryCommitAtOnce) {
  const fs::path path = FreshPath();
  Db writer = OpenBatched(path);
  ASSERT_TRUE(writer.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)").ok());
  // SQLite's own VFS, as another process running an older build would open the file.
  Db reader = OpenPlain(path);
  for (int round = 1; round <= 50; ++round) {
    ASSERT_TRUE(InsertRows(writer, 3, 700).ok());
    ASSERT_EQ(Count(reader), round * 3);
    if (round % 10 == 0) {
      // The reader's checkpoints copy the frames the writer wrote, and the writer's next
      // commits start the WAL over.
      ASSERT_TRUE(reader.Checkpoint(/*restart=*/false).ok());
    }
  }
  EXPECT_EQ(IntegrityCheck(reader), "ok");
}

TEST(SqliteWalBatchTest, LargeAndSpillingTransactionsStayConsistent) {
  const fs::path path = FreshPath();
  {
    Db db = OpenBatched(path);
    // A tiny page cache makes SQLite write frames in the middle of the transaction and
    // read them back (cache spill), and 6 MiB pass the buffer's limit (and the unix VFS's
    // 128 KiB per write).
    ASSERT_TRUE(db.Exec("PRAGMA cache_size=10").ok());
    ASSERT_TRUE(db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)").ok());
    const Status inserted = InsertRows(db, 1500, 4000);
    ASSERT_TRUE(inserted.ok()) << inserted.ToString();
    ASSERT_TRUE(db.Exec("UPDATE t SET body = randomblob(3000) WHERE id % 2 = 0").ok());
    EXPECT_EQ(Count(db), 1500);
    EXPECT_EQ(IntegrityCheck(db), "ok");
  }
  // Reopened with SQLite's own VFS.
  Db plain = OpenPlain(path);
  EXPECT_EQ(Count(plain), 1500);
  EXPECT_EQ(IntegrityCheck(plain), "ok");
}

}  // namespace
}  // namespace thumbpipe::sqlite
