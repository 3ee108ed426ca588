// Interoperability with a real client: Debian's botocore (the signer of aws-cli and boto3)
// signs S3 requests (header auth and presigned URLs, keys with spaces, '+', '..', '//',
// UTF-8, reserved characters) and an SQS request; every one must pass our verifier, and
// fail once a byte of its signature changes. Skipped, saying so, when /usr/bin/python3
// has no botocore.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "sigv4/verifier.h"

namespace thumbpipe::sigv4 {
namespace {

std::optional<std::string> RunBotocore() {
  std::filesystem::path script =
      std::filesystem::path(THUMBPIPE_SIGV4_SOURCE_DIR) / "testdata" / "botocore_sign.py";
  if (!std::filesystem::exists("/usr/bin/python3")) return std::nullopt;
  std::string cmd = "/usr/bin/python3 '" + script.string() + "' 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return std::nullopt;
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe.get())) > 0) out.append(buf, n);
  if (pclose(pipe.release()) != 0 || out.empty()) return std::nullopt;
  return out;
}

std::string AmzDateOf(const Request& r) {
  if (auto h = FindHeader(r.headers, "x-amz-date")) return *h;
  std::size_t at = r.query.find("X-Amz-Date=");
  return at == std::string::npos ? "" : r.query.substr(at + 11, 16);
}

TEST(BotocoreInterop, EverySignedRequestVerifies) {
  auto output = RunBotocore();
  if (!output) GTEST_SKIP() << "/usr/bin/python3 with botocore (python3-botocore) not available";
  int checked = 0;
  std::size_t pos = 0;
  while (pos < output->size()) {
    std::size_t eol = output->find('\n', pos);
    auto j = nlohmann::json::parse(output->substr(pos, eol - pos));
    pos = eol == std::string::npos ? output->size() : eol + 1;
    Request r;
    r.method = j["method"];
    r.path = j["path"];
    r.query = j["query"];
    for (const auto& h : j["headers"]) r.headers.push_back({h[0], h[1]});
    if (!j["payload_hash"].is_null()) r.payload_hash = j["payload_hash"].get<std::string>();
    std::string kind = j["kind"];
    SCOPED_TRACE(kind + " " + r.method + " " + r.path + "?" + r.query);

    auto when = ParseAmzDate(AmzDateOf(r));
    ASSERT_TRUE(when.has_value());
    ManualClock clock(*when);
    VerifierOptions options;
    options.clock = &clock;
    options.lookup = [](std::string_view ak) -> std::optional<std::string> {
      if (ak == "AKIAEXAMPLEEXAMPLE01") return std::string("a-long-random-secret");
      return std::nullopt;
    };
    Verifier verifier(options);
    std::string service = kind == "sqs" ? "sqs" : "s3";
    auto v = verifier.Verify(r, service);
    ASSERT_TRUE(v.ok()) << v.status().ToString() << "\n" << v.status().log_detail();
    EXPECT_EQ(v->presigned, kind == "s3-presign");

    // One signature byte changed: refused.
    Request bad = r;
    std::string* sig = nullptr;
    for (auto& h : bad.headers) {
      if (EqualsIgnoreCase(h.name, "authorization")) sig = &h.value;
    }
    if (!sig) sig = &bad.query;
    std::size_t at = sig->find("Signature=") + 12;
    (*sig)[at] = (*sig)[at] == '0' ? '1' : '0';
    EXPECT_EQ(verifier.Verify(bad, service).status().code(), S3Error::kSignatureDoesNotMatch);
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

}  // namespace
}  // namespace thumbpipe::sigv4
