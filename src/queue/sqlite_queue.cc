// SqliteQueue: the Queue interface on one SQLite file. Layout in sqlite_schema.h.
//
// Two connections per queue object:
//  - db_ carries every read and write of the queue: sends, receives, acks, visibility
//    changes, the DLQ tools and stats, at synchronous=NORMAL. Losing a receive or an ack on
//    power loss only makes a message be delivered again, which at-least-once allows, so
//    paying an fsync for it buys nothing. With durability full, sends are made durable by
//    an fdatasync of the WAL after their commit, outside the write lock
//    (sqlite_write_group.cc). One connection for everything because SQLite drops a
//    connection's whole page cache when another connection wrote since its last
//    transaction, which alternating connections would do at every transaction.
//  - checkpoint_db_ belongs to the checkpointer thread (CheckpointPass), which replaces
//    SQLite's automatic checkpoint so that no commit waits for one.
// write_mu_ serialises this object's write transactions (and the checkpointer's RESTART), so
// threads of one process queue on a mutex instead of in SQLite's sleeping busy handler;
// other processes are arbitrated by busy_timeout and Db::Transaction's retries.
#include "queue/sqlite_queue.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <regex>
#include <utility>

#include <fmt/format.h>

#include "common/logging.h"
#include "common/sqlite_wal_batch.h"
#include "queue/message_rules.h"
#include "queue/sqlite_queue_impl.h"
#include "queue/sqlite_schema.h"
#include "queue/sqlite_wal_watch.h"

