#include "events/key_encoding.h"

#include <gtest/gtest.h>

namespace thumbpipe::events {
namespace {

TEST(EncodeEventKey, SpaceBecomesPlusAsInAwsDocumentation) {
  EXPECT_EQ(EncodeEventKey("red flower.jpg"), "red+flower.jpg");
}

TEST(EncodeEventKey, PlusAndPercentAreEscaped) {
  EXPECT_EQ(EncodeEventKey("c++ 100%.png"), "c%2B%2B+100%25.png");
}

TEST(EncodeEventKey, SlashStaysAndParenthesesAreEscaped) {
  EXPECT_EQ(EncodeEventKey("uploads/download (1).png"), "uploads/download+%281%29.png");
}

TEST(EncodeEventKey, DotDotIsJustText) { EXPECT_EQ(EncodeEventKey("../x/./y"), "../x/./y"); }

TEST(EncodeEventKey, FormSafeSetStaysLiteral) {
  EXPECT_EQ(EncodeEventKey("AZaz09-_.*"), "AZaz09-_.*");
  EXPECT_EQ(EncodeEventKey("a=b&c;d:e,f?g@h!i'j~k#l"),
            "a%3Db%26c%3Bd%3Ae%2Cf%3Fg%40h%21i%27j%7Ek%23l");
}

TEST(EncodeEventKey, UnicodeIsEscapedByteByByteInUpperCaseHex) {
  EXPECT_EQ(EncodeEventKey("photos/été.jpg"), "photos/%C3%A9t%C3%A9.jpg");
  EXPECT_EQ(EncodeEventKey("猫.png"), "%E7%8C%AB.png");
}

TEST(EncodeEventKey, ControlBytesAndNulAreEscaped) {
  EXPECT_EQ(EncodeEventKey(std::string("a\0b\n", 4)), "a%00b%0A");
}

TEST(DecodeEventKey, FormDecodingUndoesEncoding) {
  for (std::string key : {std::string("red flower.jpg"), std::string("c++ 100%.png"), std::string("../x"),
                          std::string("photos/été (2).jpg"), std::string("a\0b", 3), std::string("%2B")}) {
    auto decoded = DecodeEventKey(EncodeEventKey(key));
    ASSERT_TRUE(decoded.ok()) << key;
    EXPECT_EQ(*decoded, key);
  }
}

TEST(DecodeEventKey, AcceptsLowerCaseHexAndEncodedSlash) {
  // MinIO (Go's url.QueryEscape) escapes "/" too.
  EXPECT_EQ(*DecodeEventKey("users%2fABC+x"), "users/ABC x");
}

TEST(DecodeEventKey, MalformedEscapesAreInvalidArgument) {
  for (std::string_view bad : {"%", "abc%4", "%zz", "%G1"}) {
    auto decoded = DecodeEventKey(bad);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(DecodeEventKey("").ok());
}

TEST(DecodeEventKey, RawKeysAreTakenAsTheyAre) {
  // Ceph RGW does not encode keys: a "+" there is a plus.
  EXPECT_EQ(*DecodeEventKey("a+b%20c", KeyEncoding::kRaw), "a+b%20c");
}

}  // namespace
}  // namespace thumbpipe::events
