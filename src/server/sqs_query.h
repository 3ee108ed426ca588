// The SQS query protocol (form-encoded `Action=...&Version=2012-11-05` in, XML out), mapped
// onto the JSON shape of sqs_wire.h. This is what Debian's aws-cli 2.9 and boto3 1.26 speak;
// current SDKs speak JSON. Pure functions, thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "server/sqs_wire.h"

namespace thumbpipe::sqs {

// The decoded form parameters of a query request (name -> value) in the JSON shape: flattened
// lists ("AttributeName.1") become arrays in index order, "Attribute.N.Name/Value" and
// "Tag.N.Key/Value" maps, "MessageAttribute.N.{Name,Value.DataType,...}" a map of
// {DataType, StringValue|BinaryValue}, "<Op>RequestEntry.N.*" the "Entries" array, and the
// numeric members (MaxNumberOfMessages, VisibilityTimeout, ...) numbers when they parse as
// such (else they stay strings, for the handler to reject). "Action" and "Version" stay.
// kInvalidArgument for a malformed index ("AttributeName.x") or a name used both as a value
// and as a structure.
Result<nlohmann::json> QueryParamsToJson(const std::map<std::string, std::string, std::less<>>& params);

// The XML answer of `action` for a result in the JSON shape, as SQS's query protocol sends it:
// <ActionResponse xmlns=...><ActionResult>...</ActionResult><ResponseMetadata><RequestId/>
// </ResponseMetadata></ActionResponse>. Maps and lists are flattened as the API model says
// (Attribute/Name/Value, MessageAttribute, Message, QueueUrl, <Op>ResultEntry, ...).
std::string QueryResponseXml(std::string_view action, const nlohmann::json& result,
                             std::string_view request_id);

// <ErrorResponse xmlns=...><Error><Type>Sender</Type><Code/><Message/><Detail/></Error>
// <RequestId/></ErrorResponse>.
std::string QueryErrorXml(const Error& error, std::string_view request_id);

}  // namespace thumbpipe::sqs
