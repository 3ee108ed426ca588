// libFuzzer target on the SigV4 room's parsers of untrusted input: the Authorization
// header, whole requests through the Verifier (header and presigned forms), the
// aws-chunked decoder in its three modes and the plain-body checksum headers. Besides
// crashes and sanitizer reports, a finding is: an error without an S3 code, decoded
// output longer than x-amz-decoded-content-length, or the decoder answering differently
// when the same body arrives in other slices (the server reads sockets in arbitrary
// pieces, so the result must not depend on them).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "sigv4/checksums.h"
#include "sigv4/chunked.h"
#include "sigv4/verifier.h"

namespace {

using namespace thumbpipe::sigv4;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "sigv4_fuzzer: %s\n", what);
    std::abort();
  }
}

void CheckError(const AuthStatus& s) {
  if (!s.ok()) Check(!s.s3_code().empty() && s.http_status() >= 400, "error without an S3 code");
}

// "METHOD PATH[?QUERY]\nName:value\n...\n\nbody"
Request ParseRequest(std::string_view text, std::string* body) {
  Request r;
  std::size_t eol = text.find('\n');
  std::string_view first = text.substr(0, eol);
  std::size_t sp = first.find(' ');
  r.method = std::string(first.substr(0, sp));
  std::string_view target =
      sp == std::string_view::npos ? std::string_view() : first.substr(sp + 1);
  std::size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  std::size_t pos = eol == std::string_view::npos ? text.size() : eol + 1;
  while (pos < text.size()) {
    std::size_t next = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, (next == std::string_view::npos ? text.size() : next) - pos);
    pos = next == std::string_view::npos ? text.size() : next + 1;
    if (line.empty()) {
      *body = std::string(text.substr(pos));
      break;
    }
    std::size_t colon = line.find(':');
    r.headers.push_back(
        {std::string(line.substr(0, colon)),
         colon == std::string_view::npos ? std::string() : std::string(line.substr(colon + 1))});
  }
  return r;
}

const Verifier& TheVerifier() {
  static thumbpipe::ManualClock clock(*ParseAmzDate("20130524T000000Z"));
  static Verifier verifier([] {
    VerifierOptions o;
    o.clock = &clock;
    o.lookup = [](std::string_view ak) -> std::optional<std::string> {
      if (ak == "AKIAIOSFODNN7EXAMPLE")
        return std::string("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
      return std::nullopt;
    };
    return o;
  }());
  return verifier;
}

ChunkSigningContext Context() {
  return {
      DeriveSigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"),
      "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
      "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"};
}

void FuzzChunked(uint8_t selector, uint8_t step, uint16_t length, std::string_view body) {
  static constexpr PayloadMode kModes[] = {PayloadMode::kStreamingSigned,
                                           PayloadMode::kStreamingSignedTrailer,
                                           PayloadMode::kStreamingUnsignedTrailer};
  ChunkedOptions o;
  o.mode = kModes[selector % 3];
  o.decoded_length = length;
  if (o.mode != PayloadMode::kStreamingUnsignedTrailer) o.signing = Context();
  if (HasTrailer(o.mode)) o.trailer_checksum = static_cast<ChecksumAlgorithm>((selector / 3) % 5);
  auto whole = AwsChunkedDecoder::Create(o);
  auto sliced = AwsChunkedDecoder::Create(o);
  Check(whole.ok() && sliced.ok(), "valid options refused");
  std::string out_whole, out_sliced;
  AuthStatus s_whole = whole->Feed(body, &out_whole);
  if (s_whole.ok()) s_whole = whole->Finish();
  AuthStatus s_sliced;
  std::size_t n = 1 + step % 16;
  for (std::size_t i = 0; i < body.size() && s_sliced.ok(); i += n)
    s_sliced = sliced->Feed(body.substr(i, n), &out_sliced);
  if (s_sliced.ok()) s_sliced = sliced->Finish();
  CheckError(s_whole);
  CheckError(s_sliced);
  Check(s_whole.code() == s_sliced.code(), "slicing changed the decoder's answer");
  Check(out_whole == out_sliced, "slicing changed the decoded bytes");
  Check(out_whole.size() <= o.decoded_length, "decoded more than x-amz-decoded-content-length");
  Check(!s_whole.ok() || out_whole.size() == o.decoded_length, "accepted a short body");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 4, size - 4);
  switch (data[0] % 4) {
    case 0: {
      auto a = ParseAuthorization(rest);
      CheckError(a.status());
      if (a.ok())
        Check(!a->access_key.empty() && a->date8.size() == 8 && !a->signed_headers.empty(),
              "bad parse");
      break;
    }
    case 1: {
      std::string body;
      Request r = ParseRequest(rest, &body);
      r.payload_hash = Sha256Hex(body);
      for (std::string_view service : {"s3", "sqs"}) {
        auto v = TheVerifier().Verify(r, service);
        CheckError(v.status());
      }
      break;
    }
    case 2:
      FuzzChunked(data[1], data[2], static_cast<uint16_t>(data[3] | (data[1] << 8)), rest);
      break;
    default: {
      std::string body;
      Request r = ParseRequest(rest, &body);
      auto c = PayloadChecker::Create(
          r.headers, data[1] & 1 ? std::optional<std::string>(Sha256Hex("x")) : std::nullopt);
      CheckError(c.status());
      if (c.ok()) {
        c->Update(body);
        CheckError(c->Finish());
      }
    }
  }
  return 0;
}
