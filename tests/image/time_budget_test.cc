// limits.max_processing_time: libvips stops a job once its budget has passed, in the decode
// and in the renditions (image/deadline.h); the engine reports a permanent too_large naming
// the limit, and the next job runs normally. Without the watch on libvips' evaluation these
// jobs would run to the end and succeed.
#include <chrono>
#include <string>

#include <gmock/gmock.h>

#include "engine_test_support.h"

namespace thumbpipe::image::test {
namespace {

using namespace std::chrono_literals;
using fixtures::PhotoLike;
using fixtures::Png;

Result<ThumbnailResult> RunWithBudget(Duration budget, const std::string& input, const Recipe& recipe) {
  Limits limits;
  limits.max_processing_time = budget;
  auto engine = Engine::Create(WithLimits(limits));
  if (!engine.ok()) return engine.status();
  return RunEngine(**engine, input, recipe);
}

void ExpectStopped(const Result<ThumbnailResult>& result, std::string_view budget, std::string_view step) {
  ASSERT_FALSE(result.ok()) << "finished within the budget";
  EXPECT_EQ(StatusCodeName(result.status().code()), "too_large") << result.status().ToString();
  EXPECT_THAT(result.status().message(),
              ::testing::HasSubstr("longer than limits.max_processing_time = " + std::string(budget)));
  EXPECT_THAT(result.status().message(), ::testing::HasSubstr("stopped during " + std::string(step)));
}

class TimeBudgetTest : public EngineSuite<TimeBudgetTest> {};

// PNG has no shrink-on-load: all 6 MP are decoded, strip by strip, which takes far more
// than 1 ms; libvips is stopped between two strips.
TEST_F(TimeBudgetTest, DecodeStopsAtTheDeadline) {
  const std::string input = Png(PhotoLike(3000, 2000));
  ExpectStopped(RunWithBudget(1ms, input, DefaultRecipe()), "1ms", "the decode");
  // Nothing is left behind in libvips: the same image, with the default budget, on this
  // thread and this suite's engine.
  auto again = RunEngine(engine(), input, DefaultRecipe());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->renditions.size(), 3u);
}

// A 64x64 source decodes in well under a millisecond; enlarging it to 144 MP and encoding
// that takes seconds. The budget runs out in the renditions, made from the in-memory base.
TEST_F(TimeBudgetTest, RenditionsStopAtTheDeadline) {
  const std::string input = Png(PhotoLike(64, 64));
  const Recipe huge = OneVariant(MakeVariant("huge", 12000, 12000, Fit::kFill, Format::kJpeg, /*enlarge=*/true));
  ExpectStopped(RunWithBudget(2s, input, huge), "2s", "the renditions");
}

TEST(TimeBudgetOptionsTest, ZeroBudgetIsRefused) {
  Limits limits;
  limits.max_processing_time = 0ms;
  auto engine = Engine::Create(WithLimits(limits));
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace thumbpipe::image::test
