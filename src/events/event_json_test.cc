#include "events/event_json.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "events/event_parse.h"

namespace thumbpipe::events {
namespace {

using OrderedJson = nlohmann::ordered_json;

// Amazon S3's own example of an ObjectCreated:Put record (Amazon S3 user guide, "Event message
// structure"), with the key changed to show the encoding, as in ../shared/reference/queue-s3.md.
constexpr std::string_view kAwsSample = R"({"Records":[{
  "eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-west-2",
  "eventTime":"1970-01-01T00:00:00.000Z","eventName":"ObjectCreated:Put",
  "userIdentity":{"principalId":"AIDAJDPLRKLG7UEXAMPLE"},
  "requestParameters":{"sourceIPAddress":"127.0.0.1"},
  "responseElements":{"x-amz-request-id":"C3D13FE58DE4C810",
                      "x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
  "s3":{"s3SchemaVersion":"1.0","configurationId":"testConfigRule",
    "bucket":{"name":"mybucket","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},
              "arn":"arn:aws:s3:::mybucket"},
    "object":{"key":"uploads/red+flower.jpg","size":1024,
              "eTag":"d41d8cd98f00b204e9800998ecf8427e",
              "versionId":"096fKKXTRTtl3on89fVO.nfljtsv6qko","sequencer":"0055AED6DCD90281E5"}}}]})";

store::WriteRecord SampleWrite() {
  store::WriteRecord w;
  w.kind = store::WriteKind::kPut;
  w.object.bucket = "mybucket";
  w.object.key = "uploads/red flower.jpg";
  w.object.size = 1024;
  w.object.etag = "d41d8cd98f00b204e9800998ecf8427e";
  w.object.last_modified = Clock::time_point{};  // 1970-01-01T00:00:00.000Z
  w.object.version = 0x55AED6DCD90281E5ull;
  w.context.request_id = "C3D13FE58DE4C810";
  w.context.host_id = "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD";
  w.context.principal_id = "AIDAJDPLRKLG7UEXAMPLE";
  w.context.source_ip = "127.0.0.1";
  return w;
}

EventContext SampleContext() {
  EventContext c;
  c.bucket_region = "us-west-2";
  c.configuration_id = "testConfigRule";
  c.owner_principal = "A3NL1KOZZKExample";
  return c;
}

// Compares two JSON values member by member, in order, naming the path of the first mismatch.
void ExpectSameShape(const OrderedJson& ours, const OrderedJson& aws, const std::string& path) {
  ASSERT_EQ(ours.type_name(), std::string(aws.type_name())) << path;
  if (aws.is_object()) {
    std::vector<std::string> ours_keys, aws_keys;
    for (auto it = ours.begin(); it != ours.end(); ++it) ours_keys.push_back(it.key());
    for (auto it = aws.begin(); it != aws.end(); ++it) aws_keys.push_back(it.key());
    ASSERT_EQ(ours_keys, aws_keys) << "member names or order differ at " << path;
    for (const std::string& k : aws_keys) ExpectSameShape(ours[k], aws[k], path + "." + k);
  } else if (aws.is_array()) {
    ASSERT_EQ(ours.size(), aws.size()) << path;
    for (size_t i = 0; i < aws.size(); ++i) ExpectSameShape(ours[i], aws[i], path + "[" + std::to_string(i) + "]");
  } else if (path.ends_with(".sequencer")) {
    // Ours is 16 digits, AWS's example 18: S3 says to compare them zero-padded.
    EXPECT_EQ(CompareSequencers(ours.get<std::string>(), aws.get<std::string>()), 0) << path;
  } else {
    EXPECT_EQ(ours, aws) << path;
  }
}

TEST(EncodeEventBody, MatchesTheAwsSampleFieldByField) {
  OrderedJson aws = OrderedJson::parse(kAwsSample);
  // The sample is from a versioned bucket; the embedded store has no versioning.
  aws["Records"][0]["s3"]["object"].erase("versionId");
  const OrderedJson ours = OrderedJson::parse(EncodeEventBody(SampleWrite(), SampleContext()));
  ExpectSameShape(ours, aws, "$");
}

