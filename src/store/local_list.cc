// LocalStore::List: ListObjectsV2 over the index's (bucket, key) primary key. Every step is
// an index seek: to the start position, and past each common prefix once it is reported, so
// a prefix holding 100k keys costs one seek, not 100k rows.
#include <fmt/format.h>

#include "store/local_store_impl.h"
#include "store/names.h"

namespace thumbpipe::store::internal {
namespace {

// The smallest string greater than every string that starts with `prefix`, or nullopt when
// there is none (all 0xff).
std::optional<std::string> PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::nullopt;
}

// A continuation token is where the next page starts: "k" + hex(key) to resume after a key,
// "p" + hex(prefix) to resume after a whole common prefix. Opaque to callers.
std::string EncodeToken(char kind, std::string_view position) {
  return std::string(1, kind) + HexEncode(position);
}

struct Start {
  std::string lower;  // inclusive
  bool at_end = false;
};

Result<Start> DecodeToken(std::string_view token) {
  const Status bad = Status::InvalidArgument("InvalidArgument The continuation token provided is incorrect");
  if (token.size() < 1 || (token[0] != 'k' && token[0] != 'p')) return bad;
  Result<std::string> position = HexDecode(token.substr(1));
  if (!position.ok() || position->empty() || position->size() > kMaxKeyBytes) return bad;
  if (token[0] == 'k') return Start{*position + std::string(1, '\0'), false};
  std::optional<std::string> end = PrefixEnd(*position);
  if (!end) return Start{"", true};
  return Start{std::move(*end), false};
}

}  // namespace

Result<ListPage> LocalStore::List(std::string_view bucket, const ListRequest& request) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  if (request.max_keys < 0 || request.max_keys > 1000) {
    return Status::InvalidArgument(fmt::format("InvalidArgument max-keys {}: must be 0-1000", request.max_keys));
  }
  // Where to begin (inclusive): the later of the prefix and the token (or start_after,
  // which S3 ignores when a token is given). K + "\0" is the first key after K.
  Start start{request.prefix, false};
  if (!request.continuation_token.empty()) {
    THUMBPIPE_ASSIGN_OR_RETURN(Start from_token, DecodeToken(request.continuation_token));
    if (from_token.at_end || from_token.lower > start.lower) start = std::move(from_token);
  } else if (!request.start_after.empty()) {
    std::string after = request.start_after + std::string(1, '\0');
    if (after > start.lower) start.lower = std::move(after);
  }
  const std::optional<std::string> upper =
      request.prefix.empty() ? std::nullopt : PrefixEnd(request.prefix);
  const std::string& delimiter = request.delimiter;
  const size_t max_keys = static_cast<size_t>(request.max_keys);

  ListPage page;
  if (Status done = ReadTxn([&](Db& db) -> Status {
    {
      THUMBPIPE_ASSIGN_OR_RETURN(StmtLease exists, db.Cached("SELECT 1 FROM buckets WHERE name = ?"));
      exists->Bind(1, bucket);
      THUMBPIPE_ASSIGN_OR_RETURN(const bool found, exists->Step());
      if (!found) return Status::NotFound("NoSuchBucket " + std::string(bucket));
    }
    if (start.at_end || max_keys == 0) return Status::Ok();
    // Two statements rather than "(?3 IS NULL OR key < ?3)", which SQLite cannot use as the
    // end of the index range: it would read every row to the end of the bucket.
    THUMBPIPE_ASSIGN_OR_RETURN(StmtLease stmt, db.Cached(
        upper ? "SELECT key, size, etag, last_modified_ms, version, content_type FROM objects "
                "WHERE bucket = ?1 AND key >= ?2 AND key < ?3 ORDER BY key LIMIT ?4"
              : "SELECT key, size, etag, last_modified_ms, version, content_type FROM objects "
                "WHERE bucket = ?1 AND key >= ?2 ORDER BY key LIMIT ?4"));
    std::string lower = start.lower;
    char last_kind = 0;
    std::string last_position;
    for (;;) {
      const size_t entries = page.objects.size() + page.common_prefixes.size();
      // One row more than the page can take: its presence is what "truncated" means.
      const int64_t limit = static_cast<int64_t>(max_keys - entries) + 1;
      stmt->Reset();
      stmt->Bind(1, bucket).BindBlob(2, lower).Bind(4, limit);
      if (upper) stmt->BindBlob(3, *upper);
      int64_t rows = 0;
      bool seek = false;
      for (;;) {
        THUMBPIPE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
        if (!row) break;
        ++rows;
        list_rows_read_.fetch_add(1, std::memory_order_relaxed);
        std::string_view key = stmt->View(0);
        if (page.objects.size() + page.common_prefixes.size() == max_keys) {
          page.truncated = true;
          page.next_continuation_token = EncodeToken(last_kind, last_position);
          return Status::Ok();
        }
        const size_t at = delimiter.empty() ? std::string_view::npos
                                            : key.find(delimiter, request.prefix.size());
        if (at != std::string_view::npos) {
          std::string common(key.substr(0, at + delimiter.size()));
          std::optional<std::string> next = PrefixEnd(common);
          page.common_prefixes.push_back(common);
          last_kind = 'p';
          last_position = std::move(common);
          if (!next) return Status::Ok();
          lower = std::move(*next);
          seek = true;
          break;
        }
        ObjectInfo info;
        info.bucket = bucket;
        info.key = key;
        info.size = static_cast<uint64_t>(stmt->Int(1));
        info.etag = stmt->Text(2);
        info.last_modified = FromMs(stmt->Int(3));
        info.version = static_cast<uint64_t>(stmt->Int(4));
        info.content_type = stmt->Text(5);
        last_kind = 'k';
        last_position = info.key;
        page.objects.push_back(std::move(info));
      }
      if (!seek && rows < limit) return Status::Ok();  // the range is exhausted
      if (!seek) lower = last_position + std::string(1, '\0');
    }
  }); !done.ok()) return done;
  return page;
}

}  // namespace thumbpipe::store::internal
