// Status is the outcome of an operation that can fail: a code and a message for humans.
// No exception crosses a module boundary in thumbpipe; every public interface returns a
// Status or a Result<T> (result.h). Statuses are cheap to copy and safe to share.
//
// The codes say what the caller can do about a failure:
//   kInvalidArgument   the request itself is wrong (a bad config value, a bad flag)
//   kNotFound          the thing asked for does not exist
//   kAlreadyExists     it exists and must not be replaced
//   kFailedPrecondition the state changed under the caller (e.g. a queue receipt gone stale)
//   kUnsupported       valid input we refuse to handle (format not allowed, codec missing)
//   kCorrupt           input data is damaged or truncated
//   kTooLarge          input exceeds a configured limit
//   kUnavailable       temporarily impossible; retrying later may succeed
//   kIOError           the operating system failed us (disk, socket)
//   kCancelled         the operation was stopped on request
//   kInternal          a bug or an unexpected library failure
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace thumbpipe {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kUnsupported,
  kCorrupt,
  kTooLarge,
  kUnavailable,
  kIOError,
  kCancelled,
  kInternal,
};

// Stable lower-case name of a code ("too_large"), used in logs and JSON output.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {StatusCode::kAlreadyExists, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) { return {StatusCode::kFailedPrecondition, std::move(msg)}; }
  static Status Unsupported(std::string msg) { return {StatusCode::kUnsupported, std::move(msg)}; }
  static Status Corrupt(std::string msg) { return {StatusCode::kCorrupt, std::move(msg)}; }
  static Status TooLarge(std::string msg) { return {StatusCode::kTooLarge, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  // An I/O error because the file system is full (ENOSPC, EDQUOT, SQLITE_FULL): "disk full:
  // <msg>". IsDiskFull tells it apart, context prefixes included, so that the S3 API can
  // answer it as such instead of as an internal error.
  static Status DiskFull(std::string_view msg) {
    return IOError(std::string(kDiskFull) + std::string(msg));
  }
  bool IsDiskFull() const {
    return code_ == StatusCode::kIOError && message_.find(kDiskFull) != std::string::npos;
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Permanent failures cannot be fixed by trying again with the same input: a message that
  // fails this way goes to the dead-letter queue at once instead of being retried.
  bool IsPermanent() const {
    return code_ == StatusCode::kUnsupported || code_ == StatusCode::kCorrupt ||
           code_ == StatusCode::kTooLarge || code_ == StatusCode::kInvalidArgument ||
           code_ == StatusCode::kNotFound;
  }

  // "<code name>: <message>", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` ("reading x: ...").
  Status WithContext(std::string_view context) const;

  static constexpr std::string_view kDiskFull = "disk full: ";

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Returns from the calling function if `expr` (a Status) is not OK.
#define THUMBPIPE_RETURN_IF_ERROR(expr)          \
  do {                                           \
    ::thumbpipe::Status status_macro_ = (expr);  \
    if (!status_macro_.ok()) return status_macro_; \
  } while (0)

// Declares `lhs` from a Result<T> expression, or returns its error Status.
#define THUMBPIPE_CONCAT_INNER(a, b) a##b
#define THUMBPIPE_CONCAT(a, b) THUMBPIPE_CONCAT_INNER(a, b)
#define THUMBPIPE_ASSIGN_OR_RETURN(lhs, expr) \
  THUMBPIPE_ASSIGN_OR_RETURN_IMPL(THUMBPIPE_CONCAT(result_macro_, __LINE__), lhs, expr)
#define THUMBPIPE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return std::move(tmp).status();        \
  lhs = std::move(tmp).value()

}  // namespace thumbpipe
