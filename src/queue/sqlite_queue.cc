// SqliteQueue: the Queue interface on one SQLite file. Layout in sqlite_schema.h.
//
// Two connections per queue object:
//  - send_db_ carries only sends, with the durability the options ask for (synchronous=FULL
//    or NORMAL). Sends are group-committed (SendGroup below).
//  - ops_db_ carries receives, acks, visibility changes, the DLQ tools and stats, always at
//    synchronous=NORMAL: losing such a commit on power loss only makes a message be delivered
//    again, which at-least-once allows, so paying an fsync for it buys nothing.
// write_mu_ serialises this object's write transactions across both connections, so threads
// of one process queue on a mutex instead of in SQLite's sleeping busy handler; other
// processes are arbitrated by busy_timeout and Db::Transaction's retries.
#include "queue/sqlite_queue.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <vector>

#include <fmt/format.h>

#include "common/logging.h"
#include "queue/message_rules.h"
#include "queue/sqlite_handle.h"
#include "queue/sqlite_schema.h"

namespace thumbpipe::queue {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr int kBusyTimeoutMs = 5000;
constexpr uint64_t kMaxBatchBytes = 1 << 20;  // SQS's limit on a SendMessageBatch payload

int64_t ToMs(Clock::time_point t) {
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}
Clock::time_point FromMs(int64_t ms) {
  return Clock::time_point(duration_cast<Clock::time_point::duration>(milliseconds(ms)));
}

// A validated message on its way into the table.
struct NewRow {
  std::string id;
  std::string body;
  std::string attributes;  // EncodeAttributes
  int64_t sent_at = 0;
  int64_t visible_at = 0;
};

// The row a receipt names, as read inside a transaction.
struct HeldRow {
  int64_t seq = 0;
  int64_t received_at = 0;
};

Result<int64_t> ParseReceipt(std::string_view receipt) {
  const size_t dot = receipt.find('.');
  int64_t seq = 0;
  if (dot == 0 || dot == std::string_view::npos || dot > 18) {
    return Status::InvalidArgument("malformed receipt");
  }
  for (char c : receipt.substr(0, dot)) {
    if (c < '0' || c > '9') return Status::InvalidArgument("malformed receipt");
    seq = seq * 10 + (c - '0');
  }
  return seq;
}

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
  if (o.max_message_bytes < 1024 || o.max_message_bytes > (1 << 20)) {
    return bad("max_message_bytes must be 1024-1048576");
  }
  if (o.cross_process_poll.count() < 1 || o.cross_process_poll > std::chrono::seconds(5)) {
    return bad("cross_process_poll must be 1ms-5s");
  }
  if (o.clock == nullptr) return bad("clock is null");
  return Status::Ok();
}

class SqliteQueue;

// The DLQ side of a SqliteQueue (its rows flagged dead). A separate object because
// Queue::Purge and DeadLetters::Purge share a signature but not a meaning.
class SqliteDeadLetters final : public DeadLetters {
 public:
  explicit SqliteDeadLetters(SqliteQueue& queue) : queue_(queue) {}
  Result<std::vector<DeadMessage>> List(int limit, std::string_view after_id) override;
  Result<int64_t> Redrive(std::span<const std::string> ids, double per_second) override;
  Result<int64_t> Purge() override;

 private:
  SqliteQueue& queue_;
};

class SqliteQueue final : public Queue {
 public:
  SqliteQueue(const SqliteQueueOptions& options, Db send_db, Db ops_db)
      : options_(options), clock_(*options.clock), send_db_(std::move(send_db)),
        ops_db_(std::move(ops_db)) {}

  Status Init();

  Result<std::string> Send(std::string_view body, const Attributes& attributes,
                           std::optional<Duration> delay) override;
  Result<std::vector<Result<std::string>>> SendBatch(std::span<const SendEntry> entries) override;
  Result<std::vector<Message>> Receive(int max, Duration wait,
                                       std::optional<Duration> visibility) override;
  Status Remove(std::string_view receipt) override;
  Status ChangeVisibility(std::string_view receipt, Duration timeout) override;
  Status DeadLetter(std::string_view receipt, std::string_view reason) override;
  Result<QueueStats> Stats() override;
  Result<int64_t> Purge() override;
  DeadLetters& dead_letters() override { return dead_letters_; }

