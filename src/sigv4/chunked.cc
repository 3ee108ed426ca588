#include "sigv4/chunked.h"

#include <algorithm>

namespace thumbpipe::sigv4 {

namespace {

constexpr std::string_view kChunkSignatureField = ";chunk-signature=";
constexpr std::string_view kTrailerSignatureName = "x-amz-trailer-signature";

enum class Phase { kSizeLine, kData, kDataCrlf, kFinalCrlf, kTrailer, kDone, kFailed };

bool IsSignedMode(PayloadMode m) {
  return m == PayloadMode::kStreamingSigned || m == PayloadMode::kStreamingSignedTrailer;
}

std::optional<uint64_t> ParseHexSize(std::string_view hex) {
  if (hex.empty() || hex.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : hex) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return std::nullopt;
    v = (v << 4) | uint64_t(d);
  }
  return v;
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string ChunkSignature(const ChunkSigningContext& context, std::string_view previous_signature,
                           std::string_view chunk_data) {
  std::string sts = "AWS4-HMAC-SHA256-PAYLOAD\n";
  sts += context.amz_date;
  sts += '\n';
  sts += context.scope;
  sts += '\n';
  sts += previous_signature;
  sts += '\n';
  sts += kEmptySha256Hex;
  sts += '\n';
  sts += Sha256Hex(chunk_data);
  return SignatureHex(context.signing_key, sts);
}

namespace {
std::string ChunkSignatureFromHash(const ChunkSigningContext& context,
                                   std::string_view previous_signature,
                                   std::string_view data_hash_hex) {
  std::string sts = "AWS4-HMAC-SHA256-PAYLOAD\n";
  sts += context.amz_date;
  sts += '\n';
  sts += context.scope;
  sts += '\n';
  sts += previous_signature;
  sts += '\n';
  sts += kEmptySha256Hex;
  sts += '\n';
  sts += data_hash_hex;
  return SignatureHex(context.signing_key, sts);
}
}  // namespace

std::string TrailerSignature(const ChunkSigningContext& context,
                             std::string_view previous_signature,
                             std::string_view canonical_trailers) {
  std::string sts = "AWS4-HMAC-SHA256-TRAILER\n";
  sts += context.amz_date;
  sts += '\n';
  sts += context.scope;
  sts += '\n';
  sts += previous_signature;
  sts += '\n';
  sts += Sha256Hex(canonical_trailers);
  return SignatureHex(context.signing_key, sts);
}

struct AwsChunkedDecoder::State {
  ChunkedOptions options;
  Phase phase = Phase::kSizeLine;
  AuthStatus error;
  std::string line;           // the line being assembled (size line or trailer line)
  std::size_t crlf_seen = 0;  // bytes of an expected "\r\n" already matched
  uint64_t chunk_left = 0;    // data bytes still to come in this chunk
  uint64_t decoded = 0;
  std::string previous_signature;
  std::string chunk_signature;  // the signature announced for the current chunk
  Sha256Hasher chunk_hash;
  std::optional<Checksummer> checksum;
  std::size_t trailer_bytes = 0;
  std::optional<std::string> trailer_value;  // base64 as received
  std::optional<std::string> trailer_signature;
  std::string canonical_trailers;
  bool signed_mode = false;

  AuthStatus Fail(S3Error code, std::string message) {
    phase = Phase::kFailed;
    error = AuthStatus(code, std::move(message));
    return error;
  }

