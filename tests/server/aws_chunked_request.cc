// Prints one signed aws-chunked PUT (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, 64 KiB chunks), header
// and body, built with the sigv4 room's signer and encoder, optionally with a fault, for the
// python tests that send it to a real `thumbpipe serve` over a raw socket (python has no
// aws-chunked signer, and a second one would be a copy of src/sigv4).
//
// Usage: aws_chunked_request HOST PATH ACCESS_KEY SECRET_KEY SIZE FAULT
//   FAULT: none             a valid request
//          chunk2-data      one data byte of chunk 2 changed (its signature no longer matches)
//          no-final-chunk   the body ends after the last data chunk (Content-Length says so)
//          decoded-length   x-amz-decoded-content-length is SIZE + 1 (signed, so only the
//                           chunks disagree with it)
// The payload is SIZE pseudo-random bytes (seeded: the same on every run).
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>

#include "sigv4/chunked.h"
#include "sigv4/payload.h"
#include "sigv4/signer.h"

namespace {

constexpr size_t kChunkBytes = 64 * 1024;

int Usage() {
  std::cerr << "usage: aws_chunked_request HOST PATH ACCESS_KEY SECRET_KEY SIZE "
               "none|chunk2-data|no-final-chunk|decoded-length\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace thumbpipe::sigv4;
  if (argc != 7) return Usage();
  const std::string host = argv[1], path = argv[2], fault = argv[6];
  const Credentials credentials{argv[3], argv[4], std::nullopt};
  const size_t size = std::stoul(argv[5]);
  if (fault != "none" && fault != "chunk2-data" && fault != "no-final-chunk" && fault != "decoded-length") {
    return Usage();
  }
  if (fault == "chunk2-data" && size <= kChunkBytes + 2000) {
    std::cerr << "chunk2-data needs SIZE over " << kChunkBytes + 2000 << "\n";
    return 2;
  }

  std::string data(size, '\0');
  std::mt19937 rng(17);
  for (char& c : data) c = static_cast<char>(rng());

  Request req;
  req.method = "PUT";
  req.path = path;
  const size_t declared = fault == "decoded-length" ? size + 1 : size;
  req.headers = {{"Host", host},
                 {"Content-Encoding", "aws-chunked"},
                 {"x-amz-decoded-content-length", std::to_string(declared)}};
  req.payload_hash = std::string(PayloadModeName(PayloadMode::kStreamingSigned));
  SigningParams params;
  params.time = std::chrono::system_clock::now();
  auto signed_req = SignRequest(&req, credentials, params);
  if (!signed_req.ok()) {
    std::cerr << "signing failed: " << signed_req.status().ToString() << "\n";
    return 1;
  }
  ChunkedEncodeOptions enc;
  enc.mode = PayloadMode::kStreamingSigned;
  enc.signing = signed_req->chunk_context;
  enc.chunk_size = kChunkBytes;
  std::string body = EncodeAwsChunked(data, enc);
  if (fault == "chunk2-data") {
    // Chunk 1's data starts after its size line; one byte a little past kChunkBytes of payload
    // plus chunk 1's framing lies in chunk 2's data.
    body[kChunkBytes + 1000] ^= 1;
  } else if (fault == "no-final-chunk") {
    body.resize(body.rfind("0;chunk-signature="));
  }

  std::string text = "PUT " + path + " HTTP/1.1\r\n";
  for (const auto& h : req.headers) {
    if (h.name == "Authorization" || h.name == "authorization") continue;
    text += h.name + ": " + h.value + "\r\n";
  }
  text += "Authorization: " + signed_req->authorization + "\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body;
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
