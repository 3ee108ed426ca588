// Concurrency and determinism: one Engine used from 2 and 4 threads gives byte-identical
// renditions to a single thread, and every error message is exactly the single-threaded
// one (libvips' error buffer is process-wide; a message built from it would carry another
// thread's error text).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <vips/vips.h>

#include "engine_test_support.h"
#include "fixtures/corpus.h"
#include "image/orc_guard.h"

namespace thumbpipe::image::test {
namespace {

using namespace fixtures;

struct Input {
  std::string name;
  std::string bytes;
  bool hostile = false;  // must fail
};

// What one Thumbnail call gave, reduced to what must be reproducible.
struct Outcome {
  bool ok = false;
  std::vector<std::string> renditions;  // encoded bytes, in recipe order
  std::string error;                    // Status::ToString() when !ok

  friend bool operator==(const Outcome&, const Outcome&) = default;
};

Outcome RunOnce(const Engine& engine, const Input& input, const Recipe& recipe) {
  Outcome outcome;
  auto result = engine.Thumbnail(AsBytes(input.bytes), recipe);
  outcome.ok = result.ok();
  if (result.ok()) {
    for (const Rendition& r : result->renditions) outcome.renditions.push_back(r.bytes);
  } else {
    outcome.error = result.status().ToString();
  }
  return outcome;
}

std::string Summary(const Outcome& o) {
  if (!o.ok) return "error \"" + o.error + "\"";
  std::string s = "ok, sizes";
  for (const std::string& r : o.renditions) s += " " + std::to_string(r.size());
  return s;
}

// Runs every input `rounds` times, `threads` threads taking the next job from a shared
// counter so that different inputs are in flight together, and returns a description of
// every outcome that differs from `expected`; empty when all match.
std::string RunConcurrently(const Engine& engine, const std::vector<Input>& inputs,
                            const Recipe& recipe, const std::vector<Outcome>& expected,
                            int threads, int rounds) {
  std::mutex mu;
  std::ostringstream mismatches;  // protected by mu
  std::atomic<size_t> next{0};
  const size_t jobs = inputs.size() * static_cast<size_t>(rounds);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (size_t job = next++; job < jobs; job = next++) {
        const size_t i = job % inputs.size();
        const Outcome got = RunOnce(engine, inputs[i], recipe);
        if (got != expected[i]) {
          std::scoped_lock lock(mu);
          mismatches << "  thread " << t << " " << inputs[i].name << ": expected "
                     << Summary(expected[i]) << ", got " << Summary(got) << "\n";
        }
      }
      ReleaseThreadResources();
    });
  }
  for (std::thread& th : pool) th.join();
  return mismatches.str();
}

Recipe MixedRecipe() {
  Variant anim = MakeVariant("anim", 120, 120, Fit::kContain, Format::kGif);
  anim.animated = true;
  return Recipe{{MakeVariant("a", 256, 256, Fit::kInside, Format::kJpeg),
                 MakeVariant("b", 96, 96, Fit::kCover, Format::kWebp),
                 MakeVariant("c", 128, 0, Fit::kInside, Format::kPng), anim}};
}

std::vector<Input> FixtureInputs() {
  return {
      {"photo_jpeg", Jpeg(PhotoLike(480, 320))},
      {"progressive_jpeg", Jpeg(PhotoLike(300, 200, 2), {.progressive = true})},
      {"oriented_jpeg", OrientedJpeg(PhotoLike(300, 200, 3), 6)},
      {"alpha_png", Png(AlphaPattern(300, 200))},
      {"png16", Png16(PhotoLike(200, 150, 4))},
      {"cmyk_jpeg", CmykJpeg(PhotoLike(200, 150, 5), true)},
      {"webp", Webp(PhotoLike(256, 192, 6))},
      {"animated_gif", AnimatedGif(64, 48, 6)},
      {"truncated_jpeg", Truncated(Jpeg(PhotoLike(200, 150, 7)), 0.5), true},
      {"truncated_png", Truncated(Png(PhotoLike(200, 150, 8)), 0.5), true},
      {"png_bomb", PngHeaderBomb(60000, 60000), true},
      {"random", RandomBytes(2048, 9), true},
      {"svg", Svg(64, 64), true},
  };
}

class DeterminismTest : public EngineSuite<DeterminismTest> {};

TEST_F(DeterminismTest, ThreadsGiveTheSingleThreadedBytesAndErrors) {
  const std::vector<Input> inputs = FixtureInputs();
  const Recipe recipe = MixedRecipe();
  std::vector<Outcome> expected;
  for (const Input& input : inputs) {
    expected.push_back(RunOnce(engine(), input, recipe));
    ASSERT_EQ(expected.back().ok, !input.hostile) << input.name << ": " << Summary(expected.back());
  }
  // The same thread again: any difference here is not about threads at all.
  EXPECT_EQ(RunConcurrently(engine(), inputs, recipe, expected, 1, 1), "");
  EXPECT_EQ(RunConcurrently(engine(), inputs, recipe, expected, 2, 1), "")
      << "2 threads differ from 1";
  EXPECT_EQ(RunConcurrently(engine(), inputs, recipe, expected, 4, 2), "")
      << "4 threads differ from 1";
}

