// Animation: still output by default; every frame, in order, with `animated`; at most
// Limits::max_frames frames; pixel limits summed over the frames decoded for animated output.
#include <gtest/gtest.h>

#include <string>

#include "engine_test_support.h"
#include "fixtures/corpus.h"

namespace thumbpipe::image::test {
namespace {

using fixtures::ColourError;
using fixtures::FrameColour;
using fixtures::ToSrgb8;

constexpr int kW = 64;
constexpr int kH = 48;
constexpr int kFrames = 6;

// Frame colours differ by 50+ levels; lossy WebP and GIF palettes keep flat areas within a
// few levels, so 12 identifies a frame without being fooled by its neighbour.
constexpr double kFrameColourTolerance = 12;

int Pages(const vips::VImage& all) {
  return all.get_typeof("n-pages") ? all.get_int("n-pages") : 1;
}

// Checks an animated rendition: `frames` pages of r.width x r.height, frame i showing input
// frame i (colours of the upper half, away from the moving black square).
void ExpectFrames(const Rendition& r, const Variant& v, int frames) {
  CheckRendition(r, v);
  EXPECT_EQ(r.pages, frames);
  const vips::VImage all = ToSrgb8(fixtures::Decode(r.bytes, /*all_frames=*/true));
  EXPECT_EQ(Pages(all), frames);
  ASSERT_EQ(all.height(), frames * r.height) << "page-height x frames";
  if (frames > 1) {
    EXPECT_EQ(all.get_int("page-height"), r.height);
  }
  for (int i = 0; i < frames; ++i) {
    EXPECT_LT(ColourError(all, r.width / 10, i * r.height + r.height / 10, r.width * 8 / 10,
                          r.height / 4, FrameColour(i)),
              kFrameColourTolerance)
        << "frame " << i << " is not input frame " << i;
  }
}

class AnimationTest : public EngineSuite<AnimationTest> {};

TEST_F(AnimationTest, StillOutputByDefault) {
  const std::string input = fixtures::AnimatedGif(kW, kH, kFrames);
  const Variant gif = MakeVariant("gif", 200, 200, Fit::kInside, Format::kGif);
  const Variant webp = MakeVariant("webp", 200, 200, Fit::kInside, Format::kWebp);
  const Variant png = MakeVariant("png", 200, 200, Fit::kInside, Format::kPng);
  auto result = RunEngine(engine(), input, Recipe{{gif, webp, png}});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->info.pages, kFrames);
  EXPECT_EQ(result->info.format, InputFormat::kGif);
  EXPECT_EQ(result->info.height, kH) << "ImageInfo.height is one frame";
  const Variant* variants[] = {&gif, &webp, &png};
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(variants[i]->name);
    const Rendition& r = result->renditions[i];
    ExpectFrames(r, *variants[i], 1);
    EXPECT_EQ(r.width, kW);
    EXPECT_EQ(r.height, kH);
  }
}

TEST_F(AnimationTest, AnimatedGifAndWebpKeepEveryFrameInOrder) {
  const std::string input = fixtures::AnimatedGif(kW, kH, kFrames);
  Variant gif = MakeVariant("gif", 200, 200, Fit::kInside, Format::kGif);
  gif.animated = true;
  Variant webp = gif;
  webp.name = "webp";
  webp.format = Format::kWebp;
  Variant small = gif;  // resized: every frame 32x24
  small.name = "small";
  small.width = 32;
  small.height = 32;
  Variant cover = webp;  // cropped: every frame 30x30
  cover.name = "cover";
  cover.width = 30;
  cover.height = 30;
  cover.fit = Fit::kCover;
  Variant original = gif;
  original.name = "original";
  original.format = Format::kOriginal;
  auto result = RunEngine(engine(), input, Recipe{{gif, webp, small, cover, original}});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const Variant* variants[] = {&gif, &webp, &small, &cover, &original};
  for (size_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(variants[i]->name);
    ExpectFrames(result->renditions[i], *variants[i], kFrames);
  }
  EXPECT_EQ((Size{result->renditions[0].width, result->renditions[0].height}), (Size{kW, kH}));
  EXPECT_EQ((Size{result->renditions[2].width, result->renditions[2].height}), (Size{32, 24}));
  EXPECT_EQ((Size{result->renditions[3].width, result->renditions[3].height}), (Size{30, 30}));
  EXPECT_EQ(result->renditions[4].format, Format::kGif);
}

TEST_F(AnimationTest, AnimatedWebpInput) {
  const std::string input = fixtures::AnimatedWebp(kW, kH, kFrames);
  Variant webp = MakeVariant("webp", 200, 200, Fit::kInside, Format::kWebp);
  webp.animated = true;
  Variant gif = webp;
  gif.name = "gif";
  gif.format = Format::kGif;
  auto result = RunEngine(engine(), input, Recipe{{webp, gif}});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->info.format, InputFormat::kWebp);
  EXPECT_EQ(result->info.pages, kFrames);
  ExpectFrames(result->renditions[0], webp, kFrames);
  ExpectFrames(result->renditions[1], gif, kFrames);
}

