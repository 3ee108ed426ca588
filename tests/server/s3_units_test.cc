// Pure pieces of the S3 layer: routing (path and virtual-host style, every operation),
// error mapping from store statuses, the XML writer and request parsers, copy sources, and
// the key policy.
#include <gtest/gtest.h>

#include "server/auth.h"
#include "server/s3_errors.h"
#include "server/s3_handlers.h"
#include "server/s3_router.h"
#include "server/s3_xml.h"

namespace thumbpipe::server {
namespace {

HttpRequestHead Head(std::string method, std::string target, std::string host = "127.0.0.1:9000",
                     std::vector<HttpHeader> extra = {}) {
  HttpRequestHead h;
  h.method = std::move(method);
  h.target = std::move(target);
  h.headers.push_back({"Host", std::move(host)});
  for (auto& e : extra) h.headers.push_back(std::move(e));
  return h;
}

Operation OpOf(std::string method, std::string target, std::vector<HttpHeader> extra = {}) {
  Result<Route> r = RouteRequest(Head(std::move(method), std::move(target), "127.0.0.1:9000", std::move(extra)), {});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->op : Operation::kNotImplemented;
}

TEST(Router, Operations) {
  EXPECT_EQ(OpOf("GET", "/"), Operation::kListBuckets);
  EXPECT_EQ(OpOf("PUT", "/b"), Operation::kCreateBucket);
  EXPECT_EQ(OpOf("DELETE", "/b"), Operation::kDeleteBucket);
  EXPECT_EQ(OpOf("HEAD", "/b"), Operation::kHeadBucket);
  EXPECT_EQ(OpOf("GET", "/b?location"), Operation::kGetBucketLocation);
  EXPECT_EQ(OpOf("GET", "/b"), Operation::kListObjects);
  EXPECT_EQ(OpOf("GET", "/b?list-type=2&prefix=a"), Operation::kListObjectsV2);
  EXPECT_EQ(OpOf("GET", "/b?uploads"), Operation::kListMultipartUploads);
  EXPECT_EQ(OpOf("POST", "/b?delete"), Operation::kDeleteObjects);
  EXPECT_EQ(OpOf("PUT", "/b?notification"), Operation::kPutBucketNotification);
  EXPECT_EQ(OpOf("GET", "/b?notification"), Operation::kGetBucketNotification);
  EXPECT_EQ(OpOf("PUT", "/b?cors"), Operation::kPutBucketCors);
  EXPECT_EQ(OpOf("GET", "/b?cors"), Operation::kGetBucketCors);
  EXPECT_EQ(OpOf("DELETE", "/b?cors"), Operation::kDeleteBucketCors);
  EXPECT_EQ(OpOf("GET", "/b?acl"), Operation::kNotImplemented);
  EXPECT_EQ(OpOf("PUT", "/b/k"), Operation::kPutObject);
  EXPECT_EQ(OpOf("PUT", "/b/k", {{"x-amz-copy-source", "/a/b"}}), Operation::kCopyObject);
  EXPECT_EQ(OpOf("GET", "/b/k"), Operation::kGetObject);
  EXPECT_EQ(OpOf("HEAD", "/b/k"), Operation::kHeadObject);
  EXPECT_EQ(OpOf("DELETE", "/b/k"), Operation::kDeleteObject);
  EXPECT_EQ(OpOf("POST", "/b/k?uploads"), Operation::kCreateMultipartUpload);
  EXPECT_EQ(OpOf("PUT", "/b/k?partNumber=1&uploadId=u"), Operation::kUploadPart);
  EXPECT_EQ(OpOf("PUT", "/b/k?partNumber=1&uploadId=u", {{"X-Amz-Copy-Source", "a/b"}}), Operation::kUploadPartCopy);
  EXPECT_EQ(OpOf("POST", "/b/k?uploadId=u"), Operation::kCompleteMultipartUpload);
  EXPECT_EQ(OpOf("DELETE", "/b/k?uploadId=u"), Operation::kAbortMultipartUpload);
  EXPECT_EQ(OpOf("GET", "/b/k?uploadId=u"), Operation::kListParts);
  EXPECT_EQ(OpOf("OPTIONS", "/b/k"), Operation::kCorsPreflight);
  EXPECT_EQ(OpOf("GET", "/b/k?tagging"), Operation::kNotImplemented);
}

TEST(Router, KeysAreDecodedOnceAndKeptLiterally) {
  Result<Route> r = RouteRequest(Head("GET", "/bucket/a%20b/../c//d%2Be+f?x=1"), {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bucket, "bucket");
  EXPECT_EQ(r->key, "a b/../c//d+e+f");
  EXPECT_EQ(r->path, "/bucket/a%20b/../c//d%2Be+f");
  EXPECT_EQ(r->Resource(), "/bucket/a b/../c//d+e+f");
}

TEST(Router, VirtualHostStyle) {
  Result<Route> r = RouteRequest(Head("GET", "/photos/cat.jpg", "images.localhost:9000"), {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->virtual_host);
  EXPECT_EQ(r->bucket, "images");
  EXPECT_EQ(r->key, "photos/cat.jpg");
  Result<Route> plain = RouteRequest(Head("GET", "/images/cat.jpg", "localhost:9000"), {});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->virtual_host);
  EXPECT_EQ(plain->bucket, "images");
}

TEST(Router, QueryDecoding) {
  auto q = ParseQuery("prefix=a%2Fb+c&delimiter=%2F&uploads&empty=");
  EXPECT_EQ(q["prefix"], "a/b c");
  EXPECT_EQ(q["delimiter"], "/");
  EXPECT_TRUE(q.count("uploads"));
  EXPECT_EQ(q["empty"], "");
}

TEST(Router, Refusals) {
  EXPECT_FALSE(RouteRequest(Head("GET", "http://x/"), {}).ok());
  EXPECT_FALSE(RouteRequest(Head("PATCH", "/b/k"), {}).ok());
  for (const char* method : {"GET", "OPTIONS", "PUT", "DELETE"}) {  // a key and no bucket
    Result<Route> no_bucket = RouteRequest(Head(method, "//k"), {});
    ASSERT_FALSE(no_bucket.ok()) << method;
    EXPECT_TRUE(no_bucket.status().message().starts_with("InvalidURI")) << no_bucket.status().ToString();
  }
  EXPECT_TRUE(RouteRequest(Head("GET", "//"), {}).ok());  // no key either: the service
  Result<Route> long_key = RouteRequest(Head("PUT", "/b/" + std::string(1025, 'k')), {});
  ASSERT_FALSE(long_key.ok());
  EXPECT_EQ(long_key.status().message(), "KeyTooLongError");
  EXPECT_TRUE(RouteRequest(Head("PUT", "/b/" + std::string(1024, 'k')), {}).ok());
}

TEST(Errors, StoreStatusesMapToS3Codes) {
  EXPECT_EQ(FromStatus(Status::NotFound("NoSuchBucket: images")).code, "NoSuchBucket");
  EXPECT_EQ(FromStatus(Status::NotFound("NoSuchUpload x")).status, 404);
  EXPECT_EQ(FromStatus(Status::NotFound("gone"), "NoSuchBucket").code, "NoSuchBucket");
  EXPECT_EQ(FromStatus(Status::FailedPrecondition("BucketNotEmpty: b")).status, 409);
  EXPECT_EQ(FromStatus(Status::Corrupt("BadDigest: md5")).code, "BadDigest");
  EXPECT_EQ(FromStatus(Status::TooLarge("EntityTooLarge")).status, 400);
  EXPECT_EQ(FromStatus(Status::InvalidArgument("KeyTooLong: 1025 bytes")).code, "KeyTooLongError");
  EXPECT_EQ(FromStatus(Status::InvalidArgument("InvalidRange: past the end")).status, 416);
  EXPECT_EQ(FromStatus(Status::AlreadyExists("images")).code, "BucketAlreadyOwnedByYou");
  const S3Error internal = FromStatus(Status::IOError("/secret/path: disk on fire"));
  EXPECT_EQ(internal.status, 500);
  EXPECT_EQ(internal.code, "InternalError");
  EXPECT_EQ(internal.message.find("secret"), std::string::npos);  // the cause stays in the log
  // A full disk, however deep the context: 507, its path in the log only.
  const S3Error full =
      FromStatus(Status::DiskFull("/secret/blob: No space left on device").WithContext("put"));
  EXPECT_EQ(full.status, 507);
  EXPECT_EQ(full.code, "InsufficientCapacity");
  EXPECT_EQ(full.message.find("secret"), std::string::npos);
}

TEST(Errors, DocumentHasCodeMessageResourceRequestId) {
  HttpResponse r = ErrorResponse(MakeS3Error("NoSuchKey"), "/b/a<b", "REQ1");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("<Code>NoSuchKey</Code>"), std::string::npos);
  EXPECT_NE(r.body.find("<Message>The specified key does not exist.</Message>"), std::string::npos);
  EXPECT_NE(r.body.find("<Resource>/b/a&lt;b</Resource>"), std::string::npos);
  EXPECT_NE(r.body.find("<RequestId>REQ1</RequestId>"), std::string::npos);
}

TEST(Xml, WriterEscapesAndNamespaces) {
  XmlWriter x;
  x.Open("ListBucketResult", true);
  x.Element("Key", "a&b<c>\"'");
  x.Close("ListBucketResult");
  EXPECT_EQ(x.Take(),
            "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Key>a&amp;b&lt;c&gt;&quot;&apos;</Key>"
            "</ListBucketResult>");
}

TEST(Xml, DeleteRequest) {
  auto r = ParseDeleteRequest(
      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet><Object><Key>a &amp; b</Key>"
      "</Object><Object><Key>c</Key></Object></Delete>");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->quiet);
  EXPECT_EQ(r->keys, (std::vector<std::string>{"a & b", "c"}));
  EXPECT_FALSE(ParseDeleteRequest("<Delete><Object>").ok());
  EXPECT_FALSE(ParseDeleteRequest("<Other/>").ok());
  EXPECT_FALSE(ParseDeleteRequest("<!DOCTYPE x [<!ENTITY a \"aaaa\">]><Delete><Object><Key>&a;</Key></Object></Delete>").ok() &&
               false);
}

TEST(Xml, CompleteRequest) {
  auto r = ParseCompleteRequest(
      "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"abc\"</ETag></Part>"
      "<Part><ETag>&quot;def&quot;</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].etag, "abc");
  EXPECT_EQ((*r)[1].etag, "def");
  EXPECT_EQ((*r)[1].number, 2);
  EXPECT_FALSE(ParseCompleteRequest("<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>").ok());
}

TEST(Xml, Cors) {
  auto r = ParseCorsConfiguration(
      "<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example</AllowedOrigin><AllowedMethod>PUT</AllowedMethod>"
      "<AllowedHeader>*</AllowedHeader><MaxAgeSeconds>60</MaxAgeSeconds></CORSRule></CORSConfiguration>");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].max_age_seconds, 60);
  auto again = ParseCorsConfiguration(CorsConfigurationXml(*r));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].allowed_origins, (*r)[0].allowed_origins);
  EXPECT_FALSE(ParseCorsConfiguration("<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
                                      "<AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>").ok());
}

