#include "common/duration.h"

#include <gtest/gtest.h>

namespace thumbpipe {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(DurationTest, ParsesEveryUnit) {
  EXPECT_EQ(*ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("60s"), seconds(60));
  EXPECT_EQ(*ParseDuration("15m"), minutes(15));
  EXPECT_EQ(*ParseDuration("12h"), hours(12));
  EXPECT_EQ(*ParseDuration("4d"), hours(96));
  EXPECT_EQ(*ParseDuration("0"), milliseconds(0));
  EXPECT_EQ(*ParseDuration("0s"), milliseconds(0));
}

TEST(DurationTest, ParsesCombinations) {
  EXPECT_EQ(*ParseDuration("1h30m"), minutes(90));
  EXPECT_EQ(*ParseDuration("1m500ms"), milliseconds(60'500));
}

TEST(DurationTest, RejectsMalformedText) {
  for (const char* bad : {"", "s", "10", "-5s", "5 s", "5sec", "1.5s", "5x", "s5", "99999999999999999999d"}) {
    Result<Duration> r = ParseDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(DurationTest, ErrorNamesTheExpectedForm) {
  EXPECT_NE(ParseDuration("10").status().message().find("ms, s, m, h, d"), std::string::npos);
}

TEST(DurationTest, FormatRoundTrips) {
  for (const char* text : {"0s", "250ms", "1h30m", "4d", "1d1h1m1s1ms"}) {
    Result<Duration> d = ParseDuration(text);
    ASSERT_TRUE(d.ok()) << text;
    EXPECT_EQ(FormatDuration(*d), text);
  }
}

}  // namespace
}  // namespace thumbpipe
