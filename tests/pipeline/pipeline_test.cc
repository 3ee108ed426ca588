// The worker pipeline against the real pieces: a LocalStore in a temporary directory, the
// SQLite queue, the libvips engine, and event bodies as the embedded notifier writes them.
// The one fault injector is FlakyStore, a store wrapper that fails writes on purpose (an
// outage at BeginPut, or a disk that fills under a writer).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <mutex>
#include <thread>

#include "common/thread_priority.h"
#include "events/event_json.h"
#include "events/events_test_support.h"
#include "fixtures/fixtures.h"
#include "image/engine.h"
#include "pipeline/backfill.h"
#include "pipeline/job.h"
#include "pipeline/rendition_names.h"
#include "pipeline/worker.h"
#include "queue/queue_factory.h"
#include "store/local_store.h"

namespace thumbpipe::pipeline {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Polls `done` until it holds or 20 s pass: the worker runs on its own threads.
template <typename F>
bool Eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

// A disk that fills up under a writer: the first half of the bytes go through to the real
// writer, then Write fails (or, with `at_commit`, every byte goes through and Commit fails).
class DiskFullWriter final : public store::ObjectWriter {
 public:
  DiskFullWriter(std::unique_ptr<store::ObjectWriter> inner, bool at_commit)
      : inner_(std::move(inner)), at_commit_(at_commit) {}
  Status Write(std::string_view chunk) override {
    if (at_commit_) return inner_->Write(chunk);
    (void)inner_->Write(chunk.substr(0, chunk.size() / 2));
    return Status::IOError("injected: No space left on device");
  }
  Result<store::ObjectInfo> Commit() override {
    if (at_commit_) return Status::IOError("injected: No space left on device (fsync)");
    return inner_->Commit();
  }

 private:
  std::unique_ptr<store::ObjectWriter> inner_;
  bool at_commit_;
};

// Forwards to a real store; fails BeginPut while `failures_left` > 0 (a store outage). After
// `puts_before_disk_full` more puts (when >= 0), every writer hits a full disk (DiskFullWriter).
class FlakyStore final : public store::ObjectStore {
 public:
  explicit FlakyStore(store::ObjectStore& inner) : inner_(inner) {}
  std::atomic<int> failures_left{0};
  std::atomic<int> puts_before_disk_full{-1};
  std::atomic<bool> disk_full_at_commit{false};
  // Runs at the start of every BeginPut (a test parks a job there); set before jobs run.
  std::function<void()> before_put;

  Status CreateBucket(std::string_view b) override { return inner_.CreateBucket(b); }
  Status DeleteBucket(std::string_view b) override { return inner_.DeleteBucket(b); }
  Result<store::BucketInfo> HeadBucket(std::string_view b) override { return inner_.HeadBucket(b); }
  Result<std::vector<store::BucketInfo>> ListBuckets() override { return inner_.ListBuckets(); }
  Result<std::unique_ptr<store::ObjectWriter>> BeginPut(std::string_view b, std::string_view k,
                                                        store::PutOptions o) override {
    if (before_put) before_put();
    if (failures_left.load() > 0) {
      --failures_left;
      return Status::IOError("injected: disk unavailable");
    }
    auto writer = inner_.BeginPut(b, k, std::move(o));
    if (!writer.ok() || puts_before_disk_full.load() < 0 || puts_before_disk_full-- > 0) return writer;
    return std::unique_ptr<store::ObjectWriter>(
        std::make_unique<DiskFullWriter>(std::move(*writer), disk_full_at_commit.load()));
  }
  Result<store::ObjectInfo> Head(std::string_view b, std::string_view k) override { return inner_.Head(b, k); }
  Result<std::unique_ptr<store::ObjectReader>> Get(std::string_view b, std::string_view k,
                                                   std::optional<store::ByteRange> r) override {
    return inner_.Get(b, k, r);
  }
  Status Delete(std::string_view b, std::string_view k, const store::WriteContext& c, bool* e) override {
    return inner_.Delete(b, k, c, e);
  }
  Result<store::ListPage> List(std::string_view b, const store::ListRequest& r) override { return inner_.List(b, r); }
  Result<store::ObjectInfo> Copy(std::string_view sb, std::string_view sk, std::string_view db, std::string_view dk,
                                 bool replace, store::PutOptions o) override {
    return inner_.Copy(sb, sk, db, dk, replace, std::move(o));
  }
  Result<std::string> CreateMultipartUpload(std::string_view b, std::string_view k, store::PutOptions o) override {
    return inner_.CreateMultipartUpload(b, k, std::move(o));
  }
  Result<std::unique_ptr<store::ObjectWriter>> BeginPart(std::string_view b, std::string_view k, std::string_view u,
                                                         int n, std::optional<std::string> md5) override {
    return inner_.BeginPart(b, k, u, n, std::move(md5));
  }
  Result<store::ObjectInfo> CompleteMultipartUpload(std::string_view b, std::string_view k, std::string_view u,
                                                    std::span<const store::CompletedPart> p) override {
    return inner_.CompleteMultipartUpload(b, k, u, p);
  }
  Status AbortMultipartUpload(std::string_view b, std::string_view k, std::string_view u) override {
    return inner_.AbortMultipartUpload(b, k, u);
  }
  Result<std::vector<store::PartInfo>> ListParts(std::string_view b, std::string_view k, std::string_view u) override {
    return inner_.ListParts(b, k, u);
  }
  Result<std::vector<store::UploadInfo>> ListMultipartUploads(std::string_view b, std::string_view p) override {
    return inner_.ListMultipartUploads(b, p);
  }
  Status PutBucketConfig(std::string_view b, std::string_view n, std::string_view d) override {
    return inner_.PutBucketConfig(b, n, d);
  }
  Result<std::string> GetBucketConfig(std::string_view b, std::string_view n) override {
    return inner_.GetBucketConfig(b, n);
  }
  void SetCommitHook(store::CommitHook h) override { inner_.SetCommitHook(std::move(h)); }
  store::Outbox* outbox() override { return inner_.outbox(); }

