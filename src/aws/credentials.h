// Where an AWS client finds its keys, in the order the AWS CLI and SDKs look (so a worker
// configured for `aws s3 ls` needs nothing more):
//   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) in the environment;
//   2. the profile named by AWS_PROFILE (else "default") in the shared credentials file
//      (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials, section [NAME]), then in the
//      config file (AWS_CONFIG_FILE, else ~/.aws/config, section [profile NAME], or
//      [default]);
//   3. the fallback the caller passes: thumbpipe's own config file (its first
//      [[credentials]] entry, the key a remote worker shares with `serve`).
// Only static keys: no SSO, process, web-identity or instance-metadata providers.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "sigv4/signer.h"

namespace thumbpipe::aws {

// Reads one environment variable (std::getenv in production; a map in tests).
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup ProcessEnv();

struct ResolvedCredentials {
  sigv4::Credentials credentials;
  std::string source;  // "environment", "/home/u/.aws/credentials [prod]", "config file"
};

// Follows the chain above. kNotFound naming every place looked at when none has keys;
// kInvalidArgument when a place has half a pair (an access key without its secret), since
// silently falling through to the next source would sign with somebody else's keys.
Result<ResolvedCredentials> ResolveCredentials(const EnvLookup& env,
                                               const std::optional<sigv4::Credentials>& fallback = std::nullopt);

// The region a profile names (AWS_REGION, AWS_DEFAULT_REGION, then `region` of the profile
// in the config file), or nullopt.
std::optional<std::string> ResolveRegion(const EnvLookup& env);

// One section of an INI file as the AWS CLI reads it ("key = value", '#' and ';' comments,
// names case-sensitive). nullopt when the file cannot be read or has no such section.
using IniSection = std::vector<std::pair<std::string, std::string>>;
std::optional<IniSection> ReadIniSection(const std::string& path, std::string_view section);

}  // namespace thumbpipe::aws
