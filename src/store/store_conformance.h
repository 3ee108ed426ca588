// The ObjectStore conformance suite: every store (the local one, and the S3 client of issue 6
// against our own server or a real S3) runs these same tests, so the S3 API and the workers
// can rely on object_store.h alone. Header-only; a backend's test file provides a
// StoreBackend and instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Local, StoreConformanceTest, ::testing::Values(MyBackend()),
//                            StoreBackendName);
//
// Each test gets a fresh store and creates its own buckets (names from Bucket()). Nothing
// asserts timings. Outbox tests are skipped for stores without an outbox (S3 emits its own
// events); multipart sizes follow the backend's min_part_bytes.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <openssl/evp.h>

#include "common/hex.h"
#include "store/object_store.h"

namespace thumbpipe::store::testing {

struct StoreBackend {
  std::string name;  // [A-Za-z0-9_]: the test name suffix
  // A fresh, empty store.
  std::function<Result<std::unique_ptr<ObjectStore>>()> make;
  // The store's smallest part but the last (S3: 5 MiB).
  uint64_t min_part_bytes = uint64_t{5} << 20;
  // The store's max_object_bytes when the suite may test it cheaply (0: skip that test).
  uint64_t max_object_bytes = 0;
  bool has_outbox = false;
  // ObjectInfo::version grows with every write to the store (the local store's counter);
  // S3 has no store-wide counter, so its version is 0.
  bool has_versions = true;
  // PutBucketConfig keeps any document verbatim and GetBucketConfig is kNotFound until one
  // is set; S3 validates documents and answers an empty NotificationConfiguration.
  bool stores_config_verbatim = true;
  // Known deviations of a real S3 service from AWS S3 that the suite tolerates, each checked
  // against boto3 too (tests/store/rgw_conformance.py names them for Ceph RGW 16):
  // CompleteMultipartUpload answers InvalidPartOrder / EntityTooSmall / NoSuchUpload with
  // those codes and accepts a subset of the uploaded parts (else the suite checks only that
  // bad completions fail and keep the upload).
  bool exact_multipart_errors = true;
  // A continuation token the store never issued is rejected (InvalidArgument).
  bool validates_continuation_tokens = true;
  // A copy of a multipart object gets a simple ETag (the MD5 of its bytes).
  bool copy_makes_simple_etag = true;
};

inline std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}
inline void PrintTo(const StoreBackend& backend, std::ostream* os) { *os << backend.name; }

// Hex MD5 of `bytes` (what a simple object's ETag must be).
inline std::string Md5Hex(std::string_view bytes, bool raw = false) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &n, EVP_md5(), nullptr);
  std::string md5(reinterpret_cast<char*>(digest), n);
  return raw ? md5 : HexEncode(md5);
}

// Deterministic bytes: the same (seed, size) gives the same body.
inline std::string Body(size_t size, uint32_t seed = 1) {
  std::string out(size, '\0');
  std::minstd_rand rng(seed);
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// The first word of a Status message: the S3 error code by object_store.h's convention.
inline std::string S3Code(const Status& s) { return s.message().substr(0, s.message().find(' ')); }

class StoreConformanceTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    auto made = GetParam().make();
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    store_ = std::move(made).value();
    ASSERT_TRUE(store_->CreateBucket(bucket_).ok());
  }

  // A fresh bucket name for this test.
  std::string Bucket(std::string_view suffix) {
    return "tp-" + std::string(suffix) + "-" + std::to_string(counter_++);
  }

  Result<ObjectInfo> Put(std::string_view key, std::string_view body, PutOptions options = {},
                         std::string_view bucket = {}) {
    auto writer = store_->BeginPut(bucket.empty() ? bucket_ : bucket, key, std::move(options));
    if (!writer.ok()) return writer.status();
    // In uneven chunks, as a network would deliver them.
    size_t at = 0, step = 1;
    while (at < body.size()) {
      const size_t n = std::min(step, body.size() - at);
      if (Status s = (*writer)->Write(body.substr(at, n)); !s.ok()) return s;
      at += n;
      step = step * 3 + 7;
    }
    return (*writer)->Commit();
  }
  ObjectInfo MustPut(std::string_view key, std::string_view body, PutOptions options = {}) {
    auto info = Put(key, body, std::move(options));
    EXPECT_TRUE(info.ok()) << key << ": " << info.status().ToString();
    return info.ok() ? *info : ObjectInfo{};
  }
  static Result<std::string> ReadAll(ObjectReader& reader) {
    std::string out;
    char buffer[7000];
    for (;;) {
      auto n = reader.Read(std::span<char>(buffer, sizeof buffer));
      if (!n.ok()) return n.status();
      if (*n == 0) return out;
      out.append(buffer, *n);
    }
  }
  Result<std::string> GetBody(std::string_view key, std::optional<ByteRange> range = std::nullopt,
                              std::string_view bucket = {}) {
    auto reader = store_->Get(bucket.empty() ? bucket_ : bucket, key, range);
    if (!reader.ok()) return reader.status();
    return ReadAll(**reader);
  }
  // Every key and common prefix of a listing, page by page with `page` keys per page.
  std::pair<std::vector<std::string>, std::vector<std::string>> ListAll(ListRequest request, int page) {
    std::vector<std::string> keys, prefixes;
    request.max_keys = page;
    for (int pages = 0; pages < 100000; ++pages) {
      auto got = store_->List(bucket_, request);
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      if (!got.ok()) break;
      EXPECT_LE(got->objects.size() + got->common_prefixes.size(), static_cast<size_t>(page));
      for (const ObjectInfo& o : got->objects) keys.push_back(o.key);
      for (const std::string& p : got->common_prefixes) prefixes.push_back(p);
      if (!got->truncated) break;
      EXPECT_FALSE(got->next_continuation_token.empty());
      request.continuation_token = got->next_continuation_token;
    }
    return {keys, prefixes};
  }
  uint64_t PartSize() const { return std::max<uint64_t>(GetParam().min_part_bytes, 1); }

  std::unique_ptr<ObjectStore> store_;
  int counter_ = 0;
  std::string bucket_ = "tp-conformance";
};