namespace thumbpipe::queue {
namespace internal {
namespace {

constexpr uint64_t kMaxBatchBytes = 1 << 20;  // SQS's limit on a SendMessageBatch payload
// The WAL size (pages) past which the checkpointer also waits for readers and writers
// (RESTART), so that the WAL starts over even when readers (of other processes) kept the
// catch-up checkpoint below from copying everything: 64 MiB at 4 KiB pages, four times the
// threshold at which the catch-up normally makes it start over.
constexpr int kRestartPages = 16384;
// The catch-up (CheckpointPass, CatchUpCheckpoint): unlocked PASSIVE passes go on while
// more than this many WAL pages are left to copy, up to kMaxUnlockedPasses of them, so that
// the pass a group leader runs with the write lock held copies little.
constexpr int kCatchUpPages = 256;
constexpr int kMaxUnlockedPasses = 3;

}  // namespace

Status SqliteQueue::Init() {
  std::scoped_lock lock(db_mu_, write_mu_);
  const Status created = db_.Transaction([&]() -> Status {
    // Read inside the write transaction, so that two processes opening an old file at once
    // do not both migrate it.
    THUMBPIPE_ASSIGN_OR_RETURN(Stmt version, db_.Prepare("PRAGMA user_version"));
    THUMBPIPE_ASSIGN_OR_RETURN(bool has_row, version.Step());
    const int64_t found = has_row ? version.Int(0) : 0;
    version.Reset();  // DDL below fails while a statement is active
    if (found > kSchemaVersion) {
      return Status::FailedPrecondition(fmt::format(
          "{}: schema version {} is newer than this program's {}", options_.path.string(),
          found, kSchemaVersion));
    }
    // Schema changes only when needed: DDL invalidates every other connection's prepared
    // statements. A new file has version 0 and no tables yet.
    if (found < kSchemaVersion) {
      if (found == 1) THUMBPIPE_RETURN_IF_ERROR(db_.Exec(kMigrateFrom1Sql));
      THUMBPIPE_RETURN_IF_ERROR(db_.Exec(kSchemaSql));
      THUMBPIPE_RETURN_IF_ERROR(
          db_.Exec(fmt::format("PRAGMA user_version={}", kSchemaVersion)));
    }
    THUMBPIPE_ASSIGN_OR_RETURN(Stmt upsert, db_.Prepare(R"sql(
      INSERT INTO queues(name, created_at, visibility_timeout_ms, max_receive_count, retention_ms,
                         dlq_retention_ms, delay_ms, max_message_bytes)
      VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
      ON CONFLICT(name) DO UPDATE SET visibility_timeout_ms=?3, max_receive_count=?4,
        retention_ms=?5, dlq_retention_ms=?6, delay_ms=?7, max_message_bytes=?8)sql"));
    upsert.Bind(1, options_.name).Bind(2, NowMs()).Bind(3, options_.visibility_timeout.count())
        .Bind(4, int64_t{options_.max_receive_count}).Bind(5, options_.retention.count())
        .Bind(6, options_.dlq_retention.count()).Bind(7, options_.delay.count())
        .Bind(8, static_cast<int64_t>(options_.max_message_bytes));
    return upsert.Run().status();
  });
  if (!created.ok()) return created;
  if (options_.durable_sends) THUMBPIPE_RETURN_IF_ERROR(OpenWalForSync());
  checkpointer_ = std::make_unique<sqlite::Checkpointer>(
      kCheckpointPages, [this] { return CheckpointPass(); }, [this](const Status& error) {
        LogWarn("queue: checkpoint failed", {{"queue", options_.name}, {"error", error.ToString()}});
      });
  db_.SetWalHook(&sqlite::Checkpointer::OnWalCommit, checkpointer_.get());
  if (options_.notice_other_processes) {
    // Without it long polls still notice other processes' sends, at the next poll.
    Result<std::unique_ptr<WalWatch>> watch = WalWatch::Start(options_.path, [this] { WakeLongPolls(); });
    if (watch.ok()) {
      wal_watch_ = std::move(watch).value();
    } else {
      LogWarn("queue: other processes' sends are noticed every cross_process_poll",
              {{"queue", options_.name}, {"error", watch.status().ToString()}});
    }
  }
  return Status::Ok();
}

Status SqliteQueue::OpenWalForSync() {
  // The WAL exists from the first write transaction (Init's) for as long as a connection is
  // open, ours included, so the descriptor stays valid; checkpoints only rewrite or truncate
  // it. Its directory entry is synced once here, since an fdatasync of the file does not.
  const std::string wal = options_.path.string() + "-wal";
  wal_fd_ = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
  if (wal_fd_ < 0) {
    return Status::IOError(fmt::format("{}: open: {}", wal, std::strerror(errno)));
  }
  std::filesystem::path dir = options_.path.parent_path();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0 || ::fsync(dir_fd) != 0) {
    const int error = errno;
    if (dir_fd >= 0) ::close(dir_fd);
    return Status::IOError(
        fmt::format("{}: fsync of the directory: {}", dir.string(), std::strerror(error)));
  }
  ::close(dir_fd);
  return Status::Ok();
}

SqliteQueue::~SqliteQueue() {
  wal_watch_.reset();  // its thread calls WakeLongPolls
  // Before the connections its pass uses, and with no commit left to call its hook.
  if (checkpointer_) db_.SetWalHook(nullptr, nullptr);
  checkpointer_.reset();
  if (wal_fd_ >= 0) ::close(wal_fd_);
}

Result<std::pair<int, int>> SqliteQueue::CheckpointPass() {
  // PASSIVE copies what no reader still needs without blocking anyone. Any process may
  // checkpoint: SQLite lets one at a time run and the others' attempts return at once.
  // Under a steady load it never catches up with the end of the WAL: commits go on while
  // it copies, and a writer starts the WAL over from its beginning only when everything
  // in it was copied before its transaction began. The WAL would then keep growing into
  // new file space (a page-cache folio, its zeroing and an ext4 block per frame, and with
  // durability full ext4 metadata at each fdatasync) until the RESTART fallback, which
  // waits for other processes' readers with the write lock held. So after the unlocked
  // passes the next group leader copies what they left with the write lock held
  // (CatchUpCheckpoint: never waits for readers), and the commit after it starts the WAL
  // over. At this threshold that is about where the old RESTART at 4,096 pages did it:
  // paired runs found no CPU or throughput difference (bench/README.md, "Queue").
  Result<std::pair<int, int>> done = Status::Ok();
  {
    std::scoped_lock db_lock(checkpoint_db_mu_);
    done = checkpoint_db_.Checkpoint(/*restart=*/false);
    for (int pass = 1; pass < kMaxUnlockedPasses && done.ok() && done->first - done->second > kCatchUpPages;
         ++pass) {
      done = checkpoint_db_.Checkpoint(/*restart=*/false);
    }
  }
  if (done.ok() && done->first > 0) catch_up_wanted_.store(true, std::memory_order_relaxed);
  // Only a WAL that readers (of other processes) kept from being copied for a long time
  // gets a RESTART, which waits for them (and holds writers) so that it cannot grow
  // without bound.
  if (done.ok() && done->second < done->first && done->first >= kRestartPages) {
    // This object's writers wait on write_mu_ meanwhile, not in SQLite's sleeping busy
    // handler; other processes' writers wait in theirs.
    std::scoped_lock write_lock(write_mu_, checkpoint_db_mu_);
    done = checkpoint_db_.Checkpoint(/*restart=*/true);
  }
  return done;
}

void SqliteQueue::CatchUpCheckpoint() {
  if (!catch_up_wanted_.load(std::memory_order_relaxed)) return;
  // The checkpointer thread may be in a pass of its own (it woke again meanwhile): then
  // that pass is the one to finish, and a later leader catches up after it.
  std::unique_lock lock(checkpoint_db_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  catch_up_wanted_.store(false, std::memory_order_relaxed);
  const Result<std::pair<int, int>> done = checkpoint_db_.Checkpoint(/*restart=*/false);
  if (!done.ok()) {
    LogWarn("queue: checkpoint failed",
            {{"queue", options_.name}, {"error", done.status().ToString()}});
  }
}

Result<NewRow> SqliteQueue::MakeRow(std::string_view body, const Attributes& attributes,
                                    std::optional<Duration> delay, int64_t now) const {
  THUMBPIPE_RETURN_IF_ERROR(CheckMessage(body, attributes, delay, options_.max_message_bytes));
  const Duration d = delay.value_or(options_.delay);
  return NewRow{NewMessageId(), std::string(body), EncodeAttributes(attributes), now,
                now + d.count()};
}

Result<std::string> SqliteQueue::Send(std::string_view body, const Attributes& attributes,
                                      std::optional<Duration> delay) {
  THUMBPIPE_ASSIGN_OR_RETURN(NewRow row, MakeRow(body, attributes, delay, NowMs()));
  THUMBPIPE_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                             CommitSends(std::span<const NewRow>(&row, 1)));
  return std::move(ids.front());
}

Result<std::vector<Result<std::string>>> SqliteQueue::SendBatch(
    std::span<const SendEntry> entries) {
  if (entries.empty()) return Status::InvalidArgument("send batch is empty");
  if (entries.size() > kMaxBatchEntries) {
    return Status::InvalidArgument(
        fmt::format("send batch has {} entries; at most {}", entries.size(), kMaxBatchEntries));
  }
  uint64_t total = 0;
  for (const SendEntry& e : entries) total += MessageSize(e.body, e.attributes);
  if (total > kMaxBatchBytes) {
    return Status::InvalidArgument(
        fmt::format("send batch is {} bytes; at most {} in all", total, kMaxBatchBytes));
  }
  const int64_t now = NowMs();
  std::vector<Result<std::string>> results;
  std::vector<NewRow> rows;
  std::vector<size_t> row_of_entry;  // index into results for each row
  for (const SendEntry& e : entries) {
    Result<NewRow> row = MakeRow(e.body, e.attributes, e.delay, now);
    if (row.ok() && !e.dedup_id.empty()) {
      if (Status bad = CheckDedupId(e.dedup_id); !bad.ok()) row = bad;
    }
    if (row.ok()) {
      row->dedup_id = e.dedup_id;
      results.emplace_back(row->id);
      row_of_entry.push_back(results.size() - 1);
      rows.push_back(std::move(row).value());
    } else {
      results.emplace_back(row.status());
    }
  }
  if (!rows.empty()) {
    Result<std::vector<std::string>> ids = CommitSends(rows);
    for (size_t r = 0; r < row_of_entry.size(); ++r) {
      results[row_of_entry[r]] = ids.ok() ? Result<std::string>((*ids)[r])
                                          : Result<std::string>(ids.status());
    }
  }
  return results;
}

Result<std::vector<std::string>> SqliteQueue::CommitSends(std::span<const NewRow> rows) {
  const bool deduplicated = std::any_of(rows.begin(), rows.end(),
                                        [](const NewRow& r) { return !r.dedup_id.empty(); });
  std::vector<std::string> ids;  // the outcome; the body may run more than once
  const Status status = GroupWrite(
      [&]() -> Status {
        ids.clear();
        int64_t inserted = 0;
        // Prune before looking up: a retried send after a long outage comes first, and the
        // prune spares what the newest entry's window still covers.
        if (deduplicated) THUMBPIPE_RETURN_IF_ERROR(PruneDedup(rows.front().sent_at));
        THUMBPIPE_ASSIGN_OR_RETURN(StmtLease insert, db_.Cached(
            "INSERT INTO messages(queue, id, body, attributes, sent_at, visible_at) "
            "VALUES(?, ?, ?, ?, ?, ?)"));
        for (const NewRow& row : rows) {
          if (!row.dedup_id.empty()) {
            // A duplicate (of an earlier send, or of an earlier row of this batch, which this
            // transaction already sees) gets the first send's id and inserts nothing.
            THUMBPIPE_ASSIGN_OR_RETURN(StmtLease find, db_.Cached(
                "SELECT message_id FROM dedup WHERE queue = ? AND dedup_id = ?"));
            find->Bind(1, options_.name).Bind(2, row.dedup_id);
            THUMBPIPE_ASSIGN_OR_RETURN(const bool seen, find->Step());
            if (seen) {
              ids.push_back(find->Text(0));
              continue;
            }
            THUMBPIPE_ASSIGN_OR_RETURN(StmtLease remember, db_.Cached(
                "INSERT INTO dedup(queue, dedup_id, message_id, sent_at) VALUES(?, ?, ?, ?)"));
            remember->Bind(1, options_.name).Bind(2, row.dedup_id).Bind(3, row.id)
                .Bind(4, row.sent_at);
            THUMBPIPE_RETURN_IF_ERROR(remember->Run().status());
          }
          insert->Reset();
          insert->Bind(1, options_.name).Bind(2, row.id).BindBlob(3, row.body)
              .BindBlob(4, row.attributes).Bind(5, row.sent_at).Bind(6, row.visible_at);
          THUMBPIPE_RETURN_IF_ERROR(insert->Run().status());
          ids.push_back(row.id);
          ++inserted;
        }
        AddCounter(&Counters::sent, inserted);
        return Status::Ok();
      },
      options_.durable_sends, static_cast<int64_t>(rows.size()));
  if (!status.ok()) return status;
  return ids;  // GroupWrite's leader woke long polls for the whole group
}

Status SqliteQueue::PruneDedup(int64_t now) {
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease newest, db_.Cached(
      "SELECT max(sent_at) FROM dedup WHERE queue = ?"));
  newest->Bind(1, options_.name);
  THUMBPIPE_ASSIGN_OR_RETURN(const bool row, newest->Step());
  if (!row || newest->IsNull(0)) return Status::Ok();
  // Relative to the newest entry when that is older than now: time in which nobody sent
  // with a dedup id (the relay was down) does not age the ids it may be about to retry.
  const int64_t cutoff = std::min(now, newest->Int(0)) - options_.dedup_window.count();
  newest->Reset();
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease prune, db_.Cached(
      "DELETE FROM dedup WHERE queue = ?1 AND dedup_id IN "
      "(SELECT dedup_id FROM dedup WHERE queue = ?1 AND sent_at < ?2 ORDER BY sent_at LIMIT ?3)"));
  prune->Bind(1, options_.name).Bind(2, cutoff).Bind(3, kMaxPrunedPerSend);
  return prune->Run().status();
}