 private:
  store::ObjectStore& inner_;
};

image::Recipe TwoVariants() {
  image::Recipe r;
  image::Variant small;
  small.name = "small";
  small.width = small.height = 64;
  small.fit = image::Fit::kCover;
  small.format = image::Format::kWebp;
  image::Variant medium;
  medium.name = "medium";
  medium.width = medium.height = 200;
  medium.fit = image::Fit::kInside;
  medium.format = image::Format::kJpeg;
  r.variants = {small, medium};
  return r;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pipeline_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    store::LocalStoreOptions so;
    so.dir = dir_ / "objects";
    so.durable = false;
    auto s = store::OpenLocalStore(so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    local_ = std::move(*s);
    ASSERT_TRUE(local_->CreateBucket("images").ok());
    flaky_ = std::make_unique<FlakyStore>(*local_);

    queue::SqliteQueueOptions qo;
    qo.max_receive_count = 3;
    qo.clock = &clock_;
    auto q = queue::OpenQueue("sqlite://" + (dir_ / "queue.db").string() + "?queue=jobs", qo);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    queue_ = std::move(*q);

    auto e = image::Engine::Create({});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);

    config_.layout = {"uploads/", "thumbnails/"};
    config_.recipe = TwoVariants();
    job_ = std::make_unique<Job>(config_, *flaky_, *engine_);
  }
  void TearDown() override {
    job_.reset();
    queue_.reset();
    flaky_.reset();
    local_.reset();
    fs::remove_all(dir_);
  }

  store::ObjectInfo Put(const std::string& key, const std::string& bytes) {
    auto w = local_->BeginPut("images", key, {});
    EXPECT_TRUE(w.ok());
    EXPECT_TRUE((*w)->Write(bytes).ok());
    auto info = (*w)->Commit();
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return *info;
  }

  static std::string CreatedEvent(const store::ObjectInfo& info) {
    return events::EncodeEventBody({store::WriteKind::kPut, info, {}}, {});
  }
  static std::string RemovedEvent(const std::string& key) {
    store::ObjectInfo info;
    info.bucket = "images";
    info.key = key;
    info.version = 99;
    return events::EncodeEventBody({store::WriteKind::kDelete, info, {}}, {});
  }

  queue::Message AsMessage(std::string body) {
    queue::Message m;
    m.id = "m1";
    m.body = std::move(body);
    m.receive_count = 1;
    return m;
  }

  bool Exists(const std::string& key) { return local_->Head("images", key).ok(); }

  fs::path dir_;
  ManualClock clock_;
  std::unique_ptr<store::ObjectStore> local_;
  std::unique_ptr<FlakyStore> flaky_;
  std::unique_ptr<queue::Queue> queue_;
  std::unique_ptr<image::Engine> engine_;
  JobConfig config_;
  std::unique_ptr<Job> job_;
};

TEST(RenditionNames, StripTriggerPrefixAndExtension) {
  const OutputLayout layout{"uploads/", "thumbnails/"};
  EXPECT_EQ(RenditionKey(layout, "small", "uploads/2024/cat.JPG", image::Format::kWebp),
            "thumbnails/small/2024/cat.webp");
  EXPECT_EQ(RenditionKey(layout, "small", "uploads/a.b/noext", image::Format::kJpeg), "thumbnails/small/a.b/noext.jpg");
  EXPECT_EQ(RenditionKey(layout, "s", "uploads/my photo+1.png", image::Format::kPng), "thumbnails/s/my photo+1.png");
  image::Variant original;
  original.name = "o";
  EXPECT_EQ(PlannedFormat(original, "uploads/x.JPEG"), image::Format::kJpeg);
  EXPECT_EQ(PlannedFormat(original, "uploads/x.heic"), std::nullopt);
  image::Recipe recipe;
  recipe.variants = {original};
  // Unknown planned format: every output format is a candidate for deletion.
  EXPECT_EQ(PossibleRenditionKeys(layout, recipe, "uploads/x.heic").size(), 5u);
}

