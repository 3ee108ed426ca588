// The SQS wire pieces without a server: digests, message attributes, the query protocol's
// decoding into the JSON shape and its XML answers, errors in both protocols.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/s3_router.h"
#include "server/sqs_query.h"
#include "server/sqs_wire.h"

namespace thumbpipe::sqs {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TEST(SqsMd5, BodyIsHexMd5) {
  EXPECT_EQ(Md5OfBody("hello"), "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(Md5OfBody(""), "d41d8cd98f00b204e9800998ecf8427e");
}

// Expected digests computed by an independent implementation of queue-s3.md 1.8 (Python:
// struct.pack('>I', len) framing, sorted names, transport byte; the sqs_boto3 test checks
// the server's answers with that implementation too). The reference has no worked example.
TEST(SqsMd5, AttributesAsAwsComputesThem) {
  queue::Attributes a;
  a["Population"] = {"Number", "1250800"};
  a["City"] = {"String", "Any City"};
  EXPECT_EQ(Md5OfAttributes(a), "bf1eb494fecc925abadc71de4be9785c");

  queue::Attributes b;
  b["bin"] = {"Binary.png", std::string("\x00\x01\xff", 3)};  // transport type 2 by the "Binary" prefix
  b["a"] = {"String", "x"};
  EXPECT_EQ(Md5OfAttributes(b), "f579fc9a1e373ee638feb7c6dbdbdb3d");
  EXPECT_EQ(Md5OfAttributes({}), "");
}

TEST(SqsAttributes, JsonRoundTripAndFilter) {
  const json j = json::parse(R"({"a":{"DataType":"String","StringValue":"x"},
                                "b.c":{"DataType":"Binary","BinaryValue":"AAH/"}})");
  Result<queue::Attributes> a = AttributesFromJson(j);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->at("b.c").value, std::string("\x00\x01\xff", 3));
  EXPECT_EQ(AttributesToJson(*a), j);
  EXPECT_EQ(AttributesToJson(*a, json::array({"b.*"})).size(), 1u);
  EXPECT_EQ(AttributesToJson(*a, json::array({"a"})).size(), 1u);
  EXPECT_TRUE(AttributesToJson(*a, json::array()).empty());
}

TEST(SqsAttributes, BadShapesAreErrors) {
  for (const char* bad : {R"([1])", R"({"a":1})", R"({"a":{"StringValue":"x"}})",
                          R"({"a":{"DataType":"Binary","BinaryValue":"***"}})",
                          R"({"a":{"DataType":"String"}})",
                          R"({"a":{"DataType":"String","StringListValues":["x"]}})"}) {
    EXPECT_FALSE(AttributesFromJson(json::parse(bad)).ok()) << bad;
  }
}

json Decode(std::string_view form) {
  Result<json> j = QueryParamsToJson(server::ParseQuery(form));
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return j.ok() ? *j : json();
}

TEST(SqsQuery, FlattenedParametersBecomeTheJsonShape) {
  const json j = Decode(
      "Action=ReceiveMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Fq"
      "&MaxNumberOfMessages=10&WaitTimeSeconds=20&AttributeName.2=SentTimestamp&AttributeName.1=All"
      "&MessageAttributeName.1=All");
  EXPECT_EQ(j["Action"], "ReceiveMessage");
  EXPECT_EQ(j["QueueUrl"], "http://h/000000000000/q");
  EXPECT_EQ(j["MaxNumberOfMessages"], 10);
  EXPECT_EQ(j["WaitTimeSeconds"], 20);
  EXPECT_EQ(j["AttributeNames"], json::array({"All", "SentTimestamp"}));
  EXPECT_EQ(j["MessageAttributeNames"], json::array({"All"}));
}

TEST(SqsQuery, MapsAttributesAndBatchEntries) {
  const json j = Decode(
      "Action=SendMessageBatch&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=x+y"
      "&SendMessageBatchRequestEntry.1.DelaySeconds=5"
      "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=k"
      "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String"
      "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v"
      "&SendMessageBatchRequestEntry.10.Id=b&SendMessageBatchRequestEntry.10.MessageBody=z"
      "&SendMessageBatchRequestEntry.2.Id=c&SendMessageBatchRequestEntry.2.MessageBody=w");
  ASSERT_EQ(j["Entries"].size(), 3u);
  EXPECT_EQ(j["Entries"][0]["MessageBody"], "x y");
  EXPECT_EQ(j["Entries"][0]["DelaySeconds"], 5);
  EXPECT_EQ(j["Entries"][0]["MessageAttributes"]["k"], json({{"DataType", "String"}, {"StringValue", "v"}}));
  EXPECT_EQ(j["Entries"][1]["Id"], "c");  // numeric order: 1, 2, 10
  EXPECT_EQ(j["Entries"][2]["Id"], "b");

  const json create = Decode("Action=CreateQueue&QueueName=q&Attribute.1.Name=VisibilityTimeout"
                             "&Attribute.1.Value=40&Attribute.2.Name=RedrivePolicy&Attribute.2.Value=%7B%7D");
  EXPECT_EQ(create["Attributes"], json({{"VisibilityTimeout", "40"}, {"RedrivePolicy", "{}"}}));
}