TEST(EncodeEventBody, IsCompactJsonWithSizeAsNumber) {
  const std::string body = EncodeEventBody(SampleWrite(), SampleContext());
  EXPECT_TRUE(body.starts_with(R"({"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-west-2",)"))
      << body;
  EXPECT_NE(body.find(R"("object":{"key":"uploads/red+flower.jpg","size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e","sequencer":"55AED6DCD90281E5"})"),
            std::string::npos)
      << body;
}

TEST(EncodeEventBody, EventNamesForEveryWriteKind) {
  EXPECT_EQ(EventName(store::WriteKind::kPut), "ObjectCreated:Put");
  EXPECT_EQ(EventName(store::WriteKind::kPost), "ObjectCreated:Post");
  EXPECT_EQ(EventName(store::WriteKind::kCopy), "ObjectCreated:Copy");
  EXPECT_EQ(EventName(store::WriteKind::kCompleteMultipartUpload), "ObjectCreated:CompleteMultipartUpload");
  EXPECT_EQ(EventName(store::WriteKind::kDelete), "ObjectRemoved:Delete");
}

TEST(EncodeEventBody, DeleteHasNoSizeNorETagAndUsesTheFallbackTime) {
  store::WriteRecord w = SampleWrite();
  w.kind = store::WriteKind::kDelete;
  EventContext c = SampleContext();
  c.fallback_time = Clock::time_point{std::chrono::milliseconds(1'700'000'000'123)};
  const OrderedJson j = OrderedJson::parse(EncodeEventBody(w, c));
  const OrderedJson& object = j["Records"][0]["s3"]["object"];
  EXPECT_EQ(object.dump(), R"({"key":"uploads/red+flower.jpg","sequencer":"55AED6DCD90281E5"})");
  EXPECT_EQ(j["Records"][0]["eventName"], "ObjectRemoved:Delete");
  EXPECT_EQ(j["Records"][0]["eventTime"], "2023-11-14T22:13:20.123Z");
}

TEST(EncodeEventBody, EmptyContextGetsLocalDefaults) {
  store::WriteRecord w = SampleWrite();
  w.context = {};
  const OrderedJson j = OrderedJson::parse(EncodeEventBody(w, SampleContext()));
  EXPECT_EQ(j["Records"][0]["userIdentity"]["principalId"], "thumbpipe");
  EXPECT_EQ(j["Records"][0]["requestParameters"]["sourceIPAddress"], "127.0.0.1");
  EXPECT_EQ(j["Records"][0]["responseElements"]["x-amz-request-id"], "55AED6DCD90281E5");
}

TEST(Sequencer, FixedWidthUpperCaseHexSortsLikeVersions) {
  EXPECT_EQ(Sequencer(0), "0000000000000000");
  EXPECT_EQ(Sequencer(255), "00000000000000FF");
  EXPECT_LT(Sequencer(9), Sequencer(10));
  EXPECT_LT(Sequencer(0xFFF), Sequencer(0x1000));
  EXPECT_LT(Sequencer(0xFFFFFFFFFFFFFFFEull), Sequencer(0xFFFFFFFFFFFFFFFFull));
}

TEST(FormatEventTime, MillisecondsAndZ) {
  EXPECT_EQ(FormatEventTime(Clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatEventTime(Clock::time_point{std::chrono::microseconds(1'414'907'822'089'999)}),
            "2014-11-02T05:57:02.089Z");
}

TEST(EncodeTestEvent, MatchesTheAwsTestMessage) {
  const std::string body = EncodeTestEvent("bucketname", "5582815E1AEA5ADF",
                                           "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
                                           Clock::time_point{std::chrono::milliseconds(1'413'215'822'089)});
  EXPECT_EQ(body,
            R"({"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2014-10-13T15:57:02.089Z","Bucket":"bucketname",)"
            R"("RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"})");
}

TEST(EncodeEventBody, RoundTripsThroughTheParser) {
  for (std::string key : {std::string("uploads/red flower.jpg"), std::string("a+b%c/../d"), std::string("été/猫 (1).png")}) {
    store::WriteRecord w = SampleWrite();
    w.object.key = key;
    auto parsed = ParseEventBody(EncodeEventBody(w, SampleContext()));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    ASSERT_EQ(parsed->records.size(), 1u);
    EXPECT_EQ(parsed->records[0].key, key);
    EXPECT_EQ(parsed->records[0].size, 1024u);
    EXPECT_EQ(parsed->records[0].sequencer, "55AED6DCD90281E5");
  }
}

}  // namespace
}  // namespace thumbpipe::events
