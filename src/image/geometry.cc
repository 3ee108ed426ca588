#include "image/geometry.h"

#include <algorithm>
#include <cmath>

namespace thumbpipe::image {
namespace {

int ScaleSide(int side, double scale) {
  return std::max(1, static_cast<int>(std::lround(side * scale)));
}

}  // namespace

VariantPlan PlanVariant(Size in, const Variant& v) {
  const double cap = v.enlarge ? INFINITY : 1.0;
  VariantPlan plan;
  if (v.width == 0 || v.height == 0) {
    // One side given: every fit scales to it and the other side follows the aspect ratio.
    const double s = std::min(cap, v.width != 0 ? double(v.width) / in.width
                                                : double(v.height) / in.height);
    plan.scaled = {ScaleSide(in.width, s), ScaleSide(in.height, s)};
    plan.box = plan.scaled;
    return plan;
  }
  const double sx = double(v.width) / in.width;
  const double sy = double(v.height) / in.height;
  switch (v.fit) {
    case Fit::kFill:
      plan.scaled = {ScaleSide(in.width, std::min(cap, sx)), ScaleSide(in.height, std::min(cap, sy))};
      plan.box = plan.scaled;
      break;
    case Fit::kInside:
    case Fit::kContain: {
      const double s = std::min({cap, sx, sy});
      plan.scaled = {ScaleSide(in.width, s), ScaleSide(in.height, s)};
      // Rounding can push one side a pixel over the box; the box wins.
      plan.scaled.width = std::min(plan.scaled.width, std::max(v.width, 1));
      plan.scaled.height = std::min(plan.scaled.height, std::max(v.height, 1));
      if (!v.enlarge) {
        plan.scaled.width = std::min(plan.scaled.width, in.width);
        plan.scaled.height = std::min(plan.scaled.height, in.height);
      }
      if (v.fit == Fit::kContain) {
        plan.finish = VariantPlan::Finish::kEmbed;
        plan.box = {v.width, v.height};
      } else {
        plan.box = plan.scaled;
      }
      break;
    }
    case Fit::kOutside:
    case Fit::kCover: {
      const double s = std::min(cap, std::max(sx, sy));
      plan.scaled = {ScaleSide(in.width, s), ScaleSide(in.height, s)};
      if (v.fit == Fit::kCover) {
        plan.finish = VariantPlan::Finish::kCrop;
        plan.box = {std::min(v.width, plan.scaled.width), std::min(v.height, plan.scaled.height)};
        // Rounding can leave the scaled image a pixel short of the box; the image wins.
        if (plan.box == plan.scaled) plan.finish = VariantPlan::Finish::kNone;
      } else {
        plan.box = plan.scaled;
      }
      break;
    }
  }
  return plan;
}

double LargestScale(Size in, const std::vector<VariantPlan>& plans) {
  double scale = 0;
  for (const VariantPlan& p : plans) {
    scale = std::max({scale, double(p.scaled.width) / in.width, double(p.scaled.height) / in.height});
  }
  return scale;
}

int JpegShrinkFactor(double scale) {
  if (scale <= 0) return 1;
  const double shrink = 1.0 / scale;
  if (shrink >= 8) return 8;
  if (shrink >= 4) return 4;
  if (shrink >= 2) return 2;
  return 1;
}

int BaseShrinkFactor(double scale) {
  if (scale <= 0) return 1;
  // Keep a factor of two for the lanczos3 step: box filtering all the way down aliases.
  return std::max(1, static_cast<int>(std::floor(1.0 / scale / 2.0)));
}

}  // namespace thumbpipe::image