  Result<std::vector<DeadMessage>> ListDead(int limit, std::string_view after_id);
  Result<int64_t> RedriveDead(std::span<const std::string> ids, double per_second);
  Result<int64_t> PurgeDead();

  SendCommitStats commit_stats() const { return {sends_committed_.load(), commits_.load()}; }

 private:
  // Moves dead rows back: the given ids, or (ids empty) up to `limit` of the oldest.
  Result<int64_t> RedriveSome(std::span<const std::string> ids, int64_t limit);

  Result<NewRow> MakeRow(std::string_view body, const Attributes& attributes,
                         std::optional<Duration> delay, int64_t now) const;
  // Commits `rows` in a transaction shared with concurrent callers (group commit).
  Status CommitSends(std::span<const NewRow> rows);
  Status InsertGroup(const std::vector<std::span<const NewRow>>& group);

  Result<std::vector<Message>> ReceiveOnce(int max, int64_t visibility_ms);
  // Deletes expired messages (live past retention, dead past dlq_retention), counting them.
  // REQUIRES: inside a write transaction on ops_db_.
  Status Sweep(int64_t now);
  // Finds the row `receipt` names and checks that it is the latest receipt.
  // REQUIRES: inside a write transaction on ops_db_.
  Result<HeldRow> Hold(std::string_view receipt);
  Status AddCounter(std::string_view column, int64_t n);
  // Runs `body` as one write transaction on ops_db_.
  Status OpsTransaction(const std::function<Status()>& body);
  int64_t NowMs() const { return ToMs(clock_.Now()); }
  // Wakes long polls of this object (a message may have become visible).
  void Notify();

  const SqliteQueueOptions options_;
  Clock& clock_;

  std::mutex write_mu_;  // held around every write transaction of this object

  // Send path. send_db_ is used only by the current group leader (leader_active_).
  Db send_db_;
  std::mutex group_mu_;
  std::condition_variable group_cv_;
  struct SendRequest {
    std::span<const NewRow> rows;
    Status status;
    bool done = false;
  };
  std::vector<SendRequest*> pending_;  // protected by group_mu_
  bool leader_active_ = false;         // protected by group_mu_
  std::atomic<int64_t> sends_committed_{0};
  std::atomic<int64_t> commits_{0};

  std::mutex ops_mu_;  // protects ops_db_
  Db ops_db_;

  std::mutex notify_mu_;
  std::condition_variable notify_cv_;
  uint64_t notify_seq_ = 0;  // protected by notify_mu_

  SqliteDeadLetters dead_letters_{*this};
};

