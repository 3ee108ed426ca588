// Output encoding: one function per format family, all stripping metadata (EXIF, XMP, IPTC,
// ICC: the pixels are already sRGB, which is what an untagged image means on the web).
#pragma once

#include <string>

#include <vips/vips8>

#include "image/limits.h"
#include "image/recipe.h"

namespace thumbpipe::image {

// The format actually written for a variant: `requested`, or for kOriginal the input's own
// format where we can write it (HEIF becomes JPEG: HEVC encoders are patent-encumbered and
// browsers cannot show HEIC; TIFF, SVG and PDF become PNG with alpha, JPEG without).
Format ResolveFormat(Format requested, InputFormat input, bool has_alpha);

// Encodes `image` (8-bit sRGB or grey, with alpha only when `format` supports it).
// REQUIRES: format != kOriginal. Throws vips::VError on encoder failure.
std::string Encode(const vips::VImage& image, Format format, const Variant& variant);

// Whether a format keeps an alpha channel.
bool SupportsAlpha(Format format);

}  // namespace thumbpipe::image
