// The SQS wire format, apart from any server or client: the digests SQS puts on messages,
// its error table, and the two protocols' bodies. Both protocols are mapped onto one shape,
// the JSON protocol's (AWS JSON 1.0, `X-Amz-Target: AmazonSQS.<Action>`): a request is a JSON
// object with the members the SQS API model names (QueueUrl, Attributes, Entries, ...), and
// so is a result. The query protocol (form-encoded `Action=...&Version=2012-11-05`, XML
// answers; what Debian's aws-cli 2.9 and boto3 1.26 speak) is converted to and from that
// shape (sqs_query.h), so handlers (server) and backends (the sqs:// client) see one shape.
//
// Reference: ../shared/reference/queue-s3.md section 1 (1.8 digests, 1.9 protocols).
// All functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "queue/queue.h"

namespace thumbpipe::sqs {

inline constexpr std::string_view kApiVersion = "2012-11-05";
inline constexpr std::string_view kXmlNamespace = "http://queue.amazonaws.com/doc/2012-11-05/";
inline constexpr std::string_view kJsonContentType = "application/x-amz-json-1.0";
inline constexpr std::string_view kTargetPrefix = "AmazonSQS.";

// ---- Digests (queue-s3.md 1.8) ----------------------------------------------------------

// MD5OfMessageBody / MD5OfBody: lower-case hex MD5 of the body's bytes.
std::string Md5OfBody(std::string_view body);

// MD5OfMessageAttributes: attributes sorted by name; for each, u32 big-endian length + name,
// u32 length + data type, one transport byte (1 = String/Number, 2 = Binary, by the type's
// part before any '.'), u32 length + value; MD5 of it all, lower-case hex. "" for no
// attributes (SQS then sends no MD5OfMessageAttributes).
std::string Md5OfAttributes(const queue::Attributes& attributes);

// ---- Message attributes in the JSON shape -------------------------------------------------

// {"name": {"DataType": "String", "StringValue": "v"}} or, for Binary types,
// {"DataType": "Binary", "BinaryValue": "<base64>"}. kInvalidArgument (the message names the
// attribute) for a missing DataType or value, a value of the wrong kind, bad base64, or
// StringListValues / BinaryListValues (which SQS does not implement either).
Result<queue::Attributes> AttributesFromJson(const nlohmann::json& json);

// The inverse. `names` filters as ReceiveMessage's MessageAttributeNames does: "All" or ".*"
// for every attribute, "prefix.*" for a prefix, else exact names; empty = none.
nlohmann::json AttributesToJson(const queue::Attributes& attributes,
                                const nlohmann::json& names = nlohmann::json::array({"All"}));

// ---- Errors -------------------------------------------------------------------------------

// One SQS error as both protocols send it.
struct Error {
  std::string code;        // JSON "__type" suffix: "QueueDoesNotExist"
  std::string query_code;  // the query protocol's code: "AWS.SimpleQueueService.NonExistentQueue"
  int status = 400;
  bool sender = true;  // Sender (client's fault) or Receiver
  std::string message;
};

// The error named `code` (JSON name, e.g. "QueueDoesNotExist", "InvalidParameterValue",
// "ReceiptHandleIsInvalid", "TooManyEntriesInBatchRequest"; see sqs_errors.cc for the table)
// with `message`, or its default message when empty. An unknown name is a 400 Sender error
// with that code in both protocols.
Error MakeError(std::string_view code, std::string message = {});

// JSON protocol: {"__type":"com.amazonaws.sqs#<code>","message":...}.
std::string JsonErrorBody(const Error& error);
// The x-amzn-query-error header value: "<query_code>;Sender|Receiver".
std::string QueryErrorHeader(const Error& error);

// The inverse, for clients: the error of a JSON-protocol answer with HTTP `status`. The code
// is __type's part after '#' (SDKs also accept a bare name), query_code and the fault come
// from `query_error_header` when it is there ("" if absent), the message from "message" or
// "Message". A body that is not JSON gives code "InternalFailure" with the raw text (cut).
Error ErrorFromJsonResponse(int status, std::string_view query_error_header, std::string_view body);

}  // namespace thumbpipe::sqs
