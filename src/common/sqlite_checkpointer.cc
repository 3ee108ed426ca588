#include "common/sqlite_checkpointer.h"

#include <algorithm>

namespace thumbpipe::sqlite {

Checkpointer::Checkpointer(int threshold_pages, Pass pass, std::function<void(const Status&)> on_error)
    : threshold_pages_(threshold_pages),
      pass_(std::move(pass)),
      on_error_(std::move(on_error)),
      next_at_(threshold_pages),
      thread_([this] { Run(); }) {}

Checkpointer::~Checkpointer() {
  {
    std::scoped_lock lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

int Checkpointer::OnWalCommit(void* self, sqlite3* /*db*/, const char* /*schema*/, int wal_pages) {
  auto* checkpointer = static_cast<Checkpointer*>(self);
  const int threshold = checkpointer->threshold_pages_;
  // A WAL smaller than at the last commit has started over: count from the base again.
  const int last = checkpointer->last_pages_.exchange(wal_pages, std::memory_order_relaxed);
  if (wal_pages < last) checkpointer->next_at_.store(threshold, std::memory_order_relaxed);
  if (wal_pages >= checkpointer->next_at_.load(std::memory_order_relaxed)) {
    bool wake = false;
    {
      std::scoped_lock lock(checkpointer->mu_);
      wake = !std::exchange(checkpointer->wanted_, true);
    }
    if (wake) checkpointer->wake_.notify_one();
  }
  return 0;  // SQLITE_OK
}

void Checkpointer::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return wanted_ || stopping_; });
    if (stopping_) return;
    wanted_ = false;
    lock.unlock();
    const Result<std::pair<int, int>> done = pass_();
    // Wakes again when the WAL has started over and grown to the threshold (OnWalCommit), or,
    // if it did not start over, once another threshold's worth was written after this pass.
    next_at_.store(done.ok() ? std::max(done->first, threshold_pages_) + threshold_pages_ : threshold_pages_,
                   std::memory_order_relaxed);
    if (!done.ok()) on_error_(done.status());
    lock.lock();
    // Commits during the pass asked for another one against the old threshold; the next
    // commit past the new one asks again.
    wanted_ = false;
  }
}

}  // namespace thumbpipe::sqlite
