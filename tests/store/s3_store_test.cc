// The S3 client store (store/s3_store.h) against real S3 servers: the ObjectStore conformance
// suite, and what only the S3 client has (multipart above the threshold, DeleteObjects
// batches, S3's own configuration subresources, flat memory on large objects, clear
// credential errors), and a download that resumes after its connection breaks.
//
// Targets:
//  - "Serve": a `thumbpipe serve` from the build tree, started on a random loopback port the
//    first time a test needs it (each ctest process gets its own) and killed at the end.
//  - "Rgw" (optional): any S3 endpoint named by THUMBPIPE_TEST_S3_ENDPOINT with
//    THUMBPIPE_TEST_S3_ACCESS_KEY / THUMBPIPE_TEST_S3_SECRET_KEY (and _NAME for the test
//    suffix); tests/store/rgw_conformance.py starts a Ceph RGW and runs this binary so.
// Every test starts from an empty server: the backends' make() deletes every bucket first.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "child_process.h"
#include "server/http_server.h"
#include "store/s3_store.h"
#include "store/store_conformance.h"
#include "store/store_factory.h"

namespace thumbpipe::store {
namespace {

using queue::testing::ChildProcess;
using queue::testing::PollUntil;
using queue::testing::ScratchDir;
using testing::Body;
using testing::Md5Hex;
using testing::S3Code;
using testing::StoreBackend;
using testing::StoreConformanceTest;

constexpr char kServeKey[] = "AKIATHUMBPIPES3TEST1";
constexpr char kServeSecret[] = "s3-store-test-secret-key-0123";

struct Target {
  std::string name, endpoint, access_key, secret_key;
};

// The `serve` this process talks to, started on first use.
class Serve {
 public:
  static Serve& Instance() {
    static Serve serve;
    return serve;
  }
  Result<Target> Get() {
    std::call_once(once_, [this] { status_ = Start(); });
    if (!status_.ok()) return status_;
    return Target{"Serve", "http://127.0.0.1:" + std::to_string(port_), kServeKey, kServeSecret};
  }
  void Stop() { child_.reset(); }

 private:
  Status Start() {
    const auto config = dir_.path() / "thumbpipe.toml";
    const auto port_file = dir_.path() / "port";
    std::ofstream(config) << "data_dir = \"" << (dir_.path() / "data").string() << "\"\n"
                          << "[log]\nlevel = \"warn\"\n"
                          << "[[credentials]]\naccess_key = \"" << kServeKey << "\"\nsecret_key = \"" << kServeSecret
                          << "\"\nadmin = true\n";
    child_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{THUMBPIPE_BINARY, "serve", "--config", config.string(), "--listen", "127.0.0.1:0",
                                 "--port-file", port_file.string(), "--workers", "0"},
        dir_.path() / "serve.log");
    if (!child_->ok()) return Status::Internal("cannot start " + std::string(THUMBPIPE_BINARY));
    const bool up = PollUntil(
        [&] {
          std::ifstream in(port_file);
          return static_cast<bool>(in >> port_);
        },
        std::chrono::seconds(30));
    if (!up) return Status::Unavailable("serve did not write its port file within 30 s");
    return Status::Ok();
  }

