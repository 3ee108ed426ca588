// EXIF orientation: every one of the 8 orientations comes out upright, and ImageInfo reports
// the tag and the stored (not rotated) size.
#include <gtest/gtest.h>

#include <string>

#include "engine_test_support.h"
#include "fixtures/corpus.h"

namespace thumbpipe::image::test {
namespace {

using fixtures::MeanAbsDiff;
using fixtures::ToSrgb8;

class OrientationTest : public EngineSuite<OrientationTest>,
                        public ::testing::WithParamInterface<int> {};

// The fixture is a 120x80 pattern of four flat colour quadrants and a white corner marker,
// stored with Stored(upright, n) and tagged n, at JPEG q95 4:4:4. Measured with libvips
// alone (fixtures_test): the correctly rotated decode is within 3 of the pattern, while a
// wrong transform of the same size moves whole quadrants and differs by more than 60. So:
constexpr double kSameAsUpright = 6;     // twice the measured JPEG cost
constexpr double kWrongTransform = 40;   // well under the measured 60+

TEST_P(OrientationTest, OutputIsUpright) {
  const int n = GetParam();
  const vips::VImage upright = fixtures::TestPattern(120, 80);
  const std::string input = fixtures::OrientedJpeg(upright, n);
  const Variant v = MakeVariant("same_size", 1000, 1000, Fit::kInside, Format::kPng);
  auto result = RunEngine(engine(), input, OneVariant(v));
  ASSERT_TRUE(result.ok()) << result.status().ToString();

  EXPECT_EQ(result->info.orientation, n);
  const vips::VImage stored = fixtures::Stored(upright, n);
  EXPECT_EQ(result->info.width, stored.width()) << "ImageInfo.width is the stored width";
  EXPECT_EQ(result->info.height, stored.height());

  const vips::VImage out = ToSrgb8(CheckRendition(result->renditions[0], v));
  ASSERT_EQ(out.width(), 120) << "orientation " << n << " not applied to the size";
  ASSERT_EQ(out.height(), 80);
  EXPECT_LT(fixtures::ColourError(out, 2, 2, 14, 14, fixtures::kMarker), 10)
      << "the marker is not in the top-left corner";
  EXPECT_LT(MeanAbsDiff(out, upright), kSameAsUpright);
  // Had the engine applied any other orientation, the picture would be one of these.
  const vips::VImage decoded_stored = fixtures::Decode(input);
  for (int m = 1; m <= 8; ++m) {
    const vips::VImage wrong = ToSrgb8(fixtures::Upright(decoded_stored, m));
    if (m == n || wrong.width() != 120) continue;
    EXPECT_GT(MeanAbsDiff(out, wrong), kWrongTransform)
        << "output looks like orientation " << m << " applied instead of " << n;
  }
}

// The same upright picture after a resize, where a decode-once engine may shrink on load.
TEST_P(OrientationTest, ResizedOutputIsUpright) {
  const int n = GetParam();
  const vips::VImage upright = fixtures::TestPattern(400, 240);
  const std::string input = fixtures::OrientedJpeg(upright, n);
  const Variant v = MakeVariant("small", 100, 100, Fit::kInside, Format::kPng);
  auto result = RunEngine(engine(), input, OneVariant(v));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const vips::VImage out = ToSrgb8(CheckRendition(result->renditions[0], v));
  ASSERT_EQ(out.width(), 100);
  ASSERT_EQ(out.height(), 60);
  // libvips' thumbnailer, whose autorot fixtures_test checks against the pattern.
  const vips::VImage expected = fixtures::ReferenceThumbnail(input, 100, 100, /*crop=*/false);
  EXPECT_LT(MeanAbsDiff(out, expected), kSameAsUpright);
  EXPECT_GT(MeanAbsDiff(out, expected.flip(VIPS_DIRECTION_HORIZONTAL)), kWrongTransform);
  EXPECT_GT(MeanAbsDiff(out, expected.flip(VIPS_DIRECTION_VERTICAL)), kWrongTransform);
  EXPECT_GT(MeanAbsDiff(out, expected.rot180()), kWrongTransform);
}

INSTANTIATE_TEST_SUITE_P(Exif, OrientationTest, ::testing::Range(1, 9),
                         [](const auto& p) { return "Orientation" + std::to_string(p.param); });

// sharp's Landscape_1..8.jpg: one photo stored in the eight orientations. Each is a separate
// lossy JPEG, not a lossless transform of the others, so even libvips' own autorot gives a
// mean difference of about 14 (measured at 300x225) between Landscape_n and Landscape_1;
// a wrong horizontal flip measures 48, a vertical one 62. The thresholds sit between.
constexpr double kCorpusSame = 25;
constexpr double kCorpusWrong = 35;

class OrientationCorpusTest : public EngineSuite<OrientationCorpusTest> {};

TEST_F(OrientationCorpusTest, LandscapeOneToEightAreAllUpright) {
  const auto dir = fixtures::CorpusDir();
  if (!dir) GTEST_SKIP() << "../shared/corpus/dev absent: corpus layer skipped";
  const Variant v = MakeVariant("view", 300, 300, Fit::kInside, Format::kPng);
  vips::VImage first;
  for (int n = 1; n <= 8; ++n) {
    SCOPED_TRACE("sharp_Landscape_" + std::to_string(n) + ".jpg");
    const std::string input =
        fixtures::ReadFileBytes(*dir / ("sharp_Landscape_" + std::to_string(n) + ".jpg"));
    ASSERT_FALSE(input.empty());
    auto result = RunEngine(engine(), input, OneVariant(v));
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->info.orientation, n);
    const vips::VImage out = ToSrgb8(CheckRendition(result->renditions[0], v));
    ASSERT_EQ(out.width(), 300);
    ASSERT_EQ(out.height(), 225);
    if (n == 1) {
      first = out;
      EXPECT_GT(MeanAbsDiff(first, first.flip(VIPS_DIRECTION_HORIZONTAL)), kCorpusWrong)
          << "the metric must be able to see a flip";
      continue;
    }
    EXPECT_LT(MeanAbsDiff(out, first), kCorpusSame);
    EXPECT_GT(MeanAbsDiff(out.flip(VIPS_DIRECTION_HORIZONTAL), first), kCorpusWrong);
    EXPECT_GT(MeanAbsDiff(out.flip(VIPS_DIRECTION_VERTICAL), first), kCorpusWrong);
  }
}

}  // namespace
}  // namespace thumbpipe::image::test
