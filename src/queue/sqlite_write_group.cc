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
//
// Durable sends (durability full): the connection commits at synchronous=NORMAL and the
// leader then calls fdatasync on the WAL itself, after it let go of the write lock, and
// only then are the group's sends acknowledged. SQLite's synchronous=FULL would fsync with
// the write lock held, so that every other write (a consumer's ack, the next group of sends)
// waited for the disk; this way the next group commits while this one's fsync runs. An
// acknowledged send is as durable as with FULL: the WAL holds its frames, and a checkpoint
// copies frames to the database file (and syncs that) before the WAL may start over. The
// difference: a consumer may receive such a message up to one fsync before its sender is
// acknowledged; if the machine loses power in between, the send fails or is never answered
// and the message may come again, which at-least-once allows.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "queue/sqlite_queue_impl.h"

namespace thumbpipe::queue::internal {

Status SqliteQueue::GroupWrite(const std::function<Status()>& body, bool durable,
                               int64_t sends) {
  WriteRequest request{&body, durable, sends};
  std::unique_lock lock(group_mu_);
  pending_.push_back(&request);
  if (filling_) fill_cv_.notify_one();
  while (!request.done) {
    // A request that a leader took waits for its outcome even when no leader is active:
    // its group may be waiting for the WAL's fsync while the next group commits.
    if (leader_active_ || request.taken) {
      request.wake.wait(lock);
      continue;
    }
    leader_active_ = true;
    WaitForCompany(lock);
    std::vector<WriteRequest*> group;
    group.swap(pending_);
    size_t durable_requests = 0;
    for (WriteRequest* r : group) {
      r->taken = true;
      durable_requests += r->durable ? 1 : 0;
    }
    if (durable_requests > 0) last_durable_group_ = durable_requests;
    durable_in_flight_ += durable_requests;
    lock.unlock();
    int64_t sent = 0;
    uint64_t commit_seq = 0;
    {
      std::scoped_lock db_lock(db_mu_, write_mu_);
      sent = CommitGroup(group);
      commit_seq = ++commit_seq_;
      CatchUpCheckpoint();
    }
    // The commit is in the WAL (and visible to readers); the next group may commit while
    // this one waits for the disk.
    lock.lock();
    leader_active_ = false;
    // The next leader: whoever arrived first meanwhile (pending_ holds only requests no
    // leader took). Waking only that one, and below only this group's members, spares the
    // other waiting threads a wake-up and a fight for group_mu_ at every commit.
    if (!pending_.empty()) pending_.front()->wake.notify_one();
    lock.unlock();
    bool needs_sync = false;
    for (const WriteRequest* r : group) needs_sync = needs_sync || (r->durable && r->status.ok());
    if (needs_sync) {
      const Status synced = SyncWal(commit_seq);
      for (WriteRequest* r : group) {
        if (r->durable && r->status.ok() && !synced.ok()) r->status = synced;
      }
    }
    if (sent > 0) Notify(sent);
    lock.lock();
    durable_in_flight_ -= durable_requests;
    if (filling_) fill_cv_.notify_one();
    for (WriteRequest* r : group) {
      r->done = true;
      r->wake.notify_one();  // under group_mu_: the request lives until its thread sees done
    }
  }
  return request.status;
}

Status SqliteQueue::SyncWal(uint64_t commit_seq) {
  // One fdatasync at a time, each covering every commit made before it started: groups that
  // committed while one ran share the next (so a slow disk sees one fsync per round of
  // commits, not one per group). fdatasync applies to the file, whichever descriptor names
  // it: this one, opened in Init, flushes every frame any connection wrote to the WAL
  // before the call (and the WAL header, if the WAL started over since).
  std::unique_lock lock(sync_mu_);
  while (synced_seq_ < commit_seq) {
    if (syncing_) {
      sync_cv_.wait(lock);
      continue;
    }
    syncing_ = true;
    const uint64_t upto = commit_seq_.load();
    lock.unlock();
    const int rc = ::fdatasync(wal_fd_);
    const int error = errno;
    lock.lock();
    syncing_ = false;
    sync_cv_.notify_all();
    if (rc != 0) {
      return Status::IOError(fmt::format("{}-wal: fdatasync: {}", options_.path.string(),
                                         std::strerror(error)));
    }
    synced_seq_ = std::max(synced_seq_, upto);
    ++syncs_;
  }
  return Status::Ok();
}

void SqliteQueue::WaitForCompany(std::unique_lock<std::mutex>& lock) {
  // A durable commit costs an fdatasync (300-550 us here), whatever its size, and fsyncs run
  // one at a time (SyncWal). So a leader gains nothing by committing while an earlier durable
  // group still waits for its fsync: its own fsync could not start before that one ends.
  // It waits instead for those senders to be acknowledged and come back (a producer that
  // waits for each send sends again right after), and for the size of the last group, then
  // commits them all at once: eight producers share one fsync, where two overlapping groups
  // of four to five each paid one (bench/README.md, twelfth session). The wait ends when
  // nobody arrived for kFillQuiet with no group in flight, or after kFillMax. A lone sender
  // (no company, nothing in flight) never waits.
  auto durable_pending = [&] {
    size_t n = 0;
    for (const WriteRequest* r : pending_) n += r->durable ? 1 : 0;
    return n;
  };
  if (durable_pending() == 0) return;
  const auto deadline = std::chrono::steady_clock::now() + kFillMax;
  filling_ = true;
  while (durable_in_flight_ > 0 || durable_pending() < last_durable_group_) {
    const size_t arrived = pending_.size();
    const size_t in_flight = durable_in_flight_;
    const auto until = std::min(deadline, std::chrono::steady_clock::now() + kFillQuiet);
    const bool changed = fill_cv_.wait_until(lock, until, [&] {
      return pending_.size() != arrived || durable_in_flight_ != in_flight;
    });
    const bool quiet = !changed && durable_in_flight_ == 0;
    if (quiet || std::chrono::steady_clock::now() >= deadline) break;
  }
  filling_ = false;
}

Status SqliteQueue::RunRequest(const std::function<Status()>& body) {
  request_counters_ = {};
  return body();
}

int64_t SqliteQueue::CommitGroup(std::span<WriteRequest* const> group) {
  Status status;
  if (group.size() == 1) {
    // Alone: no savepoint needed, the transaction is the request's.
    status = db_.Transaction([&]() -> Status {
      group_counters_ = {};
      THUMBPIPE_RETURN_IF_ERROR(RunRequest(*group.front()->body));
      return FlushCounters(request_counters_);
    });
    group.front()->status = status;
    if (status.ok() && group.front()->sends > 0) {
      sends_committed_ += group.front()->sends;
      ++commits_;
      return group.front()->sends;
    }
    return 0;
  }
  {
    status = db_.Transaction([&]() -> Status {
      group_counters_ = {};  // the transaction may run again after a busy retry
      for (WriteRequest* r : group) {
        THUMBPIPE_ASSIGN_OR_RETURN(StmtLease savepoint, db_.Cached("SAVEPOINT request"));
        THUMBPIPE_RETURN_IF_ERROR(savepoint->Run().status());
        r->status = RunRequest(*r->body);
        if (!r->status.ok()) {
          // The database itself is busy or failing: the group as a whole (retried when busy).
          if (IsBusy(r->status) || r->status.code() == StatusCode::kIOError ||
              r->status.code() == StatusCode::kCorrupt) {
            return r->status;
          }
          THUMBPIPE_ASSIGN_OR_RETURN(StmtLease undo, db_.Cached("ROLLBACK TO request"));
          THUMBPIPE_RETURN_IF_ERROR(undo->Run().status());
        } else {
          group_counters_ += request_counters_;
        }
        THUMBPIPE_ASSIGN_OR_RETURN(StmtLease release, db_.Cached("RELEASE request"));
        THUMBPIPE_RETURN_IF_ERROR(release->Run().status());
      }
      // One UPDATE of the counters for the whole group; if it fails, the group fails.
      return FlushCounters(group_counters_);
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