Status SqliteQueue::Init() {
  std::scoped_lock lock(ops_mu_, write_mu_);
  THUMBPIPE_ASSIGN_OR_RETURN(Stmt version, ops_db_.Prepare("PRAGMA user_version"));
  THUMBPIPE_ASSIGN_OR_RETURN(bool has_row, version.Step());
  if (has_row && version.Int(0) > kSchemaVersion) {
    return Status::FailedPrecondition(fmt::format(
        "{}: schema version {} is newer than this program's {}", options_.path.string(),
        version.Int(0), kSchemaVersion));
  }
  version.Reset();
  return ops_db_.Transaction([&]() -> Status {
    THUMBPIPE_RETURN_IF_ERROR(ops_db_.Exec(kSchemaSql));
    THUMBPIPE_RETURN_IF_ERROR(ops_db_.Exec(fmt::format("PRAGMA user_version={}", kSchemaVersion)));
    THUMBPIPE_ASSIGN_OR_RETURN(Stmt upsert, ops_db_.Prepare(R"sql(
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
  THUMBPIPE_RETURN_IF_ERROR(CommitSends(std::span<const NewRow>(&row, 1)));
  return std::move(row.id);
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
    if (row.ok()) {
      results.emplace_back(row->id);
      row_of_entry.push_back(results.size() - 1);
      rows.push_back(std::move(row).value());
    } else {
      results.emplace_back(row.status());
    }
  }
  if (!rows.empty()) {
    Status s = CommitSends(rows);
    if (!s.ok()) {
      for (size_t i : row_of_entry) results[i] = s;
    }
  }
  return results;
}

Status SqliteQueue::CommitSends(std::span<const NewRow> rows) {
  // Leader/follower group commit: whoever finds no leader at work takes every request queued
  // so far (its own included), commits them in one transaction and hands each its outcome.
  // Requests that arrive meanwhile form the next group, so groups grow with the load and a
  // lone sender never waits for company.
  SendRequest request{rows, Status::Ok(), false};
  std::unique_lock lock(group_mu_);
  pending_.push_back(&request);
  while (!request.done) {
    if (leader_active_) {
      group_cv_.wait(lock);
      continue;
    }
    leader_active_ = true;
    std::vector<SendRequest*> group;
    group.swap(pending_);
    lock.unlock();
    std::vector<std::span<const NewRow>> batches;
    for (SendRequest* r : group) batches.push_back(r->rows);
    const Status status = InsertGroup(batches);
    lock.lock();
    for (SendRequest* r : group) {
      r->status = status;
      r->done = true;
    }
    leader_active_ = false;
    group_cv_.notify_all();
  }
  lock.unlock();
  if (request.status.ok()) Notify();
  return request.status;
}

Status SqliteQueue::InsertGroup(const std::vector<std::span<const NewRow>>& group) {
  std::scoped_lock lock(write_mu_);
  int64_t n = 0;
  Status status = send_db_.Transaction([&]() -> Status {
    n = 0;
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease insert, send_db_.Cached(
        "INSERT INTO messages(queue, id, body, attributes, sent_at, visible_at) "
        "VALUES(?, ?, ?, ?, ?, ?)"));
    for (std::span<const NewRow> rows : group) {
      for (const NewRow& row : rows) {
        insert->Reset();
        insert->Bind(1, options_.name).Bind(2, row.id).BindBlob(3, row.body)
            .BindBlob(4, row.attributes).Bind(5, row.sent_at).Bind(6, row.visible_at);
        THUMBPIPE_RETURN_IF_ERROR(insert->Run().status());
        ++n;
      }
    }
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease count,
                               send_db_.Cached("UPDATE queues SET sent = sent + ? WHERE name = ?"));
    count->Bind(1, n).Bind(2, options_.name);
    return count->Run().status();
  });
  if (status.ok()) {
    sends_committed_ += n;
    ++commits_;
  }
  return status;
}

void SqliteQueue::Notify() {
  {
    std::scoped_lock lock(notify_mu_);
    ++notify_seq_;
  }
  notify_cv_.notify_all();
}

Status SqliteQueue::OpsTransaction(const std::function<Status()>& body) {
  std::scoped_lock lock(ops_mu_, write_mu_);
  return ops_db_.Transaction(body);
}

Status SqliteQueue::AddCounter(std::string_view column, int64_t n) {
  if (n == 0) return Status::Ok();
  // `column` is one of this file's literals, never input.
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, ops_db_.Cached(fmt::format(
      "UPDATE queues SET {0} = {0} + ? WHERE name = ?", column)));
  stmt->Bind(1, n).Bind(2, options_.name);
  return stmt->Run().status();
}

Status SqliteQueue::Sweep(int64_t now) {
  int64_t expired = 0;
  {
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, ops_db_.Cached(
        "DELETE FROM messages WHERE queue = ? AND dead = ? AND sent_at <= ?"));
    stmt->Bind(1, options_.name).Bind(2, int64_t{0}).Bind(3, now - options_.retention.count());
    THUMBPIPE_ASSIGN_OR_RETURN(const int64_t live, stmt->Run());
    stmt->Reset();
    // The DLQ keeps the first-sent time, as SQS does: dlq_retention counts from it too.
    stmt->Bind(1, options_.name).Bind(2, int64_t{1}).Bind(3, now - options_.dlq_retention.count());
    THUMBPIPE_ASSIGN_OR_RETURN(const int64_t dead, stmt->Run());
    expired = live + dead;
  }
  if (expired > 0) {
    LogInfo("queue: expired messages deleted",
            {{"queue", options_.name}, {"count", expired}});
  }
  return AddCounter("expired", expired);
}

