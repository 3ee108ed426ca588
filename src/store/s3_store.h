// The ObjectStore over any S3 service (Amazon S3, Ceph RGW, MinIO, another `thumbpipe serve`),
// through the shared AWS client core (aws/http_client.h). Opened by the store URL
//
//   s3://BUCKET?endpoint=URL&region=R&path_style=true|false
//        &multipart_threshold=16MiB&part_size=8MiB&max_attempts=4
//
// every parameter optional: endpoint defaults to https://s3.REGION.amazonaws.com, region to
// the AWS profile's (AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config) or us-east-1,
// path_style to true with an explicit endpoint (RGW, MinIO and `serve` want it) and false
// for AWS (virtual-hosted buckets). BUCKET names the deployment's bucket for humans and
// `thumbpipe config`; the store serves whatever bucket each call names.
// Credentials come from the AWS chain (aws/credentials.h).
//
// What S3 does differently from the local store (docs/configuration.md):
//  - Writes stream through a bounded buffer: a body up to multipart_threshold is sent as one
//    PutObject (its ETag is its MD5); a larger one becomes a multipart upload of part_size
//    parts, each retried on its own (its ETag is then "<md5 of md5s>-N"). Memory per writer
//    is at most max(multipart_threshold, part_size), whatever the object's size. A writer
//    of an explicit multipart part (BeginPart) keeps part_size in memory and spills the rest
//    of the part to an unlinked temporary file.
//  - ObjectInfo::version is 0: S3 has no store-wide write counter (S3 itself puts the
//    sequencer in the events it emits).
//  - No commit hook or outbox: the S3 service emits its own event notifications, so
//    SetCommitHook() is ignored (with a warning) and outbox() is nullptr.
//  - Bucket configuration ("notification", "cors") goes to S3's own subresources, which
//    validate the document; S3 answers an empty NotificationConfiguration when none is set.
//  - HeadBucket cannot tell when a bucket was created (created is the epoch).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "aws/retry.h"
#include "common/clock.h"
#include "common/result.h"
#include "store/object_store.h"

namespace thumbpipe::store {

struct S3StoreOptions {
  std::string bucket;    // from the URL; may be empty
  std::string endpoint;  // empty = https://s3.{region}.amazonaws.com
  std::string region;    // empty = the AWS profile's, else us-east-1
  std::optional<bool> path_style;
  uint64_t multipart_threshold = uint64_t{16} << 20;
  uint64_t part_size = uint64_t{8} << 20;  // S3: at least 5 MiB (all parts but the last)
  aws::RetryPolicy retry;
  // Used when neither the environment nor the AWS profile files have keys.
  std::optional<sigv4::Credentials> fallback_credentials;
  // Where environment variables come from (tests substitute their own).
  aws::EnvLookup env = aws::ProcessEnv();
  Clock* clock = &RealClock::Instance();
};

// Parses the s3:// URL into `options` (keeping what the URL does not set).
// kInvalidArgument naming the parameter for anything it does not understand.
Status ParseS3Url(std::string_view url, S3StoreOptions* options);

// Opens the store (no network traffic yet). kNotFound when no credentials are found (the
// message says where it looked), kInvalidArgument for bad options.
Result<std::unique_ptr<ObjectStore>> OpenS3Store(S3StoreOptions options);

// S3's DeleteObjects (up to 1000 keys a request; more are sent in batches): deletes every
// key, missing ones included. Returns the first per-key failure, if any. `store` must come
// from OpenS3Store; other stores get kUnsupported.
Status DeleteObjects(ObjectStore& store, std::string_view bucket, std::span<const std::string> keys);

}  // namespace thumbpipe::store
