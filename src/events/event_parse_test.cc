#include "events/event_parse.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace thumbpipe::events {
namespace {

// Sample bodies in the formats each service documents (values changed, shapes kept).

// Amazon S3 -> SQS (user guide, "Event message structure").
constexpr std::string_view kAws = R"({"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-west-2",
"eventTime":"2024-05-01T10:20:30.456Z","eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AWS:AIDAEXAMPLE"},
"requestParameters":{"sourceIPAddress":"203.0.113.9"},"responseElements":{"x-amz-request-id":"C3D13FE58DE4C810",
"x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},"s3":{"s3SchemaVersion":"1.0",
"configurationId":"thumbs","bucket":{"name":"images","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},
"arn":"arn:aws:s3:::images"},"object":{"key":"uploads/red+flower+%281%29.jpg","size":52311,
"eTag":"9b2cf535f27731c974343645a3985328","versionId":"096fKKXTRTtl3on89fVO.nfljtsv6qko","sequencer":"0055AED6DCD90281E5"}}}]})";

// MinIO AMQP/webhook body: the {EventName, Key, Records} wrapper around a 2.0 record.
constexpr std::string_view kMinio = R"({"EventName":"s3:ObjectCreated:Put","Key":"images/uploads/hello world.jpg",
"Records":[{"eventVersion":"2.0","eventSource":"minio:s3","awsRegion":"","eventTime":"2019-10-22T09:27:27Z",
"eventName":"s3:ObjectCreated:Put","userIdentity":{"principalId":"minioadmin"},"requestParameters":{"region":"",
"sourceIPAddress":"172.16.118.255","accessKey":"minioadmin"},"responseElements":{"x-amz-request-id":"15CFEDF8D4736ED9",
"x-minio-origin-endpoint":"http://172.17.0.2:9000","x-minio-deployment-id":"0170a4cc-dca6-4e72-86f1-c0cc760dff7f"},
"s3":{"s3SchemaVersion":"1.0","configurationId":"Config","bucket":{"name":"images","ownerIdentity":
{"principalId":"minioadmin"},"arn":"arn:aws:s3:::images"},"object":{"key":"uploads%2Fhello+world.jpg","size":224662,
"eTag":"5fc7298143efe1276d39a3466d4e255f-1","contentType":"image/jpeg","userMetadata":{"content-type":"image/jpeg"},
"versionId":"1","sequencer":"15CFEDF8D5304D1A"}},"source":{"host":"172.16.118.255","port":"",
"userAgent":"MinIO (linux; amd64) minio-go/v7.0.70"}}]})";

// MinIO delete: size and eTag omitted (omitempty).
constexpr std::string_view kMinioDelete = R"({"EventName":"s3:ObjectRemoved:Delete","Key":"images/a.jpg","Records":[
{"eventVersion":"2.0","eventSource":"minio:s3","awsRegion":"","eventTime":"2024-01-02T03:04:05.678Z",
"eventName":"s3:ObjectRemoved:Delete","userIdentity":{"principalId":"minioadmin"},"requestParameters":{},
"responseElements":{},"s3":{"s3SchemaVersion":"1.0","configurationId":"Config","bucket":{"name":"images",
"ownerIdentity":{"principalId":"minioadmin"},"arn":"arn:aws:s3:::images"},"object":{"key":"a.jpg",
"sequencer":"17A6B2C3D4E5F601"}},"source":{"host":"","port":"","userAgent":""}}]})";

// Ceph RGW (doc/radosgw/notifications.rst): size as a string, raw key, bucket id, metadata,
// tags, eventId, opaqueData; eventVersion 2.2 as recent releases send.
constexpr std::string_view kCeph = R"({"Records":[{"eventVersion":"2.2","eventSource":"ceph:s3","awsRegion":"default",
"eventTime":"2019-11-22T13:47:35.124724Z","eventName":"ObjectCreated:Put","userIdentity":{"principalId":"tester"},
"requestParameters":{"sourceIPAddress":""},"responseElements":{"x-amz-request-id":"503a4c37-85eb-47cd-8681-2817e80b4281.5330.903595",
"x-amz-id-2":"14d2-zone1-zonegroup1"},"s3":{"s3SchemaVersion":"1.0","configurationId":"mynotif1","bucket":
{"name":"images","ownerIdentity":{"principalId":"tester"},"arn":"arn:aws:s3:default::images",
"id":"503a4c37-85eb-47cd-8681-2817e80b4281.5332.38"},"object":{"key":"uploads/c++ notes 100%.png","size":"1024",
"eTag":"37b51d194a7513e45b56f6524f2d51f2","versionId":"","sequencer":"F7E6D75DC742D108","metadata":[],"tags":[]}},
"eventId":"1574430455.124724.37b51d194a7513e45b56f6524f2d51f2","opaqueData":"me@example.com"}]})";

