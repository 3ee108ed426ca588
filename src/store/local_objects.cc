// LocalStore: objects (put, head, get, delete, copy) and the index-row helpers the other
// writes share.
#include <fmt/format.h>

#include "store/fields.h"
#include "store/local_store_impl.h"
#include "store/local_writer.h"
#include "store/names.h"

namespace thumbpipe::store::internal {
namespace {

// Gets retry when the blob a row named was unlinked before it could be opened (a write
// replaced the object in between); each retry reads the newer row.
constexpr int kMaxGetAttempts = 8;
constexpr size_t kCopyChunk = 256 * 1024;

Status CheckNames(std::string_view bucket, std::string_view key) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  return CheckKey(key);
}

Status Missing(Db& db, std::string_view bucket, std::string_view key) {
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached("SELECT 1 FROM buckets WHERE name = ?"));
  stmt->Bind(1, bucket);
  THUMBPIPE_ASSIGN_OR_RETURN(const bool found, stmt->Step());
  if (!found) return Status::NotFound("NoSuchBucket " + std::string(bucket));
  return Status::NotFound("NoSuchKey " + std::string(key));
}

// Commits `body` (finished) as the object (bucket, key) with `etag`.
Result<ObjectInfo> CommitPut(LocalStore& store, const std::string& bucket, const std::string& key,
                             const PutOptions& options, const BodySink& body, const std::string& etag) {
  ObjectInfo info;
  info.bucket = bucket;
  info.key = key;
  info.size = body.size();
  info.etag = etag;
  if (Status done = store.Write([&](WriteTxn& txn) -> Status {
        THUMBPIPE_RETURN_IF_ERROR(txn.RequireBucket(bucket));
        THUMBPIPE_ASSIGN_OR_RETURN(const BodyRef ref, LocalStore::StoreBody(txn, body));
        return LocalStore::CommitObject(txn, info, options, ref, options.kind, options.context);
      });
      !done.ok()) {
    return done;
  }
  return info;
}

// A new object's writer: `options` decide its headers, kind and context.
std::unique_ptr<ObjectWriter> NewPutWriter(LocalStore& store, std::string bucket, std::string key,
                                           PutOptions options) {
  std::optional<std::string> md5 = std::move(options.expected_md5);
  const bool hash = !options.caller_md5;
  auto commit = [&store, bucket = std::move(bucket), key = std::move(key),
                 options = std::move(options)](const BodySink& body,
                                               const std::string& md5_hex) -> Result<ObjectInfo> {
    return CommitPut(store, bucket, key, options, body, md5_hex);
  };
  return std::make_unique<LocalWriter>(store, std::move(md5), std::move(commit), hash);
}

}  // namespace

Result<BodyRef> LocalStore::StoreBody(WriteTxn& txn, const BodySink& sink) {
  if (!sink.is_inline()) return BodyRef{sink.file_id(), 0};
  THUMBPIPE_ASSIGN_OR_RETURN(const int64_t id, txn.InsertInline(sink.inline_bytes()));
  return BodyRef{"", id};
}

Result<std::optional<ObjectRow>> LocalStore::ReadObject(Db& db, std::string_view bucket,
                                                        std::string_view key, bool full) {
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached(
      "SELECT size, etag, content_type, last_modified_ms, version, file, inline_id, headers, metadata "
      "FROM objects WHERE bucket = ? AND key = ?"));
  stmt->Bind(1, bucket).BindBlob(2, key);
  THUMBPIPE_ASSIGN_OR_RETURN(const bool found, stmt->Step());
  if (!found) return std::optional<ObjectRow>();
  ObjectRow row;
  ObjectInfo& info = row.info;
  info.bucket = bucket;
  info.key = key;
  info.size = static_cast<uint64_t>(stmt->Int(0));
  info.etag = stmt->Text(1);
  info.content_type = stmt->Text(2);
  info.last_modified = FromMs(stmt->Int(3));
  info.version = static_cast<uint64_t>(stmt->Int(4));
  row.body = BodyRef{stmt->Text(5), stmt->Int(6)};
  if (full) {
    THUMBPIPE_RETURN_IF_ERROR(DecodeHeaders(stmt->View(7), info));
    THUMBPIPE_ASSIGN_OR_RETURN(info.metadata, DecodeMetadata(stmt->View(8)));
  }
  return std::optional<ObjectRow>(std::move(row));
}