  std::once_flag once_;
  Status status_;
  ScratchDir dir_;
  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
};

class StopServe : public ::testing::Environment {
 public:
  void TearDown() override { Serve::Instance().Stop(); }
};
const auto* const kStopServe = ::testing::AddGlobalTestEnvironment(new StopServe);

std::optional<std::string> EnvVar(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

Result<Target> ExternalTarget() {
  auto endpoint = EnvVar("THUMBPIPE_TEST_S3_ENDPOINT");
  if (!endpoint) return Status::NotFound("THUMBPIPE_TEST_S3_ENDPOINT is not set");
  return Target{EnvVar("THUMBPIPE_TEST_S3_NAME").value_or("External"), *endpoint,
                EnvVar("THUMBPIPE_TEST_S3_ACCESS_KEY").value_or(""), EnvVar("THUMBPIPE_TEST_S3_SECRET_KEY").value_or("")};
}

// Options naming nothing from this process's environment: only the target's keys.
S3StoreOptions OptionsFor(const Target& t) {
  S3StoreOptions o;
  o.endpoint = t.endpoint;
  o.region = "us-east-1";
  o.path_style = true;
  o.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  o.fallback_credentials = sigv4::Credentials{t.access_key, t.secret_key, std::nullopt};
  return o;
}

// Deletes every bucket with everything in it, so each test starts from an empty server.
Status Wipe(ObjectStore& store) {
  THUMBPIPE_ASSIGN_OR_RETURN(auto buckets, store.ListBuckets());
  for (const BucketInfo& b : buckets) {
    THUMBPIPE_ASSIGN_OR_RETURN(auto uploads, store.ListMultipartUploads(b.name, ""));
    for (const UploadInfo& u : uploads) THUMBPIPE_RETURN_IF_ERROR(store.AbortMultipartUpload(b.name, u.key, u.upload_id));
    for (;;) {
      THUMBPIPE_ASSIGN_OR_RETURN(ListPage page, store.List(b.name, {}));
      std::vector<std::string> keys;
      for (const ObjectInfo& o : page.objects) keys.push_back(o.key);
      if (keys.empty()) break;
      THUMBPIPE_RETURN_IF_ERROR(DeleteObjects(store, b.name, keys));
    }
    THUMBPIPE_RETURN_IF_ERROR(store.DeleteBucket(b.name));
  }
  return Status::Ok();
}

using TargetFn = Result<Target> (*)();
Result<Target> ServeTarget() { return Serve::Instance().Get(); }

Result<std::unique_ptr<ObjectStore>> FreshStore(TargetFn target_fn, S3StoreOptions extra = {}) {
  THUMBPIPE_ASSIGN_OR_RETURN(Target target, target_fn());
  S3StoreOptions o = OptionsFor(target);
  o.multipart_threshold = extra.multipart_threshold;
  o.part_size = extra.part_size;
  THUMBPIPE_ASSIGN_OR_RETURN(auto store, OpenS3Store(o));
  THUMBPIPE_RETURN_IF_ERROR(Wipe(*store));
  return store;
}

StoreBackend Backend(std::string name, TargetFn target) {
  StoreBackend b;
  b.name = std::move(name);
  b.make = [target] { return FreshStore(target); };
  b.min_part_bytes = uint64_t{5} << 20;  // what S3, RGW and serve enforce
  b.max_object_bytes = 0;                // 5 GiB: not cheap to test
  b.has_outbox = false;                  // S3 emits its own events
  b.has_versions = false;
  b.stores_config_verbatim = false;
  if (b.name == "Rgw") {
    // Ceph RGW 16.2's own deviations from AWS S3, each reproduced with boto3 as well:
    // CompleteMultipartUpload answers InvalidPart for a wrong order and for a small part,
    // 500 InternalError ("This multipart completion is already in progress") for an unknown
    // upload id, and InvalidPart for a subset of the parts; ListObjectsV2 takes any
    // continuation token as a marker; CopyObject keeps a multipart ETag.
    b.exact_multipart_errors = false;
    b.validates_continuation_tokens = false;
    b.copy_makes_simple_etag = false;
  }
  return b;
}

struct Param {
  std::string name;
  TargetFn target;
};
std::vector<Param> Targets() {
  std::vector<Param> out = {{"Serve", &ServeTarget}};
  if (auto t = ExternalTarget(); t.ok()) out.push_back({t->name, &ExternalTarget});
  return out;
}
std::vector<StoreBackend> Backends() {
  std::vector<StoreBackend> out;
  for (const Param& p : Targets()) out.push_back(Backend(p.name, p.target));
  return out;
}

INSTANTIATE_TEST_SUITE_P(S3, StoreConformanceTest, ::testing::ValuesIn(Backends()), testing::StoreBackendName);

// --- what only the S3 client has ---

class S3StoreTest : public ::testing::TestWithParam<Param> {
 protected:
  std::unique_ptr<ObjectStore> Open(uint64_t threshold = uint64_t{16} << 20, uint64_t part = uint64_t{8} << 20) {
    S3StoreOptions extra;
    extra.multipart_threshold = threshold;
    extra.part_size = part;
    auto s = FreshStore(GetParam().target, extra);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    EXPECT_TRUE((*s)->CreateBucket("tp-s3").ok());
    return std::move(s).value();
  }
  static std::string ReadAll(ObjectStore& store, std::string_view key) {
    auto r = store.Get("tp-s3", key);
    if (!r.ok()) return "<" + r.status().ToString() + ">";
    std::string out;
    char buffer[65536];
    for (;;) {
      auto n = (*r)->Read(std::span<char>(buffer, sizeof buffer));
      if (!n.ok()) return "<" + n.status().ToString() + ">";
      if (*n == 0) return out;
      out.append(buffer, *n);
    }
  }
  static Result<ObjectInfo> PutInChunks(ObjectStore& store, std::string_view key, std::string_view body,
                                        PutOptions options = {}) {
    auto w = store.BeginPut("tp-s3", key, std::move(options));
    if (!w.ok()) return w.status();
    for (size_t at = 0; at < body.size(); at += 65536) THUMBPIPE_RETURN_IF_ERROR((*w)->Write(body.substr(at, 65536)));
    return (*w)->Commit();
  }
};

constexpr uint64_t kMiB = uint64_t{1} << 20;

TEST_P(S3StoreTest, BodiesAboveTheThresholdGoMultipart) {
  auto store = Open(5 * kMiB, 5 * kMiB);
  ASSERT_NE(store, nullptr);
  const std::string body = Body(12 * kMiB + 5, 4);
  auto info = PutInChunks(*store, "big", body);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->etag.ends_with("-3")) << info->etag;
  EXPECT_EQ(info->size, body.size());
  EXPECT_TRUE(ReadAll(*store, "big") == body);
  auto small = PutInChunks(*store, "small", Body(5 * kMiB, 5));
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->etag, Md5Hex(Body(5 * kMiB, 5))) << "at the threshold: one PutObject";
  EXPECT_TRUE(store->ListMultipartUploads("tp-s3", "")->empty());
}

