// SqliteQueue's dead-letter side: list, redrive (optionally paced), purge.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/logging.h"
#include "queue/message_rules.h"
#include "queue/sqlite_queue_impl.h"

namespace thumbpipe::queue::internal {

Result<std::vector<DeadMessage>> SqliteQueue::ListDead(int limit, std::string_view after_id) {
  if (limit < 1) return Status::InvalidArgument("dlq list limit must be at least 1");
  std::vector<DeadMessage> out;
  const int64_t now = NowMs();
  Status status = GroupWrite([&]() -> Status {
    out.clear();
    THUMBPIPE_RETURN_IF_ERROR(Sweep(now, /*live=*/false));
    int64_t after_seq = 0;
    if (!after_id.empty()) {
      THUMBPIPE_ASSIGN_OR_RETURN(StmtLease find, db_.Cached(
          "SELECT seq FROM messages WHERE id = ? AND queue = ? AND dead = 1"));
      find->Bind(1, after_id).Bind(2, options_.name);
      THUMBPIPE_ASSIGN_OR_RETURN(const bool found, find->Step());
      if (!found) return Status::NotFound("dlq list: no message " + std::string(after_id));
      after_seq = find->Int(0);
    }
    // A plain read: listing is not a receive and changes nothing.
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease list, db_.Cached(
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
  THUMBPIPE_RETURN_IF_ERROR(GroupWrite([&]() -> Status {
    moved = 0;
    if (ids.empty()) {
      THUMBPIPE_ASSIGN_OR_RETURN(StmtLease all, db_.Cached(std::string(kSet) +
          "WHERE seq IN (SELECT seq FROM messages WHERE queue = ? AND dead = 1 "
          "ORDER BY seq LIMIT ?)"));
      all->Bind(1, now).Bind(2, options_.name).Bind(3, limit);
      THUMBPIPE_ASSIGN_OR_RETURN(moved, all->Run());
      return Status::Ok();
    }
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease one, db_.Cached(std::string(kSet) +
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

Result<int64_t> SqliteQueue::PurgeDead() { return DeleteAll(true); }

Result<std::vector<DeadMessage>> SqliteDeadLetters::List(int limit, std::string_view after_id) {
  return queue_.ListDead(limit, after_id);
}
Result<int64_t> SqliteDeadLetters::Redrive(std::span<const std::string> ids, double per_second) {
  return queue_.RedriveDead(ids, per_second);
}
Result<int64_t> SqliteDeadLetters::Purge() { return queue_.PurgeDead(); }

}  // namespace thumbpipe::queue::internal
