// From the input's bytes to every variant's encoded rendition: the one decode (the base) and
// the variants made from it. engine.cc checks the input first and calls these two in order.
// Both may throw vips::VError; the engine maps it to its error classes.
#pragma once

#include <span>
#include <string>
#include <vector>

#include <vips/vips8>

#include "image/deadline.h"
#include "image/engine.h"
#include "image/geometry.h"

namespace thumbpipe::image {

// The decoded source every variant is made from, held in memory.
struct DecodedBase {
  // Stored orientation, `frames` pages stacked, alpha *not* premultiplied: premultiplying
  // makes float (16 bytes a pixel for RGBA against 4), and an animation's base is kept
  // whole, so readers premultiply as they read (the same pixels, computed per read).
  vips::VImage image;
  VipsBandFormat format;    // the decoder's band format
  bool srgb = false;        // already converted to 8-bit sRGB (else each chain converts once)
  std::string icc;          // our copy of the embedded ICC profile, while not yet converted
  int frames = 1;
  Deadline deadline;        // the job's: images made from the base are watched against it
};

// Loader options for every load of untrusted input: refuse truncated or damaged data
// (libvips' default is to decode what it can and carry on), and read top to bottom once.
vips::VOption* SafeLoadOptions();

// Decodes once, with shrink-on-load (and a streaming box shrink for formats without it) down
// to what the largest variant needs (`scale` of the stored size), and keeps only rendering
// metadata. Colour conversion is left to the variants unless the input is animated. The decode,
// and every computation MakeRenditions makes from the base, stop once `deadline` has passed
// (a VError). With `ignore_icc`, the embedded ICC profile is dropped at once: the pixels are
// then converted as if the file had none.
DecodedBase DecodeBase(std::span<const std::byte> input, const ImageInfo& info, double scale,
                       int frames, Deadline deadline, bool ignore_icc = false);

// Makes every variant, largest first, each one from the smallest already-made image that is
// still at least twice its size (a cascade: the 512 px variant is resized from the 1024 px one,
// not from the base), so that most resampling and the colour transform touch few pixels.
// Returns renditions in recipe order.
std::vector<Rendition> MakeRenditions(const DecodedBase& base, const ImageInfo& info,
                                      const std::vector<VariantPlan>& plans, const Recipe& recipe);

// Whether a variant keeps every frame of an animated input.
bool WantsAnimation(const Variant& v, const ImageInfo& info);

}  // namespace thumbpipe::image