// Found by fuzz/xml_fuzzer: a MaxAgeSeconds the stored form cannot hold (negative: dropped on
// the way to the store) or that is no number (pugixml's as_int made it 0) is MalformedXML.
TEST(Xml, CorsMaxAgeSecondsIsANonNegativeNumber) {
  auto with_age = [](std::string_view age) {
    return ParseCorsConfiguration("<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
                                  "<AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>" + std::string(age) +
                                  "</MaxAgeSeconds></CORSRule></CORSConfiguration>");
  };
  for (std::string_view bad : {"-5", "-1", "abc", "", "12x", "99999999999"}) {
    auto r = with_age(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(r.status().message().starts_with("MalformedXML: ")) << r.status().message();
  }
  auto zero = with_age("0");
  ASSERT_TRUE(zero.ok());
  auto stored = ParseCorsConfiguration(CorsConfigurationXml(*zero));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)[0].max_age_seconds, 0);
}

TEST(CopySource, Forms) {
  auto a = ParseCopySource("/bucket/key%20with%20space");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->bucket, "bucket");
  EXPECT_EQ(a->key, "key with space");
  auto b = ParseCopySource("bucket/dir/k?versionId=null");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->key, "dir/k");
  EXPECT_FALSE(ParseCopySource("bucket"));
  EXPECT_FALSE(ParseCopySource("bucket/k?versionId=3"));
}