TEST_F(PipelineTest, CreatedMakesEveryRenditionWithMetadataThenRedeliveryCostsNoDecode) {
  const auto info = Put("uploads/2024/cat.jpg", fixtures::Jpeg(fixtures::PhotoLike(640, 480)));
  JobReport first = job_->Run(AsMessage(CreatedEvent(info)));
  ASSERT_EQ(first.verdict, Verdict::kDone) << first.error.ToString();
  EXPECT_EQ(first.decodes, 1);
  EXPECT_EQ(first.renditions_written, 2);

  auto small = local_->Head("images", "thumbnails/small/2024/cat.webp");
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(small->content_type, "image/webp");
  EXPECT_EQ(small->metadata.at(std::string(kMetaSourceEtag)), info.etag);
  EXPECT_EQ(small->metadata.at(std::string(kMetaSourceKey)), "uploads/2024/cat.jpg");
  EXPECT_EQ(small->metadata.at(std::string(kMetaWidth)), "64");
  auto medium = local_->Head("images", "thumbnails/medium/2024/cat.jpg");
  ASSERT_TRUE(medium.ok());
  EXPECT_EQ(medium->metadata.at(std::string(kMetaWidth)), "200");
  EXPECT_EQ(medium->metadata.at(std::string(kMetaHeight)), "150");

  JobReport again = job_->Run(AsMessage(CreatedEvent(info)));
  EXPECT_EQ(again.verdict, Verdict::kSkipped);
  EXPECT_EQ(again.decodes, 0);

  // A new version of the source: the renditions are stale, so the job renders again.
  const auto v2 = Put("uploads/2024/cat.jpg", fixtures::Jpeg(fixtures::PhotoLike(320, 320, 2)));
  JobReport third = job_->Run(AsMessage(CreatedEvent(info)));  // even the old event renders the current source
  EXPECT_EQ(third.verdict, Verdict::kDone);
  EXPECT_EQ(local_->Head("images", "thumbnails/medium/2024/cat.jpg")->metadata.at(std::string(kMetaSourceEtag)),
            v2.etag);
}

TEST_F(PipelineTest, CorruptImageIsDeadLetteredWithItsReasonAndWritesNothing) {
  const auto info = Put("uploads/bad.jpg", fixtures::Truncated(fixtures::Jpeg(fixtures::PhotoLike(400, 300)), 0.3));
  JobReport r = job_->Run(AsMessage(CreatedEvent(info)));
  EXPECT_EQ(r.verdict, Verdict::kDeadLetter);
  EXPECT_TRUE(r.error.IsPermanent()) << r.error.ToString();
  EXPECT_NE(r.error.message().find("uploads/bad.jpg"), std::string::npos) << r.error.ToString();
  EXPECT_FALSE(Exists("thumbnails/small/bad.webp"));
  EXPECT_FALSE(Exists("thumbnails/medium/bad.jpg"));
}

TEST_F(PipelineTest, OversizedSourceIsRefusedBeforeReading) {
  config_.max_input_bytes = 1000;
  const auto info = Put("uploads/big.jpg", fixtures::Jpeg(fixtures::PhotoLike(400, 300)));
  JobReport r = job_->Run(AsMessage(CreatedEvent(info)));
  EXPECT_EQ(r.verdict, Verdict::kDeadLetter);
  EXPECT_EQ(r.error.code(), StatusCode::kTooLarge) << r.error.ToString();
  EXPECT_EQ(r.decodes, 0);
}

TEST_F(PipelineTest, StaleAndForeignEventsAreSkippedAndMalformedOnesDeadLettered) {
  const auto info = Put("uploads/gone.jpg", fixtures::Jpeg(fixtures::PhotoLike(100, 100)));
  ASSERT_TRUE(local_->Delete("images", "uploads/gone.jpg").ok());
  EXPECT_EQ(job_->Run(AsMessage(CreatedEvent(info))).verdict, Verdict::kSkipped);  // deleted since

  const auto elsewhere = Put("other/x.jpg", fixtures::Jpeg(fixtures::PhotoLike(100, 100)));
  JobReport foreign = job_->Run(AsMessage(CreatedEvent(elsewhere)));
  EXPECT_EQ(foreign.verdict, Verdict::kSkipped);
  EXPECT_EQ(foreign.decodes, 0);

  EXPECT_EQ(job_->Run(AsMessage(events::EncodeTestEvent("images", "r", "h", clock_.Now()))).verdict,
            Verdict::kSkipped);
  JobReport junk = job_->Run(AsMessage("{not json"));
  EXPECT_EQ(junk.verdict, Verdict::kDeadLetter);
  EXPECT_TRUE(junk.error.IsPermanent());
}

TEST_F(PipelineTest, RemovedDeletesRenditionsUnlessTheSourceCameBack) {
  const auto info = Put("uploads/dog.png", fixtures::Png(fixtures::PhotoLike(300, 200)));
  ASSERT_EQ(job_->Run(AsMessage(CreatedEvent(info))).verdict, Verdict::kDone);
  ASSERT_TRUE(Exists("thumbnails/small/dog.webp"));

  // The source exists: a delete event for it is stale and deletes nothing.
  EXPECT_EQ(job_->Run(AsMessage(RemovedEvent("uploads/dog.png"))).verdict, Verdict::kSkipped);
  EXPECT_TRUE(Exists("thumbnails/small/dog.webp"));

  ASSERT_TRUE(local_->Delete("images", "uploads/dog.png").ok());
  JobReport r = job_->Run(AsMessage(RemovedEvent("uploads/dog.png")));
  EXPECT_EQ(r.verdict, Verdict::kDone);
  EXPECT_EQ(r.renditions_deleted, 2);
  EXPECT_FALSE(Exists("thumbnails/small/dog.webp"));
  EXPECT_FALSE(Exists("thumbnails/medium/dog.jpg"));
}

