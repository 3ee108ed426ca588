// How object keys appear inside S3 event notifications, and back.
//
// Amazon S3 puts `s3.object.key` in form-urlencoded shape ("red flower.jpg" arrives as
// "red+flower.jpg", a literal "+" as "%2B"). What S3 leaves unencoded was checked against
// what S3 is seen to send, since the documentation only gives the space example:
//  - "/" stays literal (minio/minio#11665 reports it from S3-to-SQS events; keys such as
//    "Glue+API/Glue+API+Storefront+Guides/auth-scheme+%281%29.png" show the same encoder);
//  - parentheses are escaped ("%281%29" in the same keys; aws-lambda-events#2 names "(1) copy"
//    files as a trap), so the encoder is form encoding's strict set: A-Z a-z 0-9 and "-_.*",
//    plus "/". Everything else, every byte of a multi-byte UTF-8 character included, is %XX
//    with upper-case hex.
// MinIO uses Go's url.QueryEscape (the same form style, but "/" becomes %2F); Ceph RGW puts the
// key in raw, unencoded (suitenumerique/meet#1455). Decoding therefore depends on the sender.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace thumbpipe::events {

// Encodes `key` as Amazon S3 does in event notifications (see above).
std::string EncodeEventKey(std::string_view key);

// How a sender encoded the keys of its events.
enum class KeyEncoding {
  kForm,  // AWS S3 and MinIO: "+" is a space, %XX a byte
  kRaw,   // Ceph RGW: the key as it is
};

// Decodes a key from an event. kInvalidArgument for a malformed escape ("%", "%4", "%zz") or an
// empty result.
Result<std::string> DecodeEventKey(std::string_view encoded, KeyEncoding encoding = KeyEncoding::kForm);

}  // namespace thumbpipe::events