TEST_P(S3StoreTest, MultipartBadDigestAndAbandonedWritersLeaveNothing) {
  auto store = Open(5 * kMiB, 5 * kMiB);
  ASSERT_NE(store, nullptr);
  const std::string body = Body(11 * kMiB, 6);
  PutOptions wrong;
  wrong.expected_md5 = Md5Hex("something else", /*raw=*/true);
  Status bad = PutInChunks(*store, "digest", body, wrong).status();
  EXPECT_EQ(bad.code(), StatusCode::kCorrupt);
  EXPECT_EQ(S3Code(bad), "BadDigest");
  EXPECT_EQ(S3Code(store->Head("tp-s3", "digest").status()), "NoSuchKey");
  {
    auto w = store->BeginPut("tp-s3", "abandoned", {});
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 11; ++i) ASSERT_TRUE((*w)->Write(Body(kMiB, i)).ok());
  }
  EXPECT_TRUE(store->ListMultipartUploads("tp-s3", "")->empty()) << "uploads were left behind";
  PutOptions right;
  right.expected_md5 = Md5Hex(body, /*raw=*/true);
  EXPECT_TRUE(PutInChunks(*store, "digest", body, right).ok());
}

TEST_P(S3StoreTest, LargeObjectsStreamInFlatMemory) {
  auto store = Open(5 * kMiB, 5 * kMiB);
  ASSERT_NE(store, nullptr);
  std::ofstream("/proc/self/clear_refs") << "5";
  auto hwm = [] {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.starts_with("VmHWM:")) return std::stoll(line.substr(6));
    }
    return -1LL;
  };
  const long long before = hwm();
  constexpr int kChunks = 96;
  std::string chunk = Body(kMiB, 7);
  {
    auto w = store->BeginPut("tp-s3", "huge", {});
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < kChunks; ++i) {
      chunk[0] = static_cast<char>(i);
      ASSERT_TRUE((*w)->Write(chunk).ok());
    }
    ASSERT_TRUE((*w)->Commit().ok());
  }
  auto r = store->Get("tp-s3", "huge");
  ASSERT_TRUE(r.ok());
  uint64_t total = 0;
  for (;;) {
    auto n = (*r)->Read(std::span<char>(chunk.data(), chunk.size()));
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    if (*n == 0) break;
    total += *n;
  }
  EXPECT_EQ(total, kChunks * kMiB);
  const long long grew = hwm() - before;
  std::printf("[ memory ] peak RSS grew by %lld KiB for a 96 MiB put + get over S3\n", grew);
  EXPECT_LT(grew, 40 * 1024) << "memory grew with the object size";
}