  AuthStatus OnSizeLine();
  AuthStatus EndOfChunkData();
  AuthStatus OnTrailerLine();
  AuthStatus EndOfTrailers();
};

AuthStatus AwsChunkedDecoder::State::OnSizeLine() {
  std::string_view l = line;
  std::string_view hex = l;
  if (signed_mode) {
    std::size_t semi = l.find(';');
    if (semi == std::string_view::npos || !l.substr(semi).starts_with(kChunkSignatureField)) {
      return Fail(S3Error::kInvalidRequest,
                  "aws-chunked: a chunk header lacks its chunk-signature");
    }
    hex = l.substr(0, semi);
    chunk_signature = std::string(l.substr(semi + kChunkSignatureField.size()));
    // The signature's format is public; its value is compared in constant time later.
    if (chunk_signature.size() != 64) {
      return Fail(S3Error::kSignatureDoesNotMatch, "aws-chunked: malformed chunk signature");
    }
  }
  auto size = ParseHexSize(hex);
  if (!size) return Fail(S3Error::kInvalidRequest, "aws-chunked: malformed chunk size");
  line.clear();
  if (*size > options.decoded_length - decoded) {
    return Fail(S3Error::kInvalidRequest,
                "aws-chunked: the chunks exceed x-amz-decoded-content-length");
  }
  chunk_left = *size;
  if (*size > 0) {
    phase = Phase::kData;
    return {};
  }
  // The final, empty chunk: it is signed like any other.
  THUMBPIPE_SIGV4_RETURN_IF_ERROR(EndOfChunkData());
  if (decoded != options.decoded_length) {
    return Fail(S3Error::kIncompleteBody,
                "You did not provide the number of bytes specified by the "
                "x-amz-decoded-content-length header.");
  }
  phase = options.trailer_checksum ? Phase::kTrailer : Phase::kFinalCrlf;
  crlf_seen = 0;
  return {};
}

AuthStatus AwsChunkedDecoder::State::EndOfChunkData() {
  if (!signed_mode) return {};
  std::string expected =
      ChunkSignatureFromHash(*options.signing, previous_signature, chunk_hash.FinishHex());
  if (!ConstantTimeEquals(expected, chunk_signature)) {
    return Fail(
        S3Error::kSignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided (chunk).");
  }
  previous_signature = std::move(expected);
  return {};
}

AuthStatus AwsChunkedDecoder::State::OnTrailerLine() {
  std::string_view l = line;
  std::size_t colon = l.find(':');
  if (colon == std::string_view::npos)
    return Fail(S3Error::kInvalidRequest, "aws-chunked: malformed trailer");
  std::string name = ToLowerAscii(TrimBlanks(l.substr(0, colon)));
  std::string value(TrimBlanks(l.substr(colon + 1)));
  line.clear();
  if (signed_mode && name == kTrailerSignatureName) {
    if (trailer_signature)
      return Fail(S3Error::kInvalidRequest, "aws-chunked: trailer signature given twice");
    trailer_signature = std::move(value);
    return {};
  }
  if (name != ChecksumHeaderName(*options.trailer_checksum) || trailer_value || trailer_signature) {
    return Fail(S3Error::kInvalidRequest,
                "aws-chunked: unexpected trailer '" + name.substr(0, 64) +
                    "' (x-amz-trailer names " +
                    std::string(ChecksumHeaderName(*options.trailer_checksum)) + ")");
  }
  canonical_trailers = name + ":" + value + "\n";
  trailer_value = std::move(value);
  return {};
}

AuthStatus AwsChunkedDecoder::State::EndOfTrailers() {
  auto algorithm = *options.trailer_checksum;
  if (!trailer_value) {
    return Fail(
        S3Error::kIncompleteBody,
        "aws-chunked: the trailer " + std::string(ChecksumHeaderName(algorithm)) + " is missing");
  }
  if (signed_mode) {
    if (!trailer_signature)
      return Fail(S3Error::kIncompleteBody, "aws-chunked: the trailer signature is missing");
    std::string expected =
        TrailerSignature(*options.signing, previous_signature, canonical_trailers);
    if (!ConstantTimeEquals(expected, *trailer_signature)) {
      return Fail(S3Error::kSignatureDoesNotMatch,
                  "The request signature we calculated does not match the signature you provided "
                  "(trailer).");
    }
  }
  auto raw = DecodeChecksumValue(algorithm, *trailer_value);
  if (!raw.ok()) return Fail(raw.status().code(), raw.status().message());
  if (!ConstantTimeEquals(checksum->Finish(), *raw)) {
    return Fail(S3Error::kBadDigest, "The " + std::string(ChecksumAlgorithmName(algorithm)) +
                                         " you specified did not match the calculated checksum.");
  }
  phase = Phase::kDone;
  return {};
}

AwsChunkedDecoder::AwsChunkedDecoder() : state_(std::make_unique<State>()) {}
AwsChunkedDecoder::~AwsChunkedDecoder() = default;
AwsChunkedDecoder::AwsChunkedDecoder(AwsChunkedDecoder&&) noexcept = default;
AwsChunkedDecoder& AwsChunkedDecoder::operator=(AwsChunkedDecoder&&) noexcept = default;

AuthResult<AwsChunkedDecoder> AwsChunkedDecoder::Create(ChunkedOptions options) {
  if (!IsStreaming(options.mode)) {
    return AuthStatus(S3Error::kInvalidRequest,
                      "aws-chunked decoding needs a STREAMING-* payload mode");
  }
  bool signed_mode = IsSignedMode(options.mode);
  if (signed_mode && !options.signing) {
    return AuthStatus(S3Error::kInvalidRequest,
                      "internal: a signed stream needs its signing context");
  }
  if (HasTrailer(options.mode) != options.trailer_checksum.has_value()) {
    return AuthStatus(S3Error::kInvalidRequest,
                      HasTrailer(options.mode)
                          ? "x-amz-trailer must name one x-amz-checksum-* trailer"
                          : "x-amz-trailer needs a *-TRAILER x-amz-content-sha256");
  }
  AwsChunkedDecoder decoder;
  State& s = *decoder.state_;
  s.signed_mode = signed_mode;
  if (signed_mode) s.previous_signature = options.signing->seed_signature;
  if (options.trailer_checksum) s.checksum.emplace(*options.trailer_checksum);
  s.options = std::move(options);
  return decoder;
}

AuthStatus AwsChunkedDecoder::Feed(std::string_view input, std::string* out) {
  State& s = *state_;
  std::size_t i = 0;
  while (i < input.size()) {
    switch (s.phase) {
      case Phase::kFailed:
        return s.error;
      case Phase::kDone:
        return s.Fail(S3Error::kInvalidRequest, "aws-chunked: data after the final chunk");
      case Phase::kSizeLine:
      case Phase::kTrailer: {
        bool trailer = s.phase == Phase::kTrailer;
        std::size_t limit = trailer ? s.options.max_trailer_bytes : s.options.max_line_bytes;
        // Scan for the end of the line without copying more than the limit.
        std::size_t nl = input.find('\n', i);
        std::size_t end = nl == std::string_view::npos ? input.size() : nl + 1;
        std::size_t take = end - i;
        std::size_t used = trailer ? s.trailer_bytes : s.line.size();
        if (used + take > limit) {
          return s.Fail(S3Error::kInvalidRequest, trailer
                                                      ? "aws-chunked: trailers too large"
                                                      : "aws-chunked: chunk header line too long");
        }
        s.line.append(input.substr(i, take));
        if (trailer) s.trailer_bytes += take;
        i = end;
        if (nl == std::string_view::npos) break;
        // A complete line: it must end in CRLF.
        if (s.line.size() < 2 || s.line[s.line.size() - 2] != '\r') {
          return s.Fail(S3Error::kInvalidRequest, "aws-chunked: lines must end in CRLF");
        }
        s.line.resize(s.line.size() - 2);
        if (!trailer) {
          THUMBPIPE_SIGV4_RETURN_IF_ERROR(s.OnSizeLine());
        } else if (s.line.empty()) {
          THUMBPIPE_SIGV4_RETURN_IF_ERROR(s.EndOfTrailers());
        } else {
          THUMBPIPE_SIGV4_RETURN_IF_ERROR(s.OnTrailerLine());
        }
        break;
      }
      case Phase::kData: {
        std::size_t n =
            static_cast<std::size_t>(std::min<uint64_t>(s.chunk_left, input.size() - i));
        std::string_view data = input.substr(i, n);
        if (s.signed_mode) s.chunk_hash.Update(data);
        if (s.checksum) s.checksum->Update(data);
        out->append(data);
        s.chunk_left -= n;
        s.decoded += n;
        i += n;
        if (s.chunk_left == 0) {
          THUMBPIPE_SIGV4_RETURN_IF_ERROR(s.EndOfChunkData());
          s.phase = Phase::kDataCrlf;
          s.crlf_seen = 0;
        }
        break;
      }
      case Phase::kDataCrlf:
      case Phase::kFinalCrlf: {
        char want = s.crlf_seen == 0 ? '\r' : '\n';
        if (input[i] != want) {
          return s.Fail(S3Error::kInvalidRequest, "aws-chunked: chunk data not followed by CRLF");
        }
        ++i;
        if (++s.crlf_seen == 2)
          s.phase = s.phase == Phase::kDataCrlf ? Phase::kSizeLine : Phase::kDone;
        break;
      }
    }
  }
  return s.phase == Phase::kFailed ? s.error : AuthStatus();
}

AuthStatus AwsChunkedDecoder::Finish() {
  State& s = *state_;
  switch (s.phase) {
    case Phase::kFailed:
      return s.error;
    case Phase::kDone:
      return {};
    case Phase::kFinalCrlf:
      // Some clients end the body right after the final chunk's line: nothing is missing.
      if (s.crlf_seen == 0) {
        s.phase = Phase::kDone;
        return {};
      }
      break;
    case Phase::kTrailer:
      // ...or after the last trailer line without the closing empty line.
      if (s.line.empty() && s.trailer_value && (!s.signed_mode || s.trailer_signature)) {
        return s.EndOfTrailers();
      }
      break;
    default:
      break;
  }
  return s.Fail(S3Error::kIncompleteBody,
                "You did not provide the number of bytes specified by the "
                "x-amz-decoded-content-length header.");
}

bool AwsChunkedDecoder::done() const { return state_->phase == Phase::kDone; }
uint64_t AwsChunkedDecoder::decoded_bytes() const { return state_->decoded; }

std::optional<std::string> AwsChunkedDecoder::trailer_checksum_base64() const {
  if (state_->phase != Phase::kDone) return std::nullopt;
  return state_->trailer_value;
}

AuthResult<AwsChunkedDecoder> NewChunkedDecoder(const VerifiedRequest& verified,
                                                const Headers& headers,
                                                const ChunkedOptions& limits) {
  ChunkedOptions options = limits;
  options.mode = verified.payload_mode;
  options.signing = verified.chunk_context;
  auto lengths = FindHeaders(headers, "x-amz-decoded-content-length");
  if (lengths.empty()) {
    return AuthStatus(S3Error::kMissingContentLength,
                      "You must provide the x-amz-decoded-content-length header.");
  }
  std::string_view len = lengths[0];
  if (lengths.size() > 1 || len.empty() || len.size() > 19 ||
      len.find_first_not_of("0123456789") != std::string_view::npos) {
    return AuthStatus(S3Error::kInvalidArgument, "x-amz-decoded-content-length must be a number");
  }
  options.decoded_length = std::stoull(std::string(len));
  options.trailer_checksum.reset();
  auto trailers = FindHeaders(headers, "x-amz-trailer");
  if (trailers.size() > 1)
    return AuthStatus(S3Error::kInvalidRequest, "x-amz-trailer given more than once");
  if (trailers.size() == 1) {
    auto algorithm = ChecksumAlgorithmFromHeader(TrimBlanks(trailers[0]));
    if (!algorithm) {
      return AuthStatus(S3Error::kInvalidRequest,
                        "x-amz-trailer must name one of x-amz-checksum-crc32, -crc32c, -crc64nvme, "
                        "-sha1, -sha256");
    }
    options.trailer_checksum = algorithm;
  }
  return AwsChunkedDecoder::Create(std::move(options));
}

std::string StripAwsChunked(std::string_view content_encoding) {
  std::string out;
  std::size_t pos = 0;
  while (pos <= content_encoding.size()) {
    std::size_t comma = content_encoding.find(',', pos);
    if (comma == std::string_view::npos) comma = content_encoding.size();
    std::string_view token = TrimBlanks(content_encoding.substr(pos, comma - pos));
    if (!token.empty() && !EqualsIgnoreCase(token, "aws-chunked")) {
      if (!out.empty()) out += ',';
      out += token;
    }
    pos = comma + 1;
  }
  return out;
}

std::string EncodeAwsChunked(std::string_view data, const ChunkedEncodeOptions& options) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto hex = [](uint64_t v) {
    std::string s;
    do {
      s.insert(s.begin(), kHex[v & 0xF]);
      v >>= 4;
    } while (v);
    return s;
  };
  bool signed_mode = IsSignedMode(options.mode);
  std::string previous = signed_mode ? options.signing->seed_signature : "";
  std::optional<Checksummer> checksum;
  if (options.trailer_checksum) checksum.emplace(*options.trailer_checksum);
  std::string out;
  std::size_t pos = 0;
  while (true) {
    // A chunk size of 0 would end the body at once; it means "one chunk" instead.
    std::size_t size = options.chunk_size == 0 ? data.size() : options.chunk_size;
    std::string_view chunk = data.substr(pos, std::min(size, data.size() - pos));
    pos += chunk.size();
    out += hex(chunk.size());
    if (signed_mode) {
      previous = ChunkSignature(*options.signing, previous, chunk);
      out += kChunkSignatureField;
      out += previous;
    }
    out += "\r\n";
    if (chunk.empty()) break;
    if (checksum) checksum->Update(chunk);
    out += chunk;
    out += "\r\n";
  }
  if (checksum) {
    std::string name(ChecksumHeaderName(*options.trailer_checksum));
    std::string line = name + ":" + checksum->FinishBase64();
    out += line + "\r\n";
    if (signed_mode) {
      out += std::string(kTrailerSignatureName) + ":" +
             TrailerSignature(*options.signing, previous, line + "\n") + "\r\n";
    }
  }
  out += "\r\n";
  return out;
}

}  // namespace thumbpipe::sigv4
