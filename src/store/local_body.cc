// BodySink: a body being written, in memory while small, spilled to a temp blob past
// inline_max so that memory stays flat with the body's size.
#include "store/local_store_impl.h"

namespace thumbpipe::store::internal {

BodySink::~BodySink() {
  if (keep_ || file_id_.empty()) return;
  if (published_) {
    files_.Remove(file_id_);
  } else {
    fd_ = UniqueFd();
    files_.RemoveTemp(file_id_);
  }
}

Status BodySink::Spill() {
  file_id_ = BlobFiles::NewId();
  Result<UniqueFd> fd = files_.CreateTemp(file_id_);
  if (!fd.ok()) {
    file_id_.clear();
    return fd.status();
  }
  fd_ = std::move(fd).value();
  THUMBPIPE_RETURN_IF_ERROR(WriteAll(fd_.get(), memory_));
  std::string().swap(memory_);  // give the buffer back
  return Status::Ok();
}

Status BodySink::Append(std::string_view bytes) {
  if (bytes.empty()) return Status::Ok();
  size_ += bytes.size();
  if (file_id_.empty()) {
    if (size_ <= inline_max_) {
      memory_.append(bytes);
      return Status::Ok();
    }
    THUMBPIPE_RETURN_IF_ERROR(Spill());
  }
  return WriteAll(fd_.get(), bytes);
}

Status BodySink::AppendFrom(int fd, uint64_t offset, uint64_t length) {
  if (length == 0) return Status::Ok();
  if (file_id_.empty() && size_ + length <= inline_max_) {
    const size_t old = memory_.size();
    memory_.resize(old + length);
    THUMBPIPE_ASSIGN_OR_RETURN(const size_t got, ReadAt(fd, memory_.data() + old, length, offset));
    if (got != length) return Status::IOError("blob shorter than its index row says");
    size_ += length;
    return Status::Ok();
  }
  if (file_id_.empty()) THUMBPIPE_RETURN_IF_ERROR(Spill());
  size_ += length;
  return CopyRange(fd, offset, length, fd_.get());
}

Status BodySink::Finish() {
  if (file_id_.empty()) return Status::Ok();
  Status s = files_.Publish(fd_.get(), file_id_);
  fd_ = UniqueFd();
  if (!s.ok()) {
    file_id_.clear();  // Publish removed what it could
    return s;
  }
  published_ = true;
  return Status::Ok();
}

}  // namespace thumbpipe::store::internal