// --- buckets ---

TEST_P(StoreConformanceTest, BucketLifecycle) {
  const std::string b = Bucket("life");
  ASSERT_TRUE(store_->CreateBucket(b).ok());
  auto again = store_->CreateBucket(b);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  auto head = store_->HeadBucket(b);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->name, b);
  auto list = store_->ListBuckets();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(std::any_of(list->begin(), list->end(), [&](const BucketInfo& i) { return i.name == b; }));
  EXPECT_TRUE(std::is_sorted(list->begin(), list->end(),
                             [](const BucketInfo& x, const BucketInfo& y) { return x.name < y.name; }));
  ASSERT_TRUE(store_->DeleteBucket(b).ok());
  EXPECT_EQ(store_->HeadBucket(b).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(S3Code(store_->HeadBucket(b).status()), "NoSuchBucket");
  EXPECT_EQ(S3Code(store_->DeleteBucket(b)), "NoSuchBucket");
}

TEST_P(StoreConformanceTest, BucketNamesFollowS3Rules) {
  for (const char* bad : {"ab", "Upper", "under_score", "-start", "end-", "a..b", "192.168.1.1", "xn--abc",
                          "spa ce", "012345678901234567890123456789012345678901234567890123456789abcd"}) {
    Status s = store_->CreateBucket(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(S3Code(s), "InvalidBucketName") << bad;
  }
  for (const char* good : {"abc", "a.b-c.9", "0123456789012345678901234567890123456789012345678901234567890ab"}) {
    std::string name = std::string(good);
    EXPECT_TRUE(store_->CreateBucket(name).ok()) << good;
    EXPECT_TRUE(store_->DeleteBucket(name).ok()) << good;
  }
}

TEST_P(StoreConformanceTest, DeleteBucketThatIsNotEmptyFails) {
  const std::string b = Bucket("full");
  ASSERT_TRUE(store_->CreateBucket(b).ok());
  ASSERT_TRUE(Put("k", "v", {}, b).ok());
  Status s = store_->DeleteBucket(b);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(S3Code(s), "BucketNotEmpty");
  ASSERT_TRUE(store_->Delete(b, "k").ok());
  EXPECT_TRUE(store_->DeleteBucket(b).ok());
}

TEST_P(StoreConformanceTest, BucketConfigRoundTrips) {
  if (!GetParam().stores_config_verbatim) GTEST_SKIP() << "the backend validates configuration documents (S3)";
  EXPECT_EQ(store_->GetBucketConfig(bucket_, "notification").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->PutBucketConfig(bucket_, "notification", "<NotificationConfiguration/>").ok());
  ASSERT_TRUE(store_->PutBucketConfig(bucket_, "cors", "<CORSConfiguration/>").ok());
  EXPECT_EQ(store_->GetBucketConfig(bucket_, "notification").value_or(""), "<NotificationConfiguration/>");
  ASSERT_TRUE(store_->PutBucketConfig(bucket_, "notification", "second").ok());
  EXPECT_EQ(store_->GetBucketConfig(bucket_, "notification").value_or(""), "second");
  EXPECT_EQ(S3Code(store_->PutBucketConfig("tp-missing-bucket", "cors", "x")), "NoSuchBucket");
}

// --- objects ---

TEST_P(StoreConformanceTest, PutGetHeadRoundTrip) {
  PutOptions o;
  o.content_type = "image/jpeg";
  o.cache_control = "max-age=60";
  o.content_disposition = "attachment; filename=\"a.jpg\"";
  o.content_encoding = "identity";
  o.content_language = "en";
  o.metadata = {{"source-etag", "abc"}, {"empty", ""}};
  const std::string body = Body(100'000);
  ObjectInfo put = MustPut("photos/a.jpg", body, o);
  EXPECT_EQ(put.etag, Md5Hex(body));
  EXPECT_EQ(put.size, body.size());
  auto head = store_->Head(bucket_, "photos/a.jpg");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->etag, put.etag);
  EXPECT_EQ(head->size, body.size());
  EXPECT_EQ(head->content_type, "image/jpeg");
  EXPECT_EQ(head->cache_control, o.cache_control);
  EXPECT_EQ(head->content_disposition, o.content_disposition);
  EXPECT_EQ(head->content_encoding, o.content_encoding);
  EXPECT_EQ(head->content_language, o.content_language);
  EXPECT_EQ(head->metadata, o.metadata);
  EXPECT_EQ(head->version, put.version);
  auto reader = store_->Get(bucket_, "photos/a.jpg");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->info().etag, put.etag);
  EXPECT_EQ((*reader)->info().metadata, o.metadata);
  EXPECT_EQ(ReadAll(**reader).value_or(""), body);
}

