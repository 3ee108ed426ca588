// Internal to src/queue: the SqliteQueue class, shared by the .cc files that implement it
// (sqlite_queue.cc: opening and the send path; sqlite_queue_receive.cc: receive, acks,
// stats; sqlite_dead_letters.cc: the DLQ tools). Users include sqlite_queue.h only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "queue/queue.h"
#include "queue/sqlite_handle.h"
#include "queue/sqlite_queue.h"

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
  SqliteQueue(const SqliteQueueOptions& options, Db send_db, Db ops_db, Db checkpoint_db)
      : options_(options), clock_(*options.clock), send_db_(std::move(send_db)),
        ops_db_(std::move(ops_db)), checkpoint_db_(std::move(checkpoint_db)) {}
  ~SqliteQueue() override;

  // Creates the schema and this queue's row, then starts the checkpointer.
  Status Init();

  Result<std::string> Send(std::string_view body, const Attributes& attributes,
                           std::optional<Duration> delay) override;
  Result<std::vector<Result<std::string>>> SendBatch(std::span<const SendEntry> entries) override;
  Result<std::vector<Message>> Receive(int max, Duration wait,
                                       std::optional<Duration> visibility) override;
  Status Remove(std::string_view receipt) override;
  Result<std::vector<Status>> RemoveBatch(std::span<const std::string> receipts) override;
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
  // Deletes every live (dead = false) or dead-lettered (dead = true) message of this queue.
  Result<int64_t> DeleteAll(bool dead);
  // Moves dead rows back: the given ids, or (ids empty) up to `limit` of the oldest.
  Result<int64_t> RedriveSome(std::span<const std::string> ids, int64_t limit);

  Result<NewRow> MakeRow(std::string_view body, const Attributes& attributes,
                         std::optional<Duration> delay, int64_t now) const;
  // Commits `rows` in a transaction shared with concurrent callers (group commit).
  Status CommitSends(std::span<const NewRow> rows);
  Status InsertGroup(const std::vector<std::span<const NewRow>>& group);
  // REQUIRES: write_mu_ (and ops_mu_ when `db` is ops_db_) held.
  Status InsertGroupOn(Db& db, const std::vector<std::span<const NewRow>>& group);

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

  // Checkpoints run on their own thread and connection (checkpoint_db_), never in a
  // committing thread: SQLite's automatic checkpoint would make the send or receive that
  // happens to cross the threshold wait for the database file's fsync. The commit hook
  // (OnWalCommit) wakes the thread when the WAL has grown past kCheckpointPages.
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void RunCheckpointer();
  Db checkpoint_db_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  static constexpr int kCheckpointPages = 1000;
  std::atomic<int> next_checkpoint_at_{kCheckpointPages};  // WAL pages that wake the checkpointer
  bool checkpoint_wanted_ = false;  // protected by checkpoint_mu_
  bool stopping_ = false;           // protected by checkpoint_mu_
  std::thread checkpointer_;

  std::mutex notify_mu_;
  std::condition_variable notify_cv_;
  uint64_t notify_seq_ = 0;  // protected by notify_mu_

  SqliteDeadLetters dead_letters_{*this};
};

}  // namespace thumbpipe::queue::internal
