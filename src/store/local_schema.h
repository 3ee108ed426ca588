// The LocalStore's index schema. Keys are BLOBs so that SQLite compares them with memcmp:
// ListObjectsV2's UTF-8 byte order, and NUL or any other byte is just data. Bodies of small
// objects live in inline_bodies (a separate table so listings never page through them).
// An object or part names its body by exactly one of `file` (a blob id, blob_files.h) or
// `inline_id`.
#pragma once

namespace thumbpipe::store::internal {

inline constexpr int kSchemaVersion = 1;

inline constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO counters(name, value) VALUES('version', 0);
CREATE TABLE IF NOT EXISTS buckets(
  name TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bucket_configs(
  bucket TEXT NOT NULL,
  name TEXT NOT NULL,
  document BLOB NOT NULL,
  PRIMARY KEY(bucket, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects(
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  content_type TEXT NOT NULL,
  headers BLOB NOT NULL,   -- cache-control, content-disposition, -encoding, -language (fields.h)
  metadata BLOB NOT NULL,  -- x-amz-meta-* (fields.h)
  last_modified_ms INTEGER NOT NULL,
  version INTEGER NOT NULL,
  file TEXT,
  inline_id INTEGER,
  PRIMARY KEY(bucket, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inline_bodies(id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS uploads(
  id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  options BLOB NOT NULL,   -- the PutOptions of CreateMultipartUpload (fields.h)
  initiated_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads(bucket, key, initiated_ms);
CREATE TABLE IF NOT EXISTS parts(
  upload TEXT NOT NULL,
  number INTEGER NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  last_modified_ms INTEGER NOT NULL,
  file TEXT,
  inline_id INTEGER,
  PRIMARY KEY(upload, number)) WITHOUT ROWID;
-- AUTOINCREMENT: an id is never reused after Done deleted the newest entry, so a consumer
-- can never mistake a new entry for one it already delivered.
CREATE TABLE IF NOT EXISTS outbox(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  payload BLOB NOT NULL,
  created_ms INTEGER NOT NULL);
)sql";

}  // namespace thumbpipe::store::internal
