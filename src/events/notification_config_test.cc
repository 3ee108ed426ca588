#include "events/notification_config.h"

#include <gtest/gtest.h>

namespace thumbpipe::events {
namespace {

constexpr std::string_view kQueueArn = "arn:aws:sqs:us-east-1:000000000000:thumbnails";

// What `aws s3api put-bucket-notification-configuration` sends for one queue with filters.
constexpr std::string_view kAwsCliDocument =
    R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><QueueConfiguration>)"
    R"(<Id>thumbs</Id><Queue>arn:aws:sqs:us-east-1:000000000000:thumbnails</Queue><Event>s3:ObjectCreated:*</Event>)"
    R"(<Filter><S3Key><FilterRule><Name>prefix</Name><Value>uploads/</Value></FilterRule>)"
    R"(<FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter></QueueConfiguration>)"
    R"(</NotificationConfiguration>)";

bool AcceptQueues(DestinationKind kind, std::string_view arn) {
  return kind == DestinationKind::kQueue && arn.starts_with("arn:aws:sqs:us-east-1:000000000000:");
}

DestinationConfig Queue(std::string id, std::vector<std::string> events, std::optional<std::string> prefix = {},
                        std::optional<std::string> suffix = {}) {
  DestinationConfig d;
  d.id = std::move(id);
  d.arn = std::string(kQueueArn);
  d.events = std::move(events);
  d.prefix = std::move(prefix);
  d.suffix = std::move(suffix);
  return d;
}

void ExpectError(const Status& s, std::string_view code, std::string_view message_part) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(S3ErrorCode(s), code) << s.message();
  EXPECT_NE(S3ErrorMessage(s).find(message_part), std::string_view::npos) << s.message();
}

TEST(ParseNotificationXml, ReadsTheAwsCliDocument) {
  auto config = ParseNotificationXml(kAwsCliDocument);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->destinations.size(), 1u);
  const DestinationConfig& d = config->destinations[0];
  EXPECT_EQ(d.kind, DestinationKind::kQueue);
  EXPECT_EQ(d.id, "thumbs");
  EXPECT_EQ(d.arn, kQueueArn);
  EXPECT_EQ(d.events, std::vector<std::string>{"s3:ObjectCreated:*"});
  EXPECT_EQ(d.prefix, "uploads/");
  EXPECT_EQ(d.suffix, ".jpg");
  EXPECT_FALSE(config->event_bridge);
}

TEST(ParseNotificationXml, EveryKindAndNoNamespace) {
  auto config = ParseNotificationXml(
      "<?xml version=\"1.0\"?>\n<NotificationConfiguration>\n"
      "  <TopicConfiguration><Topic>arn:aws:sns:us-east-1:123456789012:t</Topic><Event>s3:ObjectRemoved:*</Event></TopicConfiguration>\n"
      "  <CloudFunctionConfiguration><CloudFunction>arn:aws:lambda:us-east-1:123456789012:function:f</CloudFunction>"
      "<Event>s3:ObjectCreated:Copy</Event></CloudFunctionConfiguration>\n"
      "  <EventBridgeConfiguration/>\n</NotificationConfiguration>");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->destinations.size(), 2u);
  EXPECT_EQ(config->destinations[0].kind, DestinationKind::kTopic);
  EXPECT_EQ(config->destinations[1].kind, DestinationKind::kCloudFunction);
  EXPECT_EQ(config->destinations[1].arn, "arn:aws:lambda:us-east-1:123456789012:function:f");
  EXPECT_TRUE(config->event_bridge);
}

TEST(ParseNotificationXml, EmptyConfigurationTurnsNotificationsOff) {
  auto config = ParseNotificationXml(R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>)");
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->empty());
}

