#include "sigv4/payload.h"

namespace thumbpipe::sigv4 {

namespace {
constexpr std::string_view kStreamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
constexpr std::string_view kStreamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
constexpr std::string_view kStreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

bool IsHex64(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}
}  // namespace

std::string_view PayloadModeName(PayloadMode mode) {
  switch (mode) {
    case PayloadMode::kSha256:
      return "<sha256>";
    case PayloadMode::kUnsigned:
      return "UNSIGNED-PAYLOAD";
    case PayloadMode::kStreamingSigned:
      return kStreamingSigned;
    case PayloadMode::kStreamingSignedTrailer:
      return kStreamingSignedTrailer;
    case PayloadMode::kStreamingUnsignedTrailer:
      return kStreamingUnsignedTrailer;
  }
  return "";
}

std::optional<PayloadMode> ParsePayloadMode(std::string_view value) {
  if (value == "UNSIGNED-PAYLOAD") return PayloadMode::kUnsigned;
  if (value == kStreamingSigned) return PayloadMode::kStreamingSigned;
  if (value == kStreamingSignedTrailer) return PayloadMode::kStreamingSignedTrailer;
  if (value == kStreamingUnsignedTrailer) return PayloadMode::kStreamingUnsignedTrailer;
  if (IsHex64(value)) return PayloadMode::kSha256;
  return std::nullopt;
}

bool IsStreaming(PayloadMode mode) {
  return mode == PayloadMode::kStreamingSigned || mode == PayloadMode::kStreamingSignedTrailer ||
         mode == PayloadMode::kStreamingUnsignedTrailer;
}

bool HasTrailer(PayloadMode mode) {
  return mode == PayloadMode::kStreamingSignedTrailer ||
         mode == PayloadMode::kStreamingUnsignedTrailer;
}

}  // namespace thumbpipe::sigv4
