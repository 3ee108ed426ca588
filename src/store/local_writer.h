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

  LocalWriter(LocalStore& store, std::optional<std::string> expected_md5, CommitFn commit)
      : store_(store), sink_(store.files(), store.options().inline_max_bytes),
        expected_md5_(std::move(expected_md5)), commit_(std::move(commit)) {}

  Status Write(std::string_view chunk) override;
  Result<ObjectInfo> Commit() override;

 private:
  LocalStore& store_;
  BodySink sink_;
  Md5 md5_;
  std::optional<std::string> expected_md5_;
  CommitFn commit_;
  Status failed_;  // once set, every later call returns it
  bool committed_ = false;
};

// kInvalidArgument "InvalidDigest" unless `md5` is 16 raw bytes.
Status CheckExpectedMd5(const std::optional<std::string>& md5);

// A reader over an object's body (or the range of it `range` selects).
std::unique_ptr<ObjectReader> NewInlineReader(ObjectInfo info, std::string data, ResolvedRange range);
// Its File() is the unread part of the blob.
std::unique_ptr<ObjectReader> NewFileReader(ObjectInfo info, UniqueFd fd, ResolvedRange range);

}  // namespace thumbpipe::store::internal
