// An ObjectStore keeps objects with Amazon S3's semantics, whatever is behind it (the local
// data directory with its SQLite index, or an S3 service). The S3 API server and the worker
// pipeline know only this header.
//
// Semantics (DESIGN.md "Contracts", ../shared/reference/queue-s3.md section 3):
//  - Keys are data, never paths: any UTF-8 string of 1..1024 bytes is a key (`../x`, `/abs`,
//    `foo` beside `foo/bar`); longer keys fail with kInvalidArgument "KeyTooLong".
//  - A write is atomic and durable when it returns: readers see the old object or the new
//    one, never a mix. Reads, heads and listings after a write see it (strong consistency).
//  - Listing is in UTF-8 byte order, like ListObjectsV2.
//  - Bodies stream in and out in chunks: memory does not grow with object size.
//
// Error codes: kNotFound for a missing bucket or object (the message says which:
// "NoSuchBucket" / "NoSuchKey" / "NoSuchUpload" as its first word), kAlreadyExists for a
// bucket that exists, kFailedPrecondition for a bucket that is not empty ("BucketNotEmpty")
// or a multipart completion whose parts do not match ("InvalidPart", "InvalidPartOrder",
// "EntityTooSmall"), kCorrupt for a body whose digest does not match ("BadDigest"),
// kTooLarge for a body over the limit ("EntityTooLarge"), kInvalidArgument for bad names.
// The S3 API maps these to S3 error codes; the first word of the message is the S3 code.
//
// Implementations are safe for concurrent use by many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace thumbpipe::store {

inline constexpr size_t kMaxKeyBytes = 1024;

// User metadata (x-amz-meta-*), names lower-cased without the prefix.
using Metadata = std::map<std::string, std::string, std::less<>>;

// What S3 keeps about an object besides its bytes.
struct ObjectInfo {
  std::string bucket;
  std::string key;
  uint64_t size = 0;
  std::string etag;  // quoted-less hex MD5, or "<md5 of part md5s>-<parts>" for multipart
  std::string content_type = "binary/octet-stream";
  // Standard headers stored and returned as given (empty = absent).
  std::string cache_control, content_disposition, content_encoding, content_language;
  Metadata metadata;
  Clock::time_point last_modified;
  // Increases with every write to the store; S3's event "sequencer" (monotonic per key).
  uint64_t version = 0;
};

struct BucketInfo {
  std::string name;
  Clock::time_point created;
};

// How an object came to be written (the event the write raises).
enum class WriteKind { kPut, kPost, kCopy, kCompleteMultipartUpload, kDelete };

// Who asked for a write, carried into its WriteRecord (S3 events name the request and the
// principal). Empty fields are allowed (writes made by thumbpipe itself).
struct WriteContext {
  std::string request_id, host_id;  // x-amz-request-id, x-amz-id-2
  std::string principal_id;         // the access key that signed the request
  std::string source_ip;
};

// Options for a write.
struct PutOptions {
  std::string content_type;  // empty = binary/octet-stream
  std::string cache_control, content_disposition, content_encoding, content_language;
  Metadata metadata;
  // When set, the MD5 of the body must equal these 16 raw bytes (Content-MD5), else kCorrupt
  // "BadDigest" and nothing is stored.
  std::optional<std::string> expected_md5;
  // The caller hashes the body itself and commits with CommitWithMd5, so a store that needs
  // the MD5 (the local one: it is the ETag) does not hash every byte a second time.
  bool caller_md5 = false;
  WriteKind kind = WriteKind::kPut;
  WriteContext context;
};

// A body being written. Write() any number of times, then Commit() once; destroying a writer
// without Commit() aborts it and leaves nothing behind.
class ObjectWriter {
 public:
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;
  virtual ~ObjectWriter() = default;

