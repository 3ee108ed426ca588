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
#include "queue/sqlite_queue_impl.h"

namespace thumbpipe::queue::internal {

Status SqliteQueue::GroupWrite(const std::function<Status()>& body, bool durable,
                               int64_t sends) {
  WriteRequest request{&body, durable, sends, Status::Ok(), false};
  std::unique_lock lock(group_mu_);
  pending_.push_back(&request);
  while (!request.done) {
    if (leader_active_) {
      group_cv_.wait(lock);
      continue;
    }
    leader_active_ = true;
    std::vector<WriteRequest*> group;
    group.swap(pending_);
    lock.unlock();
    {
      std::scoped_lock db_lock(db_mu_, write_mu_);
      CommitGroup(group);
    }
    lock.lock();
    for (WriteRequest* r : group) r->done = true;
    leader_active_ = false;
    group_cv_.notify_all();
  }
  return request.status;
}

void SqliteQueue::CommitGroup(std::span<WriteRequest* const> group) {
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
    }
    return;
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
}

}  // namespace thumbpipe::queue::internal
