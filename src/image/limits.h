// What the engine accepts from outside: input formats (decided by magic bytes) and the
// limits that keep hostile input from exhausting the machine. Plain data, no libvips, so
// that config/ can fill it in.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/duration.h"
#include "common/result.h"

namespace thumbpipe::image {

// Input formats, as decided by magic bytes.
enum class InputFormat { kJpeg, kPng, kWebp, kGif, kTiff, kHeif, kAvif, kSvg, kPdf, kUnknown };

struct Limits {
  uint64_t max_input_bytes = 64ull << 20;        // whole encoded input
  uint64_t max_input_pixels = 100'000'000;       // width x height, summed over decoded frames
  int max_frames = 100;                          // frames decoded for animated output
  // Progressive JPEG and interlaced PNG cannot be decoded in strips: libvips must hold the
  // whole image (for JPEG, every DCT coefficient) in memory. Above this many pixels such
  // inputs are refused as kTooLarge instead of risking the process's memory.
  uint64_t max_interlaced_pixels = 30'000'000;
  // Wall time one Thumbnail call may take; past it libvips stops between tiles and the input
  // is refused as kTooLarge (a permanent failure: an input that costs this much is hostile or
  // far outside what the limits above mean to allow). About 300x what a 24 MP photo takes on
  // one core here, so a loaded machine does not trip it.
  Duration max_processing_time = std::chrono::minutes(2);
  // Formats accepted. svg and pdf are also untrusted libvips loaders: listing them here
  // unblocks their loaders.
  std::vector<InputFormat> allowed_formats = {InputFormat::kJpeg, InputFormat::kPng,
                                              InputFormat::kWebp, InputFormat::kGif,
                                              InputFormat::kTiff, InputFormat::kHeif,
                                              InputFormat::kAvif};
};

std::string_view InputFormatName(InputFormat f);   // "jpeg", "png", ..., "unknown"
Result<InputFormat> ParseInputFormat(std::string_view text);  // "heif" and "avif" are distinct

}  // namespace thumbpipe::image
