// The verifier: requests signed by our signer pass, and every single mutation of a
// signed request fails with the code S3 answers. Time is a ManualClock.
#include "sigv4/verifier.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include "common/clock.h"
#include "sigv4/signer.h"

namespace thumbpipe::sigv4 {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::string_view kAk = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest() : clock_(*ParseAmzDate("20130524T000000Z")) {
    options_.clock = &clock_;
    options_.region = "us-east-1";
    options_.lookup = [](std::string_view ak) -> std::optional<std::string> {
      if (ak == kAk) return std::string(kSecret);
      return std::nullopt;
    };
  }

  static Request BaseRequest() {
    Request r;
    r.method = "PUT";
    r.path = "/bucket/photos/cat%20one.jpg";
    r.query = "x-id=PutObject";
    r.headers = {{"Host", "127.0.0.1:9000"},
                 {"Content-Type", "image/jpeg"},
                 {"x-amz-meta-owner", "  Alice   B  "}};
    r.payload_hash = Sha256Hex("body");
    return r;
  }

  Request Signed(Request r, std::string_view service = "s3",
                 std::string_view region = "us-east-1") {
    SigningParams params;
    params.region = std::string(region);
    params.service = std::string(service);
    params.time = clock_.Now();
    auto s = SignRequest(&r, Credentials{std::string(kAk), std::string(kSecret), {}}, params);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return r;
  }

  AuthResult<VerifiedRequest> Verify(const Request& r, std::string_view service = "s3") {
    return Verifier(options_).Verify(r, service);
  }

  void ExpectError(const Request& r, S3Error code, std::string_view service = "s3") {
    auto v = Verify(r, service);
    ASSERT_FALSE(v.ok()) << "expected " << S3ErrorName(code);
    EXPECT_EQ(v.status().code(), code) << v.status().ToString();
  }

  static std::string& HeaderValue(Request& r, std::string_view name) {
    for (auto& h : r.headers) {
      if (EqualsIgnoreCase(h.name, name)) return h.value;
    }
    ADD_FAILURE() << "no header " << name;
    static std::string none;
    return none;
  }

  ManualClock clock_;
  VerifierOptions options_;
};

TEST_F(VerifierTest, SignedRequestPasses) {
  auto v = Verify(Signed(BaseRequest()));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->access_key, kAk);
  EXPECT_FALSE(v->presigned);
  EXPECT_EQ(v->payload_mode, PayloadMode::kSha256);
  EXPECT_EQ(v->payload_sha256, Sha256Hex("body"));
  EXPECT_FALSE(v->chunk_context.has_value());
}

