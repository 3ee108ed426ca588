// Internal to src/queue: the SqliteQueue class, shared by the .cc files that implement it
// (sqlite_queue.cc: opening and the send path; sqlite_queue_receive.cc: receive, acks,
// stats; sqlite_dead_letters.cc: the DLQ tools). Users include sqlite_queue.h only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "queue/queue.h"
#include "common/sqlite_checkpointer.h"
#include "common/sqlite_handle.h"
#include "queue/sqlite_queue.h"
#include "queue/sqlite_wal_watch.h"

namespace thumbpipe::queue {
// The SQLite wrappers, shared with the local store's index.
using sqlite::Db;
using sqlite::IsBusy;
using sqlite::SqliteStatus;
using sqlite::Stmt;
using sqlite::StmtLease;
}  // namespace thumbpipe::queue

namespace thumbpipe::queue::internal {

inline int64_t ToMs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline Clock::time_point FromMs(int64_t ms) {
  return Clock::time_point(std::chrono::duration_cast<Clock::time_point::duration>(
      std::chrono::milliseconds(ms)));
}

struct NewRow {
  std::string id;
  std::string body;
  std::string attributes;  // EncodeAttributes
  int64_t sent_at = 0;
  int64_t visible_at = 0;
  std::string dedup_id = {};  // empty: none
};

// The row a receipt names, as read inside a transaction.
struct HeldRow {
  int64_t seq = 0;
  int64_t received_at = 0;
};

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
  SqliteQueue(const SqliteQueueOptions& options, Db db, Db checkpoint_db)
      : options_(options), clock_(*options.clock), db_(std::move(db)),
        checkpoint_db_(std::move(checkpoint_db)) {}
  ~SqliteQueue() override;

  // Creates the schema and this queue's row, then starts the checkpointer.
  Status Init();

  Result<std::string> Send(std::string_view body, const Attributes& attributes,
                           std::optional<Duration> delay) override;
  Result<std::vector<Result<std::string>>> SendBatch(std::span<const SendEntry> entries) override;
  Result<std::vector<Message>> Receive(int max, Duration wait,
                                       std::optional<Duration> visibility) override;
  Result<std::vector<Message>> ReceiveOrStop(int max, Duration wait, std::optional<Duration> visibility,
                                             std::stop_token stop) override;
  Status Remove(std::string_view receipt) override;
  Result<std::vector<Status>> RemoveBatch(std::span<const std::string> receipts) override;
  Status ChangeVisibility(std::string_view receipt, Duration timeout) override;
  Status DeadLetter(std::string_view receipt, std::string_view reason) override;
  Result<QueueStats> Stats() override;
  Result<int64_t> Purge() override;
  DeadLetters& dead_letters() override { return dead_letters_; }
  bool deduplicates() const override { return true; }

  Result<std::vector<DeadMessage>> ListDead(int limit, std::string_view after_id);
  Result<int64_t> RedriveDead(std::span<const std::string> ids, double per_second);
  Result<int64_t> PurgeDead();

  int64_t waiting_long_polls();  // GetWaitingLongPolls

  SendCommitStats commit_stats() const {
    return {sends_committed_.load(), commits_.load(), syncs_.load()};
  }

 private:
  // Deletes every live (dead = false) or dead-lettered (dead = true) message of this queue.
  Result<int64_t> DeleteAll(bool dead);
  // Moves dead rows back: the given ids, or (ids empty) up to `limit` of the oldest.
  Result<int64_t> RedriveSome(std::span<const std::string> ids, int64_t limit);

  Result<NewRow> MakeRow(std::string_view body, const Attributes& attributes,
                         std::optional<Duration> delay, int64_t now) const;
  // Inserts `rows` (one durable step, as the durability setting defines) and wakes long polls.
  // Returns each row's message id: its own, or for a duplicate dedup_id the first send's
  // (and then nothing was inserted for it).
  Result<std::vector<std::string>> CommitSends(std::span<const NewRow> rows);
  // Deletes this queue's dedup entries sent more than dedup_window before min(now, the
  // newest entry), at most kMaxPrunedPerSend of them. REQUIRES: inside a write transaction.
  Status PruneDedup(int64_t now);
  static constexpr int64_t kMaxPrunedPerSend = 1000;

