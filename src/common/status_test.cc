#include "common/status.h"

#include <gtest/gtest.h>

#include "common/result.h"

namespace thumbpipe {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s = Status::TooLarge("12 MP over the limit");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kTooLarge);
  EXPECT_EQ(s.ToString(), "too_large: 12 MP over the limit");
  EXPECT_EQ(s.WithContext("a.jpg").message(), "a.jpg: 12 MP over the limit");
}

TEST(StatusTest, PermanenceFollowsTheCode) {
  EXPECT_TRUE(Status::Corrupt("x").IsPermanent());
  EXPECT_TRUE(Status::Unsupported("x").IsPermanent());
  EXPECT_TRUE(Status::TooLarge("x").IsPermanent());
  EXPECT_FALSE(Status::Unavailable("x").IsPermanent());
  EXPECT_FALSE(Status::Internal("x").IsPermanent());
  EXPECT_FALSE(Status::IOError("x").IsPermanent());
}

TEST(StatusTest, DiskFullIsAnIOErrorThatSaysSo) {
  const Status full = Status::DiskFull("wal: database or disk is full").WithContext("send");
  EXPECT_EQ(full.code(), StatusCode::kIOError);
  EXPECT_TRUE(full.IsDiskFull());
  EXPECT_FALSE(full.IsPermanent()) << "room may come back: retried";
  EXPECT_FALSE(Status::IOError("wal: disk I/O error").IsDiskFull());
  EXPECT_FALSE(Status::Internal("disk full: not an I/O error").IsDiskFull());
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  THUMBPIPE_ASSIGN_OR_RETURN(int h, Half(x));
  THUMBPIPE_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> ok = Half(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 4);
  Result<int> bad = Half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(ResultTest, AssignOrReturnPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

}  // namespace
}  // namespace thumbpipe
