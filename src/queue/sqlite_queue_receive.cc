// SqliteQueue: receive (with long polling and redrive), the receipt operations, stats.
#include <algorithm>

#include <fmt/format.h>

#include "common/logging.h"
#include "queue/message_rules.h"
#include "queue/sqlite_queue_impl.h"

namespace thumbpipe::queue::internal {
namespace {

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

}  // namespace

Status SqliteQueue::Sweep(int64_t now, bool live) {
  int64_t expired = 0;
  {
    // Without an index on sent_at (sqlite_schema.h) each of these scans the queue's live or
    // dead rows through messages_receive's (queue, dead) prefix.
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db_.Cached(
        "DELETE FROM messages WHERE queue = ? AND dead = ? AND sent_at <= ?"));
    if (live) {
      stmt->Bind(1, options_.name).Bind(2, int64_t{0}).Bind(3, now - options_.retention.count());
      THUMBPIPE_ASSIGN_OR_RETURN(expired, stmt->Run());
      stmt->Reset();
    }
    // The DLQ keeps the first-sent time, as SQS does: dlq_retention counts from it too.
    stmt->Bind(1, options_.name).Bind(2, int64_t{1}).Bind(3, now - options_.dlq_retention.count());
    THUMBPIPE_ASSIGN_OR_RETURN(const int64_t dead, stmt->Run());
    expired += dead;
  }
  next_dead_sweep_ms_ = now + kDeadSweepEveryMs;
  CountExpired(expired);
  return Status::Ok();
}

void SqliteQueue::CountExpired(int64_t n) {
  if (n > 0) {
    LogInfo("queue: expired messages deleted", {{"queue", options_.name}, {"count", n}});
  }
  AddCounter(&Counters::expired, n);
}

Result<std::vector<Message>> SqliteQueue::Receive(int max, Duration wait,
                                                  std::optional<Duration> visibility) {
  return ReceiveOrStop(max, wait, visibility, std::stop_token{});
}

Result<std::vector<Message>> SqliteQueue::ReceiveOrStop(int max, Duration wait, std::optional<Duration> visibility,
                                                        std::stop_token stop) {
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
  const auto deadline = std::chrono::steady_clock::now() + (stop.stop_requested() ? Duration{0} : wait);
  // Taking notify_mu_ before notifying means a stop cannot slip in between the wait's check
  // of its predicate and its sleep. It wakes every long poll of this object; the others find
  // their predicate false and sleep on.
  std::stop_callback wake(stop, [this] {
    std::scoped_lock lock(notify_mu_);
    notify_cv_.notify_all();
  });
  for (;;) {
    uint64_t seen;
    {
      std::scoped_lock lock(notify_mu_);
      seen = notify_seq_;
    }
    THUMBPIPE_ASSIGN_OR_RETURN(std::vector<Message> messages, ReceiveOnce(max, vis.count()));
    const auto now = std::chrono::steady_clock::now();
    if (!messages.empty() || now >= deadline || stop.stop_requested()) return messages;
    // A send from this process wakes us at once; one from another process (or a delay or
    // visibility timeout running out) is noticed at the next poll.
    std::unique_lock lock(notify_mu_);
    ++waiting_;
    notify_cv_.wait_until(lock, std::min(deadline, now + options_.cross_process_poll),
                          [&] { return notify_seq_ != seen || stop.stop_requested(); });
    --waiting_;
    if (stop.stop_requested()) return std::vector<Message>{};
  }
}