TEST_P(StoreConformanceTest, EmptyObjectAndDefaultContentType) {
  ObjectInfo put = MustPut("empty", "");
  EXPECT_EQ(put.etag, "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(put.size, 0u);
  auto head = store_->Head(bucket_, "empty");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->content_type, "binary/octet-stream");
  EXPECT_EQ(GetBody("empty").value_or("x"), "");
}

TEST_P(StoreConformanceTest, MissingObjectAndBucket) {
  EXPECT_EQ(S3Code(store_->Head(bucket_, "nope").status()), "NoSuchKey");
  EXPECT_EQ(store_->Get(bucket_, "nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(S3Code(store_->Get(bucket_, "nope").status()), "NoSuchKey");
  EXPECT_EQ(S3Code(store_->Head("tp-no-such-bucket", "k").status()), "NoSuchBucket");
  EXPECT_EQ(S3Code(store_->Get("tp-no-such-bucket", "k").status()), "NoSuchBucket");
  EXPECT_EQ(S3Code(Put("k", "v", {}, "tp-no-such-bucket").status()), "NoSuchBucket");
  EXPECT_EQ(S3Code(store_->List("tp-no-such-bucket", {}).status()), "NoSuchBucket");
}

TEST_P(StoreConformanceTest, OverwriteReplacesAndVersionGrows) {
  ObjectInfo first = MustPut("k", "first");
  ObjectInfo second = MustPut("k", "second body");
  EXPECT_EQ(GetBody("k").value_or(""), "second body");
  EXPECT_EQ(store_->Head(bucket_, "k")->etag, Md5Hex("second body"));
  ObjectInfo other = MustPut("other", "x");
  if (GetParam().has_versions) {
    EXPECT_GT(second.version, first.version);
    EXPECT_GT(other.version, second.version);
  }
}

TEST_P(StoreConformanceTest, KeysAreDataNotPaths) {
  const std::vector<std::string> keys = {
      "../x", "../../etc/passwd", "/abs", "a//b", ".", "..", "a\\b", "%00", "foo", "foo/bar", "foo/",
      "a/../b", "a/b/../b/c", "a/b/c", "key with spaces", "plus+sign", "ünïcödé/日本語.jpg", "emoji 😀",
      std::string(300, 's'), "tab\tand\nnewline", "~", "a?b#c&d"};
  std::map<std::string, std::string> bodies;
  for (size_t i = 0; i < keys.size(); ++i) {
    bodies[keys[i]] = "body of " + std::to_string(i);
    auto put = Put(keys[i], bodies[keys[i]]);
    ASSERT_TRUE(put.ok()) << keys[i] << ": " << put.status().ToString();
  }
  for (const auto& [key, body] : bodies) EXPECT_EQ(GetBody(key).value_or("<error>"), body) << key;
  auto [listed, prefixes] = ListAll({}, 1000);
  std::vector<std::string> expected;
  for (const auto& [key, body] : bodies) expected.push_back(key);  // std::map: byte order
  EXPECT_EQ(listed, expected);
}

TEST_P(StoreConformanceTest, KeyLengthLimitIs1024Bytes) {
  const std::string ascii(kMaxKeyBytes, 'k');
  EXPECT_TRUE(Put(ascii, "ok").ok());
  EXPECT_EQ(GetBody(ascii).value_or(""), "ok");
  // 341 three-byte characters (1023 bytes) plus one byte: exactly 1024.
  std::string utf8;
  for (int i = 0; i < 341; ++i) utf8 += "日";
  utf8 += "x";
  ASSERT_EQ(utf8.size(), 1024u);
  EXPECT_TRUE(Put(utf8, "ok").ok());
  Status too_long = Put(ascii + "k", "no").status();
  EXPECT_EQ(too_long.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(S3Code(too_long), "KeyTooLong");
  EXPECT_EQ(S3Code(Put(utf8 + "x", "no").status()), "KeyTooLong");
}

TEST_P(StoreConformanceTest, RangesFollowS3) {
  for (size_t size : {size_t{1000}, size_t{300'000}}) {
    SCOPED_TRACE(size);
    const std::string key = "range-" + std::to_string(size);
    const std::string body = Body(size, 7);
    MustPut(key, body);
    EXPECT_EQ(GetBody(key, ByteRange{0, 0, std::nullopt}).value_or(""), body.substr(0, 1));
    EXPECT_EQ(GetBody(key, ByteRange{10, 99, std::nullopt}).value_or(""), body.substr(10, 90));
    EXPECT_EQ(GetBody(key, ByteRange{size - 5, std::nullopt, std::nullopt}).value_or(""), body.substr(size - 5));
    EXPECT_EQ(GetBody(key, ByteRange{5, size * 2, std::nullopt}).value_or(""), body.substr(5));
    EXPECT_EQ(GetBody(key, ByteRange{0, std::nullopt, 10}).value_or(""), body.substr(size - 10));
    EXPECT_EQ(GetBody(key, ByteRange{0, std::nullopt, size * 3}).value_or(""), body);
    Status past = GetBody(key, ByteRange{size, std::nullopt, std::nullopt}).status();
    EXPECT_EQ(past.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(S3Code(past), "InvalidRange");
    auto reader = store_->Get(bucket_, key, ByteRange{10, 19, std::nullopt});
    ASSERT_TRUE(reader.ok());
    EXPECT_EQ((*reader)->info().size, size) << "info() describes the whole object";
  }
}

TEST_P(StoreConformanceTest, OpenReaderKeepsItsVersion) {
  for (size_t size : {size_t{100}, size_t{500'000}}) {
    SCOPED_TRACE(size);
    const std::string old_body = Body(size, 1), new_body = Body(size + 3, 2);
    MustPut("held", old_body);
    auto reader = store_->Get(bucket_, "held");
    ASSERT_TRUE(reader.ok());
    char first[10];
    ASSERT_EQ((*reader)->Read(std::span<char>(first, sizeof first)).value_or(0), sizeof first);
    MustPut("held", new_body);
    ASSERT_TRUE(store_->Delete(bucket_, "held").ok());
    auto rest = ReadAll(**reader);
    ASSERT_TRUE(rest.ok()) << rest.status().ToString();
    EXPECT_EQ(std::string(first, sizeof first) + *rest, old_body);
  }
}

TEST_P(StoreConformanceTest, DeleteMissingSucceedsAndSaysSo) {
  bool existed = true;
  ASSERT_TRUE(store_->Delete(bucket_, "never", {}, &existed).ok());
  EXPECT_FALSE(existed);
  MustPut("there", "x");
  ASSERT_TRUE(store_->Delete(bucket_, "there", {}, &existed).ok());
  EXPECT_TRUE(existed);
  EXPECT_EQ(S3Code(store_->Head(bucket_, "there").status()), "NoSuchKey");
  EXPECT_EQ(S3Code(store_->Delete("tp-no-such-bucket", "k")), "NoSuchBucket");
}

TEST_P(StoreConformanceTest, BadDigestStoresNothing) {
  MustPut("kept", "old");
  PutOptions o;
  o.expected_md5 = Md5Hex("something else", /*raw=*/true);
  Status s = Put("kept", "new", o).status();
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_EQ(S3Code(s), "BadDigest");
  EXPECT_EQ(GetBody("kept").value_or(""), "old");
  EXPECT_EQ(S3Code(Put("fresh", std::string(200'000, 'x'), o).status()), "BadDigest");
  EXPECT_EQ(store_->Head(bucket_, "fresh").status().code(), StatusCode::kNotFound);
  o.expected_md5 = Md5Hex("new", /*raw=*/true);
  EXPECT_TRUE(Put("kept", "new", o).ok());
}

TEST_P(StoreConformanceTest, AbandonedWriterLeavesNothing) {
  {
    auto writer = store_->BeginPut(bucket_, "abandoned", {});
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write(std::string(300'000, 'a')).ok());
  }
  EXPECT_EQ(store_->Head(bucket_, "abandoned").status().code(), StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, TooLargeIsRefused) {
  const uint64_t limit = GetParam().max_object_bytes;
  if (limit == 0) GTEST_SKIP() << "the backend has no cheap size limit";
  EXPECT_TRUE(Put("fits", std::string(limit, 'f')).ok());
  Status s = Put("too-big", std::string(limit + 1, 'f')).status();
  EXPECT_EQ(s.code(), StatusCode::kTooLarge);
  EXPECT_EQ(S3Code(s), "EntityTooLarge");
  EXPECT_EQ(store_->Head(bucket_, "too-big").status().code(), StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, ConcurrentWritersOfOneKeyLeaveOneWholeBody) {
  constexpr int kWriters = 8;
  std::vector<std::string> bodies;
  for (int i = 0; i < kWriters; ++i) bodies.push_back(Body(i % 2 ? 200'000 : 1000, 100 + i));
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] { EXPECT_TRUE(Put("contended", bodies[i]).ok()); });
  }
  for (auto& t : threads) t.join();
  auto got = GetBody("contended");
  ASSERT_TRUE(got.ok());
  EXPECT_NE(std::find(bodies.begin(), bodies.end(), *got), bodies.end()) << "a torn or unknown body";
  EXPECT_EQ(store_->Head(bucket_, "contended")->etag, Md5Hex(*got));
}

TEST_P(StoreConformanceTest, CopyKeepsOrReplacesMetadata) {
  PutOptions o;
  o.content_type = "text/plain";
  o.metadata = {{"a", "1"}};
  const std::string body = Body(150'000, 3);
  MustPut("src", body, o);
  auto kept = store_->Copy(bucket_, "src", bucket_, "dst-kept", false, {});
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->etag, Md5Hex(body));
  auto head = store_->Head(bucket_, "dst-kept");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->content_type, "text/plain");
  EXPECT_EQ(head->metadata, o.metadata);
  EXPECT_EQ(GetBody("dst-kept").value_or(""), body);

  PutOptions replace;
  replace.content_type = "application/x-new";
  replace.metadata = {{"b", "2"}};
  ASSERT_TRUE(store_->Copy(bucket_, "src", bucket_, "dst-replaced", true, replace).ok());
  head = store_->Head(bucket_, "dst-replaced");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->content_type, "application/x-new");
  EXPECT_EQ(head->metadata, replace.metadata);

  // Onto itself only when the metadata changes (S3's rule).
  EXPECT_EQ(store_->Copy(bucket_, "src", bucket_, "src", false, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->Copy(bucket_, "src", bucket_, "src", true, replace).ok());
  EXPECT_EQ(GetBody("src").value_or(""), body);

  // Deleting the source leaves the copy whole.
  ASSERT_TRUE(store_->Delete(bucket_, "src").ok());
  EXPECT_EQ(GetBody("dst-kept").value_or(""), body);
  EXPECT_EQ(S3Code(store_->Copy(bucket_, "src", bucket_, "x", false, {}).status()), "NoSuchKey");
  EXPECT_EQ(S3Code(store_->Copy(bucket_, "dst-kept", "tp-no-such-bucket", "x", false, {}).status()),
            "NoSuchBucket");
}

// --- listing ---

TEST_P(StoreConformanceTest, ListIsInUtf8ByteOrder) {
  // Byte order, not locale order: "B" < "a" < "z" < "~" < "é" (0xC3 0xA9) < "日" (0xE6).
  for (const char* k : {"é", "a", "z", "B", "~", "日", "a/b", "a0", "a-"}) MustPut(k, "x");
  auto [keys, prefixes] = ListAll({}, 1000);
  EXPECT_EQ(keys, (std::vector<std::string>{"B", "a", "a-", "a/b", "a0", "z", "~", "é", "日"}));
  EXPECT_TRUE(prefixes.empty());
}

TEST_P(StoreConformanceTest, ListWithPrefixDelimiterAndStartAfter) {
  for (const char* k : {"photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg", "photos/top.jpg",
                        "photos/", "photosx", "docs/readme", "root.txt"}) {
    MustPut(k, "x");
  }
  ListRequest r;
  r.delimiter = "/";
  auto page = store_->List(bucket_, r);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"docs/", "photos/"}));
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "photosx");
  EXPECT_EQ(page->objects[1].key, "root.txt");
  EXPECT_EQ(page->objects[1].size, 1u);
  EXPECT_EQ(page->objects[1].etag, Md5Hex("x"));
  EXPECT_FALSE(page->truncated);

  r.prefix = "photos/";
  page = store_->List(bucket_, r);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"photos/2024/", "photos/2025/"}));
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "photos/");
  EXPECT_EQ(page->objects[1].key, "photos/top.jpg");

  r.delimiter.clear();
  r.start_after = "photos/2024/b.jpg";
  auto [keys, prefixes] = ListAll(r, 1000);
  EXPECT_EQ(keys, (std::vector<std::string>{"photos/2025/c.jpg", "photos/top.jpg"}));

  ListRequest none;
  none.prefix = "nothing/";
  page = store_->List(bucket_, none);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->objects.empty());
  EXPECT_FALSE(page->truncated);
}

TEST_P(StoreConformanceTest, CommonPrefixesCountTowardMaxKeys) {
  for (const char* k : {"a/1", "a/2", "b/1", "c", "d/1", "e"}) MustPut(k, "x");
  ListRequest r;
  r.delimiter = "/";
  r.max_keys = 2;
  auto page = store_->List(bucket_, r);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"a/", "b/"}));
  EXPECT_TRUE(page->objects.empty());
  EXPECT_TRUE(page->truncated);
  r.continuation_token = page->next_continuation_token;
  page = store_->List(bucket_, r);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "c");
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"d/"}));
  EXPECT_TRUE(page->truncated);
  r.continuation_token = page->next_continuation_token;
  page = store_->List(bucket_, r);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "e");
  EXPECT_FALSE(page->truncated);
}