Result<std::vector<Message>> SqliteQueue::Receive(int max, Duration wait,
                                                  std::optional<Duration> visibility) {
  if (max < 1 || max > kMaxReceiveMessages) {
    return Status::InvalidArgument(fmt::format("receive max {}: must be 1-10", max));
  }
  if (wait.count() < 0 || wait > kMaxWait) {
    return Status::InvalidArgument(fmt::format("receive wait {}: must be 0-20s", FormatDuration(wait)));
  }
  const Duration vis = visibility.value_or(options_.visibility_timeout);
  if (vis.count() < 0 || vis > kMaxVisibility) {
    return Status::InvalidArgument(fmt::format("visibility {}: must be 0-12h", FormatDuration(vis)));
  }
  // Waiting is in real time whatever the clock (a ManualClock never advances by itself); with
  // wait 0 there is no waiting at all, so clock-driven tests never sleep.
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    uint64_t seen;
    {
      std::scoped_lock lock(notify_mu_);
      seen = notify_seq_;
    }
    THUMBPIPE_ASSIGN_OR_RETURN(std::vector<Message> messages, ReceiveOnce(max, vis.count()));
    const auto now = std::chrono::steady_clock::now();
    if (!messages.empty() || now >= deadline) return messages;
    // A send from this process wakes us at once; one from another process (or a delay or
    // visibility timeout running out) is noticed at the next poll.
    std::unique_lock lock(notify_mu_);
    notify_cv_.wait_until(lock, std::min(deadline, now + options_.cross_process_poll),
                          [&] { return notify_seq_ != seen; });
  }
}

Result<std::vector<Message>> SqliteQueue::ReceiveOnce(int max, int64_t visibility_ms) {
  std::vector<Message> out;
  const int64_t now = NowMs();
  {
    // A read first: idle long polls (every cross_process_poll, in every process) then never
    // take the write lock that senders need.
    std::scoped_lock lock(ops_mu_);
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease probe, ops_db_.Cached(
        "SELECT 1 FROM messages WHERE queue = ? AND dead = 0 AND visible_at <= ? LIMIT 1"));
    probe->Bind(1, options_.name).Bind(2, now);
    THUMBPIPE_ASSIGN_OR_RETURN(const bool any, probe->Step());
    if (!any) return out;
  }
  Status status = OpsTransaction([&]() -> Status {
    out.clear();  // the body may run again after a busy retry
    THUMBPIPE_RETURN_IF_ERROR(Sweep(now));
    int64_t dead_lettered = 0;
    for (;;) {
      struct Row {
        int64_t seq, receive_count;
        Message message;
      };
      std::vector<Row> rows;
      {
        THUMBPIPE_ASSIGN_OR_RETURN(StmtLease select, ops_db_.Cached(
            "SELECT seq, id, body, attributes, sent_at, receive_count FROM messages "
            "WHERE queue = ? AND dead = 0 AND visible_at <= ? ORDER BY visible_at LIMIT ?"));
        select->Bind(1, options_.name).Bind(2, now).Bind(3, int64_t(max - out.size()));
        for (;;) {
          THUMBPIPE_ASSIGN_OR_RETURN(const bool has_row, select->Step());
          if (!has_row) break;
          Row row{select->Int(0), select->Int(5), {}};
          row.message.id = select->Text(1);
          row.message.body = select->Text(2);
          THUMBPIPE_ASSIGN_OR_RETURN(row.message.attributes, DecodeAttributes(select->Text(3)));
          row.message.sent_at = FromMs(select->Int(4));
          rows.push_back(std::move(row));
        }
      }
      if (rows.empty()) break;
      for (Row& row : rows) {
        if (row.receive_count + 1 > options_.max_receive_count) {
          // SQS moves the message on the receive that would exceed the count.
          THUMBPIPE_ASSIGN_OR_RETURN(StmtLease kill, ops_db_.Cached(
              "UPDATE messages SET dead = 1, dead_at = ?, receipt = NULL, reason = ? "
              "WHERE seq = ?"));
          kill->Bind(1, now)
              .Bind(2, fmt::format("max_receive_count ({}) exceeded", options_.max_receive_count))
              .Bind(3, row.seq);
          THUMBPIPE_RETURN_IF_ERROR(kill->Run().status());
          ++dead_lettered;
          continue;
        }
        row.message.receipt = fmt::format("{}.{}", row.seq, NewNonce());
        row.message.receive_count = static_cast<int>(row.receive_count + 1);
        THUMBPIPE_ASSIGN_OR_RETURN(StmtLease take, ops_db_.Cached(
            "UPDATE messages SET receive_count = receive_count + 1, receipt = ?, "
            "visible_at = ?, received_at = ? WHERE seq = ?"));
        take->Bind(1, row.message.receipt).Bind(2, now + visibility_ms).Bind(3, now).Bind(4, row.seq);
        THUMBPIPE_RETURN_IF_ERROR(take->Run().status());
        out.push_back(std::move(row.message));
      }
      if (static_cast<int>(out.size()) >= max) break;
    }
    THUMBPIPE_RETURN_IF_ERROR(AddCounter("received", static_cast<int64_t>(out.size())));
    return AddCounter("dead_lettered", dead_lettered);
  });
  if (!status.ok()) return status;
  return out;
}

