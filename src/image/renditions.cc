#include "image/renditions.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "image/encode.h"
#include "image/pipeline_steps.h"

namespace thumbpipe::image {
namespace {

using vips::VImage;
using vips::VOption;

// An image a later variant may be resized from only when it is at least this much larger
// than that variant on both axes: lanczos3 from a 2x larger lanczos3 result is visually
// the same as from the original (tests/image/fidelity_test.cc holds it to that).
constexpr double kCascadeHeadroom = 2.0;

// Options for the one real decode: shrink-on-load where the format has it, and the frames.
VOption* DecodeOptions(const ImageInfo& info, double scale, int frames) {
  VOption* options = SafeLoadOptions();
  const int shrink = JpegShrinkFactor(scale);
  switch (info.format) {
    case InputFormat::kJpeg:
      if (shrink > 1) options->set("shrink", shrink);
      break;
    case InputFormat::kWebp:
      // libwebp scales while decoding; integer factors keep frame heights exact.
      if (shrink > 1) options->set("scale", 1.0 / shrink);
      if (frames > 1) options->set("n", frames);
      break;
    case InputFormat::kGif:
      if (frames > 1) options->set("n", frames);
      break;
    default:
      break;
  }
  return options;
}

std::string IccProfileOf(const VImage& image) {
  if (image.get_typeof(VIPS_META_ICC_NAME) == 0) return {};
  size_t length = 0;
  const void* data = image.get_blob(VIPS_META_ICC_NAME, &length);
  return std::string(static_cast<const char*>(data), length);
}

// Converts a freshly resized image (premultiplied, in the source's colour space) to plain
// 8-bit sRGB, through `base`'s profile when it has one.
VImage ResizedToSrgb(VImage image, const DecodedBase& base) {
  image = Unpremultiply(image, base.format);
  if (base.srgb) return image;
  if (!base.icc.empty()) {
    // `base` owns the bytes and outlives every image made here.
    image.set(VIPS_META_ICC_NAME, static_cast<VipsCallbackFn>(nullptr),
              const_cast<char*>(base.icc.data()), base.icc.size());
  }
  return ToSrgb(image);
}

// Turns an upright-sized resize into the stored axes of the base.
Size StoredSize(Size upright, const ImageInfo& info) {
  return OrientationSwapsAxes(info.orientation) ? Size{upright.height, upright.width} : upright;
}

// Orients, crops or pads, and flattens one resized sRGB frame.
VImage FinishFrame(VImage frame, const VariantPlan& plan, const Variant& v, Format format,
                   bool animated) {
  frame = Orient(frame);
  switch (plan.finish) {
    case VariantPlan::Finish::kCrop: {
      // Smart crop per frame would make an animation jump around; frames crop centrally.
      const bool smart = v.gravity == Gravity::kAttention || v.gravity == Gravity::kEntropy;
      frame = CropToBox(frame, plan.box, animated && smart ? Gravity::kCentre : v.gravity);
      break;
    }
    case VariantPlan::Finish::kEmbed:
      frame = EmbedInBox(frame, plan.box, v.gravity, v.background);
      break;
    case VariantPlan::Finish::kNone:
      break;
  }
  return SupportsAlpha(format) ? frame : Flatten(frame, v.background);
}

// Every frame of an animated input, resized and finished one by one, joined again.
//
// libvips checks an image's links to every image it reads and every image reading it
// (g_slist_find, from vips_region_new's sanity check) each time a region is made on it. One
// base read by N frame pipelines and one join of N frames cost O(N) per region, which made
// 2000 frames of 1x1 cost 26 s of CPU. So frames are cut from, and joined into, groups of
// about sqrt(N): no image has more than about sqrt(N) links.
VImage AnimatedOutput(const DecodedBase& base, const ImageInfo& info, const VariantPlan& plan,
                      const Variant& v, Format format) {
  const Size stored = StoredSize(plan.scaled, info);
  const int frame_height = base.image.height() / base.frames;
  const int group = std::max(1, static_cast<int>(std::ceil(std::sqrt(double(base.frames)))));
  auto join = [](const std::vector<VImage>& images) {
    return images.size() == 1 ? images.front()
                              : VImage::arrayjoin(images, VImage::option()->set("across", 1));
  };
  std::vector<VImage> groups;
  int out_frame_height = 0;
  for (int first = 0; first < base.frames; first += group) {
    const int n = std::min(group, base.frames - first);
    const VImage strip =
        base.image.extract_area(0, first * frame_height, base.image.width(), n * frame_height);
    std::vector<VImage> frames;
    frames.reserve(n);
    for (int i = 0; i < n; ++i) {
      VImage frame =
          Premultiply(strip.extract_area(0, i * frame_height, strip.width(), frame_height));
      frame = Resize(frame, double(stored.width) / frame.width(),
                     double(stored.height) / frame.height());
      frames.push_back(FinishFrame(ResizedToSrgb(frame, base), plan, v, format, true));
    }
    out_frame_height = frames.front().height();
    // Made now, group by group: libvips frees a pipeline's buffers only when its image
    // goes, so joining every frame's pipeline first held all of them at once (about 6 MB a
    // frame of 1000x1000: 100 frames took 600 MB more than their base).
    groups.push_back(join(frames).copy_memory());
  }
  // arrayjoin makes every cell as large as its largest input: a shorter last group is
  // joined on its own.
  std::optional<VImage> last;
  if (groups.size() > 1 && groups.back().height() != groups.front().height()) {
    last = groups.back();
    groups.pop_back();
  }
  VImage out = join(groups);
  if (last) out = out.join(*last, VIPS_DIRECTION_VERTICAL);
  WatchDeadline(out, base.deadline);  // its groups are memory copies, watched by nothing
  out.set(VIPS_META_PAGE_HEIGHT, out_frame_height);
  if (base.image.get_typeof("delay") != 0) {
    std::vector<int> delay = base.image.get_array_int("delay");
    delay.resize(base.frames, delay.empty() ? 100 : delay.back());
    out.set("delay", delay);
  }
  if (base.image.get_typeof("loop") != 0) out.set("loop", base.image.get_int("loop"));
  return out;
}

// A resized, sRGB, not yet oriented image kept in memory for smaller variants to start from.
struct Intermediate {
  VImage image;  // plain (not premultiplied) 8-bit sRGB, stored axes
};

}  // namespace

VOption* SafeLoadOptions() {
  return VImage::option()
      ->set("access", VIPS_ACCESS_SEQUENTIAL)
      ->set("fail_on", VIPS_FAIL_ON_WARNING);
}

bool WantsAnimation(const Variant& v, const ImageInfo& info) {
  if (!v.animated || info.pages < 2) return false;
  const Format f = ResolveFormat(v.format, info.format, info.has_alpha);
  return f == Format::kGif || f == Format::kWebp;
}

DecodedBase DecodeBase(std::span<const std::byte> input, const ImageInfo& info, double scale,
                       int frames, Deadline deadline, bool ignore_icc) {
  DecodedBase base;
  base.frames = frames;
  base.deadline = deadline;
  VImage image = VImage::new_from_buffer(input.data(), input.size(), "",
                                         DecodeOptions(info, scale, frames));
  if (ignore_icc) {
    image = image.copy();  // the loader's image may be shared through libvips' operation cache
    image.remove(VIPS_META_ICC_NAME);
  }
  WatchDeadline(image, deadline);
  base.format = image.format();
  // For formats without shrink-on-load (PNG, TIFF, GIF, HEIF...) a streaming box shrink
  // keeps the in-memory base small; animations are kept whole so frames stay aligned.
  const double remaining = scale * info.width / image.width();
  const int factor = frames > 1 ? 1 : BaseShrinkFactor(remaining);
  if (factor > 1) image = Unpremultiply(Premultiply(image).shrink(factor, factor), base.format);
  if (frames > 1) {
    // Each frame would need its own colour transform set-up; convert the whole strip once.
    image = ToSrgb(image);
    base.format = VIPS_FORMAT_UCHAR;
    base.srgb = true;
  } else {
    // Copied now: some loaders' metadata blobs (libheif's) point into decoder memory that is
    // freed when decoding ends.
    base.icc = IccProfileOf(image);
  }
  base.image = image.copy_memory();
  // Only rendering metadata stays, so no EXIF, XMP or ICC can reach an output, and no blob
  // left pointing into freed decoder memory can be read by a saver.
  KeepOnlyRenderingMetadata(base.image);
  WatchDeadline(base.image, deadline);  // a memory copy is watched by nothing upstream
  return base;
}

std::vector<Rendition> MakeRenditions(const DecodedBase& base, const ImageInfo& info,
                                      const std::vector<VariantPlan>& plans, const Recipe& recipe) {
  // Largest first, so that each variant can start from a bigger one already made.
  std::vector<size_t> order(plans.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return int64_t(plans[a].scaled.width) * plans[a].scaled.height >
           int64_t(plans[b].scaled.width) * plans[b].scaled.height;
  });
  const bool animated_input = base.frames > 1;
  std::vector<Intermediate> made;
  std::vector<Rendition> renditions(plans.size());
  for (size_t position = 0; position < order.size(); ++position) {
    const size_t i = order[position];
    const Variant& v = recipe.variants[i];
    const VariantPlan& plan = plans[i];
    Rendition& r = renditions[i];
    r.variant = v.name;
    r.format = ResolveFormat(v.format, info.format, info.has_alpha);

    VImage out;
    if (WantsAnimation(v, info) && animated_input) {
      out = AnimatedOutput(base, info, plan, v, r.format);
      r.pages = base.frames;
    } else {
      const Size stored = StoredSize(plan.scaled, info);
      // The smallest image already made that is still big enough, else the base.
      const Intermediate* from = nullptr;
      for (const Intermediate& m : made) {
        if (m.image.width() >= kCascadeHeadroom * stored.width &&
            m.image.height() >= kCascadeHeadroom * stored.height &&
            (from == nullptr || m.image.width() < from->image.width())) {
          from = &m;
        }
      }
      VImage resized;
      if (from != nullptr) {
        resized = Unpremultiply(Resize(Premultiply(from->image), double(stored.width) / from->image.width(),
                                       double(stored.height) / from->image.height()),
                                VIPS_FORMAT_UCHAR);
      } else {
        VImage first = Premultiply(animated_input
                                       ? base.image.extract_area(0, 0, base.image.width(),
                                                                 base.image.height() / base.frames)
                                       : base.image);
        resized = ResizedToSrgb(Resize(first, double(stored.width) / first.width(),
                                       double(stored.height) / first.height()),
                                base);
      }
      // Keep it for the smaller variants still to come, if any could start from it.
      const bool useful_later = std::any_of(order.begin() + position + 1, order.end(), [&](size_t j) {
        const Size s = StoredSize(plans[j].scaled, info);
        return resized.width() >= kCascadeHeadroom * s.width &&
               resized.height() >= kCascadeHeadroom * s.height;
      });
      if (useful_later) {
        resized = resized.copy_memory();
        WatchDeadline(resized, base.deadline);
        made.push_back({resized});
      }
      out = FinishFrame(resized, plan, v, r.format, false);
    }
    r.width = out.width();
    r.height = out.height() / r.pages;
    r.bytes = Encode(out, r.format, v);
  }
  return renditions;
}

}  // namespace thumbpipe::image