TEST_P(StoreConformanceTest, PaginationReturnsEveryEntryOnce) {
  std::vector<std::string> all;
  for (int i = 0; i < 120; ++i) {
    const std::string key = (i % 3 == 0 ? "dir" + std::to_string(i % 7) + "/" : "") + "k" + std::to_string(i);
    all.push_back(key);
    MustPut(key, "x");
  }
  std::sort(all.begin(), all.end());
  for (int page : {1, 7, 1000}) {
    SCOPED_TRACE(page);
    auto [keys, prefixes] = ListAll({}, page);
    EXPECT_EQ(keys, all);
    ListRequest r;
    r.delimiter = "/";
    auto [top, dirs] = ListAll(r, page);
    std::set<std::string> expected_dirs;
    std::vector<std::string> expected_top;
    for (const std::string& k : all) {
      if (k.find('/') != std::string::npos) expected_dirs.insert(k.substr(0, k.find('/') + 1));
      else expected_top.push_back(k);
    }
    EXPECT_EQ(top, expected_top);
    EXPECT_EQ(dirs, std::vector<std::string>(expected_dirs.begin(), expected_dirs.end()));
  }
}

TEST_P(StoreConformanceTest, ListArgumentLimits) {
  MustPut("k", "x");
  ListRequest r;
  r.max_keys = 0;
  auto page = store_->List(bucket_, r);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->objects.empty());
  r.max_keys = 1001;
  EXPECT_EQ(store_->List(bucket_, r).status().code(), StatusCode::kInvalidArgument);
  r.max_keys = -1;
  EXPECT_EQ(store_->List(bucket_, r).status().code(), StatusCode::kInvalidArgument);
  r.max_keys = 10;
  r.continuation_token = "not a token";
  if (GetParam().validates_continuation_tokens) {
    EXPECT_EQ(store_->List(bucket_, r).status().code(), StatusCode::kInvalidArgument);
  }
}

