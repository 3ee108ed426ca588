// Routing: from a request's method, target and Host to an S3 operation with its bucket and
// key. Pure functions (no store, no network) so every rule is unit-tested.
//
// Addressing: path style ("/bucket/key") always; virtual-host style ("bucket.HOST/key") when
// the Host header is a subdomain of one of RouterOptions::base_hosts. The key is the rest of
// the path, percent-decoded once and otherwise kept literally ("a//b/../c" is a key).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "server/http_types.h"

namespace thumbpipe::server {

enum class Operation {
  kListBuckets,
  kCreateBucket,
  kDeleteBucket,
  kHeadBucket,
  kGetBucketLocation,
  kListObjects,     // v1
  kListObjectsV2,
  kListMultipartUploads,
  kDeleteObjects,
  kPutBucketNotification,
  kGetBucketNotification,
  kPutBucketCors,
  kGetBucketCors,
  kDeleteBucketCors,
  kPutObject,
  kCopyObject,
  kGetObject,
  kHeadObject,
  kDeleteObject,
  kCreateMultipartUpload,
  kUploadPart,
  kUploadPartCopy,
  kCompleteMultipartUpload,
  kAbortMultipartUpload,
  kListParts,
  kCorsPreflight,   // OPTIONS
  kNotImplemented,  // a real S3 operation thumbpipe does not offer
};

std::string_view OperationName(Operation op);

struct RouterOptions {
  // Hosts (without port) under which "bucket.HOST" means virtual-host-style addressing.
  std::vector<std::string> base_hosts = {"localhost"};
};

struct Route {
  Operation op = Operation::kNotImplemented;
  std::string bucket;  // "" for service-level requests
  std::string key;     // "" for bucket-level requests
  std::string path;    // raw path, as sent (for SigV4)
  std::string raw_query;
  // Decoded query parameters; a parameter without '=' maps to "".
  std::map<std::string, std::string, std::less<>> query;
  bool virtual_host = false;

  bool Has(std::string_view param) const { return query.find(param) != query.end(); }
  std::string Param(std::string_view param) const {
    auto it = query.find(param);
    return it == query.end() ? std::string() : it->second;
  }
  // "/bucket/key" for error documents.
  std::string Resource() const;
};

// Errors: kInvalidArgument "MethodNotAllowed ..." for a method S3 does not know on that
// resource, "InvalidURI ..." for a target that is not a path, "KeyTooLongError" beyond 1024
// bytes.
Result<Route> RouteRequest(const HttpRequestHead& head, const RouterOptions& options);

// Query-string helpers (also used for list continuation tokens).
std::map<std::string, std::string, std::less<>> ParseQuery(std::string_view raw_query);
// S3's encoding-type=url: every byte but unreserved characters and '/' percent-encoded.
std::string UrlEncodeKey(std::string_view key);

}  // namespace thumbpipe::server
