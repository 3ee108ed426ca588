// LocalStore: multipart uploads. Parts are bodies like any other (inline when small, else
// blob files). Completion concatenates the chosen parts into one new body with
// copy_file_range (in the kernel, memory flat), then swaps index rows in one transaction:
// the object then reads exactly like a simple one (one blob, one fd, ranges are a pread),
// at the price of writing the data a second time at completion.
#include <cctype>

#include <fmt/format.h>

#include "store/fields.h"
#include "store/local_store_impl.h"
#include "store/local_writer.h"
#include "store/names.h"

namespace thumbpipe::store::internal {
namespace {

constexpr int kMaxPartNumber = 10000;
constexpr int kMaxListedUploads = 1000;

Status CheckNames(std::string_view bucket, std::string_view key) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  return CheckKey(key);
}

Status NoSuchUpload(std::string_view upload_id) {
  return Status::NotFound("NoSuchUpload " + std::string(upload_id));
}

// The upload's options when it exists for (bucket, key); NoSuchBucket / NoSuchUpload else.
Result<PutOptions> ReadUpload(Db& db, std::string_view bucket, std::string_view key,
                              std::string_view upload_id) {
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached(
      "SELECT options FROM uploads WHERE id = ? AND bucket = ? AND key = ?"));
  stmt->Bind(1, upload_id).Bind(2, bucket).BindBlob(3, key);
  THUMBPIPE_ASSIGN_OR_RETURN(const bool found, stmt->Step());
  if (found) return DecodeUploadOptions(stmt->View(0));
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease b, db.Cached("SELECT 1 FROM buckets WHERE name = ?"));
  b->Bind(1, bucket);
  THUMBPIPE_ASSIGN_OR_RETURN(const bool bucket_found, b->Step());
  if (!bucket_found) return Status::NotFound("NoSuchBucket " + std::string(bucket));
  return NoSuchUpload(upload_id);
}

Result<std::optional<BodyRef>> ReadPartBody(Db& db, std::string_view upload_id, int number) {
  THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached(
      "SELECT file, inline_id FROM parts WHERE upload = ? AND number = ?"));
  stmt->Bind(1, upload_id).Bind(2, int64_t{number});
  THUMBPIPE_ASSIGN_OR_RETURN(const bool found, stmt->Step());
  if (!found) return std::optional<BodyRef>();
  return std::optional<BodyRef>(BodyRef{stmt->Text(0), stmt->Int(1)});
}

// Drops every part of the upload and the upload itself.
Status DeleteUpload(WriteTxn& txn, std::string_view upload_id) {
  Db& db = txn.db();
  std::vector<BodyRef> bodies;
  {
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached("SELECT file, inline_id FROM parts WHERE upload = ?"));
    stmt->Bind(1, upload_id);
    for (;;) {
      THUMBPIPE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
      if (!row) break;
      bodies.push_back(BodyRef{stmt->Text(0), stmt->Int(1)});
    }
  }
  for (const BodyRef& b : bodies) THUMBPIPE_RETURN_IF_ERROR(txn.DropBody(b));
  for (const char* sql : {"DELETE FROM parts WHERE upload = ?", "DELETE FROM uploads WHERE id = ?"}) {
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached(sql));
    stmt->Bind(1, upload_id);
    THUMBPIPE_RETURN_IF_ERROR(stmt->Run().status());
  }
  return Status::Ok();
}

std::string NormaliseEtag(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  std::string out(etag);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct ChosenPart {
  int number = 0;
  uint64_t size = 0;
  std::string etag;
  BodyRef body;
};

}  // namespace

Result<std::string> LocalStore::CreateMultipartUpload(std::string_view bucket, std::string_view key,
                                                      PutOptions options) {
  THUMBPIPE_RETURN_IF_ERROR(CheckNames(bucket, key));
  const std::string id = BlobFiles::NewId();
  if (Status done = Write([&](WriteTxn& txn) -> Status {
    THUMBPIPE_RETURN_IF_ERROR(txn.RequireBucket(bucket));
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, txn.db().Cached(
        "INSERT INTO uploads(id, bucket, key, options, initiated_ms) VALUES(?, ?, ?, ?, ?)"));
    stmt->Bind(1, id).Bind(2, bucket).BindBlob(3, key).BindBlob(4, EncodeUploadOptions(options))
        .Bind(5, txn.now_ms());
    return stmt->Run().status();
  }); !done.ok()) return done;
  return id;
}

