// The embedded queue: SQS semantics on one SQLite database file (WAL). Several named queues
// may share a file, and several processes may open it at once (a `serve` and extra
// `worker` processes on one machine). The dead-letter queue of queue NAME lives in the same
// file: its messages are the queue's rows flagged dead (tools may call it NAME-dlq).
//
// Deduplication: SendBatch honours SendEntry::dedup_id (deduplicates() is true). The ids
// live in the database, written in the same transaction as the messages, so they survive
// crashes and reopening and hold across processes; see dedup_window.
//
// Concurrent writes on one queue object (sends, receives, acks, ...) share one commit (group
// commit), so durable sends from many threads are not limited to one fsync each and a
// consumer's receive or ack rides in the producers' commit.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/duration.h"
#include "common/result.h"
#include "queue/queue.h"

namespace thumbpipe::queue {

struct SqliteQueueOptions {
  std::filesystem::path path;          // the database file; created if missing
  std::string name = "thumbnails";     // [A-Za-z0-9_-]{1,80}
  Duration visibility_timeout = std::chrono::seconds(60);  // default for Receive; 0-12h
  int max_receive_count = 3;           // receives before a message goes to NAME-dlq; 1-1000
  Duration retention = std::chrono::hours(4 * 24);      // 60s-14d
  Duration dlq_retention = std::chrono::hours(10 * 24); // 60s-14d, counted from first send
  Duration delay = Duration{0};        // default delay of new messages; 0-15m
  uint64_t max_message_bytes = 1 << 20;  // body + attributes; 1 KiB-1 MiB
  // How long a SendEntry::dedup_id is remembered (SQS FIFO: 5 minutes); 60s-14d. Measured
  // between deduplicated sends, not in idle time: an id is forgotten only once a later
  // deduplicated send came more than this after the newest one before it, so a sender that
  // retries after a long outage (the event relay restarting) still finds its ids.
  Duration dedup_window = std::chrono::minutes(5);
  // true (durability full): a send returns once its commit is on disk (the WAL
  // fdatasync'ed, as synchronous=FULL would), so it survives power loss. false (normal): a
  // send survives the process being killed, but the last commits may be lost if the machine
  // loses power (synchronous=NORMAL in WAL mode).
  bool durable_sends = true;
  // Longest a long poll in one process waits to notice a message sent by another process.
  Duration cross_process_poll = std::chrono::milliseconds(50);
  // Wake long polls as soon as another process commits (an inotify watch on the WAL,
  // sqlite_wal_watch.h), not only at the next cross_process_poll. For a consumer that runs
  // beside the process that sends (`thumbpipe worker` beside `serve`); a process that sends
  // to itself gains nothing from it and would run the watch's thread at every commit.
  bool notice_other_processes = false;
  Clock* clock = &RealClock::Instance();  // not owned; must outlive the queue
};

// Opens (or creates) the database and the queue. kInvalidArgument for bad options, kIOError
// when the file cannot be opened or created.
Result<std::unique_ptr<Queue>> OpenSqliteQueue(const SqliteQueueOptions& options);

// How many sends this queue object committed and in how many commits (group commit at work:
// sends / commits is the average group size). For tests and bench/queue.
// REQUIRES: `queue` came from OpenSqliteQueue.
struct SendCommitStats {
  int64_t sends = 0;    // messages committed through the send path
  int64_t commits = 0;  // send transactions committed
  int64_t syncs = 0;    // fdatasyncs of the WAL for durable sends (durability full)
};
SendCommitStats GetSendCommitStats(const Queue& queue);

// Long polls of this queue object waiting for a message right now (0 for other queues). For
// tests that must know a receive is asleep before they send.
int64_t GetWaitingLongPolls(Queue& queue);

}  // namespace thumbpipe::queue
