// The image operations of the engine, one free function per step, each taking an image and
// returning a new one (libvips images are immutable and reference-counted, so passing by
// value is cheap). engine.cc lists them in order. These may throw vips::VError; the engine
// catches it at its boundary.
#pragma once

#include <vips/vips8>

#include "image/geometry.h"
#include "image/recipe.h"

namespace thumbpipe::image {

using vips::VImage;

// Whether the last band is alpha (grey + alpha, or RGB/CMYK + alpha).
bool HasAlpha(const VImage& image);

// Multiplies colour by alpha (in float) so that resampling does not bleed the colour of
// transparent pixels into visible ones. No-op without alpha.
VImage Premultiply(VImage image);
// Undoes Premultiply and returns to `format` (the band format before premultiplying).
VImage Unpremultiply(VImage image, VipsBandFormat format);

// Resizes by independent horizontal and vertical factors with lanczos3.
VImage Resize(VImage image, double hscale, double vscale);

// Applies the image's EXIF orientation tag (1-8) to the pixels and clears the tag.
VImage Orient(VImage image);

// Converts to 8-bit sRGB (or 8-bit grey for greyscale input): through the embedded ICC
// profile when there is one, through libvips' built-in CMYK profile for untagged CMYK.
// Alpha is kept. The result carries no ICC profile.
VImage ToSrgb(VImage image);

// Whether ToSrgb can use `image`'s embedded ICC profile (true when it has none). libvips
// falls back to a built-in profile by itself when one fails to load or does not fit the
// pixels, but a profile that loads and then cannot be linked (a damaged tag) fails the
// transform. Tried on one pixel of the same kind, so the answer is this call's own and not
// read from libvips' error text, which is process-wide.
bool EmbeddedProfileConverts(const VImage& image);

// Removes every metadata field except what rendering needs (orientation, and page-height,
// delay and loop for animations): no EXIF, XMP, IPTC or ICC can reach an output, whatever a
// saver does with its `strip` option. Modifies `image` in place. REQUIRES: `image` is not
// shared (e.g. fresh from copy_memory).
void KeepOnlyRenderingMetadata(VImage& image);

// Crops `image` to `box` at `gravity`; attention/entropy use libvips smartcrop.
VImage CropToBox(VImage image, Size box, Gravity gravity);

// Places `image` on a `box`-sized canvas of `background` at `gravity` (centre for the
// smart gravities). Adds an alpha band when the background is not opaque.
VImage EmbedInBox(VImage image, Size box, Gravity gravity, Colour background);

// Composites alpha onto `background`, for formats without alpha. No-op without alpha.
VImage Flatten(VImage image, Colour background);

}  // namespace thumbpipe::image
