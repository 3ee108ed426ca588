// Checks of single values whose form matters beyond their type and range: addresses, URLs,
// bucket names, keys. Each returns OK or kInvalidArgument saying what is wrong and what would be
// accepted; the caller adds the key's name. Internal to config/.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "config/config.h"

namespace thumbpipe::config {

Status CheckNotEmpty(std::string_view text);
Status CheckListen(std::string_view text);        // host:port, [v6]:port
Status CheckStoreUrl(std::string_view url);       // file://, s3://
Status CheckQueueUrl(std::string_view url);       // sqlite://, sqs://, http(s)://, amqp(s)://
Status CheckPublicUrl(std::string_view url);      // "" or http(s)://
Status CheckRegion(std::string_view region);      // us-east-1, default
Status CheckBucketName(std::string_view bucket);  // S3 naming rules
Status CheckSuffixes(std::span<const std::string> suffixes);
Status CheckEvents(std::span<const std::string> events);
Status CheckOrigins(std::span<const std::string> origins);
Status CheckBuckets(std::span<const std::string> buckets);  // credentials.buckets
Status CheckAccessKey(std::string_view key);
Status CheckSecretKey(std::string_view key);

// Checks each credential's keys and that no access key is used twice. The message names the
// entry ("credentials[1].access_key ...") and never shows a secret key.
Status CheckCredentials(std::span<const Credential> credentials);

// `url` with the password of its user info (scheme://user:PASSWORD@host) replaced by
// "<redacted>"; unchanged when there is none.
std::string RedactUrlPassword(std::string_view url);

}  // namespace thumbpipe::config
