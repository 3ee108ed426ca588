#include "image/pipeline_steps.h"

#include <algorithm>
#include <memory>
#include <string_view>
#include <vector>

#include "image/srgb_profiles.h"

namespace thumbpipe::image {
namespace {

struct GravityWeights {
  double x;  // 0 = left edge, 0.5 = centre, 1 = right edge
  double y;
};

GravityWeights WeightsOf(Gravity g) {
  switch (g) {
    case Gravity::kNorth: return {0.5, 0};
    case Gravity::kNorthEast: return {1, 0};
    case Gravity::kEast: return {1, 0.5};
    case Gravity::kSouthEast: return {1, 1};
    case Gravity::kSouth: return {0.5, 1};
    case Gravity::kSouthWest: return {0, 1};
    case Gravity::kWest: return {0, 0.5};
    case Gravity::kNorthWest: return {0, 0};
    default: return {0.5, 0.5};
  }
}

bool IsGreyscale(const VImage& image) {
  const VipsInterpretation i = image.interpretation();
  return i == VIPS_INTERPRETATION_B_W || i == VIPS_INTERPRETATION_GREY16;
}

// The background as band values for `image` (grey images get the colour's luminance).
std::vector<double> BackgroundFor(const VImage& image, Colour c, bool with_alpha) {
  std::vector<double> bg;
  if (image.bands() - (HasAlpha(image) ? 1 : 0) == 1) {
    bg.push_back(0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b);
  } else {
    bg = {double(c.r), double(c.g), double(c.b)};
  }
  if (with_alpha) bg.push_back(c.a);
  return bg;
}

}  // namespace

bool HasAlpha(const VImage& image) {
  const int bands = image.bands();
  if (bands == 2 && IsGreyscale(image)) return true;
  if (bands == 4 && image.interpretation() != VIPS_INTERPRETATION_CMYK) return true;
  return bands == 5 && image.interpretation() == VIPS_INTERPRETATION_CMYK;
}

VImage Premultiply(VImage image) {
  if (!HasAlpha(image)) return image;
  return image.premultiply();
}

VImage Unpremultiply(VImage image, VipsBandFormat format) {
  if (!HasAlpha(image)) return image;
  return image.unpremultiply().cast(format);
}

VImage Resize(VImage image, double hscale, double vscale) {
  if (hscale == 1.0 && vscale == 1.0) return image;
  return image.resize(hscale, VImage::option()->set("vscale", vscale)->set("kernel",
                                                                          VIPS_KERNEL_LANCZOS3));
}

VImage Orient(VImage image) {
  if (image.get_typeof(VIPS_META_ORIENTATION) == 0) return image;
  return image.autorot();
}

VImage ToSrgb(VImage image) {
  const VipsInterpretation interpretation = image.interpretation();
  const bool has_profile = image.get_typeof(VIPS_META_ICC_NAME) != 0;
  if (has_profile && HasEffectivelySrgbProfile(image)) {
    // Already sRGB pixels: a transform would only cost time.
  } else if (has_profile || interpretation == VIPS_INTERPRETATION_CMYK) {
    // The embedded profile wins; the fallback covers untagged CMYK (libvips' built-in
    // "cmyk" profile) and broken embedded profiles. Greyscale profiles land in sRGB too.
    const char* fallback = interpretation == VIPS_INTERPRETATION_CMYK ? "cmyk" : "srgb";
    image = image.icc_transform("srgb", VImage::option()
                                            ->set("embedded", true)
                                            ->set("input_profile", fallback)
                                            ->set("intent", VIPS_INTENT_RELATIVE)
                                            ->set("depth", 8));
  } else if (interpretation == VIPS_INTERPRETATION_GREY16) {
    image = image.colourspace(VIPS_INTERPRETATION_B_W);
  } else if (interpretation != VIPS_INTERPRETATION_sRGB && interpretation != VIPS_INTERPRETATION_B_W) {
    image = image.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  if (image.format() != VIPS_FORMAT_UCHAR) image = image.cast(VIPS_FORMAT_UCHAR);
  image.remove(VIPS_META_ICC_NAME);
  return image;
}

bool EmbeddedProfileConverts(const VImage& image) {
  if (image.get_typeof(VIPS_META_ICC_NAME) == 0) return true;
  size_t length = 0;
  const void* profile = image.get_blob(VIPS_META_ICC_NAME, &length);
  VImage pixel = VImage::black(1, 1, VImage::option()->set("bands", image.bands()))
                     .cast(image.format())
                     .copy(VImage::option()->set("interpretation", image.interpretation()));
  // `image` owns the bytes and outlives `pixel`.
  pixel.set(VIPS_META_ICC_NAME, static_cast<VipsCallbackFn>(nullptr), const_cast<void*>(profile),
            length);
  try {
    (void)ToSrgb(pixel).avg();  // avg() pulls the pixel through the transform
    return true;
  } catch (const vips::VError&) {
    vips_error_clear();
    return false;
  }
}

void KeepOnlyRenderingMetadata(VImage& image) {
  static constexpr std::string_view kKept[] = {VIPS_META_ORIENTATION, VIPS_META_PAGE_HEIGHT,
                                               VIPS_META_N_PAGES, "delay", "loop"};
  std::unique_ptr<gchar*, void (*)(gchar**)> fields(vips_image_get_fields(image.get_image()),
                                                    [](gchar** f) { g_strfreev(f); });
  for (gchar** field = fields.get(); *field != nullptr; ++field) {
    if (std::find(std::begin(kKept), std::end(kKept), *field) == std::end(kKept)) {
      image.remove(*field);  // a no-op for the built-in header fields (width, bands, ...)
    }
  }
}

VImage CropToBox(VImage image, Size box, Gravity gravity) {
  if (image.width() == box.width && image.height() == box.height) return image;
  if (gravity == Gravity::kAttention || gravity == Gravity::kEntropy) {
    return image.smartcrop(box.width, box.height,
                           VImage::option()->set("interesting", gravity == Gravity::kAttention
                                                                    ? VIPS_INTERESTING_ATTENTION
                                                                    : VIPS_INTERESTING_ENTROPY));
  }
  const GravityWeights w = WeightsOf(gravity);
  const int left = static_cast<int>((image.width() - box.width) * w.x);
  const int top = static_cast<int>((image.height() - box.height) * w.y);
  return image.extract_area(left, top, box.width, box.height);
}

VImage EmbedInBox(VImage image, Size box, Gravity gravity, Colour background) {
  const bool opaque_background = background.a == 255;
  if (!opaque_background && !HasAlpha(image)) {
    image = image.bandjoin_const({255});
  }
  if (IsGreyscale(image) && !(background.r == background.g && background.g == background.b)) {
    image = image.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  const GravityWeights w = WeightsOf(gravity);
  const int left = static_cast<int>((box.width - image.width()) * w.x);
  const int top = static_cast<int>((box.height - image.height()) * w.y);
  return image.embed(left, top, box.width, box.height,
                     VImage::option()
                         ->set("extend", VIPS_EXTEND_BACKGROUND)
                         ->set("background", BackgroundFor(image, background, HasAlpha(image))));
}

VImage Flatten(VImage image, Colour background) {
  if (!HasAlpha(image)) return image;
  return image.flatten(
      VImage::option()->set("background", BackgroundFor(image, background, false)));
}

}  // namespace thumbpipe::image
