// The WAL-batching VFS (sqlite_wal_batch.h says why and what it guarantees).
#include "common/sqlite_wal_batch.h"

#include <sqlite3.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

namespace thumbpipe::sqlite {
namespace {

constexpr int kWalHeaderBytes = 32;
constexpr int kFrameHeaderBytes = 24;
// A transaction larger than this is written in pieces. The unix VFS writes at most
// 128 KiB - 1 bytes per call (os_unix.c masks the length with 0x1ffff), so a piece must
// stay below that: this limit plus one frame of the largest page size does.
constexpr size_t kMaxBuffered = size_t{60} << 10;

// Lives in the sqlite3_file memory SQLite allocates (szOsFile); the wrapped VFS's own file
// object follows it. Trivial, so that it can be laid out in that memory without a
// constructor: `base` must stay first (SQLite passes &base to the methods).
struct BatchFile {
  sqlite3_file base;
  sqlite3_file* real;
  bool is_wal;
  BatchFile* wal;  // a main database file: its connection's WAL file, while open
  BatchFile* db;   // a WAL file: its main database file
  std::string* buf;  // a WAL file: writes not yet passed on, starting at buf_off
  sqlite3_int64 buf_off;
  sqlite3_int64 commit_page_at;  // where the commit frame's page goes, once its header came
};

constexpr int kBatchFileBytes = (sizeof(BatchFile) + 7) & ~size_t{7};

std::atomic<uint64_t> g_writes{0};
sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;
sqlite3_io_methods g_methods;

BatchFile* Of(sqlite3_file* file) { return reinterpret_cast<BatchFile*>(file); }
const sqlite3_io_methods* M(BatchFile* f) { return f->real->pMethods; }

int Flush(BatchFile* f) {
  if (f->buf == nullptr || f->buf->empty()) return SQLITE_OK;
  const int rc = M(f)->xWrite(f->real, f->buf->data(), static_cast<int>(f->buf->size()),
                              f->buf_off);
  f->buf->clear();
  f->commit_page_at = -1;
  g_writes.fetch_add(1, std::memory_order_relaxed);
  return rc;
}

// Before anything but a write that continues the buffer.
int FlushWal(BatchFile* f) { return f->is_wal ? Flush(f) : SQLITE_OK; }

int Close(sqlite3_file* file) {
  BatchFile* f = Of(file);
  int rc = FlushWal(f);
  const int closed = M(f)->xClose(f->real);
  if (rc == SQLITE_OK) rc = closed;
  if (f->db != nullptr) f->db->wal = nullptr;
  if (f->wal != nullptr) f->wal->db = nullptr;
  delete f->buf;
  f->buf = nullptr;
  return rc;
}

int Read(sqlite3_file* file, void* out, int n, sqlite3_int64 off) {
  BatchFile* f = Of(file);
  if (const int rc = FlushWal(f); rc != SQLITE_OK) return rc;
  return M(f)->xRead(f->real, out, n, off);
}

int Write(sqlite3_file* file, const void* data, int n, sqlite3_int64 off) {
  BatchFile* f = Of(file);
  if (!f->is_wal) return M(f)->xWrite(f->real, data, n, off);
  std::string& buf = *f->buf;
  if (!buf.empty() && off != f->buf_off + static_cast<sqlite3_int64>(buf.size())) {
    if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  if (buf.empty()) f->buf_off = off;
  buf.append(static_cast<const char*>(data), static_cast<size_t>(n));
  if (n == kFrameHeaderBytes && off >= kWalHeaderBytes) {
    // A frame header: bytes 4-7 are the database size after a commit, 0 for other frames.
    const auto* p = static_cast<const unsigned char*>(data);
    const uint32_t commit = (uint32_t{p[4]} << 24) | (uint32_t{p[5]} << 16) |
                            (uint32_t{p[6]} << 8) | uint32_t{p[7]};
    if (commit != 0) f->commit_page_at = off + n;
    return SQLITE_OK;
  }
  // The commit frame is complete: pass the transaction's frames on, and report a failure
  // to the commit itself.
  if (off == f->commit_page_at || buf.size() >= kMaxBuffered) return Flush(f);
  return SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  BatchFile* f = Of(file);
  if (const int rc = FlushWal(f); rc != SQLITE_OK) return rc;
  return M(f)->xTruncate(f->real, size);
}

int Sync(sqlite3_file* file, int flags) {
  BatchFile* f = Of(file);
  if (const int rc = FlushWal(f); rc != SQLITE_OK) return rc;
  return M(f)->xSync(f->real, flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  BatchFile* f = Of(file);
  if (const int rc = FlushWal(f); rc != SQLITE_OK) return rc;
  return M(f)->xFileSize(f->real, size);
}

int Lock(sqlite3_file* file, int level) { return M(Of(file))->xLock(Of(file)->real, level); }
int Unlock(sqlite3_file* file, int level) { return M(Of(file))->xUnlock(Of(file)->real, level); }
int CheckReservedLock(sqlite3_file* file, int* out) {
  return M(Of(file))->xCheckReservedLock(Of(file)->real, out);
}
int FileControl(sqlite3_file* file, int op, void* arg) {
  BatchFile* f = Of(file);
  if (const int rc = FlushWal(f); rc != SQLITE_OK) return rc;
  return M(f)->xFileControl(f->real, op, arg);
}
int SectorSize(sqlite3_file* file) { return M(Of(file))->xSectorSize(Of(file)->real); }
int DeviceCharacteristics(sqlite3_file* file) {
  return M(Of(file))->xDeviceCharacteristics(Of(file)->real);
}

// The wal-index (shm) methods belong to the main database file. Its WAL's buffer is
// passed on before the header that makes frames visible is completed (xShmBarrier) and
// before any wal-index lock changes: normally it is empty by then (the commit frame
// flushed it), so this is the safety net for any other order of calls.
int ShmMap(sqlite3_file* file, int page, int size, int extend, void volatile** out) {
  return M(Of(file))->xShmMap(Of(file)->real, page, size, extend, out);
}
int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  BatchFile* f = Of(file);
  if (f->wal != nullptr) {
    if (const int rc = Flush(f->wal); rc != SQLITE_OK) return rc;
  }
  return M(f)->xShmLock(f->real, offset, n, flags);
}
void ShmBarrier(sqlite3_file* file) {
  BatchFile* f = Of(file);
  // xShmBarrier cannot fail; a write error here shows at the next write, sync or read.
  if (f->wal != nullptr) (void)Flush(f->wal);
  M(f)->xShmBarrier(f->real);
}
int ShmUnmap(sqlite3_file* file, int delete_flag) {
  return M(Of(file))->xShmUnmap(Of(file)->real, delete_flag);
}
int Fetch(sqlite3_file* file, sqlite3_int64 off, int n, void** out) {
  return M(Of(file))->xFetch(Of(file)->real, off, n, out);
}
int Unfetch(sqlite3_file* file, sqlite3_int64 off, void* p) {
  return M(Of(file))->xUnfetch(Of(file)->real, off, p);
}

int Open(sqlite3_vfs* /*vfs*/, sqlite3_filename name, sqlite3_file* file, int flags,
         int* out_flags) {
  BatchFile* f = Of(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kBatchFileBytes);
  f->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  f->wal = nullptr;
  f->db = nullptr;
  f->buf = nullptr;
  f->buf_off = 0;
  f->commit_page_at = -1;
  const int rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
  // SQLite calls xClose whenever pMethods is set, even after a failed open.
  if (f->real->pMethods == nullptr) return rc;
  // This wrapper forwards the shm methods only to files that have them (version >= 2).
  if (f->real->pMethods->iVersion < 3) {
    M(f)->xClose(f->real);
    return SQLITE_CANTOPEN;
  }
  f->base.pMethods = &g_methods;
  if (rc != SQLITE_OK) return rc;
  if (f->is_wal) {
    f->buf = new std::string();
    sqlite3_file* db = sqlite3_database_file_object(name);
    if (db != nullptr && db->pMethods == &g_methods) {
      f->db = Of(db);
      f->db->wal = f;
    }
  }
  return SQLITE_OK;
}

void Register() {
  g_real = sqlite3_vfs_find(nullptr);
  g_vfs = *g_real;  // the other VFS methods are the wrapped VFS's own
  g_vfs.iVersion = g_real->iVersion;
  g_vfs.szOsFile = kBatchFileBytes + g_real->szOsFile;
  g_vfs.pNext = nullptr;
  g_vfs.zName = "thumbpipe-wal-batch";
  g_vfs.xOpen = &Open;
  g_methods.iVersion = 3;
  g_methods.xClose = &Close;
  g_methods.xRead = &Read;
  g_methods.xWrite = &Write;
  g_methods.xTruncate = &Truncate;
  g_methods.xSync = &Sync;
  g_methods.xFileSize = &FileSize;
  g_methods.xLock = &Lock;
  g_methods.xUnlock = &Unlock;
  g_methods.xCheckReservedLock = &CheckReservedLock;
  g_methods.xFileControl = &FileControl;
  g_methods.xSectorSize = &SectorSize;
  g_methods.xDeviceCharacteristics = &DeviceCharacteristics;
  g_methods.xShmMap = &ShmMap;
  g_methods.xShmLock = &ShmLock;
  g_methods.xShmBarrier = &ShmBarrier;
  g_methods.xShmUnmap = &ShmUnmap;
  g_methods.xFetch = &Fetch;
  g_methods.xUnfetch = &Unfetch;
  sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0);
}

}  // namespace

uint64_t WalBatchWrites() { return g_writes.load(std::memory_order_relaxed); }

const char* WalBatchVfsName() {
  static std::once_flag once;
  std::call_once(once, Register);
  return g_vfs.zName;
}

}  // namespace thumbpipe::sqlite
