// Size arithmetic for the engine, free of libvips so it can be tested exhaustively: how big
// each variant comes out (the rules in recipe.h), and how much of the reduction can be done
// cheaply at load time (shrink-on-load) while leaving the rest to the high-quality resize.
#pragma once

#include <vector>

#include "image/recipe.h"

namespace thumbpipe::image {

struct Size {
  int width = 0;
  int height = 0;
  friend bool operator==(const Size&, const Size&) = default;
};

// How one variant is made from an upright input: scale to `scaled`, then either keep it
// (kNone), crop it to `box` (cover), or pad it to `box` (contain). All sizes are upright.
struct VariantPlan {
  enum class Finish { kNone, kCrop, kEmbed };
  Size scaled;
  Finish finish = Finish::kNone;
  Size box;  // the final size for kCrop/kEmbed; equals `scaled` for kNone

  Size output() const { return finish == Finish::kNone ? scaled : box; }
};

VariantPlan PlanVariant(Size upright_input, const Variant& variant);

// The largest per-axis scale any of `plans` needs from an upright input of `input` pixels:
// the decoded image must keep at least this much detail.
double LargestScale(Size upright_input, const std::vector<VariantPlan>& plans);

// JPEG shrink-on-load factor (1, 2, 4 or 8) for reducing by `scale` (<= 1). Like sharp's
// default fastShrinkOnLoad, the block shrink goes as far as the target allows; the final
// lanczos3 resize then does the remaining (< 2x) reduction.
int JpegShrinkFactor(double scale);

// Integer box-shrink factor to apply to a decoded image before keeping it in memory, so the
// in-memory base stays at least 2x larger than the largest variant (so that the
// lanczos3 reduction from it keeps its quality). 1 means no pre-shrink.
int BaseShrinkFactor(double scale);

// Whether an EXIF orientation (1-8) swaps width and height.
inline bool OrientationSwapsAxes(int orientation) { return orientation >= 5 && orientation <= 8; }

}  // namespace thumbpipe::image