void SqliteQueue::WakeLongPolls() {
  {
    std::scoped_lock lock(notify_mu_);
    // Counted even with no one asleep: a long poll between its probe and its wait sees the
    // sequence moved and probes again rather than sleeping through this commit.
    ++notify_seq_;
    if (waiting_ == 0) return;
  }
  notify_cv_.notify_all();
}

int64_t SqliteQueue::waiting_long_polls() {
  std::scoped_lock lock(notify_mu_);
  return waiting_;
}

void SqliteQueue::Notify(int64_t messages) {
  int64_t waiting = 0;
  {
    std::scoped_lock lock(notify_mu_);
    ++notify_seq_;
    waiting = waiting_;
  }
  // Waking every long poll for one message would have all but one of them query the
  // database for nothing; wake as many as there are new messages.
  if (messages >= waiting) {
    notify_cv_.notify_all();
  } else {
    for (int64_t i = 0; i < messages; ++i) notify_cv_.notify_one();
  }
}

Status SqliteQueue::FlushCounters(const Counters& delta) {
  if (delta.empty()) return Status::Ok();
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db_.Cached(
      "UPDATE queues SET sent = sent + ?1, received = received + ?2, removed = removed + ?3, "
      "dead_lettered = dead_lettered + ?4, expired = expired + ?5 WHERE name = ?6"));
  stmt->Bind(1, delta.sent).Bind(2, delta.received).Bind(3, delta.removed)
      .Bind(4, delta.dead_lettered).Bind(5, delta.expired).Bind(6, options_.name);
  return stmt->Run().status();
}

}  // namespace internal

