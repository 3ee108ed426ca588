// Internals of the S3 store (s3_store.h): the class, and the wire helpers its files share.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "aws/http_client.h"
#include "store/s3_store.h"

namespace thumbpipe::store::internal {

class S3Store final : public ObjectStore {
 public:
  S3Store(std::unique_ptr<aws::AwsHttpClient> client, S3StoreOptions options, bool path_style);

  Status CreateBucket(std::string_view bucket) override;
  Status DeleteBucket(std::string_view bucket) override;
  Result<BucketInfo> HeadBucket(std::string_view bucket) override;
  Result<std::vector<BucketInfo>> ListBuckets() override;

  Result<std::unique_ptr<ObjectWriter>> BeginPut(std::string_view bucket, std::string_view key,
                                                 PutOptions options) override;
  Result<ObjectInfo> Head(std::string_view bucket, std::string_view key) override;
  Result<std::unique_ptr<ObjectReader>> Get(std::string_view bucket, std::string_view key,
                                            std::optional<ByteRange> range) override;
  Status Delete(std::string_view bucket, std::string_view key, const WriteContext& context,
                bool* existed) override;
  Result<ListPage> List(std::string_view bucket, const ListRequest& request) override;
  Result<ObjectInfo> Copy(std::string_view src_bucket, std::string_view src_key, std::string_view dst_bucket,
                          std::string_view dst_key, bool replace_metadata, PutOptions options) override;

  Result<std::string> CreateMultipartUpload(std::string_view bucket, std::string_view key,
                                            PutOptions options) override;
  Result<std::unique_ptr<ObjectWriter>> BeginPart(std::string_view bucket, std::string_view key,
                                                  std::string_view upload_id, int part_number,
                                                  std::optional<std::string> expected_md5) override;
  Result<ObjectInfo> CompleteMultipartUpload(std::string_view bucket, std::string_view key,
                                             std::string_view upload_id,
                                             std::span<const CompletedPart> parts) override;
  Status AbortMultipartUpload(std::string_view bucket, std::string_view key, std::string_view upload_id) override;
  Result<std::vector<PartInfo>> ListParts(std::string_view bucket, std::string_view key,
                                          std::string_view upload_id) override;
  Result<std::vector<UploadInfo>> ListMultipartUploads(std::string_view bucket, std::string_view prefix) override;

  Status PutBucketConfig(std::string_view bucket, std::string_view name, std::string_view document) override;
  Result<std::string> GetBucketConfig(std::string_view bucket, std::string_view name) override;

  void SetCommitHook(CommitHook hook) override;
  Outbox* outbox() override { return nullptr; }

  Status DeleteObjects(std::string_view bucket, std::span<const std::string> keys);

  // A request for `bucket` (empty: the service) and `key` (empty: the bucket), addressed
  // path-style or virtual-hosted as configured. `query` is already encoded.
  aws::HttpRequest Request(std::string method, std::string_view bucket, std::string_view key,
                           std::string query = {}) const;
  // Uploads one part whose body is in memory or in `source`; returns its (unquoted) ETag.
  Result<std::string> UploadPart(std::string_view bucket, std::string_view key, std::string_view upload_id,
                                 int part_number, std::string_view body, aws::BodySource* source,
                                 const std::string& content_md5_b64, const std::string& sha256_hex);
  Result<ObjectInfo> PutSingle(std::string_view bucket, std::string_view key, const PutOptions& options,
                               std::string_view body);

  aws::AwsHttpClient& client() { return *client_; }
  const S3StoreOptions& options() const { return options_; }

 private:
  // HEAD answers 404 without a body: asks for the bucket to tell NoSuchKey from NoSuchBucket.
  Status NotFoundFor(std::string_view bucket, const Status& status, std::string_view key_code);

  std::unique_ptr<aws::AwsHttpClient> client_;
  S3StoreOptions options_;
  bool path_style_;
  std::atomic<bool> warned_hook_{false};
};

// --- wire helpers (s3_wire.cc) ---

// The headers of a write: Content-Type and the standard ones, x-amz-meta-*, Content-MD5.
void AddPutHeaders(const PutOptions& options, sigv4::Headers* headers);
// ObjectInfo from the headers of a HEAD/GET reply (size from Content-Range when present).
ObjectInfo InfoFromHeaders(std::string_view bucket, std::string_view key, const sigv4::Headers& headers);
// "\"abc\"" -> "abc".
std::string Unquote(std::string_view etag);
// ISO 8601 as S3 writes it in XML ("2026-11-27T05:00:00.000Z"); the epoch when unparsable.
Clock::time_point ParseIsoTime(std::string_view text);
// Keys in replies with encoding-type=url: '+' is a space, %XX a byte.
std::string UrlDecodeKey(std::string_view text);
// Replaces the first word (the S3 code) of a status message.
Status WithCode(const Status& status, StatusCode code, std::string_view s3_code);
// "16MiB", "5242880", "1GiB" -> bytes.
Result<uint64_t> ParseByteSize(std::string_view text);

}  // namespace thumbpipe::store::internal
