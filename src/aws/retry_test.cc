// Backoff with full jitter, which failures are retried, and how error replies become Statuses.
#include "aws/retry.h"

#include <gtest/gtest.h>

#include "aws/error.h"

namespace thumbpipe::aws {
namespace {

using std::chrono::milliseconds;

TEST(RetryTest, BackoffDoublesUpToTheCapWithFullJitter) {
  RetryPolicy p;
  p.base_delay = milliseconds(100);
  p.max_delay = milliseconds(1000);
  EXPECT_EQ(BackoffDelay(p, 1, 0.0), milliseconds(0)) << "full jitter starts at zero";
  EXPECT_EQ(BackoffDelay(p, 1, 0.5), milliseconds(50));
  EXPECT_EQ(BackoffDelay(p, 2, 0.5), milliseconds(100));
  EXPECT_EQ(BackoffDelay(p, 3, 0.5), milliseconds(200));
  EXPECT_EQ(BackoffDelay(p, 4, 0.999), milliseconds(799));
  EXPECT_EQ(BackoffDelay(p, 5, 0.5), milliseconds(500)) << "capped at max_delay";
  EXPECT_EQ(BackoffDelay(p, 1000, 0.5), milliseconds(500)) << "no overflow for huge attempt numbers";
}

TEST(RetryTest, DefaultRandomIsInTheUnitInterval) {
  Random r = DefaultRandom();
  for (int i = 0; i < 1000; ++i) {
    const double u = r();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(RetryTest, WhatIsRetried) {
  EXPECT_TRUE(IsRetryable(503, "SlowDown"));
  EXPECT_TRUE(IsRetryable(500, "InternalError"));
  EXPECT_TRUE(IsRetryable(0, "NetworkError"));
  EXPECT_TRUE(IsRetryable(429, ""));
  EXPECT_TRUE(IsRetryable(400, "RequestTimeout"));
  EXPECT_TRUE(IsRetryable(400, "ThrottlingException"));
  EXPECT_FALSE(IsRetryable(404, "NoSuchKey"));
  EXPECT_FALSE(IsRetryable(403, "AccessDenied"));
  EXPECT_FALSE(IsRetryable(400, "BadDigest"));
}

TEST(ErrorTest, XmlErrorsBecomeStatusesNamedByTheirCode) {
  const std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
      "<Message>The specified key does not exist.</Message><Key>a</Key><RequestId>R1</RequestId></Error>";
  AwsError e = ParseXmlError(404, {}, body);
  EXPECT_EQ(e.code, "NoSuchKey");
  EXPECT_EQ(e.request_id, "R1");
  Status s = ErrorToStatus(e, "GET b/a");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_TRUE(s.message().starts_with("NoSuchKey The specified key does not exist. (GET b/a, HTTP 404"))
      << s.message();
  EXPECT_EQ(ErrorToStatus(ParseXmlError(503, {}, "<Error><Code>SlowDown</Code></Error>"), "").code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(ErrorToStatus(ParseXmlError(400, {}, "<Error><Code>BadDigest</Code></Error>"), "").code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(ErrorToStatus(ParseXmlError(400, {}, "<Error><Code>EntityTooLarge</Code></Error>"), "").code(),
            StatusCode::kTooLarge);
  EXPECT_EQ(ErrorToStatus(ParseXmlError(409, {}, "<Error><Code>BucketNotEmpty</Code></Error>"), "").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorToStatus(ParseXmlError(403, {}, "<Error><Code>SignatureDoesNotMatch</Code></Error>"), "").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorToStatus(ParseXmlError(400, {}, "<Error><Code>InvalidArgument</Code></Error>"), "").code(),
            StatusCode::kInvalidArgument);
}

TEST(ErrorTest, BodilessRepliesAreNamedByStatus) {
  AwsError e = ParseXmlError(404, {{"x-amz-request-id", "RID"}}, "");
  EXPECT_EQ(e.code, "NotFound");
  EXPECT_EQ(e.request_id, "RID");
  EXPECT_EQ(ErrorToStatus(e, "HEAD b/k").code(), StatusCode::kNotFound);
  EXPECT_EQ(ParseXmlError(502, {}, "<html>bad gateway</html>").code, "InternalError");
  EXPECT_EQ(ErrorToStatus(ParseXmlError(502, {}, "not xml"), "").code(), StatusCode::kUnavailable);
}

TEST(ErrorTest, ErrorDocumentsInsideOkReplies) {
  EXPECT_TRUE(IsXmlErrorDocument("<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code></Error>"));
  EXPECT_FALSE(IsXmlErrorDocument("<CopyObjectResult><ETag>\"x\"</ETag></CopyObjectResult>"));
  EXPECT_FALSE(IsXmlErrorDocument("<ListBucketResult><Key>&lt;Error&gt;</Key></ListBucketResult>"));
}

}  // namespace
}  // namespace thumbpipe::aws
