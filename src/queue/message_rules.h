// SQS's rules for what a message may contain, and the bits every backend needs to make
// messages: ids, receipt nonces, the attribute encoding stored with a message. Kept apart
// from the SQLite queue so that other backends and tests apply the same rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/duration.h"
#include "common/result.h"
#include "queue/queue.h"

namespace thumbpipe::queue {

inline constexpr int kMaxAttributes = 10;
inline constexpr int kMaxBatchEntries = 10;
inline constexpr int kMaxReceiveMessages = 10;
inline constexpr Duration kMaxDelay = std::chrono::minutes(15);
inline constexpr Duration kMaxWait = std::chrono::seconds(20);
inline constexpr Duration kMaxVisibility = std::chrono::hours(12);

// OK when every character of `text` is valid UTF-8 in the set SQS accepts:
// #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF.
Status CheckSqsCharacters(std::string_view text, std::string_view what);

// OK for an attribute name SQS accepts: 1-256 of [A-Za-z0-9_.-], no leading, trailing or
// double '.', no "AWS." / "Amazon." prefix (any case).
Status CheckAttributeName(std::string_view name);

// Bytes a message counts against the size limit: body plus each name, type and value.
uint64_t MessageSize(std::string_view body, const Attributes& attributes);

// The whole of SendMessage's validation. kInvalidArgument says which rule failed.
Status CheckMessage(std::string_view body, const Attributes& attributes,
                    std::optional<Duration> delay, uint64_t max_message_bytes);

// OK for a SendEntry::dedup_id SQS FIFO would accept: 1-128 of '!' to '~'. (Empty means
// "none" and is not checked here.)
Status CheckDedupId(std::string_view dedup_id);
inline constexpr size_t kMaxDedupIdBytes = 128;

// A 128-bit id in UUID form, as SQS message ids look: version 7 (time-ordered, 74 random bits).
std::string NewMessageId();
// 128 random bits as 32 hex digits.
std::string NewNonce();

// A compact, lossless encoding of attributes (binary values may hold any byte, so not
// JSON): per attribute, u32 lengths and bytes of name, type, value.
std::string EncodeAttributes(const Attributes& attributes);
Result<Attributes> DecodeAttributes(std::string_view bytes);

}  // namespace thumbpipe::queue