TEST_P(StoreConformanceTest, ListSeesWritesAtOnce) {
  MustPut("fresh", "x");
  auto page = store_->List(bucket_, {});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->objects.size(), 1u);
  ASSERT_TRUE(store_->Delete(bucket_, "fresh").ok());
  page = store_->List(bucket_, {});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->objects.empty());
}

// --- multipart ---

TEST_P(StoreConformanceTest, MultipartUploadAssemblesParts) {
  const uint64_t part = PartSize();
  PutOptions o;
  o.content_type = "video/mp4";
  o.metadata = {{"m", "v"}};
  auto id = store_->CreateMultipartUpload(bucket_, "big", o);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const std::vector<std::string> bodies = {Body(part, 1), Body(part + 17, 2), Body(1234, 3)};
  std::vector<CompletedPart> done;
  for (int n = 1; n <= 3; ++n) {
    auto writer = store_->BeginPart(bucket_, "big", *id, n, std::nullopt);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    ASSERT_TRUE((*writer)->Write(bodies[n - 1]).ok());
    auto info = (*writer)->Commit();
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->etag, Md5Hex(bodies[n - 1]));
    done.push_back(CompletedPart{n, "\"" + info->etag + "\""});
  }
  auto parts = store_->ListParts(bucket_, "big", *id);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[1].number, 2);
  EXPECT_EQ((*parts)[1].size, bodies[1].size());
  auto uploads = store_->ListMultipartUploads(bucket_, "");
  ASSERT_TRUE(uploads.ok());
  ASSERT_EQ(uploads->size(), 1u);
  EXPECT_EQ((*uploads)[0].upload_id, *id);
  EXPECT_EQ((*uploads)[0].key, "big");
  EXPECT_EQ(store_->Head(bucket_, "big").status().code(), StatusCode::kNotFound) << "not visible before completion";

  auto info = store_->CompleteMultipartUpload(bucket_, "big", *id, done);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  const std::string md5s = Md5Hex(bodies[0], true) + Md5Hex(bodies[1], true) + Md5Hex(bodies[2], true);
  EXPECT_EQ(info->etag, Md5Hex(md5s) + "-3");
  const std::string whole = bodies[0] + bodies[1] + bodies[2];
  EXPECT_EQ(info->size, whole.size());
  EXPECT_EQ(GetBody("big").value_or(""), whole);
  auto head = store_->Head(bucket_, "big");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->etag, info->etag);
  EXPECT_EQ(head->content_type, "video/mp4");
  EXPECT_EQ(head->metadata, o.metadata);
  EXPECT_EQ(GetBody("big", ByteRange{part - 2, part + 1, std::nullopt}).value_or(""), whole.substr(part - 2, 4));
  EXPECT_EQ(S3Code(store_->ListParts(bucket_, "big", *id).status()), "NoSuchUpload");
  EXPECT_TRUE(store_->ListMultipartUploads(bucket_, "")->empty());
  // A copy of a multipart object is a simple object: its ETag is the MD5 of the bytes.
  auto copy = store_->Copy(bucket_, "big", bucket_, "big-copy", false, {});
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  if (GetParam().copy_makes_simple_etag) {
    EXPECT_EQ(copy->etag, Md5Hex(whole));
  }
  EXPECT_EQ(GetBody("big-copy").value_or(""), whole);
}