TEST_F(VerifierTest, AwsDocGetObjectExampleVerifiesAndOurSignerReproducesIt) {
  Request r;
  r.method = "GET";
  r.path = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}};
  Request s = Signed(r);
  EXPECT_EQ(HeaderValue(s, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  auto v = Verify(s);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
}

TEST_F(VerifierTest, EverySignatureCharacterMatters) {
  Request good = Signed(BaseRequest());
  std::string& auth = HeaderValue(good, "authorization");
  std::size_t start = auth.find("Signature=") + 10;
  for (std::size_t i = start; i < auth.size(); ++i) {
    Request bad = good;
    char& c = HeaderValue(bad, "authorization")[i];
    c = c == '0' ? '1' : '0';
    ExpectError(bad, S3Error::kSignatureDoesNotMatch);
  }
  Request truncated = good;
  HeaderValue(truncated, "authorization").pop_back();
  ExpectError(truncated, S3Error::kSignatureDoesNotMatch);
  Request upper = good;
  for (std::size_t i = start; i < auth.size(); ++i) {
    char& c = HeaderValue(upper, "authorization")[i];
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  ExpectError(upper, S3Error::kSignatureDoesNotMatch);
}

TEST_F(VerifierTest, EverySignedPartMatters) {
  const Request good = Signed(BaseRequest());
  struct Mutation {
    const char* what;
    std::function<void(Request&)> apply;
    S3Error code;
  };
  const Mutation mutations[] = {
      {"method", [](Request& r) { r.method = "POST"; }, S3Error::kSignatureDoesNotMatch},
      {"path", [](Request& r) { r.path = "/bucket/photos/cat%20two.jpg"; },
       S3Error::kSignatureDoesNotMatch},
      {"path dot segment", [](Request& r) { r.path = "/bucket/photos/../photos/cat%20one.jpg"; },
       S3Error::kSignatureDoesNotMatch},
      {"path double slash", [](Request& r) { r.path = "/bucket/photos//cat%20one.jpg"; },
       S3Error::kSignatureDoesNotMatch},
      {"query value", [](Request& r) { r.query = "x-id=GetObject"; },
       S3Error::kSignatureDoesNotMatch},
      {"query added", [](Request& r) { r.query += "&acl"; }, S3Error::kSignatureDoesNotMatch},
      {"query removed", [](Request& r) { r.query.clear(); }, S3Error::kSignatureDoesNotMatch},
      {"host", [](Request& r) { HeaderValue(r, "host") = "127.0.0.1:9001"; },
       S3Error::kSignatureDoesNotMatch},
      {"signed header value", [](Request& r) { HeaderValue(r, "content-type") = "image/png"; },
       S3Error::kSignatureDoesNotMatch},
      {"signed x-amz-meta value",
       [](Request& r) { HeaderValue(r, "x-amz-meta-owner") = "Mallory"; },
       S3Error::kSignatureDoesNotMatch},
      {"signed header removed",
       [](Request& r) {
         std::erase_if(r.headers, [](const Header& h) { return h.name == "Content-Type"; });
       },
       S3Error::kSignatureDoesNotMatch},
      {"signed header repeated",
       [](Request& r) {
         r.headers.push_back({"content-type", "text/html"});
       },
       S3Error::kSignatureDoesNotMatch},
      {"payload hash",
       [](Request& r) { HeaderValue(r, "x-amz-content-sha256") = Sha256Hex("other"); },
       S3Error::kSignatureDoesNotMatch},
      {"payload switched to unsigned",
       [](Request& r) { HeaderValue(r, "x-amz-content-sha256") = "UNSIGNED-PAYLOAD"; },
       S3Error::kSignatureDoesNotMatch},
      {"payload switched to unsigned trailer",
       [](Request& r) {
         HeaderValue(r, "x-amz-content-sha256") = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
       },
       S3Error::kSignatureDoesNotMatch},
      {"x-amz-date by one second",
       [](Request& r) { HeaderValue(r, "x-amz-date") = "20130524T000001Z"; },
       S3Error::kSignatureDoesNotMatch},
      {"x-amz-date another day",
       [](Request& r) { HeaderValue(r, "x-amz-date") = "20130523T235959Z"; },
       S3Error::kAuthorizationHeaderMalformed},
      {"x-amz-date garbage", [](Request& r) { HeaderValue(r, "x-amz-date") = "yesterday"; },
       S3Error::kAccessDenied},
      {"scope date",
       [](Request& r) {
         auto& a = HeaderValue(r, "authorization");
         a.replace(a.find("/20130524/"), 10, "/20130525/");
       },
       S3Error::kAuthorizationHeaderMalformed},
      {"region",
       [](Request& r) {
         auto& a = HeaderValue(r, "authorization");
         a.replace(a.find("us-east-1"), 9, "eu-west-1");
       },
       S3Error::kAuthorizationHeaderMalformed},
      {"service",
       [](Request& r) {
         auto& a = HeaderValue(r, "authorization");
         a.replace(a.find("/s3/"), 4, "/sqs/");
       },
       S3Error::kAuthorizationHeaderMalformed},
      {"terminator",
       [](Request& r) {
         auto& a = HeaderValue(r, "authorization");
         a.replace(a.find("aws4_request"), 12, "aws5_request");
       },
       S3Error::kAuthorizationHeaderMalformed},
      {"access key",
       [](Request& r) {
         auto& a = HeaderValue(r, "authorization");
         a.replace(a.find(kAk), kAk.size(), "AKIAIOSFODNN7EXAMPLF");
       },
       S3Error::kInvalidAccessKeyId},
      {"signed headers list shortened",
       [](Request& r) {
         auto& a = HeaderValue(r, "authorization");
         a.replace(a.find("content-type;"), 13, "");
       },
       S3Error::kSignatureDoesNotMatch},
      {"host no longer signed",
       [](Request& r) {
         auto& a = HeaderValue(r, "authorization");
         a.replace(a.find("host;"), 5, "");
       },
       S3Error::kAccessDenied},
      {"unsigned x-amz header added",
       [](Request& r) {
         r.headers.push_back({"x-amz-meta-extra", "1"});
       },
       S3Error::kAccessDenied},
      {"unsigned x-amz-copy-source added",
       [](Request& r) {
         r.headers.push_back({"X-Amz-Copy-Source", "/other/secret"});
       },
       S3Error::kAccessDenied},
      {"x-amz-content-sha256 dropped",
       [](Request& r) {
         std::erase_if(r.headers, [](const Header& h) { return h.name == "x-amz-content-sha256"; });
       },
       S3Error::kInvalidRequest},
      {"second Authorization",
       [](Request& r) {
         r.headers.push_back({"Authorization", "x"});
       },
       S3Error::kInvalidArgument},
      {"security token",
       [](Request& r) {
         r.headers.push_back({"X-Amz-Security-Token", "t"});
       },
       S3Error::kInvalidToken},
      {"presign parameters too", [](Request& r) { r.query += "&X-Amz-Algorithm=AWS4-HMAC-SHA256"; },
       S3Error::kInvalidArgument},
  };
  for (const auto& m : mutations) {
    SCOPED_TRACE(m.what);
    Request bad = good;
    m.apply(bad);
    ExpectError(bad, m.code);
  }
}

TEST_F(VerifierTest, WrongSecretDoesNotMatch) {
  Request r = BaseRequest();
  SigningParams params;
  params.time = clock_.Now();
  ASSERT_TRUE(SignRequest(&r, Credentials{std::string(kAk), "not-the-secret", {}}, params).ok());
  ExpectError(r, S3Error::kSignatureDoesNotMatch);
  AuthStatus s = Verify(r).status();
  // The log gets what it takes to compare with the client's canonical request; the
  // client's message carries none of it.
  EXPECT_TRUE(s.log_detail().starts_with(
      "canonical request:\nPUT\n/bucket/photos/cat%20one.jpg\nx-id=PutObject\n"))
      << s.log_detail();
  EXPECT_EQ(s.message().find("PUT"), std::string::npos);
}

// The MinIO bypass (GHSA-9c4q-hq6p-c237): whatever payload mode a request announces, its
// header signature is checked.
TEST_F(VerifierTest, HeaderSignatureCheckedInEveryPayloadMode) {
  for (std::string mode :
       {"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"}) {
    SCOPED_TRACE(mode);
    Request r = BaseRequest();
    r.payload_hash = mode;
    r = Signed(r);
    ASSERT_TRUE(Verify(r).ok());
    std::string& auth = HeaderValue(r, "authorization");
    auth.back() = auth.back() == '0' ? '1' : '0';
    ExpectError(r, S3Error::kSignatureDoesNotMatch);
    EXPECT_EQ(Verify(r).status().http_status(), 403);
  }
}

TEST_F(VerifierTest, ClockSkewOfFifteenMinutes) {
  Request r = Signed(BaseRequest());
  clock_.Advance(minutes(14));
  EXPECT_TRUE(Verify(r).ok());
  clock_.Advance(minutes(1));
  EXPECT_TRUE(Verify(r).ok()) << "exactly 15 minutes is still allowed";
  clock_.Advance(seconds(1));
  ExpectError(r, S3Error::kRequestTimeTooSkewed);
  clock_.Advance(-minutes(30) - seconds(1));
  EXPECT_TRUE(Verify(r).ok());
  clock_.Advance(-minutes(2));
  ExpectError(r, S3Error::kRequestTimeTooSkewed);
  EXPECT_EQ(Verify(r).status().http_status(), 403);
}

TEST_F(VerifierTest, DateHeaderWhenNoXAmzDate) {
  // The S3 reference's PUT example signs Date and x-amz-date; sign with Date only here.
  Request r = BaseRequest();
  r.headers.push_back({"Date", "Fri, 24 May 2013 00:00:00 GMT"});
  r.headers.push_back({"x-amz-content-sha256", *r.payload_hash});
  std::vector<std::string> names = {"content-type", "date", "host", "x-amz-content-sha256",
                                    "x-amz-meta-owner"};
  std::string creq = CanonicalRequest(r, PathMode::kS3, names, *r.payload_hash);
  std::string scope = "20130524/us-east-1/s3/aws4_request";
  std::string sig = SignatureHex(DeriveSigningKey(kSecret, "20130524", "us-east-1", "s3"),
                                 StringToSign("20130524T000000Z", scope, creq));
  r.headers.push_back({"Authorization", "AWS4-HMAC-SHA256 Credential=" + std::string(kAk) + "/" +
                                            scope + ",SignedHeaders=" + JoinSignedHeaders(names) +
                                            ",Signature=" + sig});
  auto v = Verify(r);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  HeaderValue(r, "date") = "Fri, 24 May 2013 00:00:01 GMT";
  ExpectError(r, S3Error::kSignatureDoesNotMatch);
  HeaderValue(r, "date") = "not a date";
  ExpectError(r, S3Error::kAccessDenied);
}

TEST_F(VerifierTest, AnonymousAndForeignMechanisms) {
  Request r = BaseRequest();
  r.headers.push_back({"x-amz-content-sha256", "UNSIGNED-PAYLOAD"});
  options_.require_signed_amz_headers = false;
  ExpectError(r, S3Error::kAccessDenied);
  r.headers.push_back({"Authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="});
  ExpectError(r, S3Error::kInvalidRequest);
  HeaderValue(r, "authorization") =
      "AWS4-ECDSA-P256-SHA256 Credential=a/20130524/us-east-1/s3/aws4_request, "
      "SignedHeaders=host, Signature=00";
  ExpectError(r, S3Error::kAuthorizationHeaderMalformed);
  EXPECT_EQ(Verify(r).status().http_status(), 400);
}

TEST(ParseAuthorization, AcceptsWhatClientsSend) {
  auto a = ParseAuthorization(
      "AWS4-HMAC-SHA256 "
      "Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-date,"
      "Signature=abc");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->access_key, "AK");
  EXPECT_EQ(a->date8, "20130524");
  EXPECT_EQ(a->region, "us-east-1");
  EXPECT_EQ(a->service, "s3");
  EXPECT_EQ(a->terminator, "aws4_request");
  EXPECT_EQ(a->signed_headers, (std::vector<std::string>{"host", "x-amz-date"}));
  EXPECT_EQ(a->signature, "abc");
  // Components in another order, blanks after commas.
  auto b = ParseAuthorization(
      "AWS4-HMAC-SHA256 Signature=abc,  SignedHeaders=host, "
      "Credential=AK/20130524/us-east-1/s3/aws4_request");
  EXPECT_TRUE(b.ok()) << b.status().ToString();
}

TEST(ParseAuthorization, RejectsMalformedHeaders) {
  const char* bad[] = {
      "",
      "AWS4-HMAC-SHA256",
      "AWS4-HMAC-SHA256 ",
      "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host",
      "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3, SignedHeaders=host, Signature=a",
      "AWS4-HMAC-SHA256 Credential=AK/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, "
      "Signature=a",
      "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request/x, SignedHeaders=host, "
      "Signature=a",
      "AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
      "Signature=a",
      "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=Host, "
      "Signature=a",
      "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;;a, "
      "Signature=a",
      "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;host, "
      "Signature=a",
      "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
      "Signature=a, "
      "Signature=b",
      "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
      "Signature=a, X=1",
      "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,, SignedHeaders=host, "
      "Signature=a",
      "AWS4-HMAC-SHA512 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
      "Signature=a",
  };
  for (const char* h : bad) {
    SCOPED_TRACE(h);
    auto a = ParseAuthorization(h);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.status().code(), S3Error::kAuthorizationHeaderMalformed) << a.status().ToString();
  }
}

