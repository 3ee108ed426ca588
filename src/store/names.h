// What the store accepts as bucket names and object keys (S3's rules). Keys are data: these
// checks are about S3's limits, never about what a file system could hold, because no key
// ever becomes a path (blobs are named by id).
#pragma once

#include <string_view>

#include "common/status.h"

namespace thumbpipe::store::internal {

// 3-63 characters of [a-z0-9.-], starting and ending with a letter or digit, no "..", not
// shaped like an IPv4 address, no "xn--" prefix. kInvalidArgument "InvalidBucketName ...".
Status CheckBucketName(std::string_view bucket);

// 1..1024 bytes of valid UTF-8 (any code point, U+0000 included: S3 allows every character,
// and the index keeps keys as blobs). kInvalidArgument "KeyTooLong ..." past 1024 bytes,
// "InvalidArgument ..." for an empty key or bytes that are not UTF-8.
Status CheckKey(std::string_view key);

// True when `bytes` is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view bytes);

}  // namespace thumbpipe::store::internal