// Failing inputs run over and over next to succeeding ones: each error message must be the
// single-threaded one exactly, never another thread's error.
TEST_F(DeterminismTest, ErrorMessagesDoNotLeakBetweenThreads) {
  const std::vector<Input> inputs = {
      {"truncated_jpeg", Truncated(Jpeg(PhotoLike(200, 150, 7)), 0.5), true},
      {"truncated_png", Truncated(Png(PhotoLike(200, 150, 8)), 0.5), true},
      {"truncated_webp", Truncated(Webp(PhotoLike(200, 150, 10)), 0.5), true},
      {"lossless_jpeg", LosslessJpeg(), true},
      {"good_jpeg", Jpeg(PhotoLike(160, 120, 11))},
      {"good_png", Png(PhotoLike(160, 120, 12))},
  };
  const Recipe recipe{{MakeVariant("s", 64, 64, Fit::kCover, Format::kJpeg)}};
  std::vector<Outcome> expected;
  for (const Input& input : inputs) {
    expected.push_back(RunOnce(engine(), input, recipe));
    ASSERT_EQ(expected.back().ok, !input.hostile) << input.name << ": " << Summary(expected.back());
  }
  EXPECT_EQ(RunConcurrently(engine(), inputs, recipe, expected, 4, 40), "");
}

// Jobs sharing the cores (EngineOptions::share_cores, what serve and worker use): a lone job
// runs with 4 libvips threads, two or four at once with 2 or 1 each. The thread count must
// never change a byte.
class SharedCoresTest : public EngineSuite<SharedCoresTest> {
 public:
  static EngineOptions Options() {
    EngineOptions options;
    options.share_cores = 4;
    return options;
  }
};

TEST_F(SharedCoresTest, ALoneJobGetsEveryCoreAndTheBytesNeverDependOnIt) {
  const std::vector<Input> inputs = FixtureInputs();
  const Recipe recipe = MixedRecipe();
  std::vector<Outcome> expected;
  for (const Input& input : inputs) {
    vips_concurrency_set(1);
    expected.push_back(RunOnce(engine(), input, recipe));
    ASSERT_EQ(expected.back().ok, !input.hostile) << input.name << ": " << Summary(expected.back());
    if (!input.hostile) {
      EXPECT_EQ(vips_concurrency_get(), 4) << input.name << " ran alone";
    }
  }
  EXPECT_EQ(RunConcurrently(engine(), inputs, recipe, expected, 2, 2), "") << "2 jobs at once differ from 1";
  EXPECT_EQ(RunConcurrently(engine(), inputs, recipe, expected, 4, 2), "") << "4 jobs at once differ from 1";
}

// liborc compiles under one lock (image/orc_guard.h): libvips' calls must reach the guard.
TEST_F(SharedCoresTest, VectorCodeIsCompiledThroughTheGuard) {
  ASSERT_TRUE(OrcGuardActive());
  const unsigned long before = OrcGuardedCompiles();
  const Input photo{"photo_jpeg", Jpeg(PhotoLike(480, 320))};
  ASSERT_TRUE(RunOnce(engine(), photo, MixedRecipe()).ok);
  EXPECT_GT(OrcGuardedCompiles(), before) << "a resize compiled vector code without the guard";
}

class DeterminismCorpusTest : public EngineSuite<DeterminismCorpusTest> {};

// Every corpus file that decodes, up to 400 KB: that still spans every loader but HEIC
// (JPEG incl. progressive and CMYK, PNG 8/16-bit/palette/alpha, WebP, animated GIF/WebP,
// AVIF, TIFF), while the multi-megapixel photos would add many seconds of CPU and no new
// code path.
TEST_F(DeterminismCorpusTest, TwoThreadsGiveTheSingleThreadedBytes) {
  const auto dir = CorpusDir();
  if (!dir) GTEST_SKIP() << "../shared/corpus/dev absent: corpus layer skipped";
  std::vector<Input> inputs;
  for (const CorpusFile& f : ReadCorpusIndex(*dir)) {
    if (f.decode != "ok" || std::filesystem::file_size(*dir / f.name) > 400'000) continue;
    inputs.push_back({f.name, ReadFileBytes(*dir / f.name)});
  }
  ASSERT_GE(inputs.size(), 10u);
  const Recipe recipe{{MakeVariant("a", 200, 200, Fit::kInside, Format::kJpeg),
                       MakeVariant("b", 64, 64, Fit::kCover, Format::kWebp)}};
  std::vector<Outcome> expected;
  for (const Input& input : inputs) expected.push_back(RunOnce(engine(), input, recipe));
  EXPECT_EQ(RunConcurrently(engine(), inputs, recipe, expected, 2, 1), "");
}

}  // namespace
}  // namespace thumbpipe::image::test