Result<HeldRow> SqliteQueue::Hold(std::string_view receipt) {
  THUMBPIPE_ASSIGN_OR_RETURN(const int64_t seq, ParseReceipt(receipt));
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, ops_db_.Cached(
      "SELECT receipt, dead, received_at FROM messages WHERE seq = ? AND queue = ?"));
  stmt->Bind(1, seq).Bind(2, options_.name);
  THUMBPIPE_ASSIGN_OR_RETURN(const bool found, stmt->Step());
  if (!found || stmt->Int(1) != 0) {
    return Status::NotFound("the message of this receipt is no longer in the queue");
  }
  if (stmt->IsNull(0) || stmt->Text(0) != receipt) {
    return Status::FailedPrecondition("stale receipt: the message was received again since");
  }
  return HeldRow{seq, stmt->Int(2)};
}

Status SqliteQueue::Remove(std::string_view receipt) {
  return OpsTransaction([&]() -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(const HeldRow row, Hold(receipt));
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease del, ops_db_.Cached("DELETE FROM messages WHERE seq = ?"));
    del->Bind(1, row.seq);
    THUMBPIPE_RETURN_IF_ERROR(del->Run().status());
    return AddCounter("removed", 1);
  });
}

Status SqliteQueue::ChangeVisibility(std::string_view receipt, Duration timeout) {
  if (timeout.count() < 0 || timeout > kMaxVisibility) {
    return Status::InvalidArgument(
        fmt::format("visibility {}: must be 0-12h", FormatDuration(timeout)));
  }
  const int64_t now = NowMs();
  Status status = OpsTransaction([&]() -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(const HeldRow row, Hold(receipt));
    if (now + timeout.count() > row.received_at + kMaxVisibility.count()) {
      // SQS rejects, not clamps, a total visibility over 12 h since the receive.
      return Status::InvalidArgument(fmt::format(
          "visibility {}: the message would stay hidden more than 12h after its receive",
          FormatDuration(timeout)));
    }
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease upd, ops_db_.Cached(
        "UPDATE messages SET visible_at = ? WHERE seq = ?"));
    upd->Bind(1, now + timeout.count()).Bind(2, row.seq);
    return upd->Run().status();
  });
  if (status.ok() && timeout.count() == 0) Notify();
  return status;
}

Status SqliteQueue::DeadLetter(std::string_view receipt, std::string_view reason) {
  const int64_t now = NowMs();
  return OpsTransaction([&]() -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(const HeldRow row, Hold(receipt));
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease kill, ops_db_.Cached(
        "UPDATE messages SET dead = 1, dead_at = ?, receipt = NULL, reason = ? WHERE seq = ?"));
    kill->Bind(1, now).Bind(2, reason).Bind(3, row.seq);
    THUMBPIPE_RETURN_IF_ERROR(kill->Run().status());
    return AddCounter("dead_lettered", 1);
  });
}