TEST_P(S3StoreTest, DeleteObjectsInBatchesOfAThousand) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::vector<std::string> keys;
  for (int i = 0; i < 1001; ++i) keys.push_back("d/" + std::to_string(i));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < keys.size(); i += 4) EXPECT_TRUE(PutInChunks(*store, keys[i], "x").ok());
    });
  }
  for (auto& t : threads) t.join();
  keys.push_back("never-there");
  ASSERT_TRUE(DeleteObjects(*store, "tp-s3", keys).ok());
  auto page = store->List("tp-s3", {});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->objects.empty());
}

TEST_P(S3StoreTest, BucketConfigurationUsesS3Subresources) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->GetBucketConfig("tp-s3", "cors").status().code(), StatusCode::kNotFound);
  const std::string cors =
      "<CORSConfiguration><CORSRule><AllowedOrigin>https://example.com</AllowedOrigin>"
      "<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>";
  ASSERT_TRUE(store->PutBucketConfig("tp-s3", "cors", cors).ok());
  auto got = store->GetBucketConfig("tp-s3", "cors");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_NE(got->find("https://example.com"), std::string::npos) << *got;
  EXPECT_EQ(store->PutBucketConfig("tp-s3", "lifecycle", "x").code(), StatusCode::kUnsupported);
  EXPECT_EQ(store->outbox(), nullptr);
  store->SetCommitHook([](const WriteRecord&) { return std::vector<std::string>{}; });  // ignored, warned
}