  Result<std::vector<Message>> ReceiveOnce(int max, int64_t visibility_ms);
  // Deletes and counts expired messages: dead ones past dlq_retention and, with `live`, live
  // ones past retention (a scan of each set). REQUIRES: inside a write transaction on db_.
  Status Sweep(int64_t now, bool live);
  void CountExpired(int64_t n);  // REQUIRES: inside a GroupWrite body.
  // How often (queue clock) receives sweep the dead side. Live messages need no sweep there:
  // a receive that reaches one past retention deletes it instead of delivering it.
  static constexpr int64_t kDeadSweepEveryMs = 60'000;
  int64_t next_dead_sweep_ms_ = 0;  // protected by db_mu_
  std::atomic<bool> last_receive_found_{false};  // the last ReceiveOnce returned messages
  // Finds the row `receipt` names and checks that it is the latest receipt.
  // REQUIRES: inside a write transaction on db_.
  Result<HeldRow> Hold(std::string_view receipt);
  // Deletes the message `receipt` names if it is the latest receipt; otherwise Hold's error.
  // REQUIRES: inside a write transaction on db_.
  Status DeleteHeld(std::string_view receipt);
  // Messages one receive may delete (expired) or move to the DLQ before it returns.
  static constexpr int64_t kMaxSkippedPerReceive = 1000;
  // The persistent counters (queues table) that QueueStats reports. A group commit changes
  // them with one UPDATE for all its requests (FlushCounters) instead of one per request:
  // requests add to request_counters_ as they run, CommitGroup adds those of each request
  // that succeeded to group_counters_ and writes them just before the commit. Both are
  // protected by write_mu_ (they are only touched inside a group's transaction).
  struct Counters {
    int64_t sent = 0, received = 0, removed = 0, dead_lettered = 0, expired = 0;
    Counters& operator+=(const Counters& o) {
      sent += o.sent;
      received += o.received;
      removed += o.removed;
      dead_lettered += o.dead_lettered;
      expired += o.expired;
      return *this;
    }
    bool empty() const {
      return sent == 0 && received == 0 && removed == 0 && dead_lettered == 0 && expired == 0;
    }
  };
  // REQUIRES: inside a GroupWrite body.
  void AddCounter(int64_t Counters::*counter, int64_t n) { request_counters_.*counter += n; }
  // Runs one request's body with fresh request counters. REQUIRES: inside a transaction.
  Status RunRequest(const std::function<Status()>& body);
  // Adds `delta` to the queues row. REQUIRES: inside a write transaction on db_.
  Status FlushCounters(const Counters& delta);
  Counters request_counters_;
  Counters group_counters_;
  // Runs `body` inside a write transaction on db_ that it may share with the write operations
  // of concurrent callers (group commit, sqlite_write_group.cc). Its outcome is its own: a
  // body that fails is rolled back alone and the others commit. `durable` asks for a
  // synchronous=FULL commit (the whole group then gets one); `sends` is how many messages the
  // body inserts (SendCommitStats). `body` may run more than once (busy retries), so it must
  // reset what it collects.
  Status GroupWrite(const std::function<Status()>& body, bool durable = false,
                    int64_t sends = 0);
  int64_t NowMs() const { return ToMs(clock_.Now()); }
  // Wakes long polls of this object: as many as `messages` became visible (all by default).
  void Notify(int64_t messages = INT64_MAX);

  const SqliteQueueOptions options_;
  Clock& clock_;

  std::mutex write_mu_;  // held around every write transaction of this object