  virtual Status Write(std::string_view chunk) = 0;
  // Makes the object durable and visible; returns what was stored.
  virtual Result<ObjectInfo> Commit() = 0;
  // Commit() for a caller that computed `md5` (16 raw bytes) over exactly the bytes it passed
  // to Write. A writer opened with PutOptions::caller_md5 takes it as the body's MD5 instead
  // of hashing; the default ignores it.
  virtual Result<ObjectInfo> CommitWithMd5(std::string_view md5) {
    (void)md5;
    return Commit();
  }

 protected:
  ObjectWriter() = default;
};

// Where a body lies in an open file: `length` bytes from `offset` of `fd`.
struct FileRegion {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// A body being read. Read() returns 0 at the end.
class ObjectReader {
 public:
  ObjectReader(const ObjectReader&) = delete;
  ObjectReader& operator=(const ObjectReader&) = delete;
  virtual ~ObjectReader() = default;

  // The object as it was when the reader was opened (a later write does not change what
  // this reader returns).
  virtual const ObjectInfo& info() const = 0;
  virtual Result<size_t> Read(std::span<char> buffer) = 0;
  // The bytes Read() has still to return, when they lie in a file: a caller may send them
  // with sendfile(2) or copy_file_range(2) instead of reading them. The fd belongs to the
  // reader and stays open while it lives. nullopt (the default): only Read() works.
  virtual std::optional<FileRegion> File() const { return std::nullopt; }

 protected:
  ObjectReader() = default;
};

// An inclusive byte range, already resolved against the object size by the caller or not:
// `last` past the end is clamped; `first` past the end is kInvalidArgument "InvalidRange".
// A suffix range ("the last N bytes") has suffix_length set instead.
struct ByteRange {
  uint64_t first = 0;
  std::optional<uint64_t> last;
  std::optional<uint64_t> suffix_length;
};

// The bytes a range selects from an object of `object_size` bytes: [first, first + length).
struct ResolvedRange {
  uint64_t first = 0;
  uint64_t length = 0;
};
// Applies S3's (RFC 9110's) rules: `last` past the end is clamped; a suffix longer than the
// object is the whole object. kInvalidArgument "InvalidRange" when nothing can be returned
// (first past the end, an empty object, a zero suffix, last < first). Get uses the same
// function, so a server can call it on info().size to build Content-Range.
Result<ResolvedRange> ResolveRange(const ByteRange& range, uint64_t object_size);

struct ListRequest {
  std::string prefix;
  std::string delimiter;           // empty = none
  std::string start_after;         // keys strictly after this one
  std::string continuation_token;  // from a previous page; opaque to callers
  int max_keys = 1000;             // 0..1000
};

struct ListPage {
  std::vector<ObjectInfo> objects;           // metadata may be left empty in listings
  std::vector<std::string> common_prefixes;  // with a delimiter, in byte order
  bool truncated = false;
  std::string next_continuation_token;       // set when truncated
};

struct PartInfo {
  int number = 0;
  uint64_t size = 0;
  std::string etag;
  Clock::time_point last_modified;
};

struct UploadInfo {
  std::string upload_id;
  std::string bucket, key;
  Clock::time_point initiated;
};

struct CompletedPart {
  int number = 0;
  std::string etag;  // as the client sent it, quotes removed
};

// Something that must happen because a write committed (an event notification). Produced
// inside the write's commit and stored in the same transaction, so that a crash can never
// keep the write and lose its consequence; see Outbox.
struct WriteRecord {
  WriteKind kind = WriteKind::kPut;
  ObjectInfo object;  // for kDelete: bucket, key and version only
  WriteContext context;
};
using CommitHook = std::function<std::vector<std::string>(const WriteRecord&)>;

struct OutboxEntry {
  int64_t id = 0;
  std::string payload;
};

// The entries CommitHook produced, kept until whoever delivers them says they are done.
class Outbox {
 public:
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;
  virtual ~Outbox() = default;

  // Oldest first; blocks up to `wait` for at least one.
  virtual Result<std::vector<OutboxEntry>> Pending(int max, Duration wait) = 0;
  virtual Status Done(std::span<const int64_t> ids) = 0;

 protected:
  Outbox() = default;
};

class ObjectStore {
 public:
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;
  virtual ~ObjectStore() = default;