// Amazon S3's test message (no Records).
constexpr std::string_view kTestEvent = R"({"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2014-10-13T15:57:02.089Z",
"Bucket":"images","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"})";

// An SNS envelope (S3 -> SNS -> SQS without raw message delivery) around `inner`.
std::string Sns(std::string_view inner) {
  nlohmann::ordered_json j;
  j["Type"] = "Notification";
  j["MessageId"] = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324";
  j["TopicArn"] = "arn:aws:sns:us-west-2:123456789012:s3-events";
  j["Subject"] = "Amazon S3 Notification";
  j["Message"] = std::string(inner);
  j["Timestamp"] = "2024-05-01T10:20:30.500Z";
  j["SignatureVersion"] = "1";
  j["Signature"] = "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=";
  j["SigningCertURL"] = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem";
  j["UnsubscribeURL"] = "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:s3-events:1";
  return j.dump();
}

TEST(ParseEventBody, AwsRecord) {
  auto parsed = ParseEventBody(kAws);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_FALSE(parsed->test_event);
  ASSERT_EQ(parsed->records.size(), 1u);
  const EventRecord& r = parsed->records[0];
  EXPECT_EQ(r.source, EventSource::kAws);
  EXPECT_EQ(r.event_version, "2.1");
  EXPECT_EQ(r.event_name, "ObjectCreated:Put");
  EXPECT_TRUE(r.created());
  EXPECT_EQ(r.bucket, "images");
  EXPECT_EQ(r.key, "uploads/red flower (1).jpg");
  EXPECT_EQ(r.size, 52311u);
  EXPECT_EQ(r.etag, "9b2cf535f27731c974343645a3985328");
  EXPECT_EQ(r.sequencer, "0055AED6DCD90281E5");
  EXPECT_EQ(r.version_id, "096fKKXTRTtl3on89fVO.nfljtsv6qko");
  EXPECT_EQ(r.configuration_id, "thumbs");
  EXPECT_EQ(r.event_time, "2024-05-01T10:20:30.456Z");
  ASSERT_TRUE(r.time.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(r.time->time_since_epoch()).count(),
            1'714'558'830'456);
}

TEST(ParseEventBody, MinioWrapperWithPrefixedEventNameAndEncodedSlash) {
  auto parsed = ParseEventBody(kMinio);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->records.size(), 1u);
  const EventRecord& r = parsed->records[0];
  EXPECT_EQ(r.source, EventSource::kMinio);
  EXPECT_EQ(r.event_version, "2.0");
  EXPECT_EQ(r.event_name, "ObjectCreated:Put");
  EXPECT_EQ(r.key, "uploads/hello world.jpg");
  EXPECT_EQ(r.size, 224662u);
  EXPECT_EQ(r.etag, "5fc7298143efe1276d39a3466d4e255f-1");
  ASSERT_TRUE(r.time.has_value());
}

TEST(ParseEventBody, MinioDeleteWithoutSizeOrETag) {
  auto parsed = ParseEventBody(kMinioDelete);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const EventRecord& r = parsed->records[0];
  EXPECT_TRUE(r.removed());
  EXPECT_EQ(r.event_name, "ObjectRemoved:Delete");
  EXPECT_FALSE(r.size.has_value());
  EXPECT_EQ(r.etag, "");
}

TEST(ParseEventBody, CephRecordWithStringSizeRawKeyAndOpaqueData) {
  auto parsed = ParseEventBody(kCeph);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const EventRecord& r = parsed->records[0];
  EXPECT_EQ(r.source, EventSource::kCeph);
  EXPECT_EQ(r.event_version, "2.2");
  EXPECT_EQ(r.key, "uploads/c++ notes 100%.png");
  EXPECT_EQ(r.size, 1024u);
  EXPECT_EQ(r.opaque_data, "me@example.com");
  EXPECT_EQ(r.sequencer, "F7E6D75DC742D108");
  ASSERT_TRUE(r.time.has_value());
}

TEST(ParseEventBody, TestEvent) {
  auto parsed = ParseEventBody(kTestEvent);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->test_event);
  EXPECT_EQ(parsed->test_bucket, "images");
  EXPECT_TRUE(parsed->records.empty());
}

