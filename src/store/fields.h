// How the index keeps lists of strings (standard headers, user metadata, multipart upload
// options) in one BLOB column: each string as "<decimal length>:<bytes>". Any bytes survive,
// unlike JSON, which would need valid UTF-8 in header values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/object_store.h"

namespace thumbpipe::store::internal {

std::string EncodeStrings(const std::vector<std::string_view>& items);
// kCorrupt when `blob` is not what EncodeStrings makes.
Result<std::vector<std::string>> DecodeStrings(std::string_view blob);

std::string EncodeMetadata(const Metadata& metadata);
Result<Metadata> DecodeMetadata(std::string_view blob);

// The four standard headers of ObjectInfo / PutOptions.
std::string EncodeHeaders(const PutOptions& options);
Status DecodeHeaders(std::string_view blob, ObjectInfo& info);

// The PutOptions of a multipart upload (all but expected_md5).
std::string EncodeUploadOptions(const PutOptions& options);
Result<PutOptions> DecodeUploadOptions(std::string_view blob);

}  // namespace thumbpipe::store::internal