TEST_F(VerifierTest, PayloadModes) {
  struct Case {
    std::string value;
    std::optional<PayloadMode> mode;
    S3Error error;
  };
  const Case cases[] = {
      {"UNSIGNED-PAYLOAD", PayloadMode::kUnsigned, S3Error::kNone},
      {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", PayloadMode::kStreamingSigned, S3Error::kNone},
      {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", PayloadMode::kStreamingSignedTrailer,
       S3Error::kNone},
      {"STREAMING-UNSIGNED-PAYLOAD-TRAILER", PayloadMode::kStreamingUnsignedTrailer,
       S3Error::kNone},
      {std::string(kEmptySha256Hex), PayloadMode::kSha256, S3Error::kNone},
      {"STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", std::nullopt, S3Error::kNotImplemented},
      {"e3b0c442", std::nullopt, S3Error::kInvalidArgument},
      {"unsigned-payload", std::nullopt, S3Error::kInvalidArgument},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    Request r = BaseRequest();
    r.payload_hash = c.value;
    auto v = Verify(Signed(r));
    if (c.mode) {
      ASSERT_TRUE(v.ok()) << v.status().ToString();
      EXPECT_EQ(v->payload_mode, *c.mode);
      bool signed_stream = *c.mode == PayloadMode::kStreamingSigned ||
                           *c.mode == PayloadMode::kStreamingSignedTrailer;
      EXPECT_EQ(v->chunk_context.has_value(), signed_stream);
      if (signed_stream) {
        EXPECT_EQ(v->chunk_context->scope, "20130524/us-east-1/s3/aws4_request");
        EXPECT_EQ(v->chunk_context->amz_date, "20130524T000000Z");
      }
    } else {
      ASSERT_FALSE(v.ok());
      EXPECT_EQ(v.status().code(), c.error) << v.status().ToString();
    }
  }
}

TEST_F(VerifierTest, SqsUsesTheBodyHashAndTheGenericPath) {
  Request r = BaseRequest();
  r.method = "POST";
  r.path = "/123456789012/images";
  r.query.clear();
  r.headers = {{"Host", "127.0.0.1:9000"},
               {"Content-Type", "application/x-amz-json-1.0"},
               {"X-Amz-Target", "AmazonSQS.SendMessage"}};
  Request s = Signed(r, "sqs");
  EXPECT_FALSE(FindHeader(s.headers, "x-amz-content-sha256").has_value());
  auto v = Verify(s, "sqs");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->service, "sqs");
  ExpectError(s, S3Error::kAuthorizationHeaderMalformed, "s3");  // scope names sqs
  Request other_body = s;
  other_body.payload_hash = Sha256Hex("another body");
  ExpectError(other_body, S3Error::kSignatureDoesNotMatch, "sqs");
  Request no_hash = s;
  no_hash.payload_hash.reset();
  ExpectError(no_hash, S3Error::kInvalidRequest, "sqs");
}

