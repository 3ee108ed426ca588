// ImageInfo: what each kind of source is, as read from its header; Probe() reports the same
// as Thumbnail() without decoding the pixels.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "engine_test_support.h"
#include "fixtures/corpus.h"

namespace thumbpipe::image::test {
namespace {

using namespace fixtures;

struct InfoCase {
  std::string name;
  std::function<std::string()> make;
  ImageInfo expected;
  bool check_alpha = true;  // false where libvips' loader decides (GIF is always RGBA)
};

std::ostream& operator<<(std::ostream& os, const InfoCase& c) { return os << c.name; }

ImageInfo Info(InputFormat format, int width, int height, const char* colourspace = "srgb") {
  ImageInfo info;
  info.format = format;
  info.width = width;
  info.height = height;
  info.colourspace = colourspace;
  return info;
}

template <typename F>
ImageInfo With(ImageInfo info, F change) {
  change(info);
  return info;
}

std::vector<InfoCase> InfoCases() {
  const auto photo = [] { return PhotoLike(160, 120); };
  return {
      {"jpeg", [=] { return Jpeg(photo()); }, Info(InputFormat::kJpeg, 160, 120)},
      {"progressive_jpeg", [=] { return Jpeg(photo(), {.progressive = true}); },
       With(Info(InputFormat::kJpeg, 160, 120), [](ImageInfo& i) { i.interlaced = true; })},
      {"jpeg_orientation_6", [=] { return OrientedJpeg(photo(), 6); },
       With(Info(InputFormat::kJpeg, 120, 160), [](ImageInfo& i) { i.orientation = 6; })},
      {"jpeg_orientation_3", [=] { return OrientedJpeg(photo(), 3); },
       With(Info(InputFormat::kJpeg, 160, 120), [](ImageInfo& i) { i.orientation = 3; })},
      {"grey_jpeg", [=] { return Jpeg(photo().extract_band(1).copy(
                             vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_B_W))); },
       Info(InputFormat::kJpeg, 160, 120, "b-w")},
      {"jpeg_with_icc", [=] { return JpegWithPrivateMetadata(photo()); },
       With(Info(InputFormat::kJpeg, 160, 120), [](ImageInfo& i) { i.has_icc = true; })},
      {"cmyk_jpeg_with_icc", [=] { return CmykJpeg(photo(), true); },
       With(Info(InputFormat::kJpeg, 160, 120, "cmyk"), [](ImageInfo& i) { i.has_icc = true; })},
      {"cmyk_jpeg_no_icc", [=] { return CmykJpeg(photo(), false); },
       Info(InputFormat::kJpeg, 160, 120, "cmyk")},
      {"png", [=] { return Png(photo()); }, Info(InputFormat::kPng, 160, 120)},
      {"interlaced_png", [=] { return Png(photo(), true); },
       With(Info(InputFormat::kPng, 160, 120), [](ImageInfo& i) { i.interlaced = true; })},
      {"rgba_png", [] { return Png(AlphaPattern(90, 70)); },
       With(Info(InputFormat::kPng, 90, 70), [](ImageInfo& i) { i.has_alpha = true; })},
      {"png16", [=] { return Png16(photo()); },
       With(Info(InputFormat::kPng, 160, 120, "rgb16"), [](ImageInfo& i) { i.bits = 16; })},
      {"grey16_png", [=] { return Png16(photo().extract_band(0)); },
       With(Info(InputFormat::kPng, 160, 120, "grey16"), [](ImageInfo& i) { i.bits = 16; })},
      {"webp", [=] { return Webp(photo()); }, Info(InputFormat::kWebp, 160, 120)},
      {"animated_webp", [] { return AnimatedWebp(64, 48, 6); },
       With(Info(InputFormat::kWebp, 64, 48), [](ImageInfo& i) { i.pages = 6; }), false},
      {"gif", [=] { return Gif(photo()); }, Info(InputFormat::kGif, 160, 120), false},
      {"animated_gif", [] { return AnimatedGif(64, 48, 6); },
       With(Info(InputFormat::kGif, 64, 48), [](ImageInfo& i) { i.pages = 6; }), false},
      {"tiff", [=] { return Tiff(photo()); }, Info(InputFormat::kTiff, 160, 120)},
      {"avif", [=] { return Heif(photo(), true); }, Info(InputFormat::kAvif, 160, 120)},
      {"heic", [=] { return Heif(photo(), false); }, Info(InputFormat::kHeif, 160, 120)},
  };
}

void ExpectInfo(const ImageInfo& got, const ImageInfo& want, bool check_alpha) {
  EXPECT_EQ(InputFormatName(got.format), InputFormatName(want.format));
  EXPECT_EQ(got.width, want.width);
  EXPECT_EQ(got.height, want.height);
  EXPECT_EQ(got.orientation, want.orientation);
  EXPECT_EQ(got.pages, want.pages);
  if (check_alpha) {
    EXPECT_EQ(got.has_alpha, want.has_alpha);
  }
  EXPECT_EQ(got.colourspace, want.colourspace);
  EXPECT_EQ(got.bits, want.bits);
  EXPECT_EQ(got.has_icc, want.has_icc);
  EXPECT_EQ(got.interlaced, want.interlaced);
}

void ExpectSameInfo(const ImageInfo& a, const ImageInfo& b) {
  ExpectInfo(a, b, true);
}

class InfoTest : public EngineSuite<InfoTest>, public ::testing::WithParamInterface<InfoCase> {};

TEST_P(InfoTest, ThumbnailReportsTheSource) {
  const InfoCase& c = GetParam();
  auto result = RunEngine(engine(), c.make(), OneVariant(MakeVariant("v", 64, 64, Fit::kInside,
                                                               Format::kPng)));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ExpectInfo(result->info, c.expected, c.check_alpha);
}

TEST_P(InfoTest, ProbeReportsWhatThumbnailReports) {
  const InfoCase& c = GetParam();
  const std::string input = c.make();
  auto probed = engine().Probe(AsBytes(input));
  ASSERT_TRUE(probed.ok()) << probed.status().ToString();
  ExpectInfo(*probed, c.expected, c.check_alpha);
  auto result = RunEngine(engine(), input, OneVariant(MakeVariant("v", 64, 64, Fit::kInside,
                                                            Format::kPng)));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ExpectSameInfo(*probed, result->info);
}

INSTANTIATE_TEST_SUITE_P(Sources, InfoTest, ::testing::ValuesIn(InfoCases()),
                         [](const auto& p) { return p.param.name; });

// Probe reads only the header: a file cut after its header probes fine, while Thumbnail,
// which must decode the pixels, fails.
TEST_F(InfoTest, ProbeDoesNotDecodeThePixels) {
  const std::string cut = Truncated(Jpeg(PhotoLike(400, 300)), 0.4);
  auto probed = engine().Probe(AsBytes(cut));
  ASSERT_TRUE(probed.ok()) << probed.status().ToString();
  EXPECT_EQ(probed->format, InputFormat::kJpeg);
  EXPECT_EQ(probed->width, 400);
  EXPECT_EQ(probed->height, 300);
  auto thumbnail = RunEngine(engine(), cut, DefaultRecipe());
  ASSERT_FALSE(thumbnail.ok());
  EXPECT_EQ(StatusCodeName(thumbnail.status().code()), "corrupt");
}

// ---- Corpus layer: Probe agrees with SOURCES.md (vipsheader's view of each file).

class InfoCorpusTest : public EngineSuite<InfoCorpusTest> {};

InputFormat LoaderFormat(const CorpusFile& f) {
  const std::string& s = f.format;
  if (s.find("(jpegload)") != std::string::npos) return InputFormat::kJpeg;
  if (s.find("(pngload)") != std::string::npos) return InputFormat::kPng;
  if (s.find("(webpload)") != std::string::npos) return InputFormat::kWebp;
  if (s.find("(gifload)") != std::string::npos) return InputFormat::kGif;
  if (s.find("(tiffload)") != std::string::npos) return InputFormat::kTiff;
  if (s.find("(heifload)") != std::string::npos) {
    return s.find("AVIF") != std::string::npos ? InputFormat::kAvif : InputFormat::kHeif;
  }
  return InputFormat::kUnknown;
}

TEST_F(InfoCorpusTest, ProbeAgreesWithSourcesMd) {
  const auto dir = CorpusDir();
  if (!dir) GTEST_SKIP() << "../shared/corpus/dev absent: corpus layer skipped";
  int probed_files = 0;
  for (const CorpusFile& f : ReadCorpusIndex(*dir)) {
    const InputFormat format = LoaderFormat(f);
    if (f.decode != "ok" || format == InputFormat::kUnknown) continue;  // svg, jp2, broken
    SCOPED_TRACE(f.name);
    const std::string input = ReadFileBytes(*dir / f.name);
    auto info = engine().Probe(AsBytes(input));
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    ++probed_files;
    EXPECT_EQ(InputFormatName(info->format), InputFormatName(format));
    EXPECT_EQ(info->width, f.width);
    EXPECT_EQ(info->height, f.height);
    EXPECT_EQ(info->orientation, f.orientation);
    EXPECT_EQ(info->pages, f.pages);
    // "3-band srgb uchar": bands, interpretation, sample format.
    int bands = 0;
    char interpretation[32] = {}, sample[32] = {};
    ASSERT_EQ(std::sscanf(f.pixels.c_str(), "%d-band %31s %31[a-z]", &bands, interpretation, sample), 3);
    EXPECT_EQ(info->colourspace, interpretation);
    const bool alpha = bands == 2 || (bands == 4 && std::string(interpretation) != "cmyk");
    EXPECT_EQ(info->has_alpha, alpha);
    if (format == InputFormat::kJpeg || format == InputFormat::kPng) {
      EXPECT_EQ(info->bits, std::string(sample) == "ushort" ? 16 : 8);
    }
    if (format == InputFormat::kJpeg) {
      EXPECT_EQ(info->interlaced, f.progressive);
    }
    if (f.format.find("non-interlaced") != std::string::npos) {
      EXPECT_FALSE(info->interlaced);
    }
  }
  EXPECT_GE(probed_files, 30);
}

}  // namespace
}  // namespace thumbpipe::image::test
