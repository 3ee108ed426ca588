// LocalStore: the ObjectStore over a data directory (blob_files.h has the layout) with a
// SQLite index (local_schema.h). What it adds to object_store.h's contract:
//
//  - Durability: a write returns after its body and its index row (and its outbox entries)
//    are on disk. Bodies up to inline_max_bytes are kept in the index itself, so that one
//    commit (one WAL fsync) covers body, row and outbox entry; larger bodies are blob files,
//    fdatasync'ed and renamed into place before the row commits. Concurrent writers share
//    commits (group commit), which is what lets many small PUTs share one fsync.
//  - Crash safety: temp blobs and blobs no row names are removed at start-up by whichever
//    process opens the directory first (it takes DIR/LOCK exclusively for the sweep; open
//    stores hold it shared).
//  - Several processes may open one directory; writes then serialise on SQLite's lock.
//
// Thread-safe.
#pragma once

#include <filesystem>
#include <memory>

#include "common/clock.h"
#include "common/result.h"
#include "store/object_store.h"

namespace thumbpipe::store {

struct LocalStoreOptions {
  // The data directory; created when missing.
  std::filesystem::path dir;
  // Largest body of one PUT, one part, one copy or one completed upload (EntityTooLarge).
  uint64_t max_object_bytes = uint64_t{5} << 30;
  // Smallest part but the last of a multipart upload (EntityTooSmall); S3's 5 MiB.
  uint64_t min_part_bytes = uint64_t{5} << 20;
  // Bodies of at most this many bytes live in the index, not in files (0: only empty ones).
  uint64_t inline_max_bytes = 64 * 1024;
  // fsync blobs and commit the index with synchronous=FULL. Off only for tests that measure
  // semantics, never durability.
  bool durable = true;
  // Longest a group commit's leader waits for the writers that took part in recent groups
  // to queue up again, so that one fsync carries all of them (0: never wait). A lone writer
  // never waits; see LocalStore::Write.
  std::chrono::microseconds group_commit_window{1000};
  // How often Outbox::Pending looks for entries other processes wrote (within the process a
  // commit wakes it at once).
  Duration outbox_poll = std::chrono::milliseconds(50);
  // Source of last-modified times. Not owned; must outlive the store.
  Clock* clock = &RealClock::Instance();
};

// Opens (creating when needed) the store in options.dir and sweeps crash leftovers.
// kInvalidArgument for bad options, kIOError when the directory cannot be used.
Result<std::unique_ptr<ObjectStore>> OpenLocalStore(const LocalStoreOptions& options);

// Commit statistics of a LocalStore (zeros for other stores): how many writes committed in
// how many index transactions. writes / commits is the average group size.
struct LocalCommitStats {
  int64_t writes = 0;
  int64_t commits = 0;
};
LocalCommitStats GetLocalCommitStats(const ObjectStore& store);

}  // namespace thumbpipe::store