class PresignTest : public VerifierTest {
 protected:
  std::string Presign(const Request& r, seconds expires) {
    SigningParams params;
    params.time = clock_.Now();
    auto q =
        PresignQuery(r, Credentials{std::string(kAk), std::string(kSecret), {}}, params, expires);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? *q : std::string();
  }
  static Request GetRequest() {
    Request r;
    r.method = "GET";
    r.path = "/test.txt";
    r.headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
    return r;
  }
  // Replaces the value of query parameter `name` (raw, already encoded).
  static void SetParam(Request& r, std::string_view name, std::string_view value) {
    std::string key = std::string(name) + "=";
    std::size_t at = r.query.find(key);
    ASSERT_NE(at, std::string::npos);
    std::size_t end = r.query.find('&', at);
    r.query.replace(at + key.size(),
                    (end == std::string::npos ? r.query.size() : end) - at - key.size(), value);
  }
};

TEST_F(PresignTest, AwsDocExampleReproducedAndVerified) {
  Request r = GetRequest();
  r.query = Presign(r, seconds(86400));
  EXPECT_EQ(r.query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%"
            "2Fus-east-1%2Fs3%2F"
            "aws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&"
            "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  auto v = Verify(r);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->presigned);
  EXPECT_EQ(v->payload_mode, PayloadMode::kUnsigned);
}

TEST_F(PresignTest, ExpiryUnderTheClock) {
  Request r = GetRequest();
  r.query = Presign(r, seconds(604800));
  EXPECT_TRUE(Verify(r).ok());
  clock_.Advance(seconds(604799));
  EXPECT_TRUE(Verify(r).ok());
  clock_.Advance(seconds(1));
  ExpectError(r, S3Error::kAccessDenied);
  EXPECT_EQ(Verify(r).status().message(), "Request has expired");
}

TEST_F(PresignTest, NotValidBeforeItsDate) {
  Request r = GetRequest();
  r.query = Presign(r, seconds(3600));
  clock_.Advance(-minutes(15));
  EXPECT_TRUE(Verify(r).ok()) << "a client clock 15 min ahead is within the skew";
  clock_.Advance(-seconds(1));
  ExpectError(r, S3Error::kAccessDenied);
  EXPECT_EQ(Verify(r).status().message(), "Request is not valid yet");
}

TEST_F(PresignTest, ExpiresBounds) {
  Request r = GetRequest();
  r.query = Presign(r, seconds(60));
  for (const char* bad : {"604801", "609901", "-7", "abc", "", "1e3", "99999999999"}) {
    SCOPED_TRACE(bad);
    Request m = r;
    SetParam(m, "X-Amz-Expires", bad);
    ExpectError(m, S3Error::kAuthorizationQueryParametersError);
    EXPECT_EQ(Verify(m).status().http_status(), 403);
  }
  Request zero = r;
  SetParam(zero, "X-Amz-Expires", "0");
  ExpectError(zero, S3Error::kAccessDenied);  // a zero-length validity has always expired
  EXPECT_FALSE(
      PresignQuery(GetRequest(), Credentials{"a", "b", {}}, SigningParams{}, seconds(604801)).ok());
}

TEST_F(PresignTest, EveryMutationFails) {
  Request good = GetRequest();
  good.query = "response-content-type=image%2Fpng";
  good.query = Presign(good, seconds(3600));
  ASSERT_TRUE(Verify(good).ok()) << Verify(good).status().ToString();
  struct Mutation {
    const char* what;
    std::function<void(Request&)> apply;
    S3Error code;
  };
  const Mutation mutations[] = {
      {"signature byte",
       [](Request& r) {
         std::size_t at = r.query.find("X-Amz-Signature=") + 20;
         r.query[at] = r.query[at] == '0' ? '1' : '0';
       },
       S3Error::kSignatureDoesNotMatch},
      {"parameter changed", [](Request& r) { SetParam(r, "response-content-type", "text%2Fhtml"); },
       S3Error::kSignatureDoesNotMatch},
      {"parameter added", [](Request& r) { r.query += "&x-id=GetObject"; },
       S3Error::kSignatureDoesNotMatch},
      {"expires changed", [](Request& r) { SetParam(r, "X-Amz-Expires", "7200"); },
       S3Error::kSignatureDoesNotMatch},
      {"date changed", [](Request& r) { SetParam(r, "X-Amz-Date", "20130524T000001Z"); },
       S3Error::kSignatureDoesNotMatch},
      {"date another day", [](Request& r) { SetParam(r, "X-Amz-Date", "20130523T235959Z"); },
       S3Error::kAuthorizationQueryParametersError},
      {"different host", [](Request& r) { HeaderValue(r, "host") = "evil.example.com"; },
       S3Error::kSignatureDoesNotMatch},
      {"different path", [](Request& r) { r.path = "/other.txt"; },
       S3Error::kSignatureDoesNotMatch},
      {"method", [](Request& r) { r.method = "PUT"; }, S3Error::kSignatureDoesNotMatch},
      {"region",
       [](Request& r) {
         SetParam(r, "X-Amz-Credential",
                  "AKIAIOSFODNN7EXAMPLE%2F20130524%2Feu-west-1%2Fs3%2Faws4_request");
       },
       S3Error::kAuthorizationQueryParametersError},
      {"service",
       [](Request& r) {
         SetParam(r, "X-Amz-Credential",
                  "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fsqs%2Faws4_request");
       },
       S3Error::kAuthorizationQueryParametersError},
      {"access key",
       [](Request& r) {
         SetParam(r, "X-Amz-Credential", "AKIANOBODY%2F20130524%2Fus-east-1%2Fs3%2Faws4_request");
       },
       S3Error::kInvalidAccessKeyId},
      {"algorithm", [](Request& r) { SetParam(r, "X-Amz-Algorithm", "AWS4-HMAC-SHA1"); },
       S3Error::kAuthorizationQueryParametersError},
      {"host not signed", [](Request& r) { SetParam(r, "X-Amz-SignedHeaders", "x-amz-date"); },
       S3Error::kAccessDenied},
      {"signature removed", [](Request& r) { r.query.erase(r.query.find("&X-Amz-Signature=")); },
       S3Error::kAuthorizationQueryParametersError},
      {"parameter twice", [](Request& r) { r.query += "&X-Amz-Date=20130524T000000Z"; },
       S3Error::kAuthorizationQueryParametersError},
      {"unsigned x-amz header sent",
       [](Request& r) {
         r.headers.push_back({"x-amz-acl", "public-read"});
       },
       S3Error::kAccessDenied},
      {"security token", [](Request& r) { r.query += "&X-Amz-Security-Token=abc"; },
       S3Error::kInvalidToken},
      {"Authorization too",
       [](Request& r) {
         r.headers.push_back({"Authorization", "AWS4-HMAC-SHA256 x"});
       },
       S3Error::kInvalidArgument},
  };
  for (const auto& m : mutations) {
    SCOPED_TRACE(m.what);
    Request bad = good;
    m.apply(bad);
    ExpectError(bad, m.code);
  }
}

// Seeded random damage to a valid header-signed and a valid presigned request: every
// answer is OK (only if nothing relevant changed) or an error with an S3 code, never a
// crash, and a changed signature is never accepted.
TEST_F(PresignTest, RandomDamageNeverCrashesNorPasses) {
  std::mt19937 rng(2024);
  Request header_signed = Signed(BaseRequest());
  Request presigned = GetRequest();
  presigned.query = Presign(presigned, seconds(3600));
  const std::string alphabet = "aA0/=&;,% .-_~\x01\xff";
  for (int round = 0; round < 4000; ++round) {
    Request r = round % 2 ? header_signed : presigned;
    std::string& target = round % 2 ? HeaderValue(r, "authorization") : r.query;
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits && !target.empty(); ++e) {
      std::size_t at = rng() % target.size();
      switch (rng() % 3) {
        case 0:
          target[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          target.erase(at, 1 + rng() % 8);
          break;
        default:
          target.insert(at, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    auto v = Verify(r);
    if (!v.ok()) {
      EXPECT_FALSE(v.status().s3_code().empty());
      EXPECT_GE(v.status().http_status(), 400);
    } else {
      // Harmless edits exist (a blank after a comma, "%2F" as "%2f"); the signature itself
      // must be intact for any of them to pass.
      std::string_view original =
          round % 2 ? HeaderValue(header_signed, "authorization") : presigned.query;
      std::string_view sig = original.substr(original.size() - 64);
      EXPECT_NE(target.find(sig), std::string::npos) << target;
    }
  }
}

// reliability.md B.20: every signature or digest comparison in this room goes through
// ConstantTimeEquals. A plain == or memcmp on one of them is a timing oracle.
TEST(ConstantTime, NoPlainComparisonOfSignaturesOrDigests) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(THUMBPIPE_SIGV4_SOURCE_DIR);
  std::regex plain(
      R"((signature|expected|digest|checksum)\w*\s*(==|!=)|(==|!=)\s*\w*(signature|expected|digest)\b|[^_]memcmp\s*\(|strcmp\s*\()",
      std::regex::icase);
  int scanned = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (!name.ends_with(".cc") || name.ends_with("_test.cc") || name == "test_util.cc") continue;
    std::ifstream in(e.path());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      EXPECT_FALSE(std::regex_search(line, plain)) << name << ":" << n << ": " << line;
    }
    ++scanned;
  }
  EXPECT_GE(scanned, 8);
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace thumbpipe::sigv4