TEST(ParseEventBody, SnsEnvelopeAroundEveryFormat) {
  for (std::string_view inner : {kAws, kMinio, kCeph, kTestEvent}) {
    auto direct = ParseEventBody(inner);
    auto wrapped = ParseEventBody(Sns(inner));
    ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
    ASSERT_TRUE(direct.ok());
    EXPECT_EQ(wrapped->test_event, direct->test_event);
    ASSERT_EQ(wrapped->records.size(), direct->records.size());
    for (size_t i = 0; i < direct->records.size(); ++i) EXPECT_EQ(wrapped->records[i].key, direct->records[i].key);
  }
}

TEST(ParseEventBody, SnsInsideSnsIsRefused) {
  auto parsed = ParseEventBody(Sns(Sns(kAws)));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
}

void ExpectInvalid(std::string_view body, std::string_view mentions) {
  auto parsed = ParseEventBody(body);
  ASSERT_FALSE(parsed.ok()) << body;
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find(mentions), std::string::npos) << parsed.status().message();
}

TEST(ParseEventBody, BadInputIsInvalidArgumentNamingTheProblem) {
  ExpectInvalid("", "not valid JSON");
  ExpectInvalid("{\"Records\":[", "not valid JSON");
  ExpectInvalid("[1,2]", "not a JSON object");
  ExpectInvalid("\"Records\"", "not a JSON object");
  ExpectInvalid("{}", "neither Records nor an s3:TestEvent");
  ExpectInvalid(R"({"Records":{}})", "Records: not an array");
  ExpectInvalid(R"({"Records":[]})", "Records: empty");
  ExpectInvalid(R"({"Records":[7]})", "Records[0]: not an object");
  ExpectInvalid(R"({"Records":[{"eventName":"ObjectCreated:Put"}]})", "Records[0].eventVersion: missing");
  ExpectInvalid(R"({"Records":[{"eventVersion":"1.0","eventName":"x","s3":{}}]})", "unsupported version");
  ExpectInvalid(R"({"Records":[{"eventVersion":"2.1","eventName":"ObjectCreated:Put"}]})", "Records[0].s3: missing");
  ExpectInvalid(R"({"Records":[{"eventVersion":"2.1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{}}}]})",
                "Records[0].s3.object.key: missing");
  ExpectInvalid(R"({"Records":[{"eventVersion":"2.1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":5}}}]})",
                "key: not a string");
  ExpectInvalid(R"({"Records":[{"eventVersion":"2.1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a%zz"}}}]})",
                "bad %-escape");
  ExpectInvalid(R"({"Records":[{"eventVersion":"2.1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":-1}}}]})",
                "size: negative");
  ExpectInvalid(R"({"Records":[{"eventVersion":"2.1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":"12x"}}}]})",
                "not a byte count");
  ExpectInvalid(R"({"Type":"Notification","Message":42})", "Message missing or not a string");
  ExpectInvalid(R"({"Type":"Notification","Message":"not json"})", "SNS Message: not valid JSON");
}

TEST(ParseEventBody, LimitsOnBodySizeAndRecordCount) {
  ParseLimits limits;
  limits.max_body_bytes = 100;
  ExpectInvalid(std::string(200, ' '), "");
  EXPECT_FALSE(ParseEventBody(kAws, limits).ok());

  nlohmann::json many = nlohmann::json::parse(kAws);
  nlohmann::json record = many["Records"][0];
  for (int i = 0; i < 100; ++i) many["Records"].push_back(record);
  auto parsed = ParseEventBody(many.dump());
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("more than the limit of 100"), std::string::npos);
}

TEST(ParseEventBody, DeepNestingDoesNotCrash) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  ExpectInvalid(deep, "not a JSON object");
  const std::string deep_record = R"({"Records":[)" + std::string(50000, '[') + std::string(50000, ']') + "]}";
  ExpectInvalid(deep_record, "Records[0]: not an object");
}

TEST(ParseEventBody, AnUnusableEventTimeIsKeptAsTextOnly) {
  for (std::string_view t : {"0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "2024-13-01T00:00:00Z", "yesterday"}) {
    std::string body(kAws);
    body.replace(body.find("2024-05-01T10:20:30.456Z"), 24, t);
    auto parsed = ParseEventBody(body);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->records[0].event_time, t);
    EXPECT_FALSE(parsed->records[0].time.has_value()) << t;
  }
}

TEST(CompareSequencers, PadsTheShorterWithZeros) {
  EXPECT_EQ(CompareSequencers("0055AED6DCD90281E5", "55AED6DCD90281E5"), 0);
  EXPECT_LT(CompareSequencers("FF", "0100"), 0);
  EXPECT_GT(CompareSequencers("1000", "0FFF"), 0);
}

}  // namespace
}  // namespace thumbpipe::events