TEST_P(StoreConformanceTest, MultipartReuploadReplacesPart) {
  auto id = store_->CreateMultipartUpload(bucket_, "re", {});
  ASSERT_TRUE(id.ok());
  for (const char* body : {"first", "second"}) {
    auto w = store_->BeginPart(bucket_, "re", *id, 1, std::nullopt);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(body).ok());
    ASSERT_TRUE((*w)->Commit().ok());
  }
  auto parts = store_->ListParts(bucket_, "re", *id);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].etag, Md5Hex("second"));
  std::vector<CompletedPart> done = {{1, Md5Hex("second")}};
  ASSERT_TRUE(store_->CompleteMultipartUpload(bucket_, "re", *id, done).ok());
  EXPECT_EQ(GetBody("re").value_or(""), "second");
}

TEST_P(StoreConformanceTest, MultipartCompletionChecksParts) {
  const uint64_t part = PartSize();
  auto id = store_->CreateMultipartUpload(bucket_, "checked", {});
  ASSERT_TRUE(id.ok());
  std::vector<std::string> etags(4);
  const std::vector<std::string> bodies = {Body(part, 1), Body(part, 2), Body(1, 3)};
  for (int n = 1; n <= 3; ++n) {
    auto w = store_->BeginPart(bucket_, "checked", *id, n, std::nullopt);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(bodies[n - 1]).ok());
    etags[n] = (*w)->Commit()->etag;
  }
  // Every bad completion fails and leaves the upload usable; with exact_multipart_errors the
  // code is the one AWS S3 answers.
  const bool exact = GetParam().exact_multipart_errors;
  auto expect_failure = [&](const Status& s, const char* code) {
    EXPECT_FALSE(s.ok()) << code;
    if (exact) {
      EXPECT_EQ(S3Code(s), code);
    }
  };
  std::vector<CompletedPart> order = {{2, etags[2]}, {1, etags[1]}};
  expect_failure(store_->CompleteMultipartUpload(bucket_, "checked", *id, order).status(), "InvalidPartOrder");
  std::vector<CompletedPart> wrong = {{1, etags[2]}};
  EXPECT_EQ(S3Code(store_->CompleteMultipartUpload(bucket_, "checked", *id, wrong).status()), "InvalidPart");
  std::vector<CompletedPart> missing = {{1, etags[1]}, {5, etags[1]}};
  EXPECT_EQ(S3Code(store_->CompleteMultipartUpload(bucket_, "checked", *id, missing).status()), "InvalidPart");
  if (part > 1) {
    std::vector<CompletedPart> small = {{3, etags[3]}, {4, etags[3]}};
    auto w = store_->BeginPart(bucket_, "checked", *id, 4, std::nullopt);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(bodies[2]).ok());
    ASSERT_TRUE((*w)->Commit().ok());
    Status s = store_->CompleteMultipartUpload(bucket_, "checked", *id, small).status();
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
    expect_failure(s, "EntityTooSmall");
  }
  expect_failure(store_->CompleteMultipartUpload(bucket_, "checked", "no-such-upload",
                                                 std::vector<CompletedPart>{{1, etags[1]}}).status(),
                 "NoSuchUpload");
  if (exact) {
    // A subset of the parts, skipping one: allowed; the unused parts are discarded.
    std::vector<CompletedPart> subset = {{1, etags[1]}, {3, etags[3]}};
    auto info = store_->CompleteMultipartUpload(bucket_, "checked", *id, subset);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(GetBody("checked").value_or(""), bodies[0] + bodies[2]);
  } else {
    // RGW 16 refuses to complete with a subset of the uploaded parts (InvalidPart): the
    // failed completions must at least have kept the upload and its parts.
    auto parts = store_->ListParts(bucket_, "checked", *id);
    ASSERT_TRUE(parts.ok()) << parts.status().ToString();
    EXPECT_EQ(parts->size(), part > 1 ? 4u : 3u);
    EXPECT_TRUE(store_->AbortMultipartUpload(bucket_, "checked", *id).ok());
  }
}