Result<std::vector<Message>> SqliteQueue::ReceiveOnce(int max, int64_t visibility_ms) {
  std::vector<Message> out;
  const int64_t now = NowMs();
  // A read first: idle long polls (every cross_process_poll, in every process) then never
  // take the write lock that senders need. Skipped while receives keep finding messages: in
  // a busy queue the probe is a read transaction (and its file locks) for nothing.
  if (!last_receive_found_.load(std::memory_order_relaxed)) {
    std::scoped_lock lock(db_mu_);
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease probe, db_.Cached(
        "SELECT 1 FROM messages WHERE queue = ? AND dead = 0 AND visible_at <= ? LIMIT 1"));
    probe->Bind(1, options_.name).Bind(2, now);
    THUMBPIPE_ASSIGN_OR_RETURN(const bool any, probe->Step());
    if (!any) return out;
  }
  Status status = GroupWrite([&]() -> Status {
    out.clear();  // the body may run again after a busy retry
    // Live messages past retention are found here, as receives reach them, rather than by a
    // scan; dead ones (which no receive reaches) by a scan now and then.
    if (now >= next_dead_sweep_ms_) THUMBPIPE_RETURN_IF_ERROR(Sweep(now, /*live=*/false));
    int64_t dead_lettered = 0, expired = 0;
    for (;;) {
      struct Row {
        int64_t seq, receive_count;
        Message message;
      };
      std::vector<Row> rows;
      {
        THUMBPIPE_ASSIGN_OR_RETURN(StmtLease select, db_.Cached(
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
        if (ToMs(row.message.sent_at) <= now - options_.retention.count()) {
          THUMBPIPE_ASSIGN_OR_RETURN(StmtLease drop, db_.Cached(
              "DELETE FROM messages WHERE seq = ?"));
          drop->Bind(1, row.seq);
          THUMBPIPE_RETURN_IF_ERROR(drop->Run().status());
          ++expired;
          continue;
        }
        if (row.receive_count + 1 > options_.max_receive_count) {
          // SQS moves the message on the receive that would exceed the count.
          THUMBPIPE_ASSIGN_OR_RETURN(StmtLease kill, db_.Cached(
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
        THUMBPIPE_ASSIGN_OR_RETURN(StmtLease take, db_.Cached(
            "UPDATE messages SET receive_count = receive_count + 1, receipt = ?, "
            "visible_at = ?, received_at = ? WHERE seq = ?"));
        take->Bind(1, row.message.receipt).Bind(2, now + visibility_ms).Bind(3, now).Bind(4, row.seq);
        THUMBPIPE_RETURN_IF_ERROR(take->Run().status());
        out.push_back(std::move(row.message));
      }
      if (static_cast<int>(out.size()) >= max) break;
      // A backlog that expired or died at once is cleared by several receives, not one
      // unbounded transaction (the next poll goes on with the rest).
      if (expired + dead_lettered >= kMaxSkippedPerReceive) break;
    }
    AddCounter(&Counters::received, static_cast<int64_t>(out.size()));
    CountExpired(expired);
    AddCounter(&Counters::dead_lettered, dead_lettered);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  last_receive_found_.store(!out.empty(), std::memory_order_relaxed);
  return out;
}

Result<HeldRow> SqliteQueue::Hold(std::string_view receipt) {
  THUMBPIPE_ASSIGN_OR_RETURN(const int64_t seq, ParseReceipt(receipt));
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db_.Cached(
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

Status SqliteQueue::DeleteHeld(std::string_view receipt) {
  THUMBPIPE_ASSIGN_OR_RETURN(const int64_t seq, ParseReceipt(receipt));
  // One statement for the usual case (the receipt is the latest); Hold says why when not.
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease del, db_.Cached(
      "DELETE FROM messages WHERE seq = ? AND queue = ? AND dead = 0 AND receipt = ?"));
  del->Bind(1, seq).Bind(2, options_.name).Bind(3, receipt);
  THUMBPIPE_ASSIGN_OR_RETURN(const int64_t deleted, del->Run());
  if (deleted == 1) return Status::Ok();
  THUMBPIPE_RETURN_IF_ERROR(Hold(receipt).status());
  return Status::Internal("remove: the receipt's message was not deleted");
}

Status SqliteQueue::Remove(std::string_view receipt) {
  return GroupWrite([&]() -> Status {
    THUMBPIPE_RETURN_IF_ERROR(DeleteHeld(receipt));
    AddCounter(&Counters::removed, 1);
    return Status::Ok();
  });
}

Result<std::vector<Status>> SqliteQueue::RemoveBatch(std::span<const std::string> receipts) {
  if (receipts.empty()) return Status::InvalidArgument("remove batch is empty");
  if (receipts.size() > kMaxBatchEntries) {
    return Status::InvalidArgument(fmt::format("remove batch has {} entries; at most {}",
                                               receipts.size(), kMaxBatchEntries));
  }
  std::vector<Status> results;
  Status status = GroupWrite([&]() -> Status {
    results.assign(receipts.size(), Status::Ok());  // the body may run again after a busy retry
    int64_t removed = 0;
    for (size_t i = 0; i < receipts.size(); ++i) {
      Status deleted = DeleteHeld(receipts[i]);
      if (!deleted.ok()) {
        const StatusCode code = deleted.code();
        if (code != StatusCode::kNotFound && code != StatusCode::kFailedPrecondition &&
            code != StatusCode::kInvalidArgument) {
          return deleted;  // the database failed: the batch as a whole
        }
        results[i] = std::move(deleted);
        continue;
      }
      ++removed;
    }
    AddCounter(&Counters::removed, removed);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return results;
}

Status SqliteQueue::ChangeVisibility(std::string_view receipt, Duration timeout) {
  if (timeout.count() < 0 || timeout > kMaxVisibility) {
    return Status::InvalidArgument(
        fmt::format("visibility {}: must be 0-12h", FormatDuration(timeout)));
  }
  const int64_t now = NowMs();
  Status status = GroupWrite([&]() -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(const HeldRow row, Hold(receipt));
    if (now + timeout.count() > row.received_at + kMaxVisibility.count()) {
      // SQS rejects, not clamps, a total visibility over 12 h since the receive.
      return Status::InvalidArgument(fmt::format(
          "visibility {}: the message would stay hidden more than 12h after its receive",
          FormatDuration(timeout)));
    }
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease upd, db_.Cached(
        "UPDATE messages SET visible_at = ? WHERE seq = ?"));
    upd->Bind(1, now + timeout.count()).Bind(2, row.seq);
    return upd->Run().status();
  });
  if (status.ok() && timeout.count() == 0) Notify();
  return status;
}

Status SqliteQueue::DeadLetter(std::string_view receipt, std::string_view reason) {
  const int64_t now = NowMs();
  return GroupWrite([&]() -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(const HeldRow row, Hold(receipt));
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease kill, db_.Cached(
        "UPDATE messages SET dead = 1, dead_at = ?, receipt = NULL, reason = ? WHERE seq = ?"));
    kill->Bind(1, now).Bind(2, reason).Bind(3, row.seq);
    THUMBPIPE_RETURN_IF_ERROR(kill->Run().status());
    AddCounter(&Counters::dead_lettered, 1);
    return Status::Ok();
  });
}

Result<QueueStats> SqliteQueue::Stats() {
  QueueStats stats;
  const int64_t now = NowMs();
  // A write transaction because expired messages are swept (and counted) first.
  Status status = GroupWrite([&]() -> Status {
    THUMBPIPE_RETURN_IF_ERROR(Sweep(now, /*live=*/true));
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease counts, db_.Cached(R"sql(
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
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease totals, db_.Cached(
        "SELECT sent, received, removed, dead_lettered, expired FROM queues WHERE name = ?"));
    totals->Bind(1, options_.name);
    THUMBPIPE_ASSIGN_OR_RETURN(const bool found, totals->Step());
    if (!found) return Status::NotFound("queue " + options_.name + " is not in the database");
    // What this group counted so far (this request's sweep, requests before it) is written
    // only at its commit (FlushCounters).
    Counters pending = group_counters_;
    pending += request_counters_;
    stats.sent = totals->Int(0) + pending.sent;
    stats.received = totals->Int(1) + pending.received;
    stats.removed = totals->Int(2) + pending.removed;
    stats.dead_lettered = totals->Int(3) + pending.dead_lettered;
    stats.expired = totals->Int(4) + pending.expired;
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return stats;
}

Result<int64_t> SqliteQueue::Purge() { return DeleteAll(false); }

Result<int64_t> SqliteQueue::DeleteAll(bool dead) {
  int64_t n = 0;
  THUMBPIPE_RETURN_IF_ERROR(GroupWrite([&]() -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease del, db_.Cached(
        "DELETE FROM messages WHERE queue = ? AND dead = ?"));
    del->Bind(1, options_.name);
    del->Bind(2, int64_t{dead ? 1 : 0});
    THUMBPIPE_ASSIGN_OR_RETURN(n, del->Run());
    return Status::Ok();
  }));
  LogInfo(dead ? "queue: dead-letter queue purged" : "queue: purged",
          {{"queue", options_.name}, {"count", n}});
  return n;
}

}  // namespace thumbpipe::queue::internal
