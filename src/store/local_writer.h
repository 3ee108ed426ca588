// Internal to src/store: the ObjectWriter of LocalStore (objects and parts) and its readers.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "store/local_store_impl.h"

namespace thumbpipe::store::internal {

// Streams a body into a BodySink, hashing it, within max_object_bytes; Commit checks the
// expected MD5, publishes the body and runs `commit` (the index side). The body is removed
// unless `commit` succeeds.
class LocalWriter final : public ObjectWriter {
 public:
  // `commit` gets the finished body and its hex MD5 and returns what was stored.
  using CommitFn = std::function<Result<ObjectInfo>(const BodySink& body, const std::string& md5_hex)>;

  // `hash`: false when the caller will pass the MD5 to CommitWithMd5 (PutOptions::caller_md5).
  LocalWriter(LocalStore& store, std::optional<std::string> expected_md5, CommitFn commit, bool hash = true)
      : store_(store), sink_(store.files(), store.options().inline_max_bytes),
        expected_md5_(std::move(expected_md5)), commit_(std::move(commit)), hash_(hash) {}

  Status Write(std::string_view chunk) override;
  // kFailedPrecondition for a writer that does not hash (it needs CommitWithMd5).
  Result<ObjectInfo> Commit() override;
  Result<ObjectInfo> CommitWithMd5(std::string_view md5) override;

 private:
  LocalStore& store_;
  BodySink sink_;
  Md5 md5_;
  std::optional<std::string> expected_md5_;
  CommitFn commit_;
  const bool hash_;
  Status failed_;  // once set, every later call returns it
  bool committed_ = false;

  Result<ObjectInfo> CommitDigest(const std::string& digest);
};

// kInvalidArgument "InvalidDigest" unless `md5` is 16 raw bytes.
Status CheckExpectedMd5(const std::optional<std::string>& md5);

// A reader over an object's body (or the range of it `range` selects).
std::unique_ptr<ObjectReader> NewInlineReader(ObjectInfo info, std::string data, ResolvedRange range);
// Its File() is the unread part of the blob.
std::unique_ptr<ObjectReader> NewFileReader(ObjectInfo info, UniqueFd fd, ResolvedRange range);

}  // namespace thumbpipe::store::internal
