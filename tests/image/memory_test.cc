// worker.memory_budget inside the engine: each Thumbnail call estimates its peak memory
// from the header (image/memory_estimate.h) and reserves it before decoding. The estimate
// must rank inputs by what their decoders hold (a whole-image decode over a streaming one,
// an animation over one frame), a job over the whole budget must be refused before any
// decode, and a job that does not fit beside running ones must wait for them.
#include <memory>
#include <string>
#include <thread>

#include <gmock/gmock.h>

#include "engine_test_support.h"
#include "image/memory_budget.h"
#include "image/memory_estimate.h"

namespace thumbpipe::image::test {
namespace {

using fixtures::PhotoLike;

constexpr uint64_t kMiB = 1 << 20;

ImageInfo Info(InputFormat format, int width, int height, bool interlaced = false,
               bool alpha = false) {
  ImageInfo info;
  info.format = format;
  info.width = width;
  info.height = height;
  info.interlaced = interlaced;
  info.has_alpha = alpha;
  info.colourspace = "srgb";
  return info;
}

// Scale of a 1024-pixel variant of a 10000-pixel-wide source: the default recipe's largest.
constexpr double kScale = 0.1024;

TEST(MemoryEstimateTest, WholeImageDecodersCostMoreThanStreamingOnes) {
  const uint64_t png = EstimateJobMemory(Info(InputFormat::kPng, 5000, 5000), 1, kScale, 0);
  const uint64_t interlaced =
      EstimateJobMemory(Info(InputFormat::kPng, 5000, 5000, true), 1, kScale, 0);
  const uint64_t baseline = EstimateJobMemory(Info(InputFormat::kJpeg, 5000, 5000), 1, kScale, 0);
  const uint64_t progressive =
      EstimateJobMemory(Info(InputFormat::kJpeg, 5000, 5000, true), 1, kScale, 0);
  const uint64_t avif = EstimateJobMemory(Info(InputFormat::kAvif, 5000, 5000), 1, kScale, 0);
  EXPECT_GT(interlaced, 2 * png);
  EXPECT_GT(progressive, 2 * baseline);
  EXPECT_GT(avif, interlaced);
  // 25 MP decoded whole as 8-bit RGB is 75 MB before any overhead.
  EXPECT_GT(avif, 75'000'000u);
  EXPECT_GT(interlaced, 75'000'000u);
}

TEST(MemoryEstimateTest, AProgressiveJpegCostsItsCodedSamples) {
  // libjpeg keeps one 16-bit coefficient per coded sample: 4:2:0 codes half of 4:4:4's.
  ImageInfo subsampled = Info(InputFormat::kJpeg, 6000, 4000, true);
  subsampled.jpeg_coded_samples = 1.5;
  ImageInfo full = subsampled;
  full.jpeg_coded_samples = 3;
  const uint64_t half = EstimateJobMemory(subsampled, 1, kScale, 0);
  const uint64_t whole = EstimateJobMemory(full, 1, kScale, 0);
  EXPECT_LT(half, whole * 6 / 10);
  EXPECT_GT(half, 24'000'000u * 2 * 3 / 2) << "under the coefficients themselves";
  // Not known (a frame header without its table): the worst case, every band whole.
  ImageInfo unknown = subsampled;
  unknown.jpeg_coded_samples = 0;
  EXPECT_EQ(EstimateJobMemory(unknown, 1, kScale, 0), whole);
}

TEST(MemoryEstimateTest, GrowsWithPixelsFramesBandsDepthAndInput) {
  const ImageInfo rgb = Info(InputFormat::kAvif, 4000, 4000);
  const uint64_t base = EstimateJobMemory(rgb, 1, kScale, 0);
  EXPECT_GT(EstimateJobMemory(Info(InputFormat::kAvif, 8000, 8000), 1, kScale, 0), 3 * base);
  EXPECT_GT(EstimateJobMemory(Info(InputFormat::kAvif, 4000, 4000, false, true), 1, kScale, 0), base);
  ImageInfo deep = rgb;
  deep.bits = 16;
  EXPECT_GT(EstimateJobMemory(deep, 1, kScale, 0), base);
  EXPECT_EQ(EstimateJobMemory(rgb, 1, kScale, 5'000'000), base + 5'000'000);

  const ImageInfo gif = Info(InputFormat::kGif, 1000, 1000, false, true);
  // An animated rendition keeps every frame: 100 frames of 1 MP at 4 bytes, twice.
  EXPECT_GT(EstimateJobMemory(gif, 100, 0.8, 0), 800'000'000u);
  EXPECT_LT(EstimateJobMemory(gif, 1, 0.8, 0), 100'000'000u);
}

TEST(MemoryEstimateTest, ShrinkOnLoadShrinksTheEstimate) {
  const ImageInfo jpeg = Info(InputFormat::kJpeg, 8000, 8000);
  EXPECT_LT(EstimateJobMemory(jpeg, 1, 0.1, 0), EstimateJobMemory(jpeg, 1, 1.0, 0));
  const ImageInfo webp = Info(InputFormat::kWebp, 8000, 8000);
  EXPECT_LT(2 * EstimateJobMemory(webp, 1, 0.1, 0), EstimateJobMemory(webp, 1, 1.0, 0));
}

// A budget of 64 MiB, the smallest the config allows.
class MemoryBudgetEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fixtures::EnsureVips(); }
  void SetUp() override {
    budget_ = std::make_shared<MemoryBudget>(64 * kMiB);
    EngineOptions options;
    options.memory_budget = budget_;
    auto created = Engine::Create(options);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    engine_ = std::move(created).value();
  }
  std::shared_ptr<MemoryBudget> budget_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(MemoryBudgetEngineTest, TheProbeReadsAJpegsChromaSubsampling) {
  const auto coded_samples = [&](bool subsample) {
    const std::string input = fixtures::Jpeg(PhotoLike(64, 48), {.quality = 80, .progressive = true, .subsample = subsample});
    Result<ImageInfo> info = engine_->Probe({reinterpret_cast<const std::byte*>(input.data()), input.size()});
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? info->jpeg_coded_samples : -1.0;
  };
  EXPECT_DOUBLE_EQ(coded_samples(true), 1.5);
  EXPECT_DOUBLE_EQ(coded_samples(false), 3.0);
}

TEST_F(MemoryBudgetEngineTest, AJobOverTheWholeBudgetIsRefusedAsTooLargeBeforeDecoding) {
  // 4000x4000 interlaced: decoded whole, about 100 MB by the estimate.
  const std::string input = fixtures::Png(fixtures::Solid(4000, 4000, {90, 120, 200}), /*interlace=*/true);
  Result<ThumbnailResult> result = RunEngine(*engine_, input, DefaultRecipe());
  ASSERT_FALSE(result.ok()) << "made it within a 64 MiB budget";
  EXPECT_EQ(StatusCodeName(result.status().code()), "too_large");
  EXPECT_THAT(result.status().message(), ::testing::HasSubstr("worker.memory_budget = 64 MiB"));
  EXPECT_EQ(budget_->stats().high_water, 0u) << "reserved memory for a job it refused";
}

TEST_F(MemoryBudgetEngineTest, AJobWaitsForMemoryHeldByOthersAndReportsTheWait) {
  const std::string input = fixtures::Jpeg(PhotoLike(640, 480));
  Result<MemoryBudget::Reservation> others = budget_->Reserve(60 * kMiB, std::chrono::steady_clock::now());
  ASSERT_TRUE(others.ok());
  Result<ThumbnailResult> result = Status::Internal("not run");
  std::thread job([&] { result = RunEngine(*engine_, input, DefaultRecipe()); });
  while (budget_->stats().waiting != 1) std::this_thread::yield();
  *others = MemoryBudget::Reservation();  // the other jobs end
  job.join();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_GT(result->memory_estimate, 32 * kMiB);
  EXPECT_LE(result->memory_estimate, 64 * kMiB);
  EXPECT_GT(result->memory_wait_ms, 0.0);
  EXPECT_EQ(budget_->stats().waited, 1u);
  EXPECT_EQ(budget_->stats().reserved, 0u) << "the job kept its reservation after it ended";
}

}  // namespace
}  // namespace thumbpipe::image::test
