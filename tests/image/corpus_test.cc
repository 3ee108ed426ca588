// The corpus layer in one sweep: every file in ../shared/corpus/dev either makes the three
// default variants (small 128x128 cover webp, medium 512x512 inside jpeg, large 1024x1024
// inside webp) or is refused with the permanent code its SOURCES.md row calls for.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "engine_test_support.h"
#include "fixtures/corpus.h"

namespace thumbpipe::image::test {
namespace {

using fixtures::CorpusFile;

class CorpusTest : public EngineSuite<CorpusTest> {};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// svg and jp2 decode in libvips but are not accepted by default (untrusted loaders).
bool RefusedByDefault(const CorpusFile& f) {
  return EndsWith(f.name, ".svg") || EndsWith(f.name, ".jp2");
}

TEST_F(CorpusTest, DecodableFilesMakeTheDefaultVariants) {
  const auto dir = fixtures::CorpusDir();
  if (!dir) GTEST_SKIP() << "../shared/corpus/dev absent: corpus layer skipped";
  const Recipe recipe = DefaultRecipe();
  int files = 0;
  for (const CorpusFile& f : fixtures::ReadCorpusIndex(*dir)) {
    if (f.decode != "ok" || RefusedByDefault(f)) continue;
    SCOPED_TRACE(f.name + " (" + f.what + ")");
    ++files;
    const std::string input = fixtures::ReadFileBytes(*dir / f.name);
    auto result = RunEngine(engine(), input, recipe);
    if (!result.ok()) {
      ADD_FAILURE() << "refused: " << result.status().ToString();
      continue;
    }
    ASSERT_EQ(result->renditions.size(), 3u);
    const bool swapped = f.orientation >= 5;  // 5-8 turn the picture a quarter
    const int W = swapped ? f.height : f.width;
    const int H = swapped ? f.width : f.height;
    for (size_t i = 0; i < 3; ++i) {
      const Variant& v = recipe.variants[i];
      const Rendition& r = result->renditions[i];
      CheckRendition(r, v);
      EXPECT_EQ((Size{r.width, r.height}), ExpectedSize(W, H, v)) << Describe(v);
      EXPECT_EQ(r.pages, 1) << "default variants are still";
    }
  }
  EXPECT_GE(files, 30);
}

TEST_F(CorpusTest, BrokenBombAndUntrustedFilesAreRefused) {
  const auto dir = fixtures::CorpusDir();
  if (!dir) GTEST_SKIP() << "../shared/corpus/dev absent: corpus layer skipped";
  int files = 0;
  for (const CorpusFile& f : fixtures::ReadCorpusIndex(*dir)) {
    StatusCode expected;
    if (f.decode == "ok") {
      if (!RefusedByDefault(f)) continue;
      expected = StatusCode::kUnsupported;
    } else if (f.decode.starts_with("not attempted")) {
      expected = StatusCode::kTooLarge;  // decompression bombs
    } else if (f.what.find("lossless JPEG") != std::string::npos) {
      expected = StatusCode::kUnsupported;  // SOF3: no decoder for it
    } else {
      expected = StatusCode::kCorrupt;  // truncated, corrupt header
    }
    SCOPED_TRACE(f.name + " (" + f.what + ")");
    ++files;
    const std::string input = fixtures::ReadFileBytes(*dir / f.name);
    ASSERT_FALSE(input.empty());
    auto result = RunEngine(engine(), input, DefaultRecipe());
    if (result.ok()) {
      ADD_FAILURE() << "accepted; expected " << StatusCodeName(expected);
      continue;
    }
    EXPECT_EQ(StatusCodeName(result.status().code()), StatusCodeName(expected))
        << result.status().ToString();
    EXPECT_TRUE(result.status().IsPermanent());
    EXPECT_FALSE(result.status().message().empty());
  }
  EXPECT_GE(files, 8);
}

}  // namespace
}  // namespace thumbpipe::image::test
