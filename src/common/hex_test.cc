#include "common/hex.h"

#include <gtest/gtest.h>

namespace thumbpipe {
namespace {

TEST(HexTest, EncodesLowerCaseTwoDigitsPerByte) {
  EXPECT_EQ(HexEncode(std::string("\x00\x0f\xa0\xff", 4)), "000fa0ff");
  EXPECT_EQ(HexEncode(""), "");
}

TEST(HexTest, DecodesEitherCaseBackToTheBytes) {
  Result<std::string> raw = HexDecode("000FA0ff");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, std::string("\x00\x0f\xa0\xff", 4));
  EXPECT_EQ(HexEncode(*HexDecode(HexEncode("any bytes\x01"))), HexEncode("any bytes\x01"));
}

TEST(HexTest, RefusesOddLengthsAndNonHexDigits) {
  EXPECT_EQ(HexDecode("abc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HexDecode("zz").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HexDecode("0g").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace thumbpipe