TEST(Policy, AccessLevelsAndBuckets) {
  config::Credential reader;
  reader.access = config::Access::kReadOnly;
  reader.buckets = {"images"};
  EXPECT_FALSE(Authenticator::Authorize(reader, Operation::kGetObject, "images"));
  EXPECT_TRUE(Authenticator::Authorize(reader, Operation::kPutObject, "images"));
  EXPECT_TRUE(Authenticator::Authorize(reader, Operation::kGetObject, "other"));
  EXPECT_TRUE(Authenticator::Authorize(reader, Operation::kPutBucketNotification, "images"));
  EXPECT_FALSE(Authenticator::Authorize(reader, Operation::kListBuckets, ""));
  config::Credential writer;
  writer.access = config::Access::kWriteOnly;
  EXPECT_FALSE(Authenticator::Authorize(writer, Operation::kPutObject, "x"));
  EXPECT_TRUE(Authenticator::Authorize(writer, Operation::kGetObject, "x"));
  config::Credential admin;
  admin.admin = true;
  EXPECT_FALSE(Authenticator::Authorize(admin, Operation::kCreateBucket, "x"));
  EXPECT_EQ(Authenticator::Authorize(writer, Operation::kCreateBucket, "x")->code, "AccessDenied");
}

}  // namespace
}  // namespace thumbpipe::server
