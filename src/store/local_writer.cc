#include "store/local_writer.h"

#include <fmt/format.h>

namespace thumbpipe::store::internal {

Status CheckExpectedMd5(const std::optional<std::string>& md5) {
  if (md5 && md5->size() != 16) {
    return Status::InvalidArgument(fmt::format("InvalidDigest the Content-MD5 is {} bytes, not 16", md5->size()));
  }
  return Status::Ok();
}

Status LocalWriter::Write(std::string_view chunk) {
  if (!failed_.ok()) return failed_;
  if (committed_) return Status::FailedPrecondition("the writer has already committed");
  const uint64_t limit = store_.options().max_object_bytes;
  if (chunk.size() > limit - sink_.size()) {
    failed_ = Status::TooLarge(fmt::format("EntityTooLarge the body is larger than {} bytes", limit));
    return failed_;
  }
  if (hash_) md5_.Update(chunk);
  Status s = sink_.Append(chunk);
  if (!s.ok()) failed_ = s;
  return s;
}

Result<ObjectInfo> LocalWriter::Commit() {
  if (!hash_) return Status::FailedPrecondition("the writer was opened with caller_md5: commit with CommitWithMd5");
  return CommitDigest(md5_.Finish());
}

Result<ObjectInfo> LocalWriter::CommitWithMd5(std::string_view md5) {
  if (hash_) return Commit();
  if (md5.size() != 16) return Status::InvalidArgument("CommitWithMd5 needs the 16 raw bytes of an MD5");
  return CommitDigest(std::string(md5));
}

Result<ObjectInfo> LocalWriter::CommitDigest(const std::string& digest) {
  if (!failed_.ok()) return failed_;
  if (committed_) return Status::FailedPrecondition("the writer has already committed");
  committed_ = true;
  if (expected_md5_ && *expected_md5_ != digest) {
    failed_ = Status::Corrupt("BadDigest the Content-MD5 you specified did not match what was received");
    return failed_;
  }
  THUMBPIPE_RETURN_IF_ERROR(sink_.Finish());
  Result<ObjectInfo> info = commit_(sink_, HexEncode(digest));
  if (info.ok()) sink_.Keep();
  return info;
}

namespace {

class InlineReader final : public ObjectReader {
 public:
  InlineReader(ObjectInfo info, std::string data) : info_(std::move(info)), data_(std::move(data)) {}
  const ObjectInfo& info() const override { return info_; }
  Result<size_t> Read(std::span<char> buffer) override {
    const size_t n = std::min(buffer.size(), data_.size() - pos_);
    std::copy_n(data_.data() + pos_, n, buffer.data());
    pos_ += n;
    return n;
  }

 private:
  ObjectInfo info_;
  std::string data_;
  size_t pos_ = 0;
};

// Holds the blob open, so a later write that replaces the object (and unlinks this blob)
// does not change what it reads.
class FileReader final : public ObjectReader {
 public:
  FileReader(ObjectInfo info, UniqueFd fd, ResolvedRange range)
      : info_(std::move(info)), fd_(std::move(fd)), offset_(range.first), remaining_(range.length) {}
  const ObjectInfo& info() const override { return info_; }
  std::optional<FileRegion> File() const override { return FileRegion{fd_.get(), offset_, remaining_}; }
  Result<size_t> Read(std::span<char> buffer) override {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), remaining_));
    if (want == 0) return size_t{0};
    THUMBPIPE_ASSIGN_OR_RETURN(const size_t got, ReadAt(fd_.get(), buffer.data(), want, offset_));
    if (got == 0) return Status::IOError("blob of " + info_.key + " is shorter than its index row says");
    offset_ += got;
    remaining_ -= got;
    return got;
  }

 private:
  ObjectInfo info_;
  UniqueFd fd_;
  uint64_t offset_;
  uint64_t remaining_;
};

}  // namespace

std::unique_ptr<ObjectReader> NewInlineReader(ObjectInfo info, std::string data, ResolvedRange range) {
  if (range.first != 0 || range.length != data.size()) data = data.substr(range.first, range.length);
  return std::make_unique<InlineReader>(std::move(info), std::move(data));
}

std::unique_ptr<ObjectReader> NewFileReader(ObjectInfo info, UniqueFd fd, ResolvedRange range) {
  return std::make_unique<FileReader>(std::move(info), std::move(fd), range);
}

}  // namespace thumbpipe::store::internal
