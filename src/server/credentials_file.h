// The admin key `serve` makes when the config names no [[credentials]]: generated once, on
// first start, into {data_dir}/credentials with mode 0600, in the AWS shared-credentials
// format (profile "thumbpipe"), so that aws-cli and the SDKs can use the file as it is:
//   AWS_SHARED_CREDENTIALS_FILE={data_dir}/credentials AWS_PROFILE=thumbpipe aws ...
// Later starts read the same file back.
#pragma once

#include <filesystem>

#include "common/result.h"
#include "config/config.h"

namespace thumbpipe::server {

inline constexpr std::string_view kCredentialsProfile = "thumbpipe";

struct StoredCredentials {
  config::Credential credential;  // admin, all buckets, read-write
  std::filesystem::path path;
  bool created = false;  // made by this call
};

// Reads {data_dir}/credentials, or creates it (atomically: a temporary file with mode 0600,
// fsync, rename). kCorrupt when the file exists but holds no usable key; kIOError on I/O
// failure.
Result<StoredCredentials> LoadOrCreateCredentials(const std::filesystem::path& data_dir);

}  // namespace thumbpipe::server