Result<QueueStats> SqliteQueue::Stats() {
  QueueStats stats;
  const int64_t now = NowMs();
  // A write transaction because expired messages are swept (and counted) first.
  Status status = OpsTransaction([&]() -> Status {
    THUMBPIPE_RETURN_IF_ERROR(Sweep(now));
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease counts, ops_db_.Cached(R"sql(
      SELECT COALESCE(SUM(dead = 0 AND visible_at <= ?1), 0),
             COALESCE(SUM(dead = 0 AND visible_at > ?1 AND receive_count > 0), 0),
             COALESCE(SUM(dead = 0 AND visible_at > ?1 AND receive_count = 0), 0),
             COALESCE(SUM(dead = 1), 0),
             MIN(CASE WHEN dead = 0 THEN sent_at END)
      FROM messages WHERE queue = ?2)sql"));
    counts->Bind(1, now).Bind(2, options_.name);
    THUMBPIPE_RETURN_IF_ERROR(counts->Step().status());
    stats.visible = counts->Int(0);
    stats.in_flight = counts->Int(1);
    stats.delayed = counts->Int(2);
    stats.dead = counts->Int(3);
    stats.oldest_age = counts->IsNull(4) ? Duration{0} : Duration{std::max<int64_t>(0, now - counts->Int(4))};
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease totals, ops_db_.Cached(
        "SELECT sent, received, removed, dead_lettered, expired FROM queues WHERE name = ?"));
    totals->Bind(1, options_.name);
    THUMBPIPE_ASSIGN_OR_RETURN(const bool found, totals->Step());
    if (!found) return Status::NotFound("queue " + options_.name + " is not in the database");
    stats.sent = totals->Int(0);
    stats.received = totals->Int(1);
    stats.removed = totals->Int(2);
    stats.dead_lettered = totals->Int(3);
    stats.expired = totals->Int(4);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return stats;
}

Result<int64_t> SqliteQueue::Purge() {
  int64_t n = 0;
  THUMBPIPE_RETURN_IF_ERROR(OpsTransaction([&]() -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease del, ops_db_.Cached(
        "DELETE FROM messages WHERE queue = ? AND dead = 0"));
    del->Bind(1, options_.name);
    THUMBPIPE_ASSIGN_OR_RETURN(n, del->Run());
    return Status::Ok();
  }));
  LogInfo("queue: purged", {{"queue", options_.name}, {"count", n}});
  return n;
}

