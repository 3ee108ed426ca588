// Output dimensions for every fit mode, enlarge on and off, one or both dimensions given,
// over inputs of every shape; plus where cover crops, where contain pads, and what each
// output format writes. Expected sizes come from the rule in recipe.h (ExpectedSize).
#include <gtest/gtest.h>

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "engine_test_support.h"

namespace thumbpipe::image::test {
namespace {

using fixtures::ColourError;
using fixtures::Decode;
using fixtures::ToSrgb8;

class FitTest : public EngineSuite<FitTest> {};

struct FitInput {
  std::string name;
  int upright_width;
  int upright_height;
  std::function<std::string()> make;
};

std::vector<FitInput> FitInputs() {
  using namespace fixtures;
  return {
      {"landscape_jpeg", 400, 300, [] { return Jpeg(PhotoLike(400, 300)); }},
      {"portrait_png", 300, 400, [] { return Png(TestPattern(300, 400)); }},
      {"square_webp", 256, 256, [] { return Webp(PhotoLike(256, 256)); }},
      {"very_wide_png", 2000, 50, [] { return Png(TestPattern(2000, 50)); }},
      {"very_tall_jpeg", 50, 2000, [] { return Jpeg(TestPattern(50, 2000)); }},
      {"tiny_png", 10, 10, [] { return Png(TestPattern(10, 10)); }},
      {"odd_jpeg", 333, 199, [] { return Jpeg(PhotoLike(333, 199)); }},
      // Stored 300x400 with EXIF orientation 6: sizes follow the upright 400x300.
      {"orientation6_jpeg", 400, 300, [] { return OrientedJpeg(PhotoLike(400, 300), 6); }},
  };
}

// Keeps the suite fast: huge enlargements (outside/cover of a 2000x50 strip) are skipped.
constexpr int64_t kMaxCheckedPixels = 600'000;

// Every fit x box x enlarge, and every fit with only a width or only a height (one of
// them above most inputs' size, so that enlarge matters). Output formats rotate over jpeg,
// png, webp and gif, at their lowest effort, so that each format's size handling is seen.
std::vector<Variant> FitVariants(int W, int H) {
  const Fit fits[] = {Fit::kCover, Fit::kContain, Fit::kInside, Fit::kOutside, Fit::kFill};
  const std::pair<int, int> boxes[] = {{128, 128}, {200, 100}, {100, 200}, {500, 500},
                                       {150, 0},   {0, 90},    {480, 0}};
  const Format formats[] = {Format::kJpeg, Format::kPng, Format::kWebp, Format::kGif};
  std::vector<Variant> variants;
  for (const auto& [w, h] : boxes) {
    for (Fit fit : fits) {
      for (bool enlarge : {false, true}) {
        Variant v = MakeVariant("v" + std::to_string(variants.size()), w, h, fit, Format::kJpeg,
                                enlarge);
        const Size expected = ExpectedSize(W, H, v);
        const int64_t pixels = int64_t{expected.width} * expected.height;
        if (pixels > kMaxCheckedPixels) continue;
        v.format = formats[variants.size() % 4];
        if (v.format == Format::kGif && pixels > 250'000) v.format = Format::kJpeg;
        v.effort = v.format == Format::kWebp ? 0 : v.format == Format::kJpeg ? -1 : 1;
        variants.push_back(v);
      }
    }
  }
  return variants;
}

class FitTableTest : public FitTest, public ::testing::WithParamInterface<FitInput> {};

TEST_P(FitTableTest, EveryFitGivesTheRuleSize) {
  const FitInput& input = GetParam();
  const std::string bytes = input.make();
  const Recipe recipe{FitVariants(input.upright_width, input.upright_height)};
  auto result = RunEngine(engine(), bytes, recipe);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->renditions.size(), recipe.variants.size());
  std::ostringstream wrong;
  int wrong_count = 0;
  for (size_t i = 0; i < recipe.variants.size(); ++i) {
    const Variant& v = recipe.variants[i];
    const Rendition& r = result->renditions[i];
    SCOPED_TRACE(Describe(v));
    CheckRendition(r, v);
    const Size expected = ExpectedSize(input.upright_width, input.upright_height, v);
    const Size got{r.width, r.height};
    if (got != expected) {
      ++wrong_count;
      wrong << "  " << Describe(v) << ": expected " << expected << ", got " << got << "\n";
    }
  }
  EXPECT_EQ(wrong_count, 0) << "input " << input.upright_width << "x" << input.upright_height
                            << " (upright), sizes that break the rule in recipe.h:\n"
                            << wrong.str();
}

INSTANTIATE_TEST_SUITE_P(Inputs, FitTableTest, ::testing::ValuesIn(FitInputs()),
                         [](const auto& p) { return p.param.name; });

// round() in the rule rounds halves up: 300x150 to width 101 is 101 x round(50.5) = 101x51.
TEST_F(FitTest, HalfPixelRoundsUp) {
  const std::string input = fixtures::Png(fixtures::PhotoLike(300, 150));
  const Variant v = MakeVariant("w101", 101, 0, Fit::kInside, Format::kPng);
  auto result = RunEngine(engine(), input, OneVariant(v));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ((Size{result->renditions[0].width, result->renditions[0].height}), (Size{101, 51}));
}

// Contain of a 400x200 pattern into 200x200: the picture is 200x100, the rest background.
TEST_F(FitTest, ContainPadsWithBackgroundWhereGravitySays) {
  using namespace fixtures;
  const std::string input = Png(TestPattern(400, 200));
  Variant centre = MakeVariant("centre", 200, 200, Fit::kContain, Format::kPng);
  centre.background = Colour{255, 0, 0, 255};
  Variant north = centre;
  north.name = "north";
  north.gravity = Gravity::kNorth;
  auto result = RunEngine(engine(), input, Recipe{{centre, north}});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const Rgb red{255, 0, 0};

  const vips::VImage c = ToSrgb8(CheckRendition(result->renditions[0], centre));
  ASSERT_EQ(c.width(), 200);
  ASSERT_EQ(c.height(), 200);
  EXPECT_LT(ColourError(c, 0, 0, 200, 45, red), 3) << "padding above";
  EXPECT_LT(ColourError(c, 0, 155, 200, 45, red), 3) << "padding below";
  EXPECT_LT(ColourError(c, 60, 80, 20, 10, kTopLeft), 6) << "picture in the middle";
  EXPECT_LT(ColourError(c, 150, 120, 20, 20, kBottomRight), 6);

  const vips::VImage n = ToSrgb8(CheckRendition(result->renditions[1], north));
  ASSERT_EQ(n.height(), 200);
  EXPECT_LT(ColourError(n, 60, 30, 20, 10, kTopLeft), 6) << "picture at the top";
  EXPECT_LT(ColourError(n, 150, 70, 20, 20, kBottomRight), 6);
  EXPECT_LT(ColourError(n, 0, 105, 200, 95, red), 3) << "padding below only";
}

// Cover of a 400x200 pattern into 100x100 scales to 200x100 and keeps a 100-wide slice.
TEST_F(FitTest, CoverKeepsThePartGravitySays) {
  using namespace fixtures;
  const std::string input = Png(TestPattern(400, 200));
  Variant centre = MakeVariant("centre", 100, 100, Fit::kCover, Format::kPng);
  Variant west = centre;
  west.name = "west";
  west.gravity = Gravity::kWest;
  Variant east = centre;
  east.name = "east";
  east.gravity = Gravity::kEast;
  auto result = RunEngine(engine(), input, Recipe{{centre, west, east}});
  ASSERT_TRUE(result.ok()) << result.status().ToString();

  const vips::VImage c = ToSrgb8(CheckRendition(result->renditions[0], centre));
  ASSERT_EQ(c.width(), 100);
  EXPECT_LT(ColourError(c, 30, 30, 10, 10, kTopLeft), 6) << "centre crop: left half";
  EXPECT_LT(ColourError(c, 60, 30, 10, 10, kTopRight), 6) << "centre crop: right half";
  EXPECT_LT(ColourError(c, 60, 70, 10, 10, kBottomRight), 6);

  const vips::VImage w = ToSrgb8(CheckRendition(result->renditions[1], west));
  EXPECT_LT(ColourError(w, 2, 2, 15, 15, kMarker), 6) << "west crop keeps the marker";
  EXPECT_LT(ColourError(w, 60, 30, 10, 10, kTopLeft), 6);
  EXPECT_LT(ColourError(w, 60, 70, 10, 10, kBottomLeft), 6);

  const vips::VImage e = ToSrgb8(CheckRendition(result->renditions[2], east));
  EXPECT_LT(ColourError(e, 30, 30, 10, 10, kTopRight), 6) << "east crop";
  EXPECT_LT(ColourError(e, 30, 70, 10, 10, kBottomRight), 6);
}

TEST_F(FitTest, FillStretchesWithoutCropping) {
  using namespace fixtures;
  const std::string input = Png(TestPattern(400, 300));
  const Variant v = MakeVariant("fill", 100, 200, Fit::kFill, Format::kPng);
  auto result = RunEngine(engine(), input, OneVariant(v));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const vips::VImage out = ToSrgb8(CheckRendition(result->renditions[0], v));
  ASSERT_EQ(out.width(), 100);
  ASSERT_EQ(out.height(), 200);
  EXPECT_LT(ColourError(out, 30, 70, 10, 10, kTopLeft), 6);
  EXPECT_LT(ColourError(out, 65, 30, 20, 20, kTopRight), 6);
  EXPECT_LT(ColourError(out, 15, 150, 20, 20, kBottomLeft), 6);
  EXPECT_LT(ColourError(out, 65, 150, 20, 20, kBottomRight), 6);
}

TEST_F(FitTest, OriginalFormatWritesTheInputFormat) {
  using namespace fixtures;
  const vips::VImage pixels = PhotoLike(160, 120);
  const std::pair<std::string, Format> cases[] = {{Jpeg(pixels), Format::kJpeg},
                                                  {Png(pixels), Format::kPng},
                                                  {Webp(pixels), Format::kWebp},
                                                  {Gif(pixels), Format::kGif}};
  for (const auto& [bytes, format] : cases) {
    SCOPED_TRACE(std::string(FormatName(format)));
    const Variant v = MakeVariant("orig", 80, 80, Fit::kInside, Format::kOriginal);
    auto result = RunEngine(engine(), bytes, OneVariant(v));
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->renditions[0].format, format);
    CheckRendition(result->renditions[0], v);
    EXPECT_EQ((Size{result->renditions[0].width, result->renditions[0].height}), (Size{80, 60}));
  }
}

TEST_F(FitTest, EveryOutputFormatWritesItsMagic) {
  const std::string input = fixtures::Jpeg(fixtures::PhotoLike(320, 240));
  Recipe recipe;
  for (Format f : {Format::kJpeg, Format::kPng, Format::kWebp, Format::kAvif, Format::kGif}) {
    recipe.variants.push_back(
        MakeVariant(std::string(FormatName(f)), 96, 96, Fit::kCover, f));
  }
  auto result = RunEngine(engine(), input, recipe);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->renditions.size(), recipe.variants.size());
  for (size_t i = 0; i < recipe.variants.size(); ++i) {
    SCOPED_TRACE(recipe.variants[i].name);
    CheckRendition(result->renditions[i], recipe.variants[i]);
    EXPECT_EQ(result->renditions[i].width, 96);
    EXPECT_EQ(result->renditions[i].height, 96);
    EXPECT_EQ(result->renditions[i].pages, 1);
  }
}

}  // namespace
}  // namespace thumbpipe::image::test