// The delete lands while the job renders: the ObjectRemoved job finds no rendition yet (it
// may well run first), so the Created job itself must not leave its renditions behind.
TEST_F(PipelineTest, ASourceDeletedWhileItsRenditionsAreMadeLeavesNoneBehind) {
  const auto info = Put("uploads/gone.jpg", fixtures::Jpeg(fixtures::PhotoLike(640, 480)));
  bool deleted = false;
  flaky_->before_put = [&] {
    if (!std::exchange(deleted, true)) {
      ASSERT_TRUE(local_->Delete("images", "uploads/gone.jpg").ok());
    }
  };
  JobReport r = job_->Run(AsMessage(CreatedEvent(info)));
  EXPECT_TRUE(deleted) << "the job wrote no rendition";
  EXPECT_EQ(r.verdict, Verdict::kDone) << r.error.ToString();
  EXPECT_EQ(r.renditions_written, 2);
  EXPECT_EQ(r.renditions_deleted, 2);
  EXPECT_FALSE(Exists("thumbnails/small/gone.webp"));
  EXPECT_FALSE(Exists("thumbnails/medium/gone.jpg"));
}

// A newer upload lands while the job renders the older one, and the newer one's job may
// already have written its renditions: these are of old bytes, so the job asks to run again.
TEST_F(PipelineTest, ASourceOverwrittenWhileItsRenditionsAreMadeIsMadeAgainFromTheNewBytes) {
  const auto old_info = Put("uploads/swap.jpg", fixtures::Jpeg(fixtures::PhotoLike(640, 480)));
  std::optional<store::ObjectInfo> new_info;
  flaky_->before_put = [&] {
    if (!new_info) new_info = Put("uploads/swap.jpg", fixtures::Jpeg(fixtures::PhotoLike(480, 640, 2)));
  };
  JobReport stale = job_->Run(AsMessage(CreatedEvent(old_info)));
  ASSERT_TRUE(new_info.has_value());
  EXPECT_EQ(stale.verdict, Verdict::kRetry);
  EXPECT_NE(stale.error.message().find("source changed while its renditions were made"), std::string::npos)
      << stale.error.ToString();

  flaky_->before_put = nullptr;
  JobReport again = job_->Run(AsMessage(CreatedEvent(old_info)));  // the same message, received again
  EXPECT_EQ(again.verdict, Verdict::kDone) << again.error.ToString();
  auto medium = local_->Head("images", "thumbnails/medium/swap.jpg");
  ASSERT_TRUE(medium.ok());
  EXPECT_EQ(medium->metadata.at(std::string(kMetaSourceEtag)), new_info->etag);
  EXPECT_EQ(medium->metadata.at(std::string(kMetaHeight)), "200") << "not made from the new, portrait bytes";
}

TEST_F(PipelineTest, RemovedLeavesRenditionsThatAnotherSourceWithTheSameStemOwns) {
  // cat.png and cat.jpg share thumbnails/small/cat.webp and thumbnails/medium/cat.jpg (fixed
  // formats); cat.jpg, rendered last, owns them.
  const auto png = Put("uploads/cat.png", fixtures::Png(fixtures::PhotoLike(300, 200, 1)));
  ASSERT_EQ(job_->Run(AsMessage(CreatedEvent(png))).verdict, Verdict::kDone);
  const auto jpg = Put("uploads/cat.jpg", fixtures::Jpeg(fixtures::PhotoLike(300, 200, 2)));
  ASSERT_EQ(job_->Run(AsMessage(CreatedEvent(jpg))).verdict, Verdict::kDone);

  ASSERT_TRUE(local_->Delete("images", "uploads/cat.png").ok());
  JobReport r = job_->Run(AsMessage(RemovedEvent("uploads/cat.png")));
  EXPECT_EQ(r.verdict, Verdict::kSkipped);  // nothing of its own left to delete
  EXPECT_EQ(r.renditions_deleted, 0);
  for (const char* key : {"thumbnails/small/cat.webp", "thumbnails/medium/cat.jpg"}) {
    auto head = local_->Head("images", key);
    ASSERT_TRUE(head.ok()) << key << " was deleted with the other source";
    EXPECT_EQ(head->metadata.at(std::string(kMetaSourceEtag)), jpg.etag) << key;
  }

  // Its owner's delete removes them.
  ASSERT_TRUE(local_->Delete("images", "uploads/cat.jpg").ok());
  EXPECT_EQ(job_->Run(AsMessage(RemovedEvent("uploads/cat.jpg"))).renditions_deleted, 2);
  EXPECT_FALSE(Exists("thumbnails/small/cat.webp"));
}

JobReport DoneReport() {
  JobReport r;
  r.verdict = Verdict::kDone;
  return r;
}

