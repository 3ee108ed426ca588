// aws-chunked: the AWS "Example: PUT Object" (sigv4-streaming.html) byte for byte, the
// trailer variants for every checksum algorithm, truncation and tampering, slicing
// independence and garbage that must never crash.
#include "sigv4/chunked.h"

#include <gtest/gtest.h>

#include <random>

#include "common/clock.h"
#include "sigv4/signer.h"
#include "sigv4/verifier.h"

namespace thumbpipe::sigv4 {
namespace {

constexpr std::string_view kAk = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kSeed =
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
constexpr std::string_view kSig1 =
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
constexpr std::string_view kSig2 =
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
constexpr std::string_view kSigFinal =
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

// The request of the AWS example, signed as the document shows.
Request ExampleRequest() {
  Request r;
  r.method = "PUT";
  r.path = "/examplebucket/chunkObject.txt";
  r.headers = {{"Host", "s3.amazonaws.com"},
               {"x-amz-date", "20130524T000000Z"},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
               {"Content-Encoding", "aws-chunked"},
               {"x-amz-decoded-content-length", "66560"},
               {"Content-Length", "66824"}};
  r.headers.push_back(
      {"Authorization",
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
       "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
       "x-amz-decoded-content-length;x-amz-storage-class,Signature=" +
           std::string(kSeed)});
  return r;
}

std::string ExampleBody() {
  return "10000;chunk-signature=" + std::string(kSig1) + "\r\n" + std::string(65536, 'a') + "\r\n" +
         "400;chunk-signature=" + std::string(kSig2) + "\r\n" + std::string(1024, 'a') + "\r\n" +
         "0;chunk-signature=" + std::string(kSigFinal) + "\r\n\r\n";
}

ChunkSigningContext ExampleContext() {
  return {DeriveSigningKey(kSecret, "20130524", "us-east-1", "s3"), "20130524T000000Z",
          "20130524/us-east-1/s3/aws4_request", std::string(kSeed)};
}

class ChunkedTest : public ::testing::Test {
 protected:
  ChunkedTest() : clock_(*ParseAmzDate("20130524T000000Z")) {
    options_.clock = &clock_;
    options_.lookup = [](std::string_view ak) -> std::optional<std::string> {
      if (ak == kAk) return std::string(kSecret);
      return std::nullopt;
    };
  }
  ManualClock clock_;
  VerifierOptions options_;
};

// Feeds `body` in slices of `step` bytes (0: all at once).
AuthStatus Decode(AwsChunkedDecoder& d, std::string_view body, std::size_t step, std::string* out) {
  if (step == 0) step = body.size() + 1;
  for (std::size_t i = 0; i < body.size(); i += step) {
    AuthStatus s = d.Feed(body.substr(i, step), out);
    if (!s.ok()) return s;
  }
  return d.Finish();
}

TEST_F(ChunkedTest, AwsPutObjectExampleByteForByte) {
  Request r = ExampleRequest();
  auto v = Verifier(options_).Verify(r, "s3");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->payload_mode, PayloadMode::kStreamingSigned);
  ASSERT_TRUE(v->chunk_context.has_value());
  EXPECT_EQ(v->chunk_context->seed_signature, kSeed);

  std::string body = ExampleBody();
  EXPECT_EQ(body.size(), 66824u) << "the example's Content-Length";
  EXPECT_EQ(ChunkSignature(*v->chunk_context, kSeed, std::string(65536, 'a')), kSig1);
  EXPECT_EQ(ChunkSignature(*v->chunk_context, kSig1, std::string(1024, 'a')), kSig2);
  EXPECT_EQ(ChunkSignature(*v->chunk_context, kSig2, ""), kSigFinal);
  ChunkedEncodeOptions enc;
  enc.signing = *v->chunk_context;
  enc.chunk_size = 65536;
  EXPECT_EQ(EncodeAwsChunked(std::string(66560, 'a'), enc), body);

