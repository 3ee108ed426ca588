#include "image/geometry.h"

#include <gtest/gtest.h>

namespace thumbpipe::image {
namespace {

Variant V(int w, int h, Fit fit, bool enlarge = false) {
  return Variant{.name = "v", .width = w, .height = h, .fit = fit, .enlarge = enlarge};
}

TEST(GeometryTest, FitModesOnALandscapeInput) {
  const Size in{4000, 3000};
  EXPECT_EQ(PlanVariant(in, V(200, 200, Fit::kInside)).output(), (Size{200, 150}));
  EXPECT_EQ(PlanVariant(in, V(200, 200, Fit::kOutside)).output(), (Size{267, 200}));
  EXPECT_EQ(PlanVariant(in, V(200, 200, Fit::kCover)).output(), (Size{200, 200}));
  EXPECT_EQ(PlanVariant(in, V(200, 200, Fit::kCover)).scaled, (Size{267, 200}));
  EXPECT_EQ(PlanVariant(in, V(200, 200, Fit::kContain)).output(), (Size{200, 200}));
  EXPECT_EQ(PlanVariant(in, V(200, 200, Fit::kContain)).scaled, (Size{200, 150}));
  EXPECT_EQ(PlanVariant(in, V(200, 200, Fit::kFill)).output(), (Size{200, 200}));
}

TEST(GeometryTest, NoEnlargementCapsEveryScale) {
  const Size in{100, 50};
  EXPECT_EQ(PlanVariant(in, V(400, 400, Fit::kInside)).output(), (Size{100, 50}));
  EXPECT_EQ(PlanVariant(in, V(400, 400, Fit::kCover)).output(), (Size{100, 50}));
  EXPECT_EQ(PlanVariant(in, V(80, 400, Fit::kCover)).output(), (Size{80, 50}));
  EXPECT_EQ(PlanVariant(in, V(400, 400, Fit::kContain)).output(), (Size{400, 400}));
  EXPECT_EQ(PlanVariant(in, V(400, 400, Fit::kContain)).scaled, (Size{100, 50}));
  EXPECT_EQ(PlanVariant(in, V(400, 20, Fit::kFill)).output(), (Size{100, 20}));
  EXPECT_EQ(PlanVariant(in, V(400, 400, Fit::kInside, true)).output(), (Size{400, 200}));
  EXPECT_EQ(PlanVariant(in, V(400, 400, Fit::kCover, true)).output(), (Size{400, 400}));
}

TEST(GeometryTest, OneSideFollowsTheAspectRatio) {
  EXPECT_EQ(PlanVariant({3000, 2000}, V(300, 0, Fit::kCover)).output(), (Size{300, 200}));
  EXPECT_EQ(PlanVariant({3000, 2000}, V(0, 100, Fit::kFill)).output(), (Size{150, 100}));
}

TEST(GeometryTest, ExtremeAspectRatiosNeverReachZero) {
  EXPECT_EQ(PlanVariant({20000, 10}, V(100, 100, Fit::kInside)).output(), (Size{100, 1}));
}

TEST(GeometryTest, ShrinkOnLoadLeavesTheFinalReductionToTheResize) {
  EXPECT_EQ(JpegShrinkFactor(1.0), 1);
  EXPECT_EQ(JpegShrinkFactor(0.6), 1);
  EXPECT_EQ(JpegShrinkFactor(0.5), 2);
  EXPECT_EQ(JpegShrinkFactor(0.2), 4);
  EXPECT_EQ(JpegShrinkFactor(0.01), 8);
  EXPECT_EQ(BaseShrinkFactor(0.5), 1);
  EXPECT_EQ(BaseShrinkFactor(0.1), 5);
}

TEST(GeometryTest, LargestScaleCoversEveryVariant) {
  const Size in{4000, 3000};
  std::vector<VariantPlan> plans = {PlanVariant(in, V(1024, 1024, Fit::kInside)),
                                    PlanVariant(in, V(128, 128, Fit::kCover))};
  EXPECT_DOUBLE_EQ(LargestScale(in, plans), 1024.0 / 4000);
}

}  // namespace
}  // namespace thumbpipe::image