Result<std::unique_ptr<ObjectWriter>> LocalStore::BeginPart(std::string_view bucket, std::string_view key,
                                                            std::string_view upload_id, int part_number,
                                                            std::optional<std::string> expected_md5) {
  THUMBPIPE_RETURN_IF_ERROR(CheckNames(bucket, key));
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return Status::InvalidArgument(fmt::format(
        "InvalidArgument Part number must be an integer between 1 and {}, inclusive", kMaxPartNumber));
  }
  THUMBPIPE_RETURN_IF_ERROR(CheckExpectedMd5(expected_md5));
  if (Status done = ReadTxn([&](Db& db) { return ReadUpload(db, bucket, key, upload_id).status(); }); !done.ok()) return done;
  auto commit = [this, bucket = std::string(bucket), key = std::string(key), upload = std::string(upload_id),
                 part_number](const BodySink& body, const std::string& md5_hex) -> Result<ObjectInfo> {
    ObjectInfo info;
    info.bucket = bucket;
    info.key = key;
    info.size = body.size();
    info.etag = md5_hex;
    if (Status done = Write([&](WriteTxn& txn) -> Status {
      // The upload may have been completed or aborted while the part streamed in.
      THUMBPIPE_RETURN_IF_ERROR(ReadUpload(txn.db(), bucket, key, upload).status());
      THUMBPIPE_ASSIGN_OR_RETURN(std::optional<BodyRef> old, ReadPartBody(txn.db(), upload, part_number));
      if (old) THUMBPIPE_RETURN_IF_ERROR(txn.DropBody(*old));
      THUMBPIPE_ASSIGN_OR_RETURN(const BodyRef ref, StoreBody(txn, body));
      info.last_modified = FromMs(txn.now_ms());
      THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, txn.db().Cached(
          "INSERT OR REPLACE INTO parts(upload, number, size, etag, last_modified_ms, file, inline_id) "
          "VALUES(?, ?, ?, ?, ?, ?, ?)"));
      stmt->Bind(1, upload).Bind(2, int64_t{part_number}).Bind(3, static_cast<int64_t>(info.size))
          .Bind(4, info.etag).Bind(5, txn.now_ms());
      if (ref.file.empty()) {
        stmt->BindNull(6).Bind(7, ref.inline_id);
      } else {
        stmt->Bind(6, ref.file).BindNull(7);
      }
      return stmt->Run().status();
    }); !done.ok()) return done;
    return info;
  };
  return std::unique_ptr<ObjectWriter>(std::make_unique<LocalWriter>(*this, std::move(expected_md5), std::move(commit)));
}

Result<ObjectInfo> LocalStore::CompleteMultipartUpload(std::string_view bucket, std::string_view key,
                                                       std::string_view upload_id,
                                                       std::span<const CompletedPart> parts) {
  return CompleteMultipartUpload(bucket, key, upload_id, parts, WriteContext{});
}

Result<ObjectInfo> LocalStore::CompleteMultipartUpload(std::string_view bucket, std::string_view key,
                                                       std::string_view upload_id,
                                                       std::span<const CompletedPart> parts,
                                                       const WriteContext& context) {
  THUMBPIPE_RETURN_IF_ERROR(CheckNames(bucket, key));
  if (parts.empty()) return Status::InvalidArgument("MalformedXML the upload lists no parts");
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].number < 1 || parts[i].number > kMaxPartNumber) {
      return Status::FailedPrecondition(fmt::format("InvalidPart part number {} is out of range", parts[i].number));
    }
    if (i > 0 && parts[i].number <= parts[i - 1].number) {
      return Status::FailedPrecondition("InvalidPartOrder the list of parts was not in ascending order");
    }
  }
  PutOptions put;
  std::vector<ChosenPart> chosen;
  if (Status done = ReadTxn([&](Db& db) -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(put, ReadUpload(db, bucket, key, upload_id));
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached(
        "SELECT size, etag, file, inline_id FROM parts WHERE upload = ? AND number = ?"));
    for (const CompletedPart& p : parts) {
      stmt->Reset();
      stmt->Bind(1, upload_id).Bind(2, int64_t{p.number});
      THUMBPIPE_ASSIGN_OR_RETURN(const bool found, stmt->Step());
      if (!found || stmt->Text(1) != NormaliseEtag(p.etag)) {
        return Status::FailedPrecondition(fmt::format(
            "InvalidPart part {} was not uploaded or its ETag does not match", p.number));
      }
      chosen.push_back(ChosenPart{p.number, static_cast<uint64_t>(stmt->Int(0)), stmt->Text(1),
                                  BodyRef{stmt->Text(2), stmt->Int(3)}});
    }
    return Status::Ok();
  }); !done.ok()) return done;
  uint64_t total = 0;
  std::vector<std::string> etags;
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (i + 1 < chosen.size() && chosen[i].size < options_.min_part_bytes) {
      return Status::FailedPrecondition(fmt::format(
          "EntityTooSmall part {} is {} bytes; every part but the last must be at least {}",
          chosen[i].number, chosen[i].size, options_.min_part_bytes));
    }
    total += chosen[i].size;
    etags.push_back(chosen[i].etag);
  }
  if (total > options_.max_object_bytes) {
    return Status::TooLarge(fmt::format("EntityTooLarge the parts add up to more than {} bytes",
                                        options_.max_object_bytes));
  }
  THUMBPIPE_ASSIGN_OR_RETURN(const std::string etag, MultipartEtag(etags));

  BodySink sink(files_, options_.inline_max_bytes);
  const Status replaced = Status::FailedPrecondition("InvalidPart a part was replaced during completion");
  for (const ChosenPart& part : chosen) {
    if (!part.body.file.empty()) {
      Result<UniqueFd> fd = files_.OpenBlob(part.body.file);
      if (!fd.ok()) return fd.status().code() == StatusCode::kNotFound ? replaced : fd.status();
      THUMBPIPE_RETURN_IF_ERROR(sink.AppendFrom(fd->get(), 0, part.size));
      continue;
    }
    std::string data;
    bool found = false;
    if (Status done = ReadTxn([&](Db& db) -> Status {
      THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached("SELECT data FROM inline_bodies WHERE id = ?"));
      stmt->Bind(1, part.body.inline_id);
      THUMBPIPE_ASSIGN_OR_RETURN(found, stmt->Step());
      if (found) data = stmt->Text(0);
      return Status::Ok();
    }); !done.ok()) return done;
    if (!found) return replaced;
    THUMBPIPE_RETURN_IF_ERROR(sink.Append(data));
  }
  THUMBPIPE_RETURN_IF_ERROR(sink.Finish());

  ObjectInfo info;
  info.bucket = bucket;
  info.key = key;
  info.size = total;
  info.etag = etag;
  const WriteContext& ctx = (context.request_id.empty() && context.principal_id.empty() &&
                             context.host_id.empty() && context.source_ip.empty())
                                ? put.context
                                : context;
  if (Status done = Write([&](WriteTxn& txn) -> Status {
    THUMBPIPE_RETURN_IF_ERROR(ReadUpload(txn.db(), bucket, key, upload_id).status());
    for (const ChosenPart& part : chosen) {
      THUMBPIPE_ASSIGN_OR_RETURN(std::optional<BodyRef> now, ReadPartBody(txn.db(), upload_id, part.number));
      if (!now || !(*now == part.body)) return replaced;
    }
    THUMBPIPE_RETURN_IF_ERROR(DeleteUpload(txn, upload_id));
    THUMBPIPE_ASSIGN_OR_RETURN(const BodyRef ref, StoreBody(txn, sink));
    return CommitObject(txn, info, put, ref, WriteKind::kCompleteMultipartUpload, ctx);
  }); !done.ok()) return done;
  sink.Keep();
  return info;
}

