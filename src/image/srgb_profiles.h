// Remembers which embedded ICC profiles are sRGB in all but name. Most camera and phone
// JPEGs embed an sRGB profile; converting through it changes nothing but costs a full lcms
// transform set-up (tens of ms) per image. Each distinct profile is tested once, by pushing
// a grid of colours through it, and the verdict is kept (bounded, thread-safe).
#pragma once

#include <vips/vips8>

namespace thumbpipe::image {

// True when `image` is 8-bit RGB tagged with a profile that maps every sRGB test colour to
// itself (within 1 level). Then its pixels are already sRGB and no transform is needed.
bool HasEffectivelySrgbProfile(const vips::VImage& image);

}  // namespace thumbpipe::image