namespace {

constexpr int kBusyTimeoutMs = 5000;

Status CheckOptions(const SqliteQueueOptions& o) {
  static const std::regex kName("[A-Za-z0-9_-]{1,80}");
  auto bad = [](std::string what) { return Status::InvalidArgument("queue options: " + what); };
  if (o.path.empty()) return bad("path is empty");
  if (!std::regex_match(o.name, kName)) return bad("name \"" + o.name + "\": [A-Za-z0-9_-]{1,80}");
  if (o.visibility_timeout.count() < 0 || o.visibility_timeout > kMaxVisibility) {
    return bad("visibility_timeout must be 0-12h");
  }
  if (o.max_receive_count < 1 || o.max_receive_count > 1000) return bad("max_receive_count must be 1-1000");
  const Duration min_retention = std::chrono::seconds(60), max_retention = std::chrono::days(14);
  if (o.retention < min_retention || o.retention > max_retention) return bad("retention must be 60s-14d");
  if (o.dlq_retention < min_retention || o.dlq_retention > max_retention) {
    return bad("dlq_retention must be 60s-14d");
  }
  if (o.delay.count() < 0 || o.delay > kMaxDelay) return bad("delay must be 0-15m");
  if (o.dedup_window < min_retention || o.dedup_window > max_retention) {
    return bad("dedup_window must be 60s-14d");
  }
  if (o.max_message_bytes < 1024 || o.max_message_bytes > (1 << 20)) {
    return bad("max_message_bytes must be 1024-1048576");
  }
  if (o.cross_process_poll.count() < 1 || o.cross_process_poll > std::chrono::seconds(5)) {
    return bad("cross_process_poll must be 1ms-5s");
  }
  if (o.clock == nullptr) return bad("clock is null");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Queue>> OpenSqliteQueue(const SqliteQueueOptions& options) {
  THUMBPIPE_RETURN_IF_ERROR(CheckOptions(options));
  const std::string path = options.path.string();
  // Each commit's WAL frames go to the file in one write (sqlite_wal_batch.h).
  const char* vfs = sqlite::WalBatchVfsName();
  THUMBPIPE_ASSIGN_OR_RETURN(Db db, Db::Open(path, Db::Sync::kNormal, kBusyTimeoutMs, vfs));
  THUMBPIPE_ASSIGN_OR_RETURN(Db checkpoint_db,
                             Db::Open(path, Db::Sync::kNormal, kBusyTimeoutMs, vfs));
  auto queue = std::make_unique<internal::SqliteQueue>(options, std::move(db),
                                                       std::move(checkpoint_db));
  THUMBPIPE_RETURN_IF_ERROR(queue->Init());
  return std::unique_ptr<Queue>(std::move(queue));
}

int64_t GetWaitingLongPolls(Queue& queue) {
  auto* sqlite = dynamic_cast<internal::SqliteQueue*>(&queue);
  return sqlite == nullptr ? 0 : sqlite->waiting_long_polls();
}

SendCommitStats GetSendCommitStats(const Queue& queue) {
  const auto* sqlite = dynamic_cast<const internal::SqliteQueue*>(&queue);
  return sqlite == nullptr ? SendCommitStats{} : sqlite->commit_stats();
}

}  // namespace thumbpipe::queue