// More frames than max_frames: the engine keeps the first max_frames frames (not an error).
class AnimationMaxFramesTest : public EngineSuite<AnimationMaxFramesTest> {
 public:
  static EngineOptions Options() { return WithMaxFrames(4); }
};

TEST_F(AnimationMaxFramesTest, KeepsTheFirstMaxFramesFrames) {
  const std::string input = fixtures::AnimatedGif(kW, kH, kFrames);
  Variant gif = MakeVariant("gif", 200, 200, Fit::kInside, Format::kGif);
  gif.animated = true;
  Variant webp = gif;
  webp.name = "webp";
  webp.format = Format::kWebp;
  auto result = RunEngine(engine(), input, Recipe{{gif, webp}});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->info.pages, kFrames) << "ImageInfo reports the file's frame count";
  ExpectFrames(result->renditions[0], gif, 4);
  ExpectFrames(result->renditions[1], webp, 4);
}

// max_input_pixels counts width x height summed over the decoded frames: 6 frames of
// 64x48 = 18432 px exceed 15000, one frame (3072 px) does not.
constexpr uint64_t kFramePixelLimit = 15000;

class AnimationPixelLimitTest : public EngineSuite<AnimationPixelLimitTest> {
 public:
  static EngineOptions Options() {
    Limits limits;
    limits.max_input_pixels = kFramePixelLimit;
    return WithLimits(limits);
  }
};

TEST_F(AnimationPixelLimitTest, FramesAreSummedForAnimatedOutput) {
  const std::string input = fixtures::AnimatedGif(kW, kH, kFrames);
  Variant animated = MakeVariant("anim", 200, 200, Fit::kInside, Format::kGif);
  animated.animated = true;
  auto refused = RunEngine(engine(), input, OneVariant(animated));
  ASSERT_FALSE(refused.ok()) << "6 x 3072 px decoded for animated output exceed 15000";
  EXPECT_EQ(refused.status().code(), StatusCode::kTooLarge) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("15000"), std::string::npos)
      << "message should name the limit: " << refused.status().message();
  EXPECT_TRUE(refused.status().IsPermanent());

  const Variant still = MakeVariant("still", 200, 200, Fit::kInside, Format::kGif);
  auto ok = RunEngine(engine(), input, OneVariant(still));
  ASSERT_TRUE(ok.ok()) << "one 3072 px frame is within the limit: " << ok.status().ToString();
  EXPECT_EQ(ok->renditions[0].pages, 1);
}

// Both limits: only max_frames = 4 frames are decoded, 4 x 3072 = 12288 <= 15000.
class AnimationBothLimitsTest : public EngineSuite<AnimationBothLimitsTest> {
 public:
  static EngineOptions Options() {
    Limits limits;
    limits.max_input_pixels = kFramePixelLimit;
    limits.max_frames = 4;
    return WithLimits(limits);
  }
};

TEST_F(AnimationBothLimitsTest, PixelLimitCountsOnlyTheDecodedFrames) {
  const std::string input = fixtures::AnimatedGif(kW, kH, kFrames);
  Variant animated = MakeVariant("anim", 200, 200, Fit::kInside, Format::kGif);
  animated.animated = true;
  auto result = RunEngine(engine(), input, OneVariant(animated));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ExpectFrames(result->renditions[0], animated, 4);
}

// ---- Corpus layer.

class AnimationCorpusTest : public EngineSuite<AnimationCorpusTest> {};

TEST_F(AnimationCorpusTest, RotatingSquaresGifAndWebp) {
  const auto dir = fixtures::CorpusDir();
  if (!dir) GTEST_SKIP() << "../shared/corpus/dev absent: corpus layer skipped";
  const std::pair<const char*, int> files[] = {{"sharp_rotating-squares.gif", 30},
                                               {"sharp_rotating-squares.webp", 9}};
  for (const auto& [file, frames] : files) {
    SCOPED_TRACE(file);
    const std::string input = fixtures::ReadFileBytes(*dir / file);
    ASSERT_FALSE(input.empty());
    Variant animated = MakeVariant("anim", 64, 64, Fit::kInside, Format::kOriginal);
    animated.animated = true;
    const Variant still = MakeVariant("still", 64, 64, Fit::kInside, Format::kOriginal);
    auto result = RunEngine(engine(), input, Recipe{{animated, still}});
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->info.pages, frames);
    const Rendition& a = result->renditions[0];
    CheckRendition(a, animated);
    EXPECT_EQ(a.pages, frames);
    const vips::VImage all = fixtures::Decode(a.bytes, /*all_frames=*/true);
    EXPECT_EQ(Pages(all), frames);
    EXPECT_EQ(all.height(), frames * a.height);
    EXPECT_EQ((Size{a.width, a.height}), (Size{64, 64}));
    const Rendition& s = result->renditions[1];
    CheckRendition(s, still);
    EXPECT_EQ(s.pages, 1);
    EXPECT_EQ(Pages(fixtures::Decode(s.bytes, /*all_frames=*/true)), 1);
  }
}

}  // namespace
}  // namespace thumbpipe::image::test
