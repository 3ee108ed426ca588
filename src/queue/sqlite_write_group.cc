// SqliteQueue::GroupWrite: every write of a queue object (sends, receives, acks, visibility
// changes, the DLQ tools) goes through one leader/follower group commit.
//
// Why: each SQLite commit costs far more than the rows it changes. It writes every page the
// transaction touched to the WAL (the queues row with the counters, the right edge of each
// index, the table's last page), takes and drops the WAL locks, and, with durability full,
// waits for an fdatasync. Threads that write at the same moment therefore share one
// transaction: a consumer's receive or ack rides in the commit of the producers' sends, and
// eight producers each waiting for its own send share one fsync.
//
// Whoever finds no leader at work takes every request queued so far (its own included),
// runs them in one transaction and hands each its outcome. Requests that arrive meanwhile
// form the next group, so groups grow with the load and a lone caller never waits for
// company. Each request runs under its own savepoint: one that fails (a stale receipt, a
// message gone) is rolled back alone and the others still commit.
#include <algorithm>
#include <chrono>

#include "queue/sqlite_queue_impl.h"

namespace thumbpipe::queue::internal {

Status SqliteQueue::GroupWrite(const std::function<Status()>& body, bool durable,
                               int64_t sends) {
  WriteRequest request{&body, durable, sends, Status::Ok(), false};
  std::unique_lock lock(group_mu_);
  pending_.push_back(&request);
  if (filling_) fill_cv_.notify_one();
  while (!request.done) {
    if (leader_active_) {
      group_cv_.wait(lock);
      continue;
    }
    leader_active_ = true;
    WaitForCompany(lock);
    std::vector<WriteRequest*> group;
    group.swap(pending_);
    size_t durable_requests = 0;
    for (const WriteRequest* r : group) durable_requests += r->durable ? 1 : 0;
    if (durable_requests > 0) last_durable_group_ = durable_requests;
    lock.unlock();
    int64_t sent = 0;
    {
      std::scoped_lock db_lock(db_mu_, write_mu_);
      sent = CommitGroup(group);
    }
    if (sent > 0) Notify(sent);
    lock.lock();
    for (WriteRequest* r : group) r->done = true;
    leader_active_ = false;
    group_cv_.notify_all();
  }
  return request.status;
}

void SqliteQueue::WaitForCompany(std::unique_lock<std::mutex>& lock) {
  // A durable commit costs an fsync (a few hundred microseconds here), whatever its size.
  // When the last durable group had company, its members are likely on their way back (a
  // producer that waits for each send sends again right after), so the leader waits a
  // little for them rather than paying an fsync for a group of one or two: until the group
  // is as large as the last one, or nobody arrived for kFillQuiet, at most kFillMax. A lone
  // sender (last group of one) never waits.
  auto durable_pending = [&] {
    size_t n = 0;
    for (const WriteRequest* r : pending_) n += r->durable ? 1 : 0;
    return n;
  };
  if (last_durable_group_ <= 1 || durable_pending() == 0) return;
  const auto deadline = std::chrono::steady_clock::now() + kFillMax;
  filling_ = true;
  while (durable_pending() < last_durable_group_) {
    const size_t before = pending_.size();
    const auto until = std::min(deadline, std::chrono::steady_clock::now() + kFillQuiet);
    fill_cv_.wait_until(lock, until, [&] { return pending_.size() != before; });
    if (pending_.size() == before || std::chrono::steady_clock::now() >= deadline) break;
  }
  filling_ = false;
}

int64_t SqliteQueue::CommitGroup(std::span<WriteRequest* const> group) {
  bool durable = false;
  for (const WriteRequest* r : group) durable = durable || r->durable;
  Status status = db_.SetSynchronous(durable ? Db::Sync::kFull : Db::Sync::kNormal);
  if (status.ok() && group.size() == 1) {
    // Alone: no savepoint needed, the transaction is the request's.
    status = db_.Transaction(*group.front()->body);
    group.front()->status = status;
    if (status.ok() && group.front()->sends > 0) {
      sends_committed_ += group.front()->sends;
      ++commits_;
      return group.front()->sends;
    }
    return 0;
  }
  if (status.ok()) {
    status = db_.Transaction([&]() -> Status {
      for (WriteRequest* r : group) {
        THUMBPIPE_ASSIGN_OR_RETURN(StmtLease savepoint, db_.Cached("SAVEPOINT request"));
        THUMBPIPE_RETURN_IF_ERROR(savepoint->Run().status());
        r->status = (*r->body)();
        if (!r->status.ok()) {
          // The database itself is busy or failing: the group as a whole (retried when busy).
          if (IsBusy(r->status) || r->status.code() == StatusCode::kIOError ||
              r->status.code() == StatusCode::kCorrupt) {
            return r->status;
          }
          THUMBPIPE_ASSIGN_OR_RETURN(StmtLease undo, db_.Cached("ROLLBACK TO request"));
          THUMBPIPE_RETURN_IF_ERROR(undo->Run().status());
        }
        THUMBPIPE_ASSIGN_OR_RETURN(StmtLease release, db_.Cached("RELEASE request"));
        THUMBPIPE_RETURN_IF_ERROR(release->Run().status());
      }
      return Status::Ok();
    });
  }
  int64_t sends = 0;
  for (WriteRequest* r : group) {
    if (!status.ok()) {
      r->status = status;
    } else if (r->status.ok()) {
      sends += r->sends;
    }
  }
  if (sends > 0) {
    sends_committed_ += sends;
    ++commits_;
  }
  return sends;
}

}  // namespace thumbpipe::queue::internal