  auto d = NewChunkedDecoder(*v, r.headers);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  std::string out;
  AuthStatus s = Decode(*d, body, 0, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(d->done());
  EXPECT_EQ(out, std::string(66560, 'a'));
  EXPECT_EQ(d->decoded_bytes(), 66560u);
}

// The trailer example of the same reference (sigv4-streaming-trailers.html): CRC32C
// trailer sOO8/Q==, its chunk signatures and the trailer signature, 66946 bytes on the wire.
TEST_F(ChunkedTest, AwsTrailerExampleByteForByte) {
  Request r;
  r.method = "PUT";
  r.path = "/examplebucket/chunkObject.txt";
  r.headers = {
      {"Host", "s3.amazonaws.com"},
      {"x-amz-date", "20130524T000000Z"},
      {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
      {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"},
      {"Content-Encoding", "aws-chunked"},
      {"x-amz-decoded-content-length", "66560"},
      {"x-amz-trailer", "x-amz-checksum-crc32c"},
      {"Content-Length", "66946"},
      {"Authorization",
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
       "SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;"
       "x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,"
       "Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"}};
  auto v = Verifier(options_).Verify(r, "s3");
  ASSERT_TRUE(v.ok()) << v.status().ToString() << "\n" << v.status().log_detail();
  ASSERT_EQ(v->payload_mode, PayloadMode::kStreamingSignedTrailer);

  const std::string body =
      "10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n" +
      std::string(65536, 'a') +
      "\r\n400;chunk-signature="
      "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n" +
      std::string(1024, 'a') +
      "\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
      "x-amz-checksum-crc32c:sOO8/Q==\r\n"
      "x-amz-trailer-signature:"
      "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n";
  EXPECT_EQ(body.size(), 66946u);
  ChunkedEncodeOptions enc;
  enc.mode = PayloadMode::kStreamingSignedTrailer;
  enc.signing = *v->chunk_context;
  enc.trailer_checksum = ChecksumAlgorithm::kCrc32c;
  enc.chunk_size = 65536;
  EXPECT_EQ(EncodeAwsChunked(std::string(66560, 'a'), enc), body);

  auto d = NewChunkedDecoder(*v, r.headers);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  std::string out;
  AuthStatus s = Decode(*d, body, 4096, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out, std::string(66560, 'a'));
  EXPECT_EQ(d->trailer_checksum_base64(), "sOO8/Q==");
}

TEST_F(ChunkedTest, OneByteAtATimeEqualsAllAtOnce) {
  std::string body = ExampleBody();
  for (std::size_t step : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7},
                           std::size_t{86}, std::size_t{4096}, std::size_t{65537}}) {
    SCOPED_TRACE(step);
    ChunkedOptions o;
    o.signing = ExampleContext();
    o.decoded_length = 66560;
    auto d = AwsChunkedDecoder::Create(o);
    ASSERT_TRUE(d.ok());
    std::string out;
    AuthStatus s = Decode(*d, body, step, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(out, std::string(66560, 'a'));
  }
}

AuthStatus DecodeExample(std::string_view body, uint64_t decoded_length = 66560) {
  ChunkedOptions o;
  o.signing = ExampleContext();
  o.decoded_length = decoded_length;
  auto d = AwsChunkedDecoder::Create(o);
  if (!d.ok()) return d.status();
  std::string out;
  return Decode(*d, body, 1000, &out);
}

TEST_F(ChunkedTest, TamperingAndTruncation) {
  const std::string body = ExampleBody();
#define EXPECT_CODE(s, c) EXPECT_EQ((s).code(), c) << (s).ToString()
  {  // A data byte of chunk 2 changed.
    std::string b = body;
    b[b.find("400;") + 90] = 'b';
    EXPECT_CODE(DecodeExample(b), S3Error::kSignatureDoesNotMatch);
  }
  {  // A signature byte of chunk 2.
    std::string b = body;
    std::size_t at = b.find(kSig2);
    b[at] = b[at] == '0' ? '1' : '0';
    EXPECT_CODE(DecodeExample(b), S3Error::kSignatureDoesNotMatch);
  }
  {  // The final chunk's signature.
    std::string b = body;
    std::size_t at = b.find(kSigFinal) + 63;
    b[at] = b[at] == '0' ? '1' : '0';
    EXPECT_CODE(DecodeExample(b), S3Error::kSignatureDoesNotMatch);
  }
  {  // Chunks swapped: the chain breaks at once.
    std::string chunk1 = body.substr(0, body.find("400;"));
    std::string chunk2 =
        body.substr(chunk1.size(), body.rfind("0;chunk-signature=") - chunk1.size());
    std::string rest = body.substr(chunk1.size() + chunk2.size());
    EXPECT_CODE(DecodeExample(chunk2 + chunk1 + rest), S3Error::kSignatureDoesNotMatch);
  }
  // The final chunk missing; cut inside data; cut inside a size line.
  EXPECT_CODE(DecodeExample(body.substr(0, body.rfind("0;chunk-signature="))),
              S3Error::kIncompleteBody);
  EXPECT_CODE(DecodeExample(body.substr(0, 60000)), S3Error::kIncompleteBody);
  EXPECT_CODE(DecodeExample(body.substr(0, 10)), S3Error::kIncompleteBody);
  EXPECT_CODE(DecodeExample(""), S3Error::kIncompleteBody);
  // x-amz-decoded-content-length disagreeing with the chunks.
  EXPECT_CODE(DecodeExample(body, 66561), S3Error::kIncompleteBody);
  EXPECT_CODE(DecodeExample(body, 66559), S3Error::kInvalidRequest);
  // Data after the final chunk.
  EXPECT_CODE(DecodeExample(body + "x"), S3Error::kInvalidRequest);
  // A chunk without its signature, or with a bare LF.
  EXPECT_CODE(DecodeExample("10000\r\n"), S3Error::kInvalidRequest);
  EXPECT_CODE(DecodeExample("10000;chunk-signature=" + std::string(kSig1) + "\n"),
              S3Error::kInvalidRequest);
  // A chunk not followed by CRLF.
  std::string b = body;
  b[b.find("400;") - 2] = 'x';
  EXPECT_CODE(DecodeExample(b), S3Error::kInvalidRequest);
}

TEST_F(ChunkedTest, FinalChunkWithoutClosingCrlfIsComplete) {
  std::string body = ExampleBody();
  body.resize(body.size() - 2);
  EXPECT_TRUE(DecodeExample(body).ok());
}

TEST_F(ChunkedTest, StrictLimits) {
  ChunkedOptions o;
  o.mode = PayloadMode::kStreamingUnsignedTrailer;
  o.trailer_checksum = ChecksumAlgorithm::kCrc32;
  o.decoded_length = 10;
  auto d = AwsChunkedDecoder::Create(o);
  ASSERT_TRUE(d.ok());
  std::string out;
  // A size line that never ends is refused once it passes max_line_bytes.
  AuthStatus s = d->Feed(std::string(300, '0'), &out);
  EXPECT_EQ(s.code(), S3Error::kInvalidRequest);
  EXPECT_EQ(d->Feed("5\r\n", &out).code(), S3Error::kInvalidRequest) << "errors are final";
  // 17 hex digits, a chunk larger than the object, a negative or spaced size.
  for (const char* line :
       {"00000000000000001\r\n", "b\r\n", "-1\r\n", " 5\r\n", "5 \r\n", "\r\n", "5;x=y\r\n"}) {
    SCOPED_TRACE(line);
    auto e = AwsChunkedDecoder::Create(o);
    EXPECT_EQ(e->Feed(line, &out).code(), S3Error::kInvalidRequest);
  }
  // Trailers beyond max_trailer_bytes.
  auto t = AwsChunkedDecoder::Create(o);
  ASSERT_TRUE(t->Feed("a\r\n0123456789\r\n0\r\n", &out).ok());
  EXPECT_EQ(t->Feed(std::string(5000, 'x'), &out).code(), S3Error::kInvalidRequest);
}

constexpr ChecksumAlgorithm kAlgorithms[] = {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                                             ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256,
                                             ChecksumAlgorithm::kCrc64Nvme};

std::string SomeData(std::size_t n) {
  std::string s(n, '\0');
  std::mt19937 rng(42);
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST_F(ChunkedTest, TrailerChecksumsGoodAndBadForAllAlgorithms) {
  const std::string data = SomeData(100000);
  for (PayloadMode mode :
       {PayloadMode::kStreamingUnsignedTrailer, PayloadMode::kStreamingSignedTrailer}) {
    for (ChecksumAlgorithm a : kAlgorithms) {
      SCOPED_TRACE(std::string(PayloadModeName(mode)) + " " +
                   std::string(ChecksumAlgorithmName(a)));
      ChunkedEncodeOptions enc;
      enc.mode = mode;
      enc.trailer_checksum = a;
      enc.chunk_size = 8192;
      if (mode == PayloadMode::kStreamingSignedTrailer) enc.signing = ExampleContext();
      const std::string body = EncodeAwsChunked(data, enc);
      ChunkedOptions o;
      o.mode = mode;
      o.signing = enc.signing;
      o.decoded_length = data.size();
      o.trailer_checksum = a;

      auto good = AwsChunkedDecoder::Create(o);
      std::string out;
      AuthStatus s = Decode(*good, body, 1 + 997, &out);
      EXPECT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(out, data);
      Checksummer c(a);
      c.Update(data);
      EXPECT_EQ(good->trailer_checksum_base64(), c.FinishBase64());

      // The same trailer over a body with one byte changed: BadDigest. (In the signed
      // variant the chunk signature catches it first.)
      std::string tampered = body;
      tampered[tampered.find("\r\n") + 2 + 5000] ^= 1;
      auto bad = AwsChunkedDecoder::Create(o);
      out.clear();
      EXPECT_EQ(Decode(*bad, tampered, 0, &out).code(), mode == PayloadMode::kStreamingSignedTrailer
                                                            ? S3Error::kSignatureDoesNotMatch
                                                            : S3Error::kBadDigest);

      // A wrong checksum value of the right length: BadDigest (unsigned), or the trailer
      // signature fails (signed).
      Checksummer other(a);
      other.Update("something else");
      std::string wrong = body;
      std::size_t at = wrong.find(std::string(ChecksumHeaderName(a)) + ":");
      std::size_t end = wrong.find("\r\n", at);
      std::size_t vstart = at + ChecksumHeaderName(a).size() + 1;
      wrong.replace(vstart, end - vstart, other.FinishBase64());
      auto w = AwsChunkedDecoder::Create(o);
      out.clear();
      EXPECT_EQ(Decode(*w, wrong, 0, &out).code(), mode == PayloadMode::kStreamingSignedTrailer
                                                       ? S3Error::kSignatureDoesNotMatch
                                                       : S3Error::kBadDigest);

      // The trailer cut off: IncompleteBody.
      auto cut = AwsChunkedDecoder::Create(o);
      out.clear();
      EXPECT_EQ(Decode(*cut, body.substr(0, at), 0, &out).code(), S3Error::kIncompleteBody);
    }
  }
}

TEST_F(ChunkedTest, UnsignedTrailerAsSdksSendIt) {
  // @aws-sdk/client-s3's shape: hex sizes, final "0", one checksum line, blank line.
  std::string data = "hello world";
  std::string body = "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
  ChunkedOptions o;
  o.mode = PayloadMode::kStreamingUnsignedTrailer;
  o.trailer_checksum = ChecksumAlgorithm::kCrc32;
  o.decoded_length = data.size();
  auto d = AwsChunkedDecoder::Create(o);
  std::string out;
  AuthStatus s = Decode(*d, body, 1, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out, data);
  // Without the closing blank line the body is still complete.
  auto e = AwsChunkedDecoder::Create(o);
  out.clear();
  EXPECT_TRUE(Decode(*e, body.substr(0, body.size() - 2), 0, &out).ok());
  // Another trailer than the announced one.
  auto f = AwsChunkedDecoder::Create(o);
  out.clear();
  std::string other =
      "b\r\nhello world\r\n0\r\nx-amz-checksum-sha1:Kq5sNclPz7QV2+lfQIuc6R7oRu0=\r\n\r\n";
  EXPECT_EQ(Decode(*f, other, 0, &out).code(), S3Error::kInvalidRequest);
  // Checksum not base64 of 4 bytes.
  auto g = AwsChunkedDecoder::Create(o);
  out.clear();
  std::string junk = "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:!!!!\r\n\r\n";
  EXPECT_EQ(Decode(*g, junk, 0, &out).code(), S3Error::kInvalidRequest);
}

TEST_F(ChunkedTest, SignedTrailerEndToEndThroughTheVerifier) {
  std::string data = SomeData(20000);
  Request r;
  r.method = "PUT";
  r.path = "/bucket/key";
  r.headers = {{"Host", "localhost"},
               {"Content-Encoding", "aws-chunked"},
               {"x-amz-decoded-content-length", std::to_string(data.size())},
               {"x-amz-trailer", "x-amz-checksum-crc32c"}};
  r.payload_hash = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
  SigningParams params;
  params.time = clock_.Now();
  auto signed_result =
      SignRequest(&r, Credentials{std::string(kAk), std::string(kSecret), {}}, params);
  ASSERT_TRUE(signed_result.ok());
  auto v = Verifier(options_).Verify(r, "s3");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ChunkedEncodeOptions enc;
  enc.mode = PayloadMode::kStreamingSignedTrailer;
  enc.signing = signed_result->chunk_context;
  enc.trailer_checksum = ChecksumAlgorithm::kCrc32c;
  enc.chunk_size = 8192;
  std::string body = EncodeAwsChunked(data, enc);
  auto d = NewChunkedDecoder(*v, r.headers);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  std::string out;
  AuthStatus s = Decode(*d, body, 3, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out, data);

  // The trailer signature line changed.
  std::string bad = body;
  std::size_t at = bad.find("x-amz-trailer-signature:") + 30;
  bad[at] = bad[at] == '0' ? '1' : '0';
  auto e = NewChunkedDecoder(*v, r.headers);
  out.clear();
  EXPECT_EQ(Decode(*e, bad, 0, &out).code(), S3Error::kSignatureDoesNotMatch);
  // The trailer signature missing.
  std::string missing = body.substr(0, body.find("x-amz-trailer-signature:")) + "\r\n";
  auto f = NewChunkedDecoder(*v, r.headers);
  out.clear();
  EXPECT_EQ(Decode(*f, missing, 0, &out).code(), S3Error::kIncompleteBody);
}

TEST_F(ChunkedTest, NewChunkedDecoderReadsTheHeaders) {
  VerifiedRequest v;
  v.payload_mode = PayloadMode::kStreamingUnsignedTrailer;
  EXPECT_EQ(NewChunkedDecoder(v, {{"x-amz-trailer", "x-amz-checksum-crc32"}}).status().code(),
            S3Error::kMissingContentLength);
  EXPECT_EQ(NewChunkedDecoder(v, {{"x-amz-decoded-content-length", "12a"}}).status().code(),
            S3Error::kInvalidArgument);
  EXPECT_EQ(NewChunkedDecoder(v, {{"x-amz-decoded-content-length", "12"}}).status().code(),
            S3Error::kInvalidRequest);
  EXPECT_EQ(NewChunkedDecoder(v, {{"x-amz-decoded-content-length", "12"},
                                  {"x-amz-trailer", "x-amz-checksum-md5"}})
                .status()
                .code(),
            S3Error::kInvalidRequest);
  EXPECT_TRUE(NewChunkedDecoder(v, {{"x-amz-decoded-content-length", "12"},
                                    {"X-Amz-Trailer", "x-amz-checksum-CRC32C"}})
                  .ok());
  v.payload_mode = PayloadMode::kStreamingSigned;
  EXPECT_FALSE(NewChunkedDecoder(v, {{"x-amz-decoded-content-length", "12"}}).ok())
      << "no signing context";
}

TEST(StripAwsChunked, KeepsTheObjectsOwnEncodings) {
  EXPECT_EQ(StripAwsChunked("aws-chunked"), "");
  EXPECT_EQ(StripAwsChunked("aws-chunked,gzip"), "gzip");
  EXPECT_EQ(StripAwsChunked("gzip, AWS-Chunked"), "gzip");
  EXPECT_EQ(StripAwsChunked("gzip,br"), "gzip,br");
  EXPECT_EQ(StripAwsChunked(""), "");
}

TEST_F(ChunkedTest, GarbageNeverCrashes) {
  std::mt19937 rng(7);
  const std::string example = ExampleBody();
  const std::string alphabet = "0123456789abcdef;=\r\n-:xchunksignature";
  for (int round = 0; round < 3000; ++round) {
    std::string input;
    switch (round % 3) {
      case 0:  // random bytes
        input.resize(rng() % 400);
        for (auto& c : input) c = static_cast<char>(rng());
        break;
      case 1:  // tokens of the format in random order
        input.resize(rng() % 400);
        for (auto& c : input) c = alphabet[rng() % alphabet.size()];
        break;
      default:  // the valid example with a few bytes flipped
        input = example.substr(0, 300 + rng() % 200);
        for (int k = 0; k < 3; ++k) input[rng() % input.size()] = static_cast<char>(rng());
    }
    for (PayloadMode mode : {PayloadMode::kStreamingSigned, PayloadMode::kStreamingSignedTrailer,
                             PayloadMode::kStreamingUnsignedTrailer}) {
      ChunkedOptions o;
      o.mode = mode;
      o.decoded_length = rng() % 100000;
      if (mode != PayloadMode::kStreamingUnsignedTrailer) o.signing = ExampleContext();
      if (HasTrailer(mode)) o.trailer_checksum = kAlgorithms[rng() % std::size(kAlgorithms)];
      auto d = AwsChunkedDecoder::Create(o);
      ASSERT_TRUE(d.ok());
      std::string out;
      std::size_t step = 1 + rng() % 50;
      (void)Decode(*d, input, step, &out);
      EXPECT_LE(out.size(), o.decoded_length);
    }
  }
}

}  // namespace
}  // namespace thumbpipe::sigv4
