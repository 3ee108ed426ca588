// A Recipe says what renditions to make of one source image: a list of named Variants.
// The fields mean what they mean in sharp's resize() and output options, so that people
// who know sharp can read a thumbpipe config without a manual.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace thumbpipe::image {

// How the image is fitted into width x height (sharp's `fit`). Sizes are computed on the
// upright (EXIF-oriented) input of W x H; a scale s gives round(W*s) x round(H*s), at least 1.
// When only one of width/height is set, every fit scales to that one dimension and derives
// the other from the aspect ratio. With enlarge = false no scale factor exceeds 1, so:
//   cover    s = max(w/W, h/H) (<= 1), then crop to min(w, W*s) x min(h, H*s)
//   contain  s = min(w/W, h/H) (<= 1), then pad to exactly w x h
//   inside   s = min(w/W, h/H) (<= 1)
//   outside  s = max(w/W, h/H) (<= 1)
//   fill     sx = w/W, sy = h/H, each <= 1
enum class Fit {
  kCover,    // keep aspect, fill the box, crop the overflow (by gravity): exactly w x h
  kContain,  // keep aspect, fit inside the box, pad with background: exactly w x h
  kInside,   // keep aspect, as large as possible within the box: <= w x h
  kOutside,  // keep aspect, as small as possible covering the box: >= w x h
  kFill,     // ignore aspect, stretch to exactly w x h
};

// Which part to keep when cover crops, or where contain places the image.
enum class Gravity {
  kCentre, kNorth, kNorthEast, kEast, kSouthEast, kSouth, kSouthWest, kWest, kNorthWest,
  kAttention,  // libvips smartcrop: skin tones, saturation, edges (cover only)
  kEntropy,    // libvips smartcrop: the busiest region (cover only)
};

enum class Format { kJpeg, kPng, kWebp, kAvif, kGif, kOriginal };

// An sRGB colour with alpha, 0-255 per channel.
struct Colour {
  uint8_t r = 255, g = 255, b = 255, a = 255;
  friend bool operator==(const Colour&, const Colour&) = default;
};

struct Variant {
  std::string name;            // also the output folder name; [A-Za-z0-9_-]{1,64}
  int width = 0;               // 0 = derived from height and the aspect ratio
  int height = 0;              // 0 = derived from width and the aspect ratio
  Fit fit = Fit::kCover;
  Gravity gravity = Gravity::kCentre;
  bool enlarge = false;        // allow output larger than the (oriented) input
  Format format = Format::kOriginal;
  int quality = 0;             // 1-100; 0 = the format's default (jpeg 80, webp 80, avif 50)
  int effort = -1;             // encoder CPU effort; -1 = default (webp 0-6: 4, avif 0-9: 4, png 1-10: 7, gif 1-10: 7)
  bool progressive = false;    // jpeg: progressive scans; png: Adam7 interlace
  Colour background{};         // contain padding and alpha flattening (jpeg); default opaque white
  bool animated = false;       // gif/webp output keeps every frame (up to limits.max_frames)
};

struct Recipe {
  std::vector<Variant> variants;
};

// Names as written in config and on the command line ("cover", "north_east", "webp").
std::string_view FitName(Fit fit);
std::string_view GravityName(Gravity gravity);
std::string_view FormatName(Format format);
Result<Fit> ParseFit(std::string_view text);
Result<Gravity> ParseGravity(std::string_view text);  // also accepts "center", "northeast"
Result<Format> ParseFormat(std::string_view text);    // also accepts "jpg"
// "#rrggbb" or "#rrggbbaa".
Result<Colour> ParseColour(std::string_view text);

// File extension (without the dot) for an output format. REQUIRES: format != kOriginal.
std::string_view FormatExtension(Format format);

// Checks one variant for values outside their ranges; the message names the field.
Status ValidateVariant(const Variant& v);
// Checks every variant and that names are unique and the list is not empty.
Status ValidateRecipe(const Recipe& recipe);

// Parses the command-line shorthand NAME:WxH[:fit[:format[:quality]]], e.g.
// "small:128x128:cover:webp:75". W or H may be empty ("wide:800x").
Result<Variant> ParseVariantSpec(std::string_view spec);

}  // namespace thumbpipe::image
