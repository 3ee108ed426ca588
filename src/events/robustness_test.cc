// Untrusted bodies and documents, mutated at random (seeded, so a failure reproduces): the
// parsers must answer OK or kInvalidArgument, never crash, throw or hang. Run under
// AddressSanitizer this is a cheap stand-in for a fuzzer.
#include <random>

#include <gtest/gtest.h>

#include "events/event_json.h"
#include "events/event_parse.h"
#include "events/notification_config.h"

namespace thumbpipe::events {
namespace {

std::string Mutate(std::string s, std::mt19937& rng) {
  static constexpr std::string_view kInteresting = "{}[]\",:\\%+<>/&;\0\xff\xc3";
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits && !s.empty(); ++e) {
    const size_t at = rng() % s.size();
    switch (rng() % 5) {
      case 0: s[at] = static_cast<char>(rng() % 256); break;
      case 1: s[at] = kInteresting[rng() % kInteresting.size()]; break;
      case 2: s.erase(at, 1 + rng() % 8); break;
      case 3: s.insert(at, s.substr(rng() % s.size(), 1 + rng() % 16)); break;
      case 4: s.resize(at); break;
    }
  }
  return s;
}

std::string SampleEvent() {
  store::WriteRecord w;
  w.object.bucket = "images";
  w.object.key = "uploads/red flower (1).jpg";
  w.object.size = 1024;
  w.object.etag = "d41d8cd98f00b204e9800998ecf8427e";
  w.object.version = 42;
  return EncodeEventBody(w, EventContext{});
}

TEST(Robustness, MutatedEventBodies) {
  std::mt19937 rng(20261127);
  const std::vector<std::string> seeds = {
      SampleEvent(), EncodeTestEvent("images", "R", "H", Clock::time_point{}),
      R"({"Type":"Notification","Message":")" + std::string("{\\\"Records\\\":[]}") + R"("})",
      R"({"EventName":"s3:ObjectCreated:Put","Key":"b/k","Records":[{"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k%2Fx","size":"12"}}}]})"};
  int ok = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string body = Mutate(seeds[static_cast<size_t>(i) % seeds.size()], rng);
    auto parsed = ParseEventBody(body);
    if (parsed.ok()) {
      ok++;
    } else {
      ASSERT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << body;
    }
  }
  EXPECT_GT(ok, 0);  // some mutations (in strings) still parse
}

TEST(Robustness, MutatedNotificationDocuments) {
  std::mt19937 rng(4);
  NotificationConfiguration config;
  DestinationConfig d;
  d.id = "thumbs";
  d.arn = "arn:aws:sqs:us-east-1:000000000000:thumbnails";
  d.events = {"s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"};
  d.prefix = "uploads/";
  d.suffix = ".jpg";
  config.destinations.push_back(d);
  config.event_bridge = true;
  const std::string seed = ToNotificationXml(config);
  for (int i = 0; i < 20000; ++i) {
    const std::string xml = Mutate(seed, rng);
    auto parsed = ParseNotificationXml(xml);
    if (!parsed.ok()) {
      ASSERT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << xml;
      ASSERT_FALSE(S3ErrorCode(parsed.status()).empty()) << parsed.status().message();
      continue;
    }
    // Whatever parses must validate or fail cleanly, and serialise to something that parses.
    (void)ValidateNotificationConfiguration(*parsed, [](DestinationKind, std::string_view) { return true; });
    ASSERT_TRUE(ParseNotificationXml(ToNotificationXml(*parsed)).ok()) << xml;
  }
}

}  // namespace
}  // namespace thumbpipe::events
