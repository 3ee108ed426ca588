#include "store/blob_files.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "common/logging.h"
#include "store/md5.h"

namespace thumbpipe::store::internal {
namespace fs = std::filesystem;

namespace {

constexpr size_t kCopyBuffer = 256 * 1024;

Status SyncDir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open " + dir.string(), errno);
  if (::fsync(fd.get()) != 0) return PosixError("fsync " + dir.string(), errno);
  return Status::Ok();
}

bool IsBlobId(std::string_view name) {
  if (name.size() != 32) return false;
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

Status PosixError(std::string_view what, int error_number) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(error_number);
  if (error_number == ENOENT) return Status::NotFound(std::move(msg));
  if (error_number == ENOSPC || error_number == EDQUOT) return Status::DiskFull(msg);
  return Status::IOError(std::move(msg));
}

Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("write", errno);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Result<size_t> ReadAt(int fd, char* buffer, size_t n, uint64_t offset) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, buffer + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return PosixError("pread", errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

Status CopyRange(int from, uint64_t offset, uint64_t length, int to) {
  loff_t in_off = static_cast<loff_t>(offset);
  while (length > 0) {
    const ssize_t n = ::copy_file_range(from, &in_off, to, nullptr, length, 0);
    if (n > 0) {
      length -= static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return Status::IOError("copy_file_range: source ended early");
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
      return PosixError("copy_file_range", errno);
    }
    // Not supported between these files: a bounded buffer does the same.
    std::vector<char> buffer(std::min<uint64_t>(kCopyBuffer, length));
    while (length > 0) {
      THUMBPIPE_ASSIGN_OR_RETURN(const size_t got,
                                 ReadAt(from, buffer.data(), std::min<uint64_t>(buffer.size(), length),
                                        static_cast<uint64_t>(in_off)));
      if (got == 0) return Status::IOError("copy: source ended early");
      THUMBPIPE_RETURN_IF_ERROR(WriteAll(to, std::string_view(buffer.data(), got)));
      in_off += static_cast<loff_t>(got);
      length -= got;
    }
  }
  return Status::Ok();
}

Result<BlobFiles> BlobFiles::Open(const fs::path& dir, bool sync) {
  std::error_code ec;
  fs::create_directories(dir / "tmp", ec);
  if (ec) return Status::IOError("cannot create " + (dir / "tmp").string() + ": " + ec.message());
  bool created = false;
  for (int i = 0; i < 256; ++i) {
    const fs::path shard = dir / "blobs" / HexEncode(std::string(1, static_cast<char>(i)));
    created |= fs::create_directories(shard, ec);
    if (ec) return Status::IOError("cannot create " + shard.string() + ": " + ec.message());
  }
  // The shard folders must survive a power cut before any blob is published into them.
  if (created && sync) {
    THUMBPIPE_RETURN_IF_ERROR(SyncDir(dir / "blobs"));
    THUMBPIPE_RETURN_IF_ERROR(SyncDir(dir));
  }
  return BlobFiles(dir, sync);
}

std::string BlobFiles::NewId() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    // OpenSSL's generator failing is near impossible; the ids then still differ per call.
    thread_local std::mt19937_64 rng(std::random_device{}());
    for (unsigned char& c : raw) c = static_cast<unsigned char>(rng());
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

fs::path BlobFiles::TempPath(const std::string& id) const { return dir_ / "tmp" / id; }
fs::path BlobFiles::BlobPath(const std::string& id) const {
  return dir_ / "blobs" / id.substr(0, 2) / id;
}

Result<UniqueFd> BlobFiles::CreateTemp(const std::string& id) const {
  const fs::path path = TempPath(id);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return PosixError("create " + path.string(), errno);
  return fd;
}

Status BlobFiles::Publish(int fd, const std::string& id) const {
  const fs::path temp = TempPath(id), blob = BlobPath(id);
  Status s;
  if (sync_ && ::fdatasync(fd) != 0) s = PosixError("fdatasync " + temp.string(), errno);
  if (s.ok() && ::rename(temp.c_str(), blob.c_str()) != 0) {
    s = PosixError("rename " + temp.string(), errno);
  }
  if (!s.ok()) {
    RemoveTemp(id);
    return s;
  }
  if (sync_) {
    s = SyncDir(blob.parent_path());
    if (!s.ok()) Remove(id);
  }
  return s;
}

void BlobFiles::RemoveTemp(const std::string& id) const {
  const fs::path path = TempPath(id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    LogWarn("store: cannot remove temp blob", {{"path", path.string()}, {"error", std::strerror(errno)}});
  }
}

Result<UniqueFd> BlobFiles::OpenBlob(const std::string& id) const {
  const fs::path path = BlobPath(id);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open " + path.string(), errno);
  return fd;
}

void BlobFiles::Remove(const std::string& id) const {
  const fs::path path = BlobPath(id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    LogWarn("store: cannot remove blob", {{"path", path.string()}, {"error", std::strerror(errno)}});
  }
}

Result<int64_t> BlobFiles::Sweep(const std::function<bool(std::string_view id)>& referenced) const {
  int64_t removed = 0;
  std::error_code ec;
  auto remove = [&](const fs::path& p) {
    std::error_code failed;  // not `ec`: a file that cannot go is not a listing error
    if (fs::remove(p, failed)) ++removed;
  };
  for (const auto& entry : fs::directory_iterator(dir_ / "tmp", ec)) remove(entry.path());
  if (ec) return Status::IOError("listing " + (dir_ / "tmp").string() + ": " + ec.message());
  for (const auto& shard : fs::directory_iterator(dir_ / "blobs", ec)) {
    std::error_code inner;
    for (const auto& entry : fs::directory_iterator(shard.path(), inner)) {
      const std::string name = entry.path().filename().string();
      // Only files this code could have made are touched.
      if (IsBlobId(name) && !referenced(name)) remove(entry.path());
    }
    if (inner) return Status::IOError("listing " + shard.path().string() + ": " + inner.message());
  }
  if (ec) return Status::IOError("listing " + (dir_ / "blobs").string() + ": " + ec.message());
  return removed;
}

}  // namespace thumbpipe::store::internal