TEST(ParseNotificationXml, RoundTrip) {
  NotificationConfiguration config;
  config.destinations.push_back(Queue("a", {"s3:ObjectCreated:Put", "s3:ObjectRemoved:*"}, "in/<&>\"'", " .jpg"));
  config.destinations.push_back(Queue("b", {"s3:ObjectCreated:Copy"}));
  DestinationConfig topic;
  topic.kind = DestinationKind::kTopic;
  topic.id = "t";
  topic.arn = "arn:aws:sns:us-east-1:1:t";
  topic.events = {"s3:ObjectRestore:Completed"};
  topic.suffix = "été";
  config.destinations.push_back(topic);
  config.event_bridge = true;
  const std::string xml = ToNotificationXml(config);
  EXPECT_TRUE(xml.starts_with(R"(<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><QueueConfiguration><Id>a</Id><Queue>)"))
      << xml;
  EXPECT_NE(xml.find("<Name>Prefix</Name>"), std::string::npos);
  auto back = ParseNotificationXml(xml);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, config);
  EXPECT_EQ(ToNotificationXml(*back), xml);
}

TEST(ParseNotificationXml, MalformedDocuments) {
  for (std::string_view bad : {
           std::string_view(""),
           std::string_view("   "),
           std::string_view("<NotificationConfiguration>"),
           std::string_view("not xml"),
           std::string_view("<Other/>"),
           std::string_view("<NotificationConfiguration><Bogus/></NotificationConfiguration>"),
           std::string_view("<NotificationConfiguration>text</NotificationConfiguration>"),
           std::string_view("<NotificationConfiguration><QueueConfiguration><Event>s3:ObjectCreated:*</Event>"
                            "</QueueConfiguration></NotificationConfiguration>"),
           std::string_view("<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:r:1:q</Queue>"
                            "</QueueConfiguration></NotificationConfiguration>"),
           std::string_view("<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:r:1:q</Queue>"
                            "<Queue>arn:aws:sqs:r:1:q</Queue><Event>s3:ObjectCreated:*</Event>"
                            "</QueueConfiguration></NotificationConfiguration>"),
           std::string_view("<NotificationConfiguration><QueueConfiguration><Topic>arn:aws:sns:r:1:t</Topic>"
                            "<Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>"),
           std::string_view("<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:r:1:q</Queue>"
                            "<Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name>"
                            "</FilterRule></S3Key></Filter></QueueConfiguration></NotificationConfiguration>"),
           std::string_view("<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:r:1:q</Queue>"
                            "<Event><b>x</b></Event></QueueConfiguration></NotificationConfiguration>"),
       }) {
    auto config = ParseNotificationXml(bad);
    ASSERT_FALSE(config.ok()) << bad;
    EXPECT_EQ(S3ErrorCode(config.status()), "MalformedXML") << bad << " -> " << config.status().message();
  }
}

TEST(ParseNotificationXml, DoesNotExpandEntitiesFromADoctype) {
  auto config = ParseNotificationXml(
      "<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
      "<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:r:1:q</Queue><Event>&b;</Event>"
      "</QueueConfiguration></NotificationConfiguration>");
  if (config.ok()) {
    ASSERT_EQ(config->destinations.size(), 1u);
    EXPECT_LT(config->destinations[0].events[0].size(), 10u);
  }
}

std::string WithFilter(std::string_view rules) {
  return "<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:us-east-1:000000000000:thumbnails</Queue>"
         "<Event>s3:ObjectCreated:*</Event><Filter><S3Key>" +
         std::string(rules) + "</S3Key></Filter></QueueConfiguration></NotificationConfiguration>";
}

