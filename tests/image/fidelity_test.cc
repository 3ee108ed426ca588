// Decode-once fidelity: every variant of a many-size recipe, made from one shared decode,
// looks like what libvips' own thumbnailer makes from the original for that size alone.
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include "engine_test_support.h"
#include "fixtures/corpus.h"

namespace thumbpipe::image::test {
namespace {

using fixtures::Decode;
using fixtures::MeanAbsDiff;
using fixtures::ReferenceThumbnail;
using fixtures::ToSrgb8;

// Thresholds are mean absolute differences per channel, 0-255, on decoded 8-bit sRGB.
//
// Lossless (PNG) outputs isolate the resize. Measured with libvips alone, resizing every
// size from one full decode instead of thumbnailing the file per size costs 0.0-0.5 on
// the photo-like fixture, up to 1.4 on real JPEG photos (shrink-on-load picks a different
// DCT scale per size) and 4.3 on sharp_4.webp at 512 px (the thumbnailer lets libwebp
// scale while decoding, a cruder filter). 6 covers that with a little room.
constexpr double kLossless = 6;
// Lossy outputs add their encoder's own error, which depends on the content: re-encoding
// libvips' reference at q80 measured 2.3-4.4 on a real photo and up to 7.4 on the noisy
// 128 px fixture. So the bound is that measured cost of encoding the reference itself,
// plus kLossless for the resize.
// A wrong picture is far above both: the reference flipped left-right differs by 44-52
// on the fixture.

double EncodeCost(const vips::VImage& reference, Format format) {
  VipsBlob* blob = format == Format::kJpeg
                       ? reference.jpegsave_buffer(vips::VImage::option()->set("Q", 80))
                       : reference.webpsave_buffer(vips::VImage::option()->set("Q", 80));
  size_t length = 0;
  const void* data = vips_blob_get(blob, &length);
  const std::string bytes(static_cast<const char*>(data), length);
  vips_area_unref(VIPS_AREA(blob));
  return MeanAbsDiff(ToSrgb8(Decode(bytes)), reference);
}

// Sizes without rounding ambiguity for a 4:3 input: 1024x768, 512x384, 128x96.
Recipe ManySizes() {
  return Recipe{{MakeVariant("i1024", 1024, 1024, Fit::kInside, Format::kPng),
                 MakeVariant("i512", 512, 512, Fit::kInside, Format::kPng),
                 MakeVariant("i128", 128, 128, Fit::kInside, Format::kPng),
                 MakeVariant("c128", 128, 128, Fit::kCover, Format::kPng),
                 MakeVariant("j512", 512, 512, Fit::kInside, Format::kJpeg),
                 MakeVariant("w512", 512, 512, Fit::kInside, Format::kWebp),
                 MakeVariant("j128", 128, 128, Fit::kInside, Format::kJpeg),
                 MakeVariant("wc128", 128, 128, Fit::kCover, Format::kWebp)}};
}

struct Comparison {
  std::string variant;
  double diff = 0;
  double threshold = 0;
  double flipped = 0;  // against the reference flipped left-right
};

// Compares each rendition with the libvips reference of the same size. `require_same_size`
// makes a size mismatch a failure; otherwise such a variant is reported and skipped (the
// reference rounds sizes its own way, which the engine's rule need not follow).
std::vector<Comparison> Compare(const std::string& input, const Recipe& recipe,
                                const ThumbnailResult& result, bool require_same_size) {
  std::vector<Comparison> out;
  for (size_t i = 0; i < recipe.variants.size(); ++i) {
    const Variant& v = recipe.variants[i];
    SCOPED_TRACE(Describe(v));
    const vips::VImage got = ToSrgb8(CheckRendition(result.renditions[i], v));
    const vips::VImage reference = ReferenceThumbnail(input, v.width, v.height, v.fit == Fit::kCover);
    if (got.width() != reference.width() || got.height() != reference.height()) {
      if (require_same_size) {
        ADD_FAILURE() << "size " << got.width() << "x" << got.height() << ", libvips made "
                      << reference.width() << "x" << reference.height();
      } else {
        std::cout << "note: " << Describe(v) << ": libvips rounds to " << reference.width() << "x"
                  << reference.height() << ", engine made " << got.width() << "x"
                  << got.height() << "; not compared\n";
      }
      continue;
    }
    Comparison c;
    c.variant = v.name;
    c.diff = MeanAbsDiff(got, reference);
    c.threshold = v.format == Format::kPng ? kLossless : EncodeCost(reference, v.format) + kLossless;
    c.flipped = MeanAbsDiff(got, reference.flip(VIPS_DIRECTION_HORIZONTAL));
    std::cout << "  " << v.name << ": mean abs diff " << c.diff << " (bound " << c.threshold
              << "; flipped reference " << c.flipped << ")\n";
    out.push_back(c);
  }
  return out;
}

class FidelityTest : public EngineSuite<FidelityTest> {};

TEST_F(FidelityTest, EveryVariantMatchesLibvipsThumbnailOfTheOriginal) {
  const std::string input = fixtures::Jpeg(fixtures::PhotoLike(1600, 1200), {.quality = 95});
  const Recipe recipe = ManySizes();
  auto result = RunEngine(engine(), input, recipe);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const std::vector<Comparison> comparisons = Compare(input, recipe, *result, true);
  EXPECT_EQ(comparisons.size(), recipe.variants.size());
  for (const Comparison& c : comparisons) {
    EXPECT_LT(c.diff, c.threshold) << c.variant;
    // The metric can fail: the same output against a mirrored reference is far off.
    EXPECT_GT(c.flipped, 3 * c.threshold) << c.variant;
  }
}

// The same file with one variant per recipe: decode-once must not change the picture.
TEST_F(FidelityTest, SharedDecodeMatchesOneVariantAtATime) {
  const std::string input = fixtures::Jpeg(fixtures::PhotoLike(1600, 1200), {.quality = 95});
  const Recipe recipe = ManySizes();
  auto together = RunEngine(engine(), input, recipe);
  ASSERT_TRUE(together.ok()) << together.status().ToString();
  for (size_t i = 0; i < recipe.variants.size(); ++i) {
    const Variant& v = recipe.variants[i];
    if (v.format != Format::kPng) continue;
    auto alone = RunEngine(engine(), input, OneVariant(v));
    ASSERT_TRUE(alone.ok()) << alone.status().ToString();
    const vips::VImage a = ToSrgb8(Decode(together->renditions[i].bytes));
    const vips::VImage b = ToSrgb8(Decode(alone->renditions[0].bytes));
    EXPECT_LT(MeanAbsDiff(a, b), kLossless) << Describe(v);
  }
}

class FidelityCorpusTest : public EngineSuite<FidelityCorpusTest> {};

TEST_F(FidelityCorpusTest, RealPhotos) {
  const auto dir = fixtures::CorpusDir();
  if (!dir) GTEST_SKIP() << "../shared/corpus/dev absent: corpus layer skipped";
  const Recipe recipe = ManySizes();
  for (const char* file : {"sharp_2569067123_aca715a2ee_o.jpg", "sharp_4.webp",
                           "exifsamples_32-lens_data.jpeg", "exifsamples_iphone_hdr_NO.jpg"}) {
    SCOPED_TRACE(file);
    const std::string input = fixtures::ReadFileBytes(*dir / file);
    ASSERT_FALSE(input.empty());
    auto result = RunEngine(engine(), input, recipe);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    const std::vector<Comparison> comparisons = Compare(input, recipe, *result, false);
    EXPECT_GE(comparisons.size(), recipe.variants.size() / 2) << "too few sizes compared";
    for (const Comparison& c : comparisons) {
      EXPECT_LT(c.diff, c.threshold) << c.variant;
      EXPECT_GT(c.flipped, 2 * c.threshold) << c.variant;
    }
  }
}

}  // namespace
}  // namespace thumbpipe::image::test
