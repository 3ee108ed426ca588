// The canonicaliser's pieces, and S3 mode against the worked examples of the S3 API
// reference (sig-v4-header-based-auth.html: GET Object with Range, PUT Object).
#include "sigv4/canonical.h"

#include <gtest/gtest.h>

namespace thumbpipe::sigv4 {
namespace {

TEST(UriEncode, KeepsOnlyUnreservedAndOptionallySlash) {
  EXPECT_EQ(UriEncode("a-b.c_d~e", false), "a-b.c_d~e");
  EXPECT_EQ(UriEncode("a b+c*d/e", false), "a%20b%2Bc%2Ad%2Fe");
  EXPECT_EQ(UriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(UriEncode("\xE1\x88\xB4", true), "%E1%88%B4");
  EXPECT_EQ(UriEncode(std::string("\0x", 2), true), "%00x");
}

TEST(PercentDecode, DecodesValidEscapesOnly) {
  EXPECT_EQ(PercentDecode("a%20b%2fc+d"), "a b/c+d");
  EXPECT_EQ(PercentDecode("100%"), "100%");
  EXPECT_EQ(PercentDecode("%zz%4"), "%zz%4");
}

TEST(CanonicalUri, S3KeepsDoubleSlashesAndDotSegments) {
  EXPECT_EQ(CanonicalUri("/bucket/a//b/../c/./d", PathMode::kS3), "/bucket/a//b/../c/./d");
  EXPECT_EQ(CanonicalUri("//", PathMode::kS3), "//");
  EXPECT_EQ(CanonicalUri("/bucket/..", PathMode::kS3), "/bucket/..");
  EXPECT_EQ(CanonicalUri("/bucket//leading", PathMode::kS3), "/bucket//leading");
  EXPECT_EQ(CanonicalUri("", PathMode::kS3), "/");
}

TEST(CanonicalUri, S3EncodesOnceWhateverTheClientEscaped) {
  // A client that sent the key encoded and one that sent it raw sign the same string.
  EXPECT_EQ(CanonicalUri("/b/my%20key", PathMode::kS3), "/b/my%20key");
  EXPECT_EQ(CanonicalUri("/b/test$file.text", PathMode::kS3), "/b/test%24file.text");
  EXPECT_EQ(CanonicalUri("/b/test%24file.text", PathMode::kS3), "/b/test%24file.text");
  EXPECT_EQ(CanonicalUri("/b/%E1%88%B4", PathMode::kS3), "/b/%E1%88%B4");
}

TEST(CanonicalUri, GenericNormalisesAndEncodesAgain) {
  EXPECT_EQ(CanonicalUri("/a//b/../c/./d", PathMode::kGeneric), "/a/c/d");
  EXPECT_EQ(CanonicalUri("/example/..", PathMode::kGeneric), "/");
  EXPECT_EQ(CanonicalUri("//example//", PathMode::kGeneric), "/example/");
  EXPECT_EQ(CanonicalUri("/my%20key", PathMode::kGeneric), "/my%2520key");
}

TEST(CanonicalQuery, SortsEncodesAndKeepsEmptyValues) {
  EXPECT_EQ(CanonicalQuery(""), "");
  EXPECT_EQ(CanonicalQuery("acl"), "acl=");
  EXPECT_EQ(CanonicalQuery("b=2&a=1&a=0"), "a=0&a=1&b=2");
  EXPECT_EQ(CanonicalQuery("prefix=photos/2024 x&max-keys=2"),
            "max-keys=2&prefix=photos%2F2024%20x");
  EXPECT_EQ(CanonicalQuery("k=a%2Fb&&"), "k=a%2Fb");
  EXPECT_EQ(CanonicalQuery("X-Amz-Signature=abc&x=1", "X-Amz-Signature"), "x=1");
  // Sorted by encoded name: upper case before lower case.
  EXPECT_EQ(CanonicalQuery("b=1&B=2&_=3"), "B=2&_=3&b=1");
}

TEST(CanonicalHeaderValue, TrimsCollapsesAndUnfolds) {
  EXPECT_EQ(CanonicalHeaderValue("  value1  "), "value1");
  EXPECT_EQ(CanonicalHeaderValue("\"a   b \t  c\""), "\"a b c\"");
  EXPECT_EQ(CanonicalHeaderValue("value1\n  value2\r\n     value3"), "value1,value2,value3");
  EXPECT_EQ(CanonicalHeaderValue(""), "");
}

TEST(CanonicalHeaders, JoinsRepeatedHeadersInOrder) {
  Headers h = {
      {"Host", "x"}, {"My-Header1", "value4"}, {"my-header1", " value1 "}, {"X-Other", "no"}};
  EXPECT_EQ(CanonicalHeaders(h, {"host", "my-header1"}), "host:x\nmy-header1:value4,value1\n");
  // A signed header the request lacks: the signature will not match, nothing crashes.
  EXPECT_EQ(CanonicalHeaders(h, {"range"}), "range:\n");
}

TEST(AmzDate, RoundTripsAndRejectsNonsense) {
  auto t = ParseAmzDate("20130524T000000Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatAmzDate(*t), "20130524T000000Z");
  EXPECT_EQ(FormatAmzDate(*ParseAmzDate("20241231T235959Z")), "20241231T235959Z");
  EXPECT_FALSE(ParseAmzDate("20130230T000000Z"));
  EXPECT_FALSE(ParseAmzDate("20130524T240000Z"));
  EXPECT_FALSE(ParseAmzDate("20130524T000000"));
  EXPECT_FALSE(ParseAmzDate("2013-05-24T00:00:00Z"));
  EXPECT_FALSE(ParseAmzDate("2013052xT000000Z"));
  auto http = ParseHttpDate("Fri, 24 May 2013 00:00:00 GMT");
  ASSERT_TRUE(http.has_value());
  EXPECT_EQ(*http, *t);
  EXPECT_FALSE(ParseHttpDate("Fri, 24 Mai 2013 00:00:00 GMT"));
  EXPECT_FALSE(ParseHttpDate("Fri, 24 May 2013 00:00:00 UTC"));
}

constexpr std::string_view kDocSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

TEST(S3Examples, GetObjectWithRange) {
  Request r;
  r.method = "GET";
  r.path = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", std::string(kEmptySha256Hex)},
               {"x-amz-date", "20130524T000000Z"}};
  std::string creq = CanonicalRequest(
      r, PathMode::kS3, {"host", "range", "x-amz-content-sha256", "x-amz-date"}, kEmptySha256Hex);
  EXPECT_EQ(
      creq,
      "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string sts = StringToSign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", creq);
  EXPECT_EQ(sts,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(SignatureHex(DeriveSigningKey(kDocSecret, "20130524", "us-east-1", "s3"), sts),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(S3Examples, PutObjectWithDollarInKey) {
  Request r;
  r.method = "PUT";
  r.path = "/test$file.text";
  std::string payload = Sha256Hex("Welcome to Amazon S3.");
  EXPECT_EQ(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-date", "20130524T000000Z"},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", payload}};
  std::string creq = CanonicalRequest(
      r, PathMode::kS3,
      {"date", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-storage-class"}, payload);
  EXPECT_TRUE(creq.starts_with("PUT\n/test%24file.text\n\n")) << creq;
  std::string sts = StringToSign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", creq);
  EXPECT_EQ(SignatureHex(DeriveSigningKey(kDocSecret, "20130524", "us-east-1", "s3"), sts),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

}  // namespace
}  // namespace thumbpipe::sigv4
