#include "common/logging.h"

#include <gtest/gtest.h>

namespace thumbpipe {
namespace {

TEST(LoggingTest, RecordIsOneJsonObjectWithEnvelopeFirst) {
  const auto ts = std::chrono::system_clock::time_point{std::chrono::milliseconds(1'700'000'000'123)};
  std::string line = FormatLogRecord(LogLevel::kWarn, "job failed", {{"key", "a b.jpg"}, {"ms", 12}}, ts);
  EXPECT_EQ(line,
            R"({"ts":"2023-11-14T22:13:20.123Z","level":"warn","msg":"job failed","key":"a b.jpg","ms":12})");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LoggingTest, FieldsCannotOverwriteTheEnvelope) {
  std::string line = FormatLogRecord(LogLevel::kInfo, "m", {{"level", "fake"}}, {});
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["field.level"], "fake");
}

TEST(LoggingTest, InvalidUtf8IsReplacedNotThrown) {
  std::string bad = "key\xff\xfe";
  std::string line = FormatLogRecord(LogLevel::kInfo, bad, {{"key", bad}}, {});
  EXPECT_TRUE(nlohmann::json::accept(line));
}

TEST(LoggingTest, ParsesLevels) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_FALSE(ParseLogLevel("verbose").ok());
}

}  // namespace
}  // namespace thumbpipe
