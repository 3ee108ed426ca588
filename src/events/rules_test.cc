#include "events/rules.h"

#include <gtest/gtest.h>

#include "events/event_parse.h"
#include "events/notifier.h"

namespace thumbpipe::events {
namespace {

store::WriteRecord Write(std::string key, store::WriteKind kind = store::WriteKind::kPut, std::string bucket = "images") {
  store::WriteRecord w;
  w.kind = kind;
  w.object.bucket = std::move(bucket);
  w.object.key = std::move(key);
  w.object.size = 10;
  w.object.etag = "e";
  w.object.version = 7;
  return w;
}

std::vector<std::string> Ids(const std::vector<const Rule*>& rules) {
  std::vector<std::string> ids;
  for (const Rule* r : rules) ids.push_back(r->id);
  return ids;
}

TEST(EventPatternMatches, ExactAndWildcard) {
  EXPECT_TRUE(EventPatternMatches("s3:ObjectCreated:*", "ObjectCreated:Put"));
  EXPECT_TRUE(EventPatternMatches("s3:ObjectCreated:*", "ObjectCreated:CompleteMultipartUpload"));
  EXPECT_TRUE(EventPatternMatches("s3:ObjectCreated:Copy", "ObjectCreated:Copy"));
  EXPECT_FALSE(EventPatternMatches("s3:ObjectCreated:Put", "ObjectCreated:Post"));
  EXPECT_FALSE(EventPatternMatches("s3:ObjectCreated:*", "ObjectRemoved:Delete"));
  EXPECT_TRUE(EventPatternMatches("s3:ObjectRemoved:*", "ObjectRemoved:Delete"));
  EXPECT_FALSE(EventPatternMatches("ObjectCreated:Put", "ObjectCreated:Put"));
}

TEST(RulesFromConfiguration, OnlyQueuesBecomeRules) {
  NotificationConfiguration config;
  DestinationConfig q;
  q.id = "q";
  q.arn = "arn:aws:sqs:us-east-1:000000000000:thumbnails";
  q.events = {"s3:ObjectCreated:*"};
  q.prefix = "in/";
  DestinationConfig t = q;
  t.kind = DestinationKind::kTopic;
  t.id = "t";
  config.destinations = {q, t};
  config.event_bridge = true;
  const std::vector<Rule> rules = RulesFromConfiguration(config);
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].id, "q");
  EXPECT_EQ(rules[0].destination, q.arn);
  EXPECT_EQ(rules[0].prefix, "in/");
  EXPECT_EQ(rules[0].suffix, "");
  EXPECT_TRUE(rules[0].match_encoded_key);
}

TEST(RulesFromTrigger, OneRulePerSuffixWithOneId) {
  config::TriggerConfig trigger;  // images, uploads/, nine suffixes
  const std::vector<Rule> rules = RulesFromTrigger(trigger, "images", "thumbnails");
  ASSERT_EQ(rules.size(), trigger.suffixes.size());
  for (const Rule& r : rules) {
    EXPECT_EQ(r.id, "thumbpipe-trigger");
    EXPECT_EQ(r.destination, "thumbnails");
    EXPECT_EQ(r.prefix, "uploads/");
    EXPECT_FALSE(r.match_encoded_key);
    EXPECT_TRUE(r.suffix_ignore_case);
  }
  EXPECT_TRUE(RulesFromTrigger(trigger, "other-bucket", "thumbnails").empty());
  trigger.suffixes.clear();
  EXPECT_EQ(RulesFromTrigger(trigger, "images", "thumbnails").size(), 1u);
}

TEST(MatchRules, TriggerPrefixAndCaseInsensitiveSuffix) {
  const std::vector<Rule> rules = RulesFromTrigger(config::TriggerConfig{}, "images", "thumbnails");
  EXPECT_EQ(MatchRules(rules, Write("uploads/cat.jpg")).size(), 1u);
  EXPECT_EQ(MatchRules(rules, Write("uploads/CAT.JPG")).size(), 1u);
  EXPECT_EQ(MatchRules(rules, Write("uploads/my cat (1).HeIc")).size(), 1u);
  EXPECT_EQ(MatchRules(rules, Write("uploads/a.tiff")).size(), 1u);
  EXPECT_TRUE(MatchRules(rules, Write("uploads/notes.txt")).empty());
  EXPECT_TRUE(MatchRules(rules, Write("thumbnails/small/cat.webp")).empty());
  EXPECT_TRUE(MatchRules(rules, Write("Uploads/cat.jpg")).empty());  // prefixes are case-sensitive
  EXPECT_EQ(MatchRules(rules, Write("uploads/cat.jpg", store::WriteKind::kDelete)).size(), 1u);
  EXPECT_EQ(MatchRules(rules, Write("uploads/cat.jpg", store::WriteKind::kCompleteMultipartUpload)).size(), 1u);
}

TEST(MatchRules, SeveralSuffixesOfOneTriggerFireOnce) {
  config::TriggerConfig trigger;
  trigger.suffixes = {".jpg", "g", "pg"};
  const std::vector<Rule> rules = RulesFromTrigger(trigger, "images", "thumbnails");
  EXPECT_EQ(MatchRules(rules, Write("uploads/a.jpg")).size(), 1u);
}

