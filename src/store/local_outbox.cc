// LocalOutbox: the outbox table read back. Within the process a commit that added entries
// wakes Pending at once; entries other processes commit are found by polling every
// options.outbox_poll. Entries stay until Done, so a consumer that crashes before Done sees
// them again (at-least-once). Meant for one consumer at a time.
#include <fmt/format.h>

#include "store/local_store_impl.h"

namespace thumbpipe::store::internal {

void LocalStore::NotifyOutbox() {
  {
    std::scoped_lock lock(outbox_mu_);
    ++outbox_seq_;
  }
  outbox_cv_.notify_all();
}

uint64_t LocalStore::outbox_seq() {
  std::scoped_lock lock(outbox_mu_);
  return outbox_seq_;
}

void LocalStore::WaitOutbox(uint64_t seen, std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(outbox_mu_);
  outbox_cv_.wait_until(lock, until, [&] { return outbox_seq_ != seen; });
}

Result<std::vector<OutboxEntry>> LocalOutbox::Pending(int max, Duration wait) {
  if (max < 1 || max > 10000) return Status::InvalidArgument(fmt::format("outbox: max {} must be 1-10000", max));
  if (wait.count() < 0) return Status::InvalidArgument("outbox: negative wait");
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    // Read the sequence before the query: a commit after the query changes it, so the wait
    // below cannot miss it.
    const uint64_t seen = store_.outbox_seq();
    std::vector<OutboxEntry> out;
    if (Status done = store_.ReadTxn([&](Db& db) -> Status {
      THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached("SELECT id, payload FROM outbox ORDER BY id LIMIT ?"));
      stmt->Bind(1, int64_t{max});
      for (;;) {
        THUMBPIPE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
        if (!row) return Status::Ok();
        out.push_back(OutboxEntry{stmt->Int(0), stmt->Text(1)});
      }
    }); !done.ok()) return done;
    const auto now = std::chrono::steady_clock::now();
    if (!out.empty() || now >= deadline) return out;
    store_.WaitOutbox(seen, std::min(deadline, now + store_.options().outbox_poll));
  }
}

Status LocalOutbox::Done(std::span<const int64_t> ids) {
  if (ids.empty()) return Status::Ok();
  return store_.Write([&](WriteTxn& txn) -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, txn.db().Cached("DELETE FROM outbox WHERE id = ?"));
    for (int64_t id : ids) {
      stmt->Reset();
      stmt->Bind(1, id);
      THUMBPIPE_RETURN_IF_ERROR(stmt->Run().status());
    }
    return Status::Ok();
  });
}

}  // namespace thumbpipe::store::internal