WorkerOptions FastOptions() {
  WorkerOptions o;
  o.concurrency = 2;
  o.batch = 10;
  o.wait = 50ms;
  o.visibility_timeout = 60s;
  o.heartbeat = 20s;
  o.shutdown_grace = 10s;
  o.max_receive_count = 3;
  o.retry.initial = 0ms;  // retry at once; the backoff itself is tested on its own
  return o;
}

// Jobs that start and then hold until the test lets them end: the n-th job to start ends once
// LetFinish(n) (or a larger n) has been called.
class JobGate {
 public:
  Processor processor() {
    return [this](const queue::Message&) {
      std::unique_lock lock(mu_);
      const int mine = ++started_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return finish_ >= mine; });
      return DoneReport();
    };
  }
  bool WaitStarted(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 20s, [&] { return started_ >= n; });
  }
  int started() {
    std::lock_guard lock(mu_);
    return started_;
  }
  void LetFinish(int n) {
    {
      std::lock_guard lock(mu_);
      finish_ = n;
    }
    cv_.notify_all();
  }
  void LetAllFinish() { LetFinish(std::numeric_limits<int>::max()); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int started_ = 0;
  int finish_ = 0;
};

TEST_F(PipelineTest, TransientStoreFaultIsRetriedAndSucceeds) {
  const auto info = Put("uploads/retry.jpg", fixtures::Jpeg(fixtures::PhotoLike(300, 300)));
  ASSERT_TRUE(queue_->Send(CreatedEvent(info)).ok());
  flaky_->failures_left = 1;  // the first rendition write fails once
  metrics::Registry registry;
  Worker worker(FastOptions(), *queue_, [&](const queue::Message& m) { return job_->Run(m); }, clock_, registry);
  worker.Start();
  ASSERT_TRUE(Eventually([&] { return worker.counters().removed == 1; }));
  worker.Stop();
  EXPECT_EQ(worker.counters().retried, 1);
  EXPECT_EQ(worker.counters().received, 2);
  EXPECT_TRUE(Exists("thumbnails/small/retry.webp"));
  auto stats = queue_->Stats();
  EXPECT_EQ(stats->dead, 0);
  EXPECT_EQ(stats->removed, 1);
  EXPECT_NE(registry.RenderPrometheus().find("thumbpipe_jobs_total{result=\"retry\"} 1"), std::string::npos);
}

// Catalogue item 43: the disk fills while a rendition is written. The job asks for a retry
// (the message is not removed), no rendition is left half-written (each is there whole, or
// not at all), and once there is space again the retry writes them all.
TEST_F(PipelineTest, DiskFullWhileWritingARenditionIsRetriedAndLeavesNothingTorn) {
  const auto info = Put("uploads/full.jpg", fixtures::Jpeg(fixtures::PhotoLike(640, 480)));
  const std::vector<std::string> renditions = {"thumbnails/small/full.webp", "thumbnails/medium/full.jpg"};
  // Each rendition visible is a whole image of its declared size.
  auto expect_whole_or_absent = [&](const std::string& key) {
    auto head = local_->Head("images", key);
    if (!head.ok()) return;
    auto body = local_->Get("images", key, std::nullopt);
    ASSERT_TRUE(body.ok()) << key;
    std::string bytes;
    char buf[8192];
    for (;;) {
      auto n = (*body)->Read(std::span<char>(buf, sizeof buf));
      ASSERT_TRUE(n.ok()) << key;
      if (*n == 0) break;
      bytes.append(buf, *n);
    }
    auto probed = engine_->Probe(image::AsBytes(bytes));
    ASSERT_TRUE(probed.ok()) << key << " is torn: " << probed.status().ToString();
    EXPECT_EQ(std::to_string(probed->width), head->metadata.at(std::string(kMetaWidth))) << key;
    EXPECT_EQ(head->size, bytes.size()) << key;
  };
  for (const bool at_commit : {false, true}) {
    SCOPED_TRACE(at_commit ? "disk full at commit" : "disk full mid-write");
    for (const std::string& key : renditions) (void)local_->Delete("images", key, {}, nullptr);
    flaky_->disk_full_at_commit = at_commit;
    flaky_->puts_before_disk_full = 1;  // the first rendition goes through, the second does not
    JobReport failed = job_->Run(AsMessage(CreatedEvent(info)));
    EXPECT_EQ(failed.verdict, Verdict::kRetry) << failed.error.ToString();
    EXPECT_FALSE(failed.error.IsPermanent()) << failed.error.ToString();
    EXPECT_NE(failed.error.message().find("No space left on device"), std::string::npos) << failed.error.ToString();
    EXPECT_EQ(failed.renditions_written, 1);
    for (const std::string& key : renditions) expect_whole_or_absent(key);

    flaky_->puts_before_disk_full = -1;  // space again
    JobReport retried = job_->Run(AsMessage(CreatedEvent(info)));
    ASSERT_EQ(retried.verdict, Verdict::kDone) << retried.error.ToString();
    for (const std::string& key : renditions) {
      EXPECT_TRUE(Exists(key)) << key;
      expect_whole_or_absent(key);
    }
  }
}