Status LocalStore::CommitObject(WriteTxn& txn, ObjectInfo& info, const PutOptions& headers,
                                const BodyRef& body, WriteKind kind, const WriteContext& context) {
  Db& db = txn.db();
  THUMBPIPE_ASSIGN_OR_RETURN(std::optional<ObjectRow> old, ReadObject(db, info.bucket, info.key, false));
  if (old) THUMBPIPE_RETURN_IF_ERROR(txn.DropBody(old->body));
  THUMBPIPE_ASSIGN_OR_RETURN(const int64_t version, txn.NextVersion());
  info.version = static_cast<uint64_t>(version);
  info.last_modified = FromMs(txn.now_ms());
  info.content_type = headers.content_type.empty() ? "binary/octet-stream" : headers.content_type;
  info.cache_control = headers.cache_control;
  info.content_disposition = headers.content_disposition;
  info.content_encoding = headers.content_encoding;
  info.content_language = headers.content_language;
  info.metadata = headers.metadata;
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached(
      "INSERT OR REPLACE INTO objects(bucket, key, size, etag, content_type, headers, metadata, "
      "last_modified_ms, version, file, inline_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  stmt->Bind(1, info.bucket).BindBlob(2, info.key).Bind(3, static_cast<int64_t>(info.size))
      .Bind(4, info.etag).Bind(5, info.content_type).BindBlob(6, EncodeHeaders(headers))
      .BindBlob(7, EncodeMetadata(info.metadata)).Bind(8, txn.now_ms()).Bind(9, version);
  if (body.file.empty()) {
    stmt->BindNull(10).Bind(11, body.inline_id);
  } else {
    stmt->Bind(10, body.file).BindNull(11);
  }
  THUMBPIPE_RETURN_IF_ERROR(stmt->Run().status());
  return txn.Emit(WriteRecord{kind, info, context});
}

Result<std::unique_ptr<ObjectWriter>> LocalStore::BeginPut(std::string_view bucket, std::string_view key,
                                                           PutOptions options) {
  THUMBPIPE_RETURN_IF_ERROR(CheckNames(bucket, key));
  THUMBPIPE_RETURN_IF_ERROR(CheckExpectedMd5(options.expected_md5));
  // Refused before the body is read, as S3 does; checked again when the write commits.
  THUMBPIPE_RETURN_IF_ERROR(HeadBucket(bucket).status());
  return NewPutWriter(*this, std::string(bucket), std::string(key), std::move(options));
}

Result<ObjectInfo> LocalStore::Head(std::string_view bucket, std::string_view key) {
  THUMBPIPE_RETURN_IF_ERROR(CheckNames(bucket, key));
  std::optional<ObjectRow> row;
  if (Status done = ReadTxn([&](Db& db) -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(row, ReadObject(db, bucket, key, true));
    return row ? Status::Ok() : Missing(db, bucket, key);
  }); !done.ok()) return done;
  return std::move(row->info);
}

Result<std::unique_ptr<ObjectReader>> LocalStore::Get(std::string_view bucket, std::string_view key,
                                                      std::optional<ByteRange> range) {
  THUMBPIPE_RETURN_IF_ERROR(CheckNames(bucket, key));
  std::string missing_file;  // the blob the previous attempt could not open
  for (int attempt = 0; attempt < kMaxGetAttempts; ++attempt) {
    std::optional<ObjectRow> row;
    std::string data;
    ResolvedRange selected;
    // Row and inline body come from one snapshot, so they always belong together.
    if (Status done = ReadTxn([&](Db& db) -> Status {
      THUMBPIPE_ASSIGN_OR_RETURN(row, ReadObject(db, bucket, key, true));
      if (!row) return Missing(db, bucket, key);
      if (range) {
        THUMBPIPE_ASSIGN_OR_RETURN(selected, ResolveRange(*range, row->info.size));
      } else {
        selected = ResolvedRange{0, row->info.size};
      }
      if (!row->body.file.empty()) return Status::Ok();
      THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached("SELECT data FROM inline_bodies WHERE id = ?"));
      stmt->Bind(1, row->body.inline_id);
      THUMBPIPE_ASSIGN_OR_RETURN(const bool found, stmt->Step());
      if (!found) return Status::Corrupt("index: the inline body of " + std::string(key) + " is missing");
      data = stmt->Text(0);
      return Status::Ok();
    }); !done.ok()) return done;
    if (row->body.file.empty()) return NewInlineReader(std::move(row->info), std::move(data), selected);
    Result<UniqueFd> fd = files_.OpenBlob(row->body.file);
    if (fd.ok()) return NewFileReader(std::move(row->info), std::move(fd).value(), selected);
    if (fd.status().code() != StatusCode::kNotFound) return fd.status();
    // The same row naming the same missing blob twice is not a race with a writer (a write
    // always names a new blob): the file is gone.
    if (missing_file == row->body.file) {
      return Status::Corrupt("the blob of " + std::string(key) + " is missing: " + fd.status().message());
    }
    missing_file = row->body.file;
  }
  return Status::Unavailable("SlowDown " + std::string(key) + " kept changing while being opened");
}