TEST(ParseNotificationXml, FilterRuleErrorsAreInvalidArgument) {
  ExpectError(ParseNotificationXml(WithFilter("<FilterRule><Name>regex</Name><Value>x</Value></FilterRule>")).status(),
              "InvalidArgument", "filter rule name must be either prefix or suffix");
  ExpectError(ParseNotificationXml(WithFilter("<FilterRule><Name>prefix</Name><Value>a</Value></FilterRule>"
                                              "<FilterRule><Name>Prefix</Name><Value>b</Value></FilterRule>"))
                  .status(),
              "InvalidArgument", "Cannot specify more than one prefix rule in a filter.");
  ExpectError(ParseNotificationXml(WithFilter("<FilterRule><Name>suffix</Name><Value>a</Value></FilterRule>"
                                              "<FilterRule><Name>SUFFIX</Name><Value>b</Value></FilterRule>"))
                  .status(),
              "InvalidArgument", "Cannot specify more than one suffix rule in a filter.");
  ExpectError(ParseNotificationXml(WithFilter("<FilterRule><Name>prefix</Name><Value>" + std::string(1025, 'x') +
                                              "</Value></FilterRule>"))
                  .status(),
              "InvalidArgument", "longer than 1024");
  auto ok = ParseNotificationXml(WithFilter("<FilterRule><Name>PREFIX</Name><Value>" + std::string(1024, 'x') +
                                            "</Value></FilterRule>"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->destinations[0].prefix->size(), 1024u);
}

TEST(ValidateNotificationConfiguration, AcceptsAndGeneratesMissingIds) {
  NotificationConfiguration config;
  config.destinations.push_back(Queue("", {"s3:ObjectCreated:*"}, "uploads/"));
  config.destinations.push_back(Queue("", {"s3:ObjectCreated:*"}, "other/"));
  ASSERT_TRUE(ValidateNotificationConfiguration(config, AcceptQueues).ok());
  EXPECT_FALSE(config.destinations[0].id.empty());
  EXPECT_FALSE(config.destinations[1].id.empty());
  EXPECT_NE(config.destinations[0].id, config.destinations[1].id);
}

TEST(ValidateNotificationConfiguration, UnknownEvent) {
  NotificationConfiguration config;
  config.destinations.push_back(Queue("a", {"s3:ObjectCreated:Bogus"}));
  ExpectError(ValidateNotificationConfiguration(config, AcceptQueues), "InvalidArgument",
              "The event is not supported for notifications");
  config.destinations[0].events = {"ObjectCreated:Put"};  // the record form is not a configuration name
  ExpectError(ValidateNotificationConfiguration(config, AcceptQueues), "InvalidArgument", "not supported");
}

TEST(ValidateNotificationConfiguration, EventsAwsKnowsButNeverFireHereAreAccepted) {
  NotificationConfiguration config;
  config.destinations.push_back(Queue("a", {"s3:ObjectRestore:Completed", "s3:LifecycleExpiration:*",
                                            "s3:ObjectTagging:Put", "s3:ReducedRedundancyLostObject"}));
  EXPECT_TRUE(ValidateNotificationConfiguration(config, AcceptQueues).ok());
}

TEST(ValidateNotificationConfiguration, DuplicateAndLongIds) {
  NotificationConfiguration config;
  config.destinations.push_back(Queue("same", {"s3:ObjectCreated:*"}, "a/"));
  config.destinations.push_back(Queue("same", {"s3:ObjectCreated:*"}, "b/"));
  ExpectError(ValidateNotificationConfiguration(config, AcceptQueues), "InvalidArgument", "IDs must be unique");
  config.destinations.resize(1);
  config.destinations[0].id = std::string(256, 'i');
  ExpectError(ValidateNotificationConfiguration(config, AcceptQueues), "InvalidArgument", "longer than 255");
}

TEST(ValidateNotificationConfiguration, UnparsableArn) {
  NotificationConfiguration config;
  config.destinations.push_back(Queue("a", {"s3:ObjectCreated:*"}));
  config.destinations[0].arn = "thumbnails";
  ExpectError(ValidateNotificationConfiguration(config, AcceptQueues), "InvalidArgument", "The ARN could not be parsed");
  config.destinations[0].arn = "arn:aws:sns:us-east-1:1:topic";  // a topic ARN in a QueueConfiguration
  ExpectError(ValidateNotificationConfiguration(config, AcceptQueues), "InvalidArgument", "The ARN could not be parsed");
}

TEST(ValidateNotificationConfiguration, UnknownDestinationsCannotBeValidated) {
  NotificationConfiguration config;
  config.destinations.push_back(Queue("a", {"s3:ObjectCreated:*"}));
  config.destinations[0].arn = "arn:aws:sqs:eu-west-1:123456789012:elsewhere";
  ExpectError(ValidateNotificationConfiguration(config, AcceptQueues), "InvalidArgument",
              "Unable to validate the following destination configurations");

  NotificationConfiguration topic;
  DestinationConfig t;
  t.kind = DestinationKind::kTopic;
  t.arn = "arn:aws:sns:us-east-1:123456789012:t";
  t.events = {"s3:ObjectCreated:*"};
  topic.destinations.push_back(t);
  ExpectError(ValidateNotificationConfiguration(topic, AcceptQueues), "InvalidArgument", "Unable to validate");
  // x-amz-skip-destination-validation: kept, never fires.
  EXPECT_TRUE(ValidateNotificationConfiguration(topic, AcceptQueues, /*skip_destination_validation=*/true).ok());
}

TEST(ValidateNotificationConfiguration, OverlapIsRefusedWithAwsWording) {
  NotificationConfiguration config;
  config.destinations.push_back(Queue("a", {"s3:ObjectCreated:*"}, "uploads/"));
  config.destinations.push_back(Queue("b", {"s3:ObjectCreated:Put"}, "uploads/cats/"));
  ExpectError(ValidateNotificationConfiguration(config, AcceptQueues), "InvalidArgument",
              "Configurations overlap. Configurations on the same bucket cannot share a common event type.");
}

struct OverlapCase {
  DestinationConfig a, b;
  bool overlaps;
};

TEST(Overlaps, PairsThatOverlapAndPairsThatDoNot) {
  const std::vector<OverlapCase> cases = {
      // Same event, no filters: both match everything.
      {Queue("1", {"s3:ObjectCreated:*"}), Queue("2", {"s3:ObjectCreated:*"}), true},
      // A wildcard shares its family's events; a missing prefix overlaps every prefix.
      {Queue("1", {"s3:ObjectCreated:*"}), Queue("2", {"s3:ObjectCreated:Put"}, "uploads/"), true},
      // Nested prefixes, same suffix.
      {Queue("1", {"s3:ObjectCreated:Put"}, "a/", ".jpg"), Queue("2", {"s3:ObjectCreated:Put"}, "a/b/", ".jpg"), true},
      // Nested suffixes (".jpg" ends "photo.jpg").
      {Queue("1", {"s3:ObjectCreated:Put"}, {}, ".jpg"), Queue("2", {"s3:ObjectCreated:Put"}, {}, "photo.jpg"), true},
      // Disjoint prefixes.
      {Queue("1", {"s3:ObjectCreated:*"}, "images/"), Queue("2", {"s3:ObjectCreated:*"}, "logs/"), false},
      // Same prefix, disjoint suffixes: allowed by AWS.
      {Queue("1", {"s3:ObjectCreated:*"}, "up/", ".jpg"), Queue("2", {"s3:ObjectCreated:*"}, "up/", ".png"), false},
      // ".jpg" and ".jpeg" are not suffixes of each other.
      {Queue("1", {"s3:ObjectCreated:*"}, {}, ".jpg"), Queue("2", {"s3:ObjectCreated:*"}, {}, ".jpeg"), false},
      // Different event types may overlap in keys.
      {Queue("1", {"s3:ObjectCreated:*"}), Queue("2", {"s3:ObjectRemoved:*"}), false},
      {Queue("1", {"s3:ObjectCreated:Put"}), Queue("2", {"s3:ObjectCreated:Copy"}), false},
      // One shared event among several is enough.
      {Queue("1", {"s3:ObjectCreated:Copy", "s3:ObjectRemoved:Delete"}), Queue("2", {"s3:ObjectRemoved:*"}), true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(Overlaps(cases[i].a, cases[i].b), cases[i].overlaps) << "case " << i;
    EXPECT_EQ(Overlaps(cases[i].b, cases[i].a), cases[i].overlaps) << "case " << i << " reversed";
  }
}

TEST(EventsIntersect, Wildcards) {
  EXPECT_TRUE(EventsIntersect("s3:ObjectCreated:*", "s3:ObjectCreated:CompleteMultipartUpload"));
  EXPECT_TRUE(EventsIntersect("s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRemoved:*"));
  EXPECT_FALSE(EventsIntersect("s3:ObjectCreated:*", "s3:ObjectRemoved:*"));
  EXPECT_FALSE(EventsIntersect("s3:ObjectCreated:Put", "s3:ObjectCreated:Post"));
}

TEST(S3Error, CodeAndMessage) {
  const Status s = Status::InvalidArgument("MalformedXML: bad");
  EXPECT_EQ(S3ErrorCode(s), "MalformedXML");
  EXPECT_EQ(S3ErrorMessage(s), "bad");
  const Status plain = Status::NotFound("no such thing");
  EXPECT_EQ(S3ErrorCode(plain), "");
  EXPECT_EQ(S3ErrorMessage(plain), "no such thing");
}

}  // namespace
}  // namespace thumbpipe::events