// Catalogue item 33: a worker stalls (here: parked just before its first rendition write)
// past the visibility timeout; a second worker receives the message, finishes it and
// removes it. When the first resumes, its late writes leave the same bytes, and its remove,
// with the older receipt, is refused: the message is neither resurrected nor counted twice.
TEST_F(PipelineTest, AWorkerStalledPastItsVisibilityDoesNoHarmWhenItResumes) {
  const auto info = Put("uploads/stall.jpg", fixtures::Jpeg(fixtures::PhotoLike(480, 360)));
  ASSERT_TRUE(queue_->Send(CreatedEvent(info)).ok());
  auto first = queue_->Receive(1, 0s, 10s);
  ASSERT_TRUE(first.ok() && first->size() == 1u);

  std::mutex mu;
  std::condition_variable cv;
  bool parked = false, resume = false;
  std::atomic<bool> park_next{true};
  flaky_->before_put = [&] {
    if (!park_next.exchange(false)) return;
    std::unique_lock lock(mu);
    parked = true;
    cv.notify_all();
    cv.wait(lock, [&] { return resume; });
  };
  auto stalled = std::async(std::launch::async, [&] { return job_->Run((*first)[0]); });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return parked; }));
  }

  clock_.Advance(11s);  // the first worker's visibility has run out
  auto second = queue_->Receive(1, 0s, 10s);
  ASSERT_TRUE(second.ok() && second->size() == 1u);
  EXPECT_EQ((*second)[0].receive_count, 2);
  JobReport finished = job_->Run((*second)[0]);
  ASSERT_EQ(finished.verdict, Verdict::kDone) << finished.error.ToString();
  ASSERT_TRUE(queue_->Remove((*second)[0].receipt).ok());
  auto read = [&](const std::string& key) {
    auto body = local_->Get("images", key, std::nullopt);
    EXPECT_TRUE(body.ok()) << key;
    std::string bytes;
    char buf[8192];
    for (size_t n; body.ok() && (n = (*body)->Read(std::span<char>(buf, sizeof buf)).value_or(0)) > 0;) {
      bytes.append(buf, n);
    }
    return bytes;
  };
  const std::string small = read("thumbnails/small/stall.webp");
  const std::string medium = read("thumbnails/medium/stall.jpg");
  ASSERT_FALSE(small.empty());

  {
    std::lock_guard lock(mu);
    resume = true;
  }
  cv.notify_all();
  JobReport late = stalled.get();
  EXPECT_EQ(late.verdict, Verdict::kDone) << late.error.ToString();
  EXPECT_EQ(late.renditions_written, 2);  // it did write, late
  EXPECT_EQ(read("thumbnails/small/stall.webp"), small);
  EXPECT_EQ(read("thumbnails/medium/stall.jpg"), medium);
  // The message is gone (the second worker removed it): the old receipt finds nothing.
  EXPECT_EQ(queue_->Remove((*first)[0].receipt).code(), StatusCode::kNotFound);

  auto stats = queue_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->removed, 1);
  EXPECT_EQ(stats->visible + stats->in_flight + stats->delayed + stats->dead, 0);
  clock_.Advance(1h);
  auto again = queue_->Receive(1, 0s);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty()) << "the message came back";
}

TEST_F(PipelineTest, PersistentFaultEndsInTheDlqAfterExactlyMaxReceiveCountWithTheLastError) {
  const auto info = Put("uploads/never.jpg", fixtures::Jpeg(fixtures::PhotoLike(300, 300)));
  ASSERT_TRUE(queue_->Send(CreatedEvent(info)).ok());
  flaky_->failures_left = 1000;
  metrics::Registry registry;
  Worker worker(FastOptions(), *queue_, [&](const queue::Message& m) { return job_->Run(m); }, clock_, registry);
  worker.Start();
  ASSERT_TRUE(Eventually([&] { return worker.counters().dead_lettered == 1; }));
  worker.Stop();
  EXPECT_EQ(worker.counters().received, 3);
  EXPECT_EQ(worker.counters().retried, 2);
  auto dead = queue_->dead_letters().List(10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].receive_count, 3);
  EXPECT_NE((*dead)[0].reason.find("injected: disk unavailable"), std::string::npos) << (*dead)[0].reason;
  EXPECT_NE((*dead)[0].reason.find("gave up after 3 receives"), std::string::npos) << (*dead)[0].reason;
}

TEST_F(PipelineTest, HeartbeatKeepsASlowJobFromASecondConsumer) {
  ASSERT_TRUE(queue_->Send("slow job").ok());
  JobGate gate;
  WorkerOptions o = FastOptions();
  o.concurrency = 1;
  o.visibility_timeout = 10s;
  o.heartbeat = 3s;
  metrics::Registry registry;
  Worker worker(o, *queue_, gate.processor(), clock_, registry);
  worker.Start();
  ASSERT_TRUE(gate.WaitStarted(1));
  // The job has run longer than the visibility timeout in queue time; every heartbeat that
  // fell due extended it, so no other consumer gets the message.
  for (int i = 0; i < 4; ++i) {
    const int64_t before = worker.counters().extended;
    clock_.Advance(3s);
    ASSERT_TRUE(Eventually([&] { return worker.counters().extended > before; }));
  }
  auto other = queue_->Receive(10, 0ms);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty()) << "a second consumer got the message while the job still ran";
  gate.LetAllFinish();
  ASSERT_TRUE(Eventually([&] { return worker.counters().removed == 1; }));
  worker.Stop();
  EXPECT_EQ(queue_->Stats()->removed, 1);
}