TEST_P(S3StoreTest, WrongCredentialsAreAClearErrorNotARetryLoop) {
  auto target = GetParam().target();
  ASSERT_TRUE(target.ok());
  target->secret_key = "not-the-secret-key";
  auto store = OpenS3Store(OptionsFor(*target));
  ASSERT_TRUE(store.ok());
  auto buckets = (*store)->ListBuckets();
  EXPECT_EQ(buckets.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(S3Code(buckets.status()), "SignatureDoesNotMatch") << buckets.status().ToString();
}

TEST_P(S3StoreTest, OpenedThroughTheFactoryUrl) {
  auto target = GetParam().target();
  ASSERT_TRUE(target.ok());
  S3StoreOptions s3 = OptionsFor(*target);
  s3.endpoint.clear();
  s3.path_style.reset();
  auto store = OpenStore("s3://tp-s3?endpoint=" + target->endpoint + "&region=us-east-1&path_style=true&part_size=5MiB",
                         {}, s3);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE(Wipe(**store).ok());
  ASSERT_TRUE((*store)->CreateBucket("tp-s3").ok());
  ASSERT_TRUE(PutInChunks(**store, "via-url", "hello").ok());
  EXPECT_EQ(ReadAll(**store, "via-url"), "hello");
}

std::string ParamName(const ::testing::TestParamInfo<Param>& p) { return p.param.name; }
INSTANTIATE_TEST_SUITE_P(S3, S3StoreTest, ::testing::ValuesIn(Targets()), ParamName);

// --- a GET whose connection breaks midway resumes (a scripted server cuts the first reply) ---

namespace {

class CuttingBody : public server::BodySource {
 public:
  CuttingBody(std::string body, size_t cut_at) : body_(std::move(body)), cut_at_(cut_at) {}
  Result<size_t> Read(std::span<char> buffer) override {
    if (at_ >= cut_at_) return Status::IOError("cut on purpose");
    const size_t n = std::min(buffer.size(), std::min(body_.size(), cut_at_) - at_);
    std::memcpy(buffer.data(), body_.data() + at_, n);
    at_ += n;
    return n;
  }

 private:
  std::string body_;
  size_t cut_at_, at_ = 0;
};

// Serves one object "b-1/k": the first GET breaks off after 1 MiB, later ones honour Range
// and If-Match; records the Range and If-Match headers it was sent.
class CuttingServer : public server::HttpHandler {
 public:
  explicit CuttingServer(std::string body) : body_(std::move(body)) {}
  std::unique_ptr<server::Exchange> NewExchange(server::HttpRequestHead head) override {
    return std::make_unique<Ex>(this, std::move(head));
  }
  server::HttpResponse Failure(server::HttpFailure, std::string_view) override { return {}; }
  std::vector<std::string> seen;
  std::mutex mu;

 private:
  class Ex : public server::Exchange {
   public:
    Ex(CuttingServer* s, server::HttpRequestHead h) : s_(s), h_(std::move(h)) {}
    std::optional<server::HttpResponse> Begin() override { return std::nullopt; }
    std::optional<server::HttpResponse> Body(std::string_view) override { return std::nullopt; }
    server::HttpResponse End() override {
      const std::string range(h_.Header("Range").value_or(""));
      const std::string if_match(h_.Header("If-Match").value_or(""));
      int n;
      {
        std::scoped_lock lock(s_->mu);
        n = static_cast<int>(s_->seen.size());
        s_->seen.push_back(range + "|" + if_match);
      }
      server::HttpResponse r;
      r.Set("ETag", "\"" + Md5Hex(s_->body_) + "\"");
      if (n == 0) {
        r.stream = std::make_unique<CuttingBody>(s_->body_, 1 << 20);
        r.content_length = s_->body_.size();
        return r;
      }
      unsigned long long first = 0, last = 0;
      std::sscanf(range.c_str(), "bytes=%llu-%llu", &first, &last);
      r.status = 206;
      r.Set("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                                 std::to_string(s_->body_.size()));
      r.body = s_->body_.substr(first, last - first + 1);
      return r;
    }

   private:
    CuttingServer* s_;
    server::HttpRequestHead h_;
  };
  std::string body_;
};

}  // namespace

TEST(S3ReaderTest, ABrokenDownloadResumesWithRangeAndIfMatch) {
  const std::string body = Body(3 << 20, 8);
  CuttingServer handler(body);
  server::HttpServerOptions so;
  so.port = 0;
  so.io_threads = 1;
  so.worker_threads = 2;
  server::HttpServer http(so, &handler);
  ASSERT_TRUE(http.Start().ok());
  S3StoreOptions o = OptionsFor(Target{"Cut", "http://127.0.0.1:" + std::to_string(http.port()), "AKIACUT", "cut"});
  auto store = OpenS3Store(o);
  ASSERT_TRUE(store.ok());
  auto reader = (*store)->Get("b-1", "k");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::string got;
  char buffer[65536];
  for (;;) {
    auto n = (*reader)->Read(std::span<char>(buffer, sizeof buffer));
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    if (*n == 0) break;
    got.append(buffer, *n);
  }
  EXPECT_TRUE(got == body) << "got " << got.size() << " of " << body.size() << " bytes";
  http.Stop(std::chrono::seconds(1));
  std::scoped_lock lock(handler.mu);
  ASSERT_EQ(handler.seen.size(), 2u);
  EXPECT_EQ(handler.seen[0], "|");
  EXPECT_TRUE(handler.seen[1].starts_with("bytes=")) << handler.seen[1];
  EXPECT_TRUE(handler.seen[1].ends_with("-" + std::to_string(body.size() - 1) + "|\"" + Md5Hex(body) + "\""))
      << handler.seen[1];
}

}  // namespace
}  // namespace thumbpipe::store