Result<std::vector<DeadMessage>> SqliteQueue::ListDead(int limit, std::string_view after_id) {
  if (limit < 1) return Status::InvalidArgument("dlq list limit must be at least 1");
  std::vector<DeadMessage> out;
  const int64_t now = NowMs();
  Status status = OpsTransaction([&]() -> Status {
    out.clear();
    THUMBPIPE_RETURN_IF_ERROR(Sweep(now));
    int64_t after_seq = 0;
    if (!after_id.empty()) {
      THUMBPIPE_ASSIGN_OR_RETURN(StmtLease find, ops_db_.Cached(
          "SELECT seq FROM messages WHERE id = ? AND queue = ?"));
      find->Bind(1, after_id).Bind(2, options_.name);
      THUMBPIPE_ASSIGN_OR_RETURN(const bool found, find->Step());
      if (!found) return Status::NotFound("dlq list: no message " + std::string(after_id));
      after_seq = find->Int(0);
    }
    // A plain read: listing is not a receive and changes nothing.
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease list, ops_db_.Cached(
        "SELECT id, body, attributes, receive_count, sent_at, dead_at, reason FROM messages "
        "WHERE queue = ? AND dead = 1 AND seq > ? ORDER BY seq LIMIT ?"));
    list->Bind(1, options_.name).Bind(2, after_seq).Bind(3, int64_t{limit});
    for (;;) {
      THUMBPIPE_ASSIGN_OR_RETURN(const bool has_row, list->Step());
      if (!has_row) break;
      DeadMessage m;
      m.id = list->Text(0);
      m.body = list->Text(1);
      THUMBPIPE_ASSIGN_OR_RETURN(m.attributes, DecodeAttributes(list->Text(2)));
      m.receive_count = static_cast<int>(list->Int(3));
      m.sent_at = FromMs(list->Int(4));
      m.dead_at = FromMs(list->Int(5));
      m.reason = list->Text(6);
      out.push_back(std::move(m));
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return out;
}

Result<int64_t> SqliteQueue::RedriveSome(std::span<const std::string> ids, int64_t limit) {
  int64_t moved = 0;
  const int64_t now = NowMs();
  constexpr const char* kSet =
      "UPDATE messages SET dead = 0, dead_at = NULL, reason = NULL, receive_count = 0, "
      "receipt = NULL, received_at = NULL, visible_at = ? ";
  THUMBPIPE_RETURN_IF_ERROR(OpsTransaction([&]() -> Status {
    moved = 0;
    if (ids.empty()) {
      THUMBPIPE_ASSIGN_OR_RETURN(StmtLease all, ops_db_.Cached(std::string(kSet) +
          "WHERE seq IN (SELECT seq FROM messages WHERE queue = ? AND dead = 1 "
          "ORDER BY seq LIMIT ?)"));
      all->Bind(1, now).Bind(2, options_.name).Bind(3, limit);
      THUMBPIPE_ASSIGN_OR_RETURN(moved, all->Run());
      return Status::Ok();
    }
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease one, ops_db_.Cached(std::string(kSet) +
        "WHERE queue = ? AND id = ? AND dead = 1"));
    for (const std::string& id : ids) {
      one->Reset();
      one->Bind(1, now).Bind(2, options_.name).Bind(3, id);
      THUMBPIPE_ASSIGN_OR_RETURN(const int64_t n, one->Run());
      moved += n;
    }
    return Status::Ok();
  }));
  if (moved > 0) Notify();
  return moved;
}

Result<int64_t> SqliteQueue::RedriveDead(std::span<const std::string> ids, double per_second) {
  if (per_second < 0 || std::isnan(per_second)) {
    return Status::InvalidArgument("redrive rate must be 0 (unlimited) or positive");
  }
  if (per_second == 0) return RedriveSome(ids, -1);  // LIMIT -1: no limit
  // Rate-limited: one chunk of `per_second` messages, then a second of the queue's clock
  // (a ManualClock under test, so pacing never really sleeps there).
  const auto chunk = static_cast<int64_t>(std::max(1.0, std::floor(per_second)));
  int64_t total = 0;
  for (size_t start = 0;;) {
    int64_t moved = 0;
    if (ids.empty()) {
      THUMBPIPE_ASSIGN_OR_RETURN(moved, RedriveSome({}, chunk));
      total += moved;
      if (moved < chunk) break;
    } else {
      const size_t n = std::min<size_t>(chunk, ids.size() - start);
      THUMBPIPE_ASSIGN_OR_RETURN(moved, RedriveSome(ids.subspan(start, n), -1));
      total += moved;
      start += n;
      if (start >= ids.size()) break;
    }
    clock_.SleepFor(std::chrono::seconds(1));
  }
  return total;
}

Result<int64_t> SqliteQueue::PurgeDead() {
  int64_t n = 0;
  THUMBPIPE_RETURN_IF_ERROR(OpsTransaction([&]() -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease del, ops_db_.Cached(
        "DELETE FROM messages WHERE queue = ? AND dead = 1"));
    del->Bind(1, options_.name);
    THUMBPIPE_ASSIGN_OR_RETURN(n, del->Run());
    return Status::Ok();
  }));
  LogInfo("queue: dead-letter queue purged", {{"queue", options_.name}, {"count", n}});
  return n;
}

Result<std::vector<DeadMessage>> SqliteDeadLetters::List(int limit, std::string_view after_id) {
  return queue_.ListDead(limit, after_id);
}
Result<int64_t> SqliteDeadLetters::Redrive(std::span<const std::string> ids, double per_second) {
  return queue_.RedriveDead(ids, per_second);
}
Result<int64_t> SqliteDeadLetters::Purge() { return queue_.PurgeDead(); }

}  // namespace

Result<std::unique_ptr<Queue>> OpenSqliteQueue(const SqliteQueueOptions& options) {
  THUMBPIPE_RETURN_IF_ERROR(CheckOptions(options));
  const std::string path = options.path.string();
  THUMBPIPE_ASSIGN_OR_RETURN(
      Db send_db,
      Db::Open(path, options.durable_sends ? Db::Sync::kFull : Db::Sync::kNormal, kBusyTimeoutMs));
  THUMBPIPE_ASSIGN_OR_RETURN(Db ops_db, Db::Open(path, Db::Sync::kNormal, kBusyTimeoutMs));
  auto queue = std::make_unique<SqliteQueue>(options, std::move(send_db), std::move(ops_db));
  THUMBPIPE_RETURN_IF_ERROR(queue->Init());
  return std::unique_ptr<Queue>(std::move(queue));
}

SendCommitStats GetSendCommitStats(const Queue& queue) {
  const auto* sqlite = dynamic_cast<const SqliteQueue*>(&queue);
  return sqlite == nullptr ? SendCommitStats{} : sqlite->commit_stats();
}

}  // namespace thumbpipe::queue
