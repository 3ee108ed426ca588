#include "server/payload.h"

#include <charconv>

#include "server/auth.h"

namespace thumbpipe::server {
namespace {

sigv4::Headers ToHeaders(const HttpRequestHead& head) {
  sigv4::Headers h;
  for (const HttpHeader& x : head.headers) h.push_back({x.name, x.value});
  return h;
}

std::optional<uint64_t> ParseLength(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<S3Error> PayloadPipe::Create(const HttpRequestHead& head, const sigv4::VerifiedRequest& verified,
                                           uint64_t max_bytes, bool require_length,
                                           std::unique_ptr<PayloadPipe>* out) {
  auto pipe = std::unique_ptr<PayloadPipe>(new PayloadPipe());
  pipe->max_bytes_ = max_bytes;
  const sigv4::Headers headers = ToHeaders(head);
  std::optional<std::string> sha;
  if (sigv4::IsStreaming(verified.payload_mode)) {
    const auto decoded = head.Header("x-amz-decoded-content-length");
    if (!decoded) return MakeS3Error("MissingContentLength");
    pipe->declared_length_ = ParseLength(*decoded);
    if (!pipe->declared_length_) return MakeS3Error("InvalidArgument", "x-amz-decoded-content-length is not a number");
    if (*pipe->declared_length_ > max_bytes) return MakeS3Error("EntityTooLarge");
    auto decoder = sigv4::NewChunkedDecoder(verified, headers);
    if (!decoder.ok()) return FromAuthStatus(decoder.status());
    pipe->decoder_.emplace(std::move(decoder).value());
    if (auto trailer = head.Header("x-amz-trailer")) pipe->trailer_name_ = sigv4::ToLowerAscii(*trailer);
  } else {
    if (verified.payload_mode == sigv4::PayloadMode::kSha256) sha = verified.payload_sha256;
    if (head.content_length) {
      pipe->declared_length_ = head.content_length;
      if (*head.content_length > max_bytes) return MakeS3Error("EntityTooLarge");
    } else if (require_length) {
      return MakeS3Error("MissingContentLength");
    }
  }
  auto checker = sigv4::PayloadChecker::Create(headers, sha);
  if (!checker.ok()) return FromAuthStatus(checker.status());
  pipe->checker_.emplace(std::move(checker).value());
  *out = std::move(pipe);
  return std::nullopt;
}

std::optional<S3Error> PayloadPipe::Feed(std::string_view raw, std::string* out) {
  const size_t before = out->size();
  if (decoder_) {
    const sigv4::AuthStatus st = decoder_->Feed(raw, out);
    if (!st.ok()) return FromAuthStatus(st);
  } else {
    out->append(raw);
  }
  const std::string_view decoded(out->data() + before, out->size() - before);
  payload_bytes_ += decoded.size();
  if (payload_bytes_ > max_bytes_) return MakeS3Error("EntityTooLarge");
  checker_->Update(decoded);
  return std::nullopt;
}

std::optional<S3Error> PayloadPipe::Finish() {
  if (decoder_) {
    const sigv4::AuthStatus st = decoder_->Finish();
    if (!st.ok()) return FromAuthStatus(st);
    // S3 answers a verified checksum with its header; the SDKs may compare it.
    if (auto value = decoder_->trailer_checksum_base64(); value && !trailer_name_.empty()) {
      trailer_checksum_ = {trailer_name_, *value};
    }
  }
  if (declared_length_ && payload_bytes_ != *declared_length_) return MakeS3Error("IncompleteBody");
  const sigv4::AuthStatus st = checker_->Finish();
  if (!st.ok()) return FromAuthStatus(st);
  if (auto alg = checker_->checksum_algorithm()) {
    trailer_checksum_ = {std::string(sigv4::ChecksumHeaderName(*alg)), checker_->checksum_base64()};
  }
  return std::nullopt;
}

std::optional<std::pair<std::string, std::string>> PayloadPipe::checksum() const {
  return trailer_checksum_;
}

}  // namespace thumbpipe::server