  // Buckets (names follow S3's rules: 3-63 of [a-z0-9.-], starting and ending alnum).
  virtual Status CreateBucket(std::string_view bucket) = 0;
  virtual Status DeleteBucket(std::string_view bucket) = 0;  // kFailedPrecondition if not empty
  virtual Result<BucketInfo> HeadBucket(std::string_view bucket) = 0;
  virtual Result<std::vector<BucketInfo>> ListBuckets() = 0;

  // Objects.
  virtual Result<std::unique_ptr<ObjectWriter>> BeginPut(std::string_view bucket, std::string_view key,
                                                         PutOptions options) = 0;
  virtual Result<ObjectInfo> Head(std::string_view bucket, std::string_view key) = 0;
  virtual Result<std::unique_ptr<ObjectReader>> Get(std::string_view bucket, std::string_view key,
                                                    std::optional<ByteRange> range = std::nullopt) = 0;
  // Deleting a missing key succeeds (S3 semantics); `existed` tells whether it was there.
  virtual Status Delete(std::string_view bucket, std::string_view key, const WriteContext& context = {},
                        bool* existed = nullptr) = 0;
  virtual Result<ListPage> List(std::string_view bucket, const ListRequest& request) = 0;
  // Copies an object; with `replace_metadata` the options' headers and metadata replace the
  // source's (S3's x-amz-metadata-directive REPLACE), else they are kept.
  virtual Result<ObjectInfo> Copy(std::string_view src_bucket, std::string_view src_key,
                                  std::string_view dst_bucket, std::string_view dst_key,
                                  bool replace_metadata, PutOptions options) = 0;

  // Multipart uploads. Parts are numbered 1..10000; each but the last is at least
  // min_part_bytes (5 MiB in S3; configurable for tests).
  virtual Result<std::string> CreateMultipartUpload(std::string_view bucket, std::string_view key,
                                                    PutOptions options) = 0;
  virtual Result<std::unique_ptr<ObjectWriter>> BeginPart(std::string_view bucket, std::string_view key,
                                                          std::string_view upload_id, int part_number,
                                                          std::optional<std::string> expected_md5) = 0;
  virtual Result<ObjectInfo> CompleteMultipartUpload(std::string_view bucket, std::string_view key,
                                                     std::string_view upload_id,
                                                     std::span<const CompletedPart> parts) = 0;
  // As above, naming the request that completes the upload in its WriteRecord (the
  // PutOptions given to CreateMultipartUpload carry the creator's context, which is used by
  // the overload without one). Stores without an outbox may ignore the context.
  virtual Result<ObjectInfo> CompleteMultipartUpload(std::string_view bucket, std::string_view key,
                                                     std::string_view upload_id,
                                                     std::span<const CompletedPart> parts,
                                                     const WriteContext& context) {
    (void)context;
    return CompleteMultipartUpload(bucket, key, upload_id, parts);
  }
  virtual Status AbortMultipartUpload(std::string_view bucket, std::string_view key,
                                      std::string_view upload_id) = 0;
  virtual Result<std::vector<PartInfo>> ListParts(std::string_view bucket, std::string_view key,
                                                  std::string_view upload_id) = 0;
  virtual Result<std::vector<UploadInfo>> ListMultipartUploads(std::string_view bucket,
                                                               std::string_view prefix) = 0;

  // Per-bucket configuration documents the S3 API stores verbatim (notification, CORS);
  // kNotFound when never set.
  virtual Status PutBucketConfig(std::string_view bucket, std::string_view name, std::string_view document) = 0;
  virtual Result<std::string> GetBucketConfig(std::string_view bucket, std::string_view name) = 0;

  // Installs the hook every committed write runs inside its transaction (nullptr = none),
  // and the outbox its entries go to. Stores whose backend emits its own events (S3) have no
  // outbox and return nullptr.
  virtual void SetCommitHook(CommitHook hook) = 0;
  virtual Outbox* outbox() = 0;

 protected:
  ObjectStore() = default;
};

}  // namespace thumbpipe::store