TEST(SqsQuery, MalformedNamesAreErrors) {
  for (const char* bad : {"AttributeName.x=All", "AttributeName.0=All", "A=1&A.b=2", "A..b=1",
                          "Attribute.1.Name=x", "SendMessageBatchRequestEntry.1=x"}) {
    EXPECT_FALSE(QueryParamsToJson(server::ParseQuery(bad)).ok()) << bad;
  }
  // A number member that is not a number stays a string, for the handler to reject.
  EXPECT_TRUE(Decode("MaxNumberOfMessages=ten")["MaxNumberOfMessages"].is_string());
}

TEST(SqsQuery, XmlAnswerFlattensAsTheModelSays) {
  const json result = {{"Messages",
                        {{{"MessageId", "m"}, {"ReceiptHandle", "r"}, {"Body", "a<b\r\n"},
                          {"Attributes", {{"ApproximateReceiveCount", "2"}}},
                          {"MessageAttributes", {{"k", {{"DataType", "String"}, {"StringValue", "v"}}}}}}}}};
  const std::string xml = QueryResponseXml("ReceiveMessage", result, "req-1");
  EXPECT_THAT(xml, HasSubstr("<ReceiveMessageResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">"
                             "<ReceiveMessageResult><Message>"));
  EXPECT_THAT(xml, HasSubstr("<Body>a&lt;b&#13;\n</Body>"));
  EXPECT_THAT(xml, HasSubstr("<Attribute><Name>ApproximateReceiveCount</Name><Value>2</Value></Attribute>"));
  EXPECT_THAT(xml, HasSubstr("<MessageAttribute><Name>k</Name><Value><DataType>String</DataType>"
                             "<StringValue>v</StringValue></Value></MessageAttribute>"));
  EXPECT_THAT(xml, HasSubstr("<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>"));

  const std::string batch = QueryResponseXml(
      "DeleteMessageBatch", {{"Successful", {{{"Id", "a"}}}}, {"Failed", {{{"Id", "b"}, {"SenderFault", true}}}}}, "x");
  EXPECT_THAT(batch, HasSubstr("<DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>"));
  EXPECT_THAT(batch, HasSubstr("<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault>"));
  const std::string list = QueryResponseXml("ListQueues", {{"QueueUrls", {"u1", "u2"}}}, "x");
  EXPECT_THAT(list, HasSubstr("<ListQueuesResult><QueueUrl>u1</QueueUrl><QueueUrl>u2</QueueUrl></ListQueuesResult>"));
}

TEST(SqsErrors, BothProtocols) {
  const Error e = MakeError("QueueDoesNotExist");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(JsonErrorBody(e),
            R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."})");
  EXPECT_EQ(QueryErrorHeader(e), "AWS.SimpleQueueService.NonExistentQueue;Sender");
  EXPECT_THAT(QueryErrorXml(e, "r"),
              HasSubstr("<Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>"));
  EXPECT_EQ(QueryErrorHeader(MakeError("InternalFailure")), "InternalFailure;Receiver");
  EXPECT_EQ(MakeError("TooManyEntriesInBatchRequest").query_code, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest");
  // A client reads both back.
  const Error back = ErrorFromJsonResponse(400, QueryErrorHeader(e), JsonErrorBody(e));
  EXPECT_EQ(back.code, "QueueDoesNotExist");
  EXPECT_EQ(back.query_code, "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_TRUE(back.sender);
  EXPECT_EQ(back.message, e.message);
  EXPECT_EQ(ErrorFromJsonResponse(503, "", "<html>").code, "InternalFailure");
  // Invalid UTF-8 in a message (quoting the client) is replaced, never thrown.
  EXPECT_THAT(JsonErrorBody(MakeError("InvalidParameterValue", "bad \xff")), HasSubstr("bad "));
}

}  // namespace
}  // namespace thumbpipe::sqs
