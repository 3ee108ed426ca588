// SQS's errors in both protocols. Codes, query codes and statuses follow the SQS API model
// (the awsQueryError trait of each error shape) and AWS's list of common errors.
#include <map>

#include "server/sqs_wire.h"

namespace thumbpipe::sqs {
namespace {

struct Known {
  std::string_view query_code;
  int status;
  bool sender;
  std::string_view message;
};

const std::map<std::string, Known, std::less<>>& Table() {
  static const auto* table = new std::map<std::string, Known, std::less<>>{
      {"QueueDoesNotExist", {"AWS.SimpleQueueService.NonExistentQueue", 400, true, "The specified queue does not exist."}},
      {"QueueNameExists", {"QueueAlreadyExists", 400, true, "A queue with this name already exists with different attributes."}},
      {"ReceiptHandleIsInvalid", {"ReceiptHandleIsInvalid", 404, true, "The specified receipt handle isn't valid."}},
      {"MessageNotInflight", {"AWS.SimpleQueueService.MessageNotInflight", 400, true, "The specified message isn't in flight."}},
      {"TooManyEntriesInBatchRequest", {"AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, true, "The batch request contains more entries than permissible."}},
      {"EmptyBatchRequest", {"AWS.SimpleQueueService.EmptyBatchRequest", 400, true, "The batch request doesn't contain any entries."}},
      {"BatchEntryIdsNotDistinct", {"AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, true, "Two or more batch entries in the request have the same Id."}},
      {"BatchRequestTooLong", {"AWS.SimpleQueueService.BatchRequestTooLong", 400, true, "The length of all the messages put together is more than the limit."}},
      {"InvalidBatchEntryId", {"AWS.SimpleQueueService.InvalidBatchEntryId", 400, true, "The Id of a batch entry in a batch request doesn't abide by the specification."}},
      {"PurgeQueueInProgress", {"AWS.SimpleQueueService.PurgeQueueInProgress", 403, true, "Only one PurgeQueue operation is allowed every 60 seconds."}},
      {"UnsupportedOperation", {"AWS.SimpleQueueService.UnsupportedOperation", 400, true, "Error code 400. Unsupported operation."}},
      {"InvalidAttributeName", {"InvalidAttributeName", 400, true, "The specified attribute doesn't exist."}},
      {"InvalidAttributeValue", {"InvalidAttributeValue", 400, true, "A queue attribute value is invalid."}},
      {"InvalidMessageContents", {"InvalidMessageContents", 400, true, "The message contains characters outside the allowed set."}},
      {"InvalidAddress", {"InvalidAddress", 404, true, "The specified ID is invalid."}},
      {"ResourceNotFoundException", {"ResourceNotFoundException", 404, true, "One or more specified resources don't exist."}},
      {"OverLimit", {"OverLimit", 403, true, "The specified action violates a limit."}},
      {"RequestThrottled", {"RequestThrottled", 403, true, "The request was denied due to request throttling."}},
      // Common errors (any AWS query API).
      {"InvalidParameterValue", {"InvalidParameterValue", 400, true, "An invalid or out-of-range value was supplied for the input parameter."}},
      {"MissingParameter", {"MissingParameter", 400, true, "A required parameter for the specified action is not supplied."}},
      {"MissingAction", {"MissingAction", 400, true, "The request must contain the parameter Action."}},
      {"InvalidAction", {"InvalidAction", 400, true, "The action or operation requested is invalid."}},
      {"MalformedQueryString", {"MalformedQueryString", 404, true, "The query string contains a syntax error."}},
      {"SerializationException", {"SerializationException", 400, true, "The request body could not be read."}},
      {"AccessDenied", {"AccessDenied", 403, true, "Access to the resource is denied."}},
      {"MissingAuthenticationToken", {"MissingAuthenticationToken", 403, true, "The request must contain a valid access key."}},
      {"InvalidClientTokenId", {"InvalidClientTokenId", 403, true, "The security token included in the request is invalid."}},
      {"SignatureDoesNotMatch", {"SignatureDoesNotMatch", 403, true, "The request signature we calculated does not match the signature you provided."}},
      {"IncompleteSignature", {"IncompleteSignature", 400, true, "The request signature does not conform to AWS standards."}},
      {"RequestExpired", {"RequestExpired", 400, true, "The request reached the service more than 15 minutes after the date stamp on the request."}},
      {"RequestEntityTooLarge", {"RequestEntityTooLarge", 413, true, "The request is too large."}},
      {"InternalFailure", {"InternalFailure", 500, false, "The request processing has failed because of an unknown error."}},
      {"ServiceUnavailable", {"ServiceUnavailable", 503, false, "The request has failed due to a temporary failure of the server."}},
  };
  return *table;
}

// Messages may quote what the client sent, which need not be UTF-8: replaced, never thrown.
std::string JsonEscape(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Error MakeError(std::string_view code, std::string message) {
  Error e;
  e.code = std::string(code);
  const auto& table = Table();
  if (auto it = table.find(code); it != table.end()) {
    e.query_code = std::string(it->second.query_code);
    e.status = it->second.status;
    e.sender = it->second.sender;
    e.message = message.empty() ? std::string(it->second.message) : std::move(message);
  } else {
    e.query_code = e.code;
    e.message = std::move(message);
  }
  return e;
}

std::string JsonErrorBody(const Error& error) {
  // Built by hand so that "__type" comes first, as SQS writes it.
  return "{\"__type\":" + JsonEscape("com.amazonaws.sqs#" + error.code) + ",\"message\":" +
         JsonEscape(error.message) + "}";
}

std::string QueryErrorHeader(const Error& error) {
  return error.query_code + (error.sender ? ";Sender" : ";Receiver");
}

Error ErrorFromJsonResponse(int status, std::string_view query_error_header, std::string_view body) {
  Error e;
  e.status = status;
  e.sender = status < 500;
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    e.code = e.query_code = "InternalFailure";
    e.message = std::string(body.substr(0, 256));
    return e;
  }
  std::string type = j.value("__type", "");
  if (const size_t hash = type.rfind('#'); hash != std::string::npos) type = type.substr(hash + 1);
  e.code = type;
  e.message = j.contains("message") ? j.value("message", "") : j.value("Message", "");
  e.query_code = type;
  if (const size_t semi = query_error_header.find(';'); semi != std::string_view::npos) {
    e.query_code = std::string(query_error_header.substr(0, semi));
    e.sender = query_error_header.substr(semi + 1) == "Sender";
  }
  return e;
}

}  // namespace thumbpipe::sqs