TEST_F(PipelineTest, StopFinishesRunningJobsAndReleasesTheRest) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(queue_->Send("job " + std::to_string(i)).ok());
  JobGate gate;
  WorkerOptions o = FastOptions();
  o.concurrency = 2;
  o.batch = 2;
  metrics::Registry registry;
  Worker worker(o, *queue_, gate.processor(), clock_, registry);
  worker.Start();
  ASSERT_TRUE(gate.WaitStarted(2));
  std::thread stopper([&] { worker.Stop(); });
  // Release the running jobs only once Stop() has begun, or the freed threads would take the
  // next messages.
  ASSERT_TRUE(Eventually([&] { return worker.stopping(); }));
  gate.LetAllFinish();
  stopper.join();
  // Two were running and finished; the other two were never received (capacity 2), so all
  // four are accounted for: two removed, two still visible for the next worker.
  EXPECT_EQ(worker.counters().removed, 2);
  auto stats = queue_->Stats();
  EXPECT_EQ(stats->removed, 2);
  EXPECT_EQ(stats->visible, 2);
  EXPECT_EQ(stats->in_flight, 0);
}

// worker.receive_ahead: while its one slot is busy the worker holds one message more, and no
// more; the slot, once free, starts that one at once and the receiver takes the next; Stop()
// makes a pending one visible again for the next worker.
TEST_F(PipelineTest, ReceiveAheadKeepsOneMessagePendingWhileEverySlotIsBusy) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(queue_->Send("job " + std::to_string(i)).ok());
  JobGate gate;
  WorkerOptions o = FastOptions();
  o.concurrency = 1;
  o.receive_ahead = 1;
  metrics::Registry registry;
  Worker worker(o, *queue_, gate.processor(), clock_, registry);
  worker.Start();
  ASSERT_TRUE(Eventually([&] { return gate.started() == 1 && worker.in_hand() == 2; }));
  EXPECT_EQ(worker.counters().received, 2);
  EXPECT_EQ(queue_->Stats()->visible, 2);
  gate.LetFinish(1);
  ASSERT_TRUE(Eventually([&] { return gate.started() == 2 && worker.in_hand() == 2; }));
  EXPECT_EQ(worker.counters().received, 3);
  EXPECT_EQ(queue_->Stats()->visible, 1);
  std::thread stopper([&] { worker.Stop(); });
  ASSERT_TRUE(Eventually([&] { return worker.stopping(); }));
  gate.LetAllFinish();
  stopper.join();
  EXPECT_EQ(worker.counters().removed, 2);
  EXPECT_EQ(worker.counters().released, 1);
  auto stats = queue_->Stats();
  EXPECT_EQ(stats->removed, 2);
  EXPECT_EQ(stats->visible, 2);
  EXPECT_EQ(stats->in_flight, 0);
}

TEST_F(PipelineTest, RemovesAreOffTheJobPathBatchedAndFinishedByStop) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(queue_->Send("job " + std::to_string(i)).ok());
  events::testing::FaultyQueue slow(*queue_);
  slow.HoldRemoves(true);  // every remove round trip takes until we say so
  std::atomic<int> jobs{0};
  WorkerOptions o = FastOptions();
  o.concurrency = 1;
  o.batch = 1;
  metrics::Registry registry;
  Worker worker(o, slow, [&](const queue::Message&) {
    // Jobs after the first start once the first remove is under way (and held), so the
    // batches below do not depend on when the scheduler runs the remover.
    if (++jobs > 1) {
      EXPECT_TRUE(Eventually([&] { return !slow.remove_calls().empty(); }));
    }
    return DoneReport();
  }, clock_, registry);
  worker.Start();
  // One job thread ran all four while the first remove was still under way: the remove is not
  // on the job's path, and the slot it held is free for the next message.
  ASSERT_TRUE(Eventually([&] { return jobs == 4; }));
  ASSERT_TRUE(Eventually([&] { return worker.in_hand() == 0; }));
  EXPECT_EQ(worker.counters().removed, 0);
  std::vector<int> calls = slow.remove_calls();
  ASSERT_EQ(calls.size(), 1u);  // the other three wait behind it, for one batch
  EXPECT_EQ(calls[0], 1);
  // Stop() returns only once what was handed over is removed.
  auto stopped = std::async(std::launch::async, [&] { worker.Stop(); });
  EXPECT_EQ(stopped.wait_for(200ms), std::future_status::timeout);
  slow.HoldRemoves(false);
  stopped.wait();
  EXPECT_EQ(slow.remove_calls(), (std::vector<int>{1, 3}));
  EXPECT_EQ(worker.counters().removed, 4);
  EXPECT_EQ(worker.counters().queue_errors, 0);
  auto stats = queue_->Stats();
  EXPECT_EQ(stats->removed, 4);
  EXPECT_EQ(stats->visible + stats->in_flight, 0);
}

