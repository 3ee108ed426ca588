// A SQLite VFS that writes each WAL commit with one pwrite instead of two per page.
//
// SQLite writes a WAL frame as two writes (its 24-byte header, then the page), at offsets
// that straddle the page cache's 4 KiB folios, so a commit of n pages costs 2n pwrite
// calls and about 3n folio lookups in the kernel. Measured on this machine (ext4, 6-frame
// commits cycling through a 16 MiB file): 5.4-5.8 us of CPU per frame written that way,
// 2.4-2.6 us per frame written as one pwrite per commit (bench/README.md, "Queue").
//
// The VFS wraps the default one ("unix") and changes one thing: writes to a WAL file that
// continue the previous one are collected in memory, and written with one pwrite when the
// commit frame's page has been added (the frame header's "database size after commit" is
// non-zero), before anything else touches the file (a read, a write elsewhere, sync,
// truncate, size, close), before the connection's wal-index header becomes visible to
// readers (xShmBarrier of the database file, which SQLite calls between writing the two
// copies of that header) and before any wal-index lock changes. So every byte reaches the
// file in the order SQLite wrote it, and before any reader (of this or another process)
// can learn that the frames exist; the file format and the locking protocol are
// unchanged, so processes with and without this VFS share a database safely.
#pragma once

#include <cstdint>

namespace thumbpipe::sqlite {

// The VFS's name (registered on first use, not as the default): for sqlite3_open_v2.
const char* WalBatchVfsName();

// Writes this VFS has passed on to WAL files so far, in this process (for tests).
uint64_t WalBatchWrites();

}  // namespace thumbpipe::sqlite
