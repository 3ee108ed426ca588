// Internal to the SQS handlers: reading parameters out of a request in the JSON shape. A bad
// parameter throws SqsReject, which HandleSqsAction turns into the error reply; the exception
// never leaves sqs_handlers.cc's dispatcher (STYLE 5: exceptions inside a module only).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/sqs_handlers.h"
#include "server/sqs_wire.h"

namespace thumbpipe::server::sqs_internal {

struct SqsReject {
  sqs::Error error;
};

[[noreturn]] inline void Reject(std::string_view code, std::string message = {}) {
  throw SqsReject{sqs::MakeError(code, std::move(message))};
}

// A string member: nullopt when absent; InvalidParameterValue when not a string.
std::optional<std::string> OptString(const nlohmann::json& req, std::string_view name);
// A required string member: MissingParameter when absent or empty.
std::string ReqString(const nlohmann::json& req, std::string_view name);
// An integer member in [lo, hi]: nullopt when absent; InvalidParameterValue otherwise.
std::optional<int64_t> OptInt(const nlohmann::json& req, std::string_view name, int64_t lo, int64_t hi);
// A list of strings (AttributeNames, ...): empty when absent.
nlohmann::json OptStringList(const nlohmann::json& req, std::string_view name);

// The queue a request names (QueueUrl, or the query protocol's path). QueueDoesNotExist
// when there is none.
ResolvedQueue QueueOf(SqsContext& ctx, const nlohmann::json& req);
std::string QueueUrl(const SqsContext& ctx, std::string_view name);

// The batch entries after SQS's request-level checks: EmptyBatchRequest,
// TooManyEntriesInBatchRequest, InvalidBatchEntryId, BatchEntryIdsNotDistinct.
const nlohmann::json& BatchEntries(const nlohmann::json& req);
// {"Id": id, "SenderFault": true, "Code": code, "Message": message}
nlohmann::json FailedEntry(const nlohmann::json& entry, const sqs::Error& error);

// The actions, by family (sqs_queue_handlers.cc, sqs_message_handlers.cc).
nlohmann::json CreateQueue(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json GetQueueUrl(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json ListQueues(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json GetQueueAttributes(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json SetQueueAttributes(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json PurgeQueue(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json ListDeadLetterSourceQueues(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json StartMessageMoveTask(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json ListMessageMoveTasks(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json SendMessage(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json SendMessageBatch(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json ReceiveMessage(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json DeleteMessage(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json DeleteMessageBatch(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json ChangeMessageVisibility(SqsContext& ctx, const nlohmann::json& req);
nlohmann::json ChangeMessageVisibilityBatch(SqsContext& ctx, const nlohmann::json& req);

}  // namespace thumbpipe::server::sqs_internal
