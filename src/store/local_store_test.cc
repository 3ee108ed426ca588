// The local store: the conformance suite (three ways: fast, durable, every body a file),
// plus what only a data directory has: keys beyond what S3 clients send, inline versus file
// bodies, the start-up sweep, reopening, memory with a 100 MiB object, group commit, listing
// cost on 100k keys, two stores on one directory, and the URL factory.
#include "store/local_store.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "store/local_store_impl.h"
#include "store/store_conformance.h"
#include "store/store_factory.h"

namespace thumbpipe::store {
namespace {

namespace fs = std::filesystem;
using testing::Body;
using testing::Md5Hex;
using testing::S3Code;
using testing::StoreBackend;
using testing::StoreConformanceTest;

fs::path FreshDir() {
  static std::atomic<int> counter{0};
  const fs::path dir = fs::path(::testing::TempDir()) /
                       ("thumbpipe_store_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::remove_all(dir);
  return dir;
}

constexpr uint64_t kTestMinPart = 1024;
constexpr uint64_t kTestMaxObject = 1 << 20;

StoreBackend LocalBackend(std::string name, bool durable, uint64_t inline_max) {
  StoreBackend backend;
  backend.name = std::move(name);
  backend.min_part_bytes = kTestMinPart;
  backend.max_object_bytes = kTestMaxObject;
  backend.has_outbox = true;
  backend.make = [durable, inline_max]() {
    LocalStoreOptions o;
    o.dir = FreshDir();
    o.durable = durable;
    o.inline_max_bytes = inline_max;
    o.min_part_bytes = kTestMinPart;
    o.max_object_bytes = kTestMaxObject;
    return OpenLocalStore(o);
  };
  return backend;
}

INSTANTIATE_TEST_SUITE_P(Local, StoreConformanceTest,
                         ::testing::Values(LocalBackend("Fast", false, 64 * 1024),
                                           LocalBackend("Durable", true, 64 * 1024),
                                           LocalBackend("FilesOnly", false, 0)),
                         testing::StoreBackendName);

class LocalStoreTest : public ::testing::Test {
 protected:
  LocalStoreOptions Options() {
    LocalStoreOptions o;
    o.dir = dir_;
    o.durable = false;
    return o;
  }
  std::unique_ptr<ObjectStore> MustOpen(const LocalStoreOptions& o) {
    auto s = OpenLocalStore(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  static Status Put(ObjectStore& store, std::string_view key, std::string_view body) {
    auto w = store.BeginPut("b-1", key, {});
    if (!w.ok()) return w.status();
    THUMBPIPE_RETURN_IF_ERROR((*w)->Write(body));
    return (*w)->Commit().status();
  }
  static std::string Read(ObjectStore& store, std::string_view key) {
    auto r = store.Get("b-1", key);
    if (!r.ok()) return "<" + r.status().ToString() + ">";
    std::string out(static_cast<size_t>((*r)->info().size), '\0');
    size_t at = 0;
    while (at < out.size()) {
      auto n = (*r)->Read(std::span<char>(out.data() + at, out.size() - at));
      if (!n.ok() || *n == 0) return "<short read>";
      at += *n;
    }
    return out;
  }
  size_t BlobFileCount() const {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / "blobs")) n += e.is_regular_file();
    return n;
  }

  fs::path dir_ = FreshDir();
};

TEST_F(LocalStoreTest, AnyUtf8IncludingNulIsAKeyButNotBrokenUtf8) {
  auto store = MustOpen(Options());
  ASSERT_TRUE(store->CreateBucket("b-1").ok());
  const std::string nul("a\0b", 3), nul_only("\0", 1);
  ASSERT_TRUE(Put(*store, nul, "with nul").ok());
  ASSERT_TRUE(Put(*store, nul_only, "only nul").ok());
  ASSERT_TRUE(Put(*store, "a", "plain").ok());
  EXPECT_EQ(Read(*store, nul), "with nul");
  EXPECT_EQ(Read(*store, nul_only), "only nul");
  EXPECT_EQ(Read(*store, "a"), "plain");
  auto page = store->List("b-1", {});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->objects.size(), 3u);
  EXPECT_EQ(page->objects[0].key, nul_only);
  EXPECT_EQ(page->objects[1].key, "a");
  EXPECT_EQ(page->objects[2].key, nul);
  for (const std::string& bad : {std::string("\xff"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                                std::string("abc\xe6\x97"), std::string()}) {
    EXPECT_EQ(Put(*store, bad, "x").code(), StatusCode::kInvalidArgument) << testing::Md5Hex(bad);
  }
  // A multibyte character straddling the limit: 1023 ASCII bytes + a 2-byte character.
  EXPECT_EQ(S3Code(Put(*store, std::string(1023, 'a') + "é", "x")), "KeyTooLong");
}

TEST_F(LocalStoreTest, NoKeyReachesTheFileSystem) {
  // The store lives one level inside a directory of this test's own, so that the count of what is
  // beside it is not disturbed by other tests writing into the shared temporary directory.
  const fs::path outside = dir_;
  dir_ = outside / "store";
  fs::create_directories(outside);
  auto store = MustOpen(Options());
  ASSERT_TRUE(store->CreateBucket("b-1").ok());
  const auto before = std::distance(fs::directory_iterator(outside), fs::directory_iterator());
  for (const std::string key : {"../escape", "../../escape", "/etc/escape", "blobs/ab/x", "tmp/x", "index.db",
                                "LOCK", "a/../../b"}) {
    ASSERT_TRUE(Put(*store, key, Body(100'000)).ok()) << key;  // files, not inline
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(outside), fs::directory_iterator()), before);
  // Only the store's own names: the index and its WAL, LOCK, tmp/, blobs/<2 hex>/<32 hex>.
  for (const auto& e : fs::recursive_directory_iterator(dir_)) {
    const std::string rel = fs::relative(e.path(), dir_).string();
    const bool ok = rel == "LOCK" || rel.starts_with("index.db") || rel == "tmp" || rel == "blobs" ||
                    (rel.starts_with("blobs/") && (rel.size() == 8 || rel.size() == 8 + 1 + 32));
    EXPECT_TRUE(ok) << rel;
  }
  EXPECT_EQ(BlobFileCount(), 8u);
}

TEST_F(LocalStoreTest, AMissingBlobIsReportedAsCorrupt) {
  auto store = MustOpen(Options());
  ASSERT_TRUE(store->CreateBucket("b-1").ok());
  ASSERT_TRUE(Put(*store, "k", Body(100'000)).ok());
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "blobs")) {
    if (e.is_regular_file()) fs::remove(e.path());
  }
  EXPECT_EQ(store->Get("b-1", "k").status().code(), StatusCode::kCorrupt);
  EXPECT_TRUE(store->Head("b-1", "k").ok());
}

TEST_F(LocalStoreTest, AThrowingCommitHookFailsOnlyItsWrite) {
  auto store = MustOpen(Options());
  ASSERT_TRUE(store->CreateBucket("b-1").ok());
  store->SetCommitHook([](const WriteRecord& r) -> std::vector<std::string> {
    if (r.object.key == "bad") throw std::runtime_error("cannot encode");
    return {r.object.key};
  });
  EXPECT_EQ(Put(*store, "bad", "x").code(), StatusCode::kInternal);
  EXPECT_EQ(store->Head("b-1", "bad").status().code(), StatusCode::kNotFound) << "stored without its event";
  EXPECT_TRUE(Put(*store, "good", "x").ok());
  auto pending = store->outbox()->Pending(10, Duration{0});
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].payload, "good");
}

TEST_F(LocalStoreTest, CallerMd5IsTheEtagAndTheBodyIsNotHashedAgain) {
  auto store = MustOpen(Options());
  ASSERT_TRUE(store->CreateBucket("b-1").ok());
  const std::string body = Body(100'000);
  PutOptions options;
  options.caller_md5 = true;
  auto writer = store->BeginPut("b-1", "k", options);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write(body).ok());
  // The writer did not hash: a plain Commit has no MD5 to use.
  EXPECT_EQ((*writer)->Commit().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*writer)->CommitWithMd5("short").status().code(), StatusCode::kInvalidArgument);
  // What the caller says is the MD5 becomes the ETag, with the Content-MD5 check still applied.
  auto info = (*writer)->CommitWithMd5(Md5Hex(body, /*raw=*/true));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->etag, Md5Hex(body));
  options.expected_md5 = Md5Hex("other", true);
  auto checked = store->BeginPut("b-1", "k2", options);
  ASSERT_TRUE(checked.ok());
  ASSERT_TRUE((*checked)->Write(body).ok());
  EXPECT_EQ((*checked)->CommitWithMd5(Md5Hex(body, true)).status().code(), StatusCode::kCorrupt);
  // A hashing writer keeps its own MD5.
  auto hashing = store->BeginPut("b-1", "k3", {});
  ASSERT_TRUE(hashing.ok());
  ASSERT_TRUE((*hashing)->Write(body).ok());
  auto own = (*hashing)->CommitWithMd5(Md5Hex("not the body", true));
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->etag, Md5Hex(body));
}

TEST_F(LocalStoreTest, SmallBodiesLiveInTheIndexAndReplacedBlobsGo) {
  auto store = MustOpen(Options());
  ASSERT_TRUE(store->CreateBucket("b-1").ok());
  ASSERT_TRUE(Put(*store, "small", Body(64 * 1024)).ok());
  EXPECT_EQ(BlobFileCount(), 0u);
  ASSERT_TRUE(Put(*store, "large", Body(64 * 1024 + 1)).ok());
  EXPECT_EQ(BlobFileCount(), 1u);
  ASSERT_TRUE(Put(*store, "large", Body(200'000, 9)).ok());
  EXPECT_EQ(BlobFileCount(), 1u) << "the replaced blob was not removed";
  ASSERT_TRUE(Put(*store, "large", "now small").ok());
  EXPECT_EQ(BlobFileCount(), 0u);
  ASSERT_TRUE(Put(*store, "large", Body(200'000, 9)).ok());
  ASSERT_TRUE(store->Delete("b-1", "large").ok());
  EXPECT_EQ(BlobFileCount(), 0u);
  EXPECT_TRUE(fs::is_empty(dir_ / "tmp"));
}

TEST_F(LocalStoreTest, StartupSweepRemovesLeftoversOnly) {
  const std::string body = Body(300'000, 5);
  {
    auto store = MustOpen(Options());
    ASSERT_TRUE(store->CreateBucket("b-1").ok());
    ASSERT_TRUE(Put(*store, "kept", body).ok());
    auto id = store->CreateMultipartUpload("b-1", "mp", {});
    ASSERT_TRUE(id.ok());
    auto w = store->BeginPart("b-1", "mp", *id, 1, std::nullopt);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(Body(100'000, 6)).ok());
    ASSERT_TRUE((*w)->Commit().ok());
  }
  ASSERT_EQ(BlobFileCount(), 2u);
  std::ofstream(dir_ / "tmp" / "0123456789abcdef0123456789abcdef") << "half a body";
  std::ofstream(dir_ / "blobs" / "ab" / "ab000000000000000000000000000000") << "renamed, never committed";
  std::ofstream(dir_ / "blobs" / "ab" / "not-a-blob-name") << "not ours";
  auto store = MustOpen(Options());
  EXPECT_TRUE(fs::is_empty(dir_ / "tmp"));
  EXPECT_FALSE(fs::exists(dir_ / "blobs" / "ab" / "ab000000000000000000000000000000"));
  EXPECT_TRUE(fs::exists(dir_ / "blobs" / "ab" / "not-a-blob-name"));
  fs::remove(dir_ / "blobs" / "ab" / "not-a-blob-name");
  EXPECT_EQ(BlobFileCount(), 2u) << "the object's and the part's blobs must stay";
  EXPECT_EQ(Read(*store, "kept"), body);
}

TEST_F(LocalStoreTest, ReopenKeepsObjectsAndTheVersionCounter) {
  uint64_t version = 0;
  {
    auto store = MustOpen(Options());
    ASSERT_TRUE(store->CreateBucket("b-1").ok());
    ASSERT_TRUE(Put(*store, "a", "one").ok());
    version = store->Head("b-1", "a")->version;
    ASSERT_TRUE(store->PutBucketConfig("b-1", "notification", "doc").ok());
  }
  auto store = MustOpen(Options());
  EXPECT_EQ(Read(*store, "a"), "one");
  EXPECT_EQ(store->GetBucketConfig("b-1", "notification").value_or(""), "doc");
  ASSERT_TRUE(Put(*store, "b", "two").ok());
  EXPECT_GT(store->Head("b-1", "b")->version, version);
}

int64_t VmHwmKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmHWM:")) return std::stoll(line.substr(6));
  }
  return -1;
}

// Resets the peak RSS to the current RSS (Linux >= 4.0), so a delta measures this test only.
bool ResetHwm() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

TEST_F(LocalStoreTest, HundredMebibyteObjectStreamsInFlatMemory) {
  LocalStoreOptions o = Options();
  o.max_object_bytes = uint64_t{1} << 30;
  auto store = MustOpen(o);
  ASSERT_TRUE(store->CreateBucket("b-1").ok());
  constexpr size_t kChunk = 1 << 20, kChunks = 100;
  std::string chunk = Body(kChunk, 11);
  ASSERT_TRUE(ResetHwm()) << "cannot reset VmHWM";
  const int64_t before = VmHwmKiB();
  EVP_MD_CTX* md5 = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md5, EVP_md5(), nullptr);
  {
    auto w = store->BeginPut("b-1", "huge", {});
    ASSERT_TRUE(w.ok());
    for (size_t i = 0; i < kChunks; ++i) {
      chunk[0] = static_cast<char>(i);  // not 100 copies of one chunk
      EVP_DigestUpdate(md5, chunk.data(), chunk.size());
      ASSERT_TRUE((*w)->Write(chunk).ok());
    }
    auto info = (*w)->Commit();
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->size, kChunk * kChunks);
    unsigned char digest[16];
    EVP_DigestFinal_ex(md5, digest, nullptr);
    EVP_MD_CTX_free(md5);
    EXPECT_EQ(info->etag, internal::HexEncode(std::string_view(reinterpret_cast<char*>(digest), 16)));
  }
  auto r = store->Get("b-1", "huge");
  ASSERT_TRUE(r.ok());
  uint64_t total = 0;
  for (;;) {
    auto n = (*r)->Read(std::span<char>(chunk.data(), chunk.size()));
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
    total += *n;
  }
  EXPECT_EQ(total, kChunk * kChunks);
  const int64_t grew_kib = VmHwmKiB() - before;
  std::printf("[ memory ] peak RSS grew by %lld KiB for a 100 MiB put + get\n", static_cast<long long>(grew_kib));
  EXPECT_LT(grew_kib, 32 * 1024) << "memory grew with the object size";
}

TEST_F(LocalStoreTest, ConcurrentDurablePutsShareCommits) {
  LocalStoreOptions o = Options();
  o.durable = true;
  auto store = MustOpen(o);
  ASSERT_TRUE(store->CreateBucket("b-1").ok());
  const LocalCommitStats start = GetLocalCommitStats(*store);
  constexpr int kThreads = 16, kPerThread = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(Put(*store, "t" + std::to_string(t) + "/" + std::to_string(i), Body(4096, t * 1000 + i)).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  const LocalCommitStats end = GetLocalCommitStats(*store);
  const int64_t writes = end.writes - start.writes, commits = end.commits - start.commits;
  std::printf("[ group commit ] %lld writes in %lld commits\n", static_cast<long long>(writes),
              static_cast<long long>(commits));
  EXPECT_EQ(writes, kThreads * kPerThread);
  EXPECT_LT(commits, writes) << "concurrent writes never shared a commit";
  EXPECT_EQ(Read(*store, "t3/7"), Body(4096, 3007));
}

TEST_F(LocalStoreTest, ListingSeeksPastCommonPrefixesOn100kKeys) {
  auto store = MustOpen(Options());
  ASSERT_TRUE(store->CreateBucket("b-1").ok());
  constexpr int kDirs = 100, kPerDir = 1000, kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      char key[32];
      for (int d = t; d < kDirs; d += kThreads) {
        for (int i = 0; i < kPerDir; ++i) {
          std::snprintf(key, sizeof key, "d%03d/k%04d", d, i);
          if (!Put(*store, key, "").ok()) ADD_FAILURE() << key;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  auto* local = dynamic_cast<internal::LocalStore*>(store.get());
  ASSERT_NE(local, nullptr);

  ListRequest dirs;
  dirs.delimiter = "/";
  int64_t before = local->list_rows_read();
  auto page = store->List("b-1", dirs);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->common_prefixes.size(), static_cast<size_t>(kDirs));
  EXPECT_FALSE(page->truncated);
  EXPECT_LE(local->list_rows_read() - before, kDirs + 1) << "listing scanned instead of seeking";

  ListRequest one_dir;
  one_dir.prefix = "d050/";
  one_dir.start_after = "d050/k0499";
  one_dir.max_keys = 10;
  before = local->list_rows_read();
  page = store->List("b-1", one_dir);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->objects.size(), 10u);
  EXPECT_EQ(page->objects[0].key, "d050/k0500");
  EXPECT_TRUE(page->truncated);
  EXPECT_LE(local->list_rows_read() - before, 11);

  // Paging through all 100k keys reads each row about once.
  before = local->list_rows_read();
  ListRequest all;
  size_t seen = 0;
  for (;;) {
    page = store->List("b-1", all);
    ASSERT_TRUE(page.ok());
    seen += page->objects.size();
    if (!page->truncated) break;
    all.continuation_token = page->next_continuation_token;
  }
  EXPECT_EQ(seen, static_cast<size_t>(kDirs * kPerDir));
  EXPECT_LE(local->list_rows_read() - before, kDirs * kPerDir + kDirs * kPerDir / 1000 + 1);
}

TEST_F(LocalStoreTest, TwoStoresOnOneDirectoryShareObjectsAndOutbox) {
  LocalStoreOptions o = Options();
  o.outbox_poll = std::chrono::milliseconds(5);
  auto a = MustOpen(o);
  auto b = MustOpen(o);
  ASSERT_TRUE(a->CreateBucket("b-1").ok());
  a->SetCommitHook([](const WriteRecord& r) { return std::vector<std::string>{r.object.key}; });
  std::thread writer([&] { EXPECT_TRUE(Put(*a, "from-a", "x").ok()); });
  // b learns of a's entry by polling, not from a's condition variable.
  auto pending = b->outbox()->Pending(10, std::chrono::seconds(10));
  writer.join();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].payload, "from-a");
  EXPECT_EQ(Read(*b, "from-a"), "x");
  ASSERT_TRUE(Put(*b, "from-b", Body(100'000)).ok());
  EXPECT_EQ(Read(*a, "from-b"), Body(100'000));
}

TEST_F(LocalStoreTest, DeletingABucketDiscardsItsUploads) {
  auto store = MustOpen(Options());
  ASSERT_TRUE(store->CreateBucket("b-1").ok());
  auto id = store->CreateMultipartUpload("b-1", "mp", {});
  ASSERT_TRUE(id.ok());
  auto w = store->BeginPart("b-1", "mp", *id, 1, std::nullopt);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(Body(100'000)).ok());
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_EQ(BlobFileCount(), 1u);
  ASSERT_TRUE(store->DeleteBucket("b-1").ok());
  EXPECT_EQ(BlobFileCount(), 0u);
}

TEST_F(LocalStoreTest, OptionsAreChecked) {
  LocalStoreOptions o = Options();
  o.dir.clear();
  EXPECT_EQ(OpenLocalStore(o).status().code(), StatusCode::kInvalidArgument);
  o = Options();
  o.clock = nullptr;
  EXPECT_EQ(OpenLocalStore(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(StoreFactoryTest, MapsUrlsToStores) {
  const fs::path dir = FreshDir() / "nested" / "objects";
  auto store = OpenStore("file://" + dir.string(), LocalStoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE(fs::is_directory(dir));
  // s3:// opens the S3 client (its own tests are in tests/store/s3_store_test.cc); without
  // credentials anywhere it says where it looked, and it refuses parameters it does not know.
  S3StoreOptions no_env;
  no_env.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  EXPECT_EQ(OpenStore("s3://bucket?region=eu-west-1", {}, no_env).status().code(), StatusCode::kNotFound);
  no_env.fallback_credentials = sigv4::Credentials{"AKIAFALLBACK", "secret", std::nullopt};
  EXPECT_TRUE(OpenStore("s3://bucket?region=eu-west-1", {}, no_env).ok());
  EXPECT_EQ(OpenStore("s3://bucket?regoin=eu-west-1", {}, no_env).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("s3://Bad_Bucket", {}, no_env).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("ftp://x", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("file://", {}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace thumbpipe::store