TEST(MatchRules, EventNamesFilter) {
  config::TriggerConfig trigger;
  trigger.events = {"s3:ObjectCreated:Put"};
  const std::vector<Rule> rules = RulesFromTrigger(trigger, "images", "thumbnails");
  EXPECT_EQ(MatchRules(rules, Write("uploads/a.jpg")).size(), 1u);
  EXPECT_TRUE(MatchRules(rules, Write("uploads/a.jpg", store::WriteKind::kCopy)).empty());
  EXPECT_TRUE(MatchRules(rules, Write("uploads/a.jpg", store::WriteKind::kDelete)).empty());
}

TEST(MatchRules, ConfigurationFiltersSeeTheEncodedKeyAsInAws) {
  // AWS: "If your prefix or suffix contains a space, you must replace it with the + character."
  Rule rule;
  rule.id = "r";
  rule.destination = "q";
  rule.events = {"s3:ObjectCreated:*"};
  rule.prefix = "my+photos/";
  rule.suffix = ".jpg";
  const std::vector<Rule> rules = {rule};
  EXPECT_EQ(MatchRules(rules, Write("my photos/a.jpg")).size(), 1u);
  EXPECT_TRUE(MatchRules(rules, Write("my+photos/a.jpg")).empty());  // its "+" is encoded as %2B
  EXPECT_TRUE(MatchRules(rules, Write("my photos/a.JPG")).empty());  // case-sensitive
}

TEST(MatchRules, SeveralConfigurationsFireEachInOrder) {
  Rule a{"a", "q1", {"s3:ObjectCreated:*"}, "uploads/", "", true, false};
  Rule b{"b", "q2", {"s3:ObjectCreated:Put"}, "", ".png", true, false};
  Rule c{"c", "q3", {"s3:ObjectRemoved:*"}, "", "", true, false};
  const std::vector<Rule> rules = {a, b, c};
  EXPECT_EQ(Ids(MatchRules(rules, Write("uploads/x.png"))), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Ids(MatchRules(rules, Write("uploads/x.png", store::WriteKind::kCopy))), std::vector<std::string>{"a"});
  EXPECT_EQ(Ids(MatchRules(rules, Write("x.png", store::WriteKind::kDelete))), std::vector<std::string>{"c"});
}

TEST(MakeCommitHook, OnePayloadPerMatchingRuleNamingItsQueue) {
  ManualClock clock;
  auto rules = std::make_shared<const std::vector<Rule>>(std::vector<Rule>{
      {"a", "arn:aws:sqs:us-east-1:000000000000:one", {"s3:ObjectCreated:*"}, "", "", true, false},
      {"b", "two", {"s3:ObjectCreated:*"}, "up/", "", true, false}});
  NotifierOptions options;
  options.region = "eu-west-1";
  store::CommitHook hook = MakeCommitHook(
      [&](std::string_view bucket) { return bucket == "images" ? rules : nullptr; }, options, clock);
  const std::vector<std::string> payloads = hook(Write("up/a b.jpg"));
  ASSERT_EQ(payloads.size(), 2u);
  auto first = DecodeOutboxPayload(payloads[0]);
  auto second = DecodeOutboxPayload(payloads[1]);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->queue, "arn:aws:sqs:us-east-1:000000000000:one");
  EXPECT_EQ(second->queue, "two");
  auto event = ParseEventBody(second->body);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->records[0].key, "up/a b.jpg");
  EXPECT_EQ(event->records[0].configuration_id, "b");
  EXPECT_NE(second->body.find(R"("awsRegion":"eu-west-1")"), std::string::npos);
  EXPECT_TRUE(hook(Write("up/a.jpg", store::WriteKind::kDelete)).empty());
  EXPECT_TRUE(hook(Write("up/a.jpg", store::WriteKind::kPut, "other")).empty());
}

TEST(OutboxPayload, RoundTripAndRejects) {
  const std::string p = EncodeOutboxPayload({"q", "{\"Records\":[]}"});
  EXPECT_EQ(p, R"({"v":1,"queue":"q","body":"{\"Records\":[]}"})");
  auto back = DecodeOutboxPayload(p);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->body, "{\"Records\":[]}");
  for (std::string_view bad : {"", "[]", R"({"v":2,"queue":"q","body":""})", R"({"v":1,"body":""})",
                               R"({"v":1,"queue":"","body":""})", R"({"v":1,"queue":"q"})"}) {
    EXPECT_FALSE(DecodeOutboxPayload(bad).ok()) << bad;
  }
}

TEST(EmbeddedQueueArn, ShapeAndInverse) {
  const std::string arn = EmbeddedQueueArn("us-east-1", "thumbnails");
  EXPECT_EQ(arn, "arn:aws:sqs:us-east-1:000000000000:thumbnails");
  EXPECT_EQ(QueueNameOfArn(arn), "thumbnails");
  EXPECT_EQ(QueueNameOfArn("arn:aws:sns:us-east-1:000000000000:t"), "");
  EXPECT_EQ(QueueNameOfArn("thumbnails"), "");
}

}  // namespace
}  // namespace thumbpipe::events
