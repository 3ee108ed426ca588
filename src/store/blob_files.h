// The data directory's files besides the index: blobs named by id (never by key), in 256
// shard folders, and a tmp/ folder for bodies still being written.
//
//   DIR/index.db           the SQLite index (local_schema.h)
//   DIR/LOCK               flock: shared while a store is open, exclusive for the sweep
//   DIR/tmp/<id>           a body being written; anything here at start-up is garbage
//   DIR/blobs/<id[0:2]>/<id>  a published blob; immutable, unlinked once no row names it
//
// Ids are 32 random hex digits, so no input ever chooses a file name. Thread-safe: the
// object holds only paths.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace thumbpipe::store::internal {

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// errno as a Status: ENOENT -> kNotFound, ENOSPC/EDQUOT -> kIOError naming the full disk,
// anything else -> kIOError. `what` says which call on which file.
Status PosixError(std::string_view what, int error_number);

// Writes all of `bytes` at the file's offset (retrying short writes and EINTR).
Status WriteAll(int fd, std::string_view bytes);
// Reads up to `n` bytes at `offset`; fewer only at the end of the file.
Result<size_t> ReadAt(int fd, char* buffer, size_t n, uint64_t offset);
// Appends `length` bytes of `from` (at `offset`) to `to` at its current offset, inside the
// kernel (copy_file_range) where the file system allows, else through a bounded buffer.
Status CopyRange(int from, uint64_t offset, uint64_t length, int to);

class BlobFiles {
 public:
  // Creates DIR, DIR/tmp and the shard folders when missing. With `sync`, publishing a blob
  // syncs its data and its folder entry.
  static Result<BlobFiles> Open(const std::filesystem::path& dir, bool sync);

  const std::filesystem::path& dir() const { return dir_; }
  static std::string NewId();

  // A new, empty temp file for `id` (O_EXCL), open for writing.
  Result<UniqueFd> CreateTemp(const std::string& id) const;
  // Makes the temp file `id` a blob: fdatasync (when syncing), rename into its shard,
  // fsync of the shard folder (when syncing). The temp file is gone afterwards either way.
  Status Publish(int fd, const std::string& id) const;
  void RemoveTemp(const std::string& id) const;
  // Opens a published blob for reading; kNotFound when it has been unlinked.
  Result<UniqueFd> OpenBlob(const std::string& id) const;
  // Unlinks a published blob. Open readers keep reading it (POSIX unlink semantics); a
  // failure is logged, not returned, because the start-up sweep removes what is left.
  void Remove(const std::string& id) const;

  // Removes every temp file and every blob for which `referenced(id)` is false.
  // REQUIRES: no other writer uses the directory (the caller holds LOCK exclusively).
  // Returns how many files were removed.
  Result<int64_t> Sweep(const std::function<bool(std::string_view id)>& referenced) const;

 private:
  BlobFiles(std::filesystem::path dir, bool sync) : dir_(std::move(dir)), sync_(sync) {}
  std::filesystem::path TempPath(const std::string& id) const;
  std::filesystem::path BlobPath(const std::string& id) const;

  std::filesystem::path dir_;
  bool sync_ = true;
};

}  // namespace thumbpipe::store::internal