Status LocalStore::Delete(std::string_view bucket, std::string_view key, const WriteContext& context,
                          bool* existed) {
  THUMBPIPE_RETURN_IF_ERROR(CheckNames(bucket, key));
  bool found = false;
  if (Status done = Write([&](WriteTxn& txn) -> Status {
    THUMBPIPE_RETURN_IF_ERROR(txn.RequireBucket(bucket));
    THUMBPIPE_ASSIGN_OR_RETURN(std::optional<ObjectRow> row, ReadObject(txn.db(), bucket, key, false));
    found = row.has_value();
    if (!found) return Status::Ok();
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, txn.db().Cached("DELETE FROM objects WHERE bucket = ? AND key = ?"));
    stmt->Bind(1, bucket).BindBlob(2, key);
    THUMBPIPE_RETURN_IF_ERROR(stmt->Run().status());
    THUMBPIPE_RETURN_IF_ERROR(txn.DropBody(row->body));
    THUMBPIPE_ASSIGN_OR_RETURN(const int64_t version, txn.NextVersion());
    WriteRecord record{WriteKind::kDelete, ObjectInfo{}, context};
    record.object.bucket = bucket;
    record.object.key = key;
    record.object.version = static_cast<uint64_t>(version);
    record.object.last_modified = FromMs(txn.now_ms());
    return txn.Emit(record);
  }); !done.ok()) return done;
  if (existed != nullptr) *existed = found;
  return Status::Ok();
}

Result<ObjectInfo> LocalStore::Copy(std::string_view src_bucket, std::string_view src_key,
                                    std::string_view dst_bucket, std::string_view dst_key,
                                    bool replace_metadata, PutOptions options) {
  THUMBPIPE_RETURN_IF_ERROR(CheckNames(src_bucket, src_key));
  THUMBPIPE_RETURN_IF_ERROR(CheckNames(dst_bucket, dst_key));
  if (src_bucket == dst_bucket && src_key == dst_key && !replace_metadata) {
    return Status::InvalidArgument(
        "InvalidRequest This copy request is illegal because it is trying to copy an object to "
        "itself without changing the object's metadata");
  }
  THUMBPIPE_RETURN_IF_ERROR(HeadBucket(dst_bucket).status());
  // The source is read through an open reader: a write that replaces it meanwhile does not
  // change what is copied. Bodies are immutable, so copying them (through a bounded buffer,
  // hashing as it goes) keeps every blob owned by exactly one row; no reference counts.
  THUMBPIPE_ASSIGN_OR_RETURN(std::unique_ptr<ObjectReader> source, Get(src_bucket, src_key, std::nullopt));
  const ObjectInfo& src = source->info();
  if (src.size > options_.max_object_bytes) {
    return Status::TooLarge(fmt::format("EntityTooLarge the source is larger than {} bytes", options_.max_object_bytes));
  }
  PutOptions put = replace_metadata ? std::move(options) : PutOptions{};
  if (!replace_metadata) {
    put.content_type = src.content_type;
    put.cache_control = src.cache_control;
    put.content_disposition = src.content_disposition;
    put.content_encoding = src.content_encoding;
    put.content_language = src.content_language;
    put.metadata = src.metadata;
    put.context = std::move(options.context);
  }
  put.kind = WriteKind::kCopy;
  put.expected_md5.reset();
  put.caller_md5 = false;  // the copy below hashes (or shares the ETag) itself
  const std::optional<FileRegion> file = source->File();
  if (file && src.etag.find('-') == std::string::npos) {
    // A simple object's ETag is the MD5 of its bytes, which the copy shares: the kernel
    // copies the blob (copy_file_range; a reflink where the file system can) and nothing is
    // hashed again.
    BodySink sink(files_, options_.inline_max_bytes);
    THUMBPIPE_RETURN_IF_ERROR(sink.AppendFrom(file->fd, file->offset, file->length));
    THUMBPIPE_RETURN_IF_ERROR(sink.Finish());
    Result<ObjectInfo> info = CommitPut(*this, std::string(dst_bucket), std::string(dst_key), put, sink, src.etag);
    if (info.ok()) sink.Keep();
    return info;
  }
  // A multipart source's ETag is not an MD5 of its bytes; S3 gives the copy a plain MD5
  // ETag, so the bytes go through the hashing writer.
  std::unique_ptr<ObjectWriter> writer =
      NewPutWriter(*this, std::string(dst_bucket), std::string(dst_key), std::move(put));
  std::string buffer(static_cast<size_t>(std::min<uint64_t>(kCopyChunk, std::max<uint64_t>(src.size, 1))), '\0');
  for (;;) {
    THUMBPIPE_ASSIGN_OR_RETURN(const size_t n, source->Read(std::span<char>(buffer.data(), buffer.size())));
    if (n == 0) break;
    THUMBPIPE_RETURN_IF_ERROR(writer->Write(std::string_view(buffer.data(), n)));
  }
  return writer->Commit();
}

}  // namespace thumbpipe::store::internal