TEST_P(StoreConformanceTest, MultipartAbortAndArguments) {
  auto id = store_->CreateMultipartUpload(bucket_, "aborted", {});
  ASSERT_TRUE(id.ok());
  for (int bad : {0, 10001}) {
    EXPECT_EQ(store_->BeginPart(bucket_, "aborted", *id, bad, std::nullopt).status().code(),
              StatusCode::kInvalidArgument);
  }
  auto w = store_->BeginPart(bucket_, "aborted", *id, 1, std::nullopt);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write("x").ok());
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_EQ(S3Code(store_->BeginPart(bucket_, "other-key", *id, 1, std::nullopt).status()), "NoSuchUpload");
  ASSERT_TRUE(store_->AbortMultipartUpload(bucket_, "aborted", *id).ok());
  EXPECT_EQ(S3Code(store_->AbortMultipartUpload(bucket_, "aborted", *id)), "NoSuchUpload");
  EXPECT_EQ(S3Code(store_->ListParts(bucket_, "aborted", *id).status()), "NoSuchUpload");
  EXPECT_EQ(S3Code(store_->BeginPart(bucket_, "aborted", *id, 2, std::nullopt).status()), "NoSuchUpload");
  EXPECT_EQ(store_->Head(bucket_, "aborted").status().code(), StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, PartWriterFinishingAfterAbortFails) {
  auto id = store_->CreateMultipartUpload(bucket_, "race", {});
  ASSERT_TRUE(id.ok());
  auto w = store_->BeginPart(bucket_, "race", *id, 1, std::nullopt);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write("late part").ok());
  ASSERT_TRUE(store_->AbortMultipartUpload(bucket_, "race", *id).ok());
  EXPECT_EQ(S3Code((*w)->Commit().status()), "NoSuchUpload");
}