  // Group commit (GroupWrite): requests wait in pending_ until a leader takes them.
  struct WriteRequest {
    const std::function<Status()>* body;
    bool durable;
    int64_t sends;
    Status status = Status::Ok();
    bool taken = false;  // a leader has it in its group; protected by group_mu_
    bool done = false;   // status is final; protected by group_mu_
    std::condition_variable wake{};  // taken, done, or its turn to lead; with group_mu_
  };
  // Returns once the WAL is on disk up to commit number `commit_seq` (fdatasync of wal_fd_,
  // shared between concurrent callers). For durable sends; call with no other lock held.
  Status SyncWal(uint64_t commit_seq);
  std::atomic<uint64_t> commit_seq_{0};  // commits so far; incremented under write_mu_
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  uint64_t synced_seq_ = 0;  // commits known on disk; protected by sync_mu_
  bool syncing_ = false;     // an fdatasync is running; protected by sync_mu_
  std::atomic<int64_t> syncs_{0};
  Status OpenWalForSync();  // sets wal_fd_; from Init
  int wal_fd_ = -1;  // the WAL file, opened read-only in Init when durable_sends
  // Runs one group in one transaction, setting each request's status.
  // REQUIRES: db_mu_ and write_mu_ held.
  // Returns how many messages it sent (to wake as many long polls).
  int64_t CommitGroup(std::span<WriteRequest* const> group);
  std::mutex group_mu_;
  // Before a durable group: lets concurrent senders join it (see the .cc).
  // REQUIRES: `lock` holds group_mu_.
  void WaitForCompany(std::unique_lock<std::mutex>& lock);
  static constexpr std::chrono::microseconds kFillQuiet{60};
  static constexpr std::chrono::microseconds kFillMax{1000};
  std::condition_variable fill_cv_;     // a request arrived while filling_
  std::vector<WriteRequest*> pending_;  // protected by group_mu_
  bool leader_active_ = false;          // protected by group_mu_
  bool filling_ = false;                // protected by group_mu_
  size_t last_durable_group_ = 0;       // durable requests in the last durable group; group_mu_
  size_t durable_in_flight_ = 0;        // durable requests taken, not yet done; group_mu_
  std::atomic<int64_t> sends_committed_{0};
  std::atomic<int64_t> commits_{0};

  std::mutex db_mu_;  // protects db_
  Db db_;

  // Checkpoints run on their own thread and connection (checkpoint_db_), never in a
  // committing thread (common/sqlite_checkpointer.h); CheckpointPass is what that thread runs.
  Result<std::pair<int, int>> CheckpointPass();
  // Copies what the checkpointer's passes left, so that the next commit starts the WAL over
  // (CheckpointPass says why). Runs PASSIVE, which copies what no reader needs and, with
  // no other writer able to commit meanwhile, leaves the whole WAL copied.
  // REQUIRES: write_mu_ held, so that no commit of this object follows the checkpointer's
  // passes before it.
  void CatchUpCheckpoint();
  std::atomic<bool> catch_up_wanted_{false};  // set by the checkpointer after its passes
  std::mutex checkpoint_db_mu_;  // protects checkpoint_db_
  Db checkpoint_db_;
  // 16 MiB of WAL, four times SQLite's default: a checkpoint copies each page once however
  // often it changed since the last one, and the queue rewrites the same few pages (the
  // counters, the edges of the indexes) at every commit, so rarer checkpoints copy less per
  // message. The WAL starts over after each checkpoint (the catch-up pass, CheckpointPass),
  // so this also sets how large its file grows. 1,000 pages was tried: no cheaper per
  // message on a quiet machine, and the catch-up's pause (it waits for two fsyncs with the
  // write lock held) four times as often raised the send-to-receive p99 at 200 msg/s from
  // 0.65-0.67 ms to 1.87-2.07 ms, past issue 3's 2 ms (bench/README.md, "Queue").
  static constexpr int kCheckpointPages = 4000;
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;  // from Init; reset first in the destructor

  std::mutex notify_mu_;
  std::condition_variable notify_cv_;
  uint64_t notify_seq_ = 0;  // protected by notify_mu_
  int64_t waiting_ = 0;      // long polls waiting on notify_cv_; protected by notify_mu_
  // Another process committed (notice_other_processes): every waiting long poll probes again.
  void WakeLongPolls();
  std::unique_ptr<WalWatch> wal_watch_;  // from Init; reset first in the destructor

  SqliteDeadLetters dead_letters_{*this};
};

}  // namespace thumbpipe::queue::internal