TEST_F(PipelineTest, JobsRunBelowTheReceiverPriorityAndPassItToTheirThreads) {
  if (ThisThreadNice() >= 7) GTEST_SKIP() << "the test already runs at nice " << ThisThreadNice();
  ASSERT_TRUE(queue_->Send("job").ok());
  events::testing::FaultyQueue watched(*queue_);
  std::atomic<int> receiver_nice{-100}, job_nice{-100}, job_child_nice{-100};
  watched.on_receive = [&] { receiver_nice = ThisThreadNice(); };
  WorkerOptions o = FastOptions();
  o.job_nice = 7;
  metrics::Registry registry;
  Worker worker(o, watched, [&](const queue::Message&) {
    job_nice = ThisThreadNice();
    // libvips starts its worker threads from the job's thread: they must inherit the priority.
    std::thread([&] { job_child_nice = ThisThreadNice(); }).join();
    return DoneReport();
  }, clock_, registry);
  worker.Start();
  ASSERT_TRUE(Eventually([&] { return worker.counters().removed == 1; }));
  worker.Stop();
  EXPECT_EQ(job_nice, 7);
  EXPECT_EQ(job_child_nice, 7);
  EXPECT_EQ(receiver_nice, ThisThreadNice());  // the receiver keeps the process's priority
}

TEST_F(PipelineTest, StopCutsALongPollShort) {
  WorkerOptions o = FastOptions();
  o.wait = 20s;  // the SQS maximum: an idle worker spends nearly all its time in such a poll
  metrics::Registry registry;
  Worker worker(o, *queue_, [&](const queue::Message&) { return DoneReport(); }, clock_, registry);
  worker.Start();
  auto stopped = std::async(std::launch::async, [&] { worker.Stop(); });
  // Without the stop token the receiver would sit out the 20 s poll before Stop() returns.
  EXPECT_EQ(stopped.wait_for(10s), std::future_status::ready);
  stopped.wait();
  EXPECT_EQ(worker.counters().received, 0);
}

TEST_F(PipelineTest, BackfillEnqueuesOnlyTheGapsAndIsIdempotent) {
  const auto a = Put("uploads/a.jpg", fixtures::Jpeg(fixtures::PhotoLike(200, 200, 1)));
  Put("uploads/b.jpg", fixtures::Jpeg(fixtures::PhotoLike(200, 200, 2)));
  Put("uploads/notes.txt", "not an image");
  ASSERT_EQ(job_->Run(AsMessage(CreatedEvent(a))).verdict, Verdict::kDone);

  BackfillOptions options;
  options.suffixes = {".jpg"};
  options.dry_run = true;
  auto dry = Backfill(config_, options, *local_, *queue_);
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_EQ(dry->candidates, 2);  // the renditions under thumbnails/ are not candidates, nor notes.txt
  EXPECT_EQ(dry->up_to_date, 1);
  EXPECT_EQ(dry->enqueued, 1);
  EXPECT_EQ(queue_->Stats()->visible, 0);

  options.dry_run = false;
  ASSERT_EQ(Backfill(config_, options, *local_, *queue_)->enqueued, 1);
  auto got = queue_->Receive(10, 0ms);
  ASSERT_EQ(got->size(), 1u);
  ASSERT_EQ(job_->Run((*got)[0]).verdict, Verdict::kDone);
  ASSERT_TRUE(queue_->Remove((*got)[0].receipt).ok());
  EXPECT_EQ(Backfill(config_, options, *local_, *queue_)->enqueued, 0);  // nothing left to do

  // A deleted rendition is a gap; checking only the other variant does not see it.
  ASSERT_TRUE(local_->Delete("images", "thumbnails/small/b.webp").ok());
  options.variants = {"medium"};
  EXPECT_EQ(Backfill(config_, options, *local_, *queue_)->enqueued, 0);
  options.variants = {"small"};
  EXPECT_EQ(Backfill(config_, options, *local_, *queue_)->enqueued, 1);

  options.variants = {"huge"};
  EXPECT_EQ(Backfill(config_, options, *local_, *queue_).status().code(), StatusCode::kInvalidArgument);
  options.variants.clear();
  options.prefix = "elsewhere/";
  EXPECT_EQ(Backfill(config_, options, *local_, *queue_).status().code(), StatusCode::kInvalidArgument);
}

TEST(RetryPolicy, GrowsExponentiallyWithJitterAndACap) {
  RetryPolicy p;
  p.initial = 1s;
  p.max = 10s;
  p.jitter = 0.2;
  std::mt19937_64 rng(1);
  for (int i = 0; i < 50; ++i) {
    EXPECT_GE(p.Backoff(1, rng), 800ms);
    EXPECT_LE(p.Backoff(1, rng), 1200ms);
    EXPECT_GE(p.Backoff(3, rng), 3200ms);
    EXPECT_LE(p.Backoff(3, rng), 4800ms);
    EXPECT_LE(p.Backoff(30, rng), 10s);
  }
}

}  // namespace
}  // namespace thumbpipe::pipeline