// --- outbox ---

TEST_P(StoreConformanceTest, CommitHookFeedsTheOutbox) {
  if (!GetParam().has_outbox) GTEST_SKIP() << "the backend emits its own events";
  std::mutex mu;
  std::vector<WriteRecord> records;
  store_->SetCommitHook([&](const WriteRecord& r) {
    std::scoped_lock lock(mu);
    records.push_back(r);
    std::string kind = std::to_string(static_cast<int>(r.kind));
    return std::vector<std::string>{kind + " " + r.object.key + " " + r.object.etag};
  });
  Outbox* outbox = store_->outbox();
  ASSERT_NE(outbox, nullptr);
  PutOptions o;
  o.context.request_id = "req-1";
  ObjectInfo put = MustPut("a", "body", o);
  ASSERT_TRUE(store_->Copy(bucket_, "a", bucket_, "b", false, {}).ok());
  bool existed = false;
  ASSERT_TRUE(store_->Delete(bucket_, "missing", {}, &existed).ok());  // no event
  WriteContext del;
  del.request_id = "req-del";
  ASSERT_TRUE(store_->Delete(bucket_, "b", del).ok());
  PutOptions bad;
  bad.expected_md5 = std::string(16, 'x');
  EXPECT_FALSE(Put("c", "body", bad).ok());  // no event
  auto id = store_->CreateMultipartUpload(bucket_, "m", {});
  ASSERT_TRUE(id.ok());
  auto w = store_->BeginPart(bucket_, "m", *id, 1, std::nullopt);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write("part").ok());
  ASSERT_TRUE((*w)->Commit().ok());
  WriteContext complete_ctx;
  complete_ctx.request_id = "req-complete";
  ASSERT_TRUE(store_->CompleteMultipartUpload(bucket_, "m", *id, std::vector<CompletedPart>{{1, Md5Hex("part")}},
                                              complete_ctx).ok());

  auto pending = outbox->Pending(100, Duration{0});
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  ASSERT_EQ(pending->size(), 4u);
  EXPECT_EQ((*pending)[0].payload, "0 a " + put.etag);
  EXPECT_EQ((*pending)[1].payload, "2 b " + put.etag);
  EXPECT_EQ((*pending)[2].payload, "4 b ");
  EXPECT_TRUE((*pending)[3].payload.starts_with("3 m "));
  EXPECT_TRUE(std::is_sorted(pending->begin(), pending->end(),
                             [](const OutboxEntry& x, const OutboxEntry& y) { return x.id < y.id; }));
  {
    std::scoped_lock lock(mu);
    ASSERT_EQ(records.size(), 4u);
    EXPECT_EQ(records[0].context.request_id, "req-1");
    EXPECT_EQ(records[0].object.version, put.version);
    EXPECT_EQ(records[2].kind, WriteKind::kDelete);
    EXPECT_EQ(records[2].context.request_id, "req-del");
    EXPECT_GT(records[2].object.version, records[1].object.version);
    EXPECT_EQ(records[3].context.request_id, "req-complete");
  }
  const std::vector<int64_t> first_two = {(*pending)[0].id, (*pending)[1].id};
  ASSERT_TRUE(outbox->Done(first_two).ok());
  pending = outbox->Pending(100, Duration{0});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->size(), 2u);
  store_->SetCommitHook(nullptr);
  MustPut("quiet", "x");
  EXPECT_EQ(outbox->Pending(100, Duration{0})->size(), 2u);
}

TEST_P(StoreConformanceTest, OutboxPendingWaitsForACommit) {
  if (!GetParam().has_outbox) GTEST_SKIP() << "the backend emits its own events";
  store_->SetCommitHook([](const WriteRecord& r) { return std::vector<std::string>{r.object.key}; });
  std::atomic<bool> started{false};
  std::thread writer([&] {
    while (!started.load()) std::this_thread::yield();
    EXPECT_TRUE(Put("woken", "x").ok());
  });
  started = true;
  auto pending = store_->outbox()->Pending(10, std::chrono::seconds(10));
  writer.join();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].payload, "woken");
}

}  // namespace thumbpipe::store::testing