Status LocalStore::AbortMultipartUpload(std::string_view bucket, std::string_view key,
                                        std::string_view upload_id) {
  THUMBPIPE_RETURN_IF_ERROR(CheckNames(bucket, key));
  return Write([&](WriteTxn& txn) -> Status {
    THUMBPIPE_RETURN_IF_ERROR(ReadUpload(txn.db(), bucket, key, upload_id).status());
    return DeleteUpload(txn, upload_id);
  });
}

Result<std::vector<PartInfo>> LocalStore::ListParts(std::string_view bucket, std::string_view key,
                                                    std::string_view upload_id) {
  THUMBPIPE_RETURN_IF_ERROR(CheckNames(bucket, key));
  std::vector<PartInfo> out;
  if (Status done = ReadTxn([&](Db& db) -> Status {
    THUMBPIPE_RETURN_IF_ERROR(ReadUpload(db, bucket, key, upload_id).status());
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached(
        "SELECT number, size, etag, last_modified_ms FROM parts WHERE upload = ? ORDER BY number"));
    stmt->Bind(1, upload_id);
    for (;;) {
      THUMBPIPE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
      if (!row) return Status::Ok();
      out.push_back(PartInfo{static_cast<int>(stmt->Int(0)), static_cast<uint64_t>(stmt->Int(1)),
                             stmt->Text(2), FromMs(stmt->Int(3))});
    }
  }); !done.ok()) return done;
  return out;
}

Result<std::vector<UploadInfo>> LocalStore::ListMultipartUploads(std::string_view bucket,
                                                                 std::string_view prefix) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  std::vector<UploadInfo> out;
  if (Status done = ReadTxn([&](Db& db) -> Status {
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease b, db.Cached("SELECT 1 FROM buckets WHERE name = ?"));
    b->Bind(1, bucket);
    THUMBPIPE_ASSIGN_OR_RETURN(const bool found, b->Step());
    if (!found) return Status::NotFound("NoSuchBucket " + std::string(bucket));
    // substr() on a blob counts bytes, so this is a byte-prefix match.
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached(
        "SELECT id, key, initiated_ms FROM uploads WHERE bucket = ?1 AND key >= ?2 "
        "AND (length(?2) = 0 OR substr(key, 1, length(?2)) = ?2) ORDER BY key, initiated_ms LIMIT ?3"));
    stmt->Bind(1, bucket).BindBlob(2, prefix).Bind(3, int64_t{kMaxListedUploads});
    for (;;) {
      THUMBPIPE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
      if (!row) return Status::Ok();
      out.push_back(UploadInfo{stmt->Text(0), std::string(bucket), stmt->Text(1), FromMs(stmt->Int(2))});
    }
  }); !done.ok()) return done;
  return out;
}

}  // namespace thumbpipe::store::internal
