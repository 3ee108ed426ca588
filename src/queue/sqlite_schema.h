// The SQLite queue's tables. One file holds any number of named queues.
//
// messages: one row per message, live or dead-lettered. The rowid (`seq`) is the send order
//   and is carried in receipts ("<seq>.<nonce>"), so a receipt finds its row without an index;
//   the nonce is replaced at every receive, which is what makes older receipts stale.
//   Times are milliseconds since the Unix epoch of the queue's Clock.
// dedup: the deduplication ids of recent sends (SendEntry::dedup_id) and the message id
//   each first send got, so that a retried send enqueues nothing. Written in the insert's own
//   transaction; pruned by the deduplicated sends themselves (SqliteQueue::PruneDedup), so
//   it holds about one deduplication window of such sends. Version 3 added it.
// queues: per-queue settings (as the last opener configured them, for tools) and the
//   persistent counters that QueueStats reports.
//
// Every index costs a page write at nearly every commit (a send adds an entry to each, a
// receive moves its messages_receive entry, an ack deletes from each), so there are only
// the ones a hot path needs. Version 2 dropped two of version 1's (about 20% of the pages
// each message writes): messages_age (queue, dead, sent_at), for retention sweeps, which
// now find expired live messages on the receive path and scan only for stats and the DLQ
// tools; and the unique messages_id (id), which only the DLQ tools look up, now a partial
// index over dead messages (live ids are unique by construction: UUID v7).
#pragma once

namespace thumbpipe::queue {

inline constexpr int kSchemaVersion = 3;

inline constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS queues(
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  visibility_timeout_ms INTEGER NOT NULL,
  max_receive_count INTEGER NOT NULL,
  retention_ms INTEGER NOT NULL,
  dlq_retention_ms INTEGER NOT NULL,
  delay_ms INTEGER NOT NULL,
  max_message_bytes INTEGER NOT NULL,
  sent INTEGER NOT NULL DEFAULT 0,
  received INTEGER NOT NULL DEFAULT 0,
  removed INTEGER NOT NULL DEFAULT 0,
  dead_lettered INTEGER NOT NULL DEFAULT 0,
  expired INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS messages(
  seq INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  body BLOB NOT NULL,
  attributes BLOB NOT NULL,
  sent_at INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  received_at INTEGER,
  receive_count INTEGER NOT NULL DEFAULT 0,
  receipt TEXT,
  dead INTEGER NOT NULL DEFAULT 0,
  dead_at INTEGER,
  reason TEXT
) STRICT;
-- The receive path: visible live messages of a queue in visibility order.
CREATE INDEX IF NOT EXISTS messages_receive ON messages(queue, dead, visible_at);
-- The DLQ tools' lookups by id (dlq list --after, redrive by id).
CREATE UNIQUE INDEX IF NOT EXISTS messages_dead_id ON messages(id) WHERE dead = 1;
CREATE TABLE IF NOT EXISTS dedup(
  queue TEXT NOT NULL,
  dedup_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  PRIMARY KEY(queue, dedup_id)
) STRICT, WITHOUT ROWID;
-- Pruning finds the oldest entries, and the newest one, of a queue.
CREATE INDEX IF NOT EXISTS dedup_age ON dedup(queue, sent_at);
)sql";

// From version 1 (run before kSchemaSql, in the same transaction). Version 2 -> 3 only adds
// tables, which kSchemaSql creates.
inline constexpr const char* kMigrateFrom1Sql = R"sql(
DROP INDEX IF EXISTS messages_age;
DROP INDEX IF EXISTS messages_id;
)sql";

}  // namespace thumbpipe::queue
