// Input format detection from magic bytes, never from names or content types, plus the few
// header facts the engine needs before trusting a decoder: JPEG's coding process (libjpeg
// cannot decode lossless or hierarchical JPEG) and whether a JPEG/PNG is progressive (such
// images cannot be decoded in strips). Pure byte parsing, safe on any input.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

#include "image/limits.h"

namespace thumbpipe::image {

InputFormat SniffFormat(std::span<const std::byte> data);

struct JpegFrame {
  int sof = 0;  // the SOFn marker number: 0 baseline, 1 extended, 2 progressive, 3 lossless, ...
  int width = 0;
  int height = 0;
  int components = 0;
  // Samples coded per pixel, over all components: each component's sampling factors over
  // the largest ones (4:2:0 YCbCr 1 + 1/4 + 1/4 = 1.5, 4:4:4 3, greyscale 1). What a
  // progressive decode holds, as one 16-bit coefficient per coded sample. `components` when
  // the component table is cut short or a factor is 0.
  double coded_samples_per_pixel = 0;
  bool progressive() const { return sof == 2 || sof == 6 || sof == 10 || sof == 14; }
  // libjpeg-turbo decodes Huffman and arithmetic sequential/progressive DCT; not lossless
  // (SOF3, SOF7, SOF11, SOF15) and not hierarchical (SOF5-7, SOF13-15).
  bool supported() const { return sof == 0 || sof == 1 || sof == 2 || sof == 9 || sof == 10; }
};

// Walks the JPEG markers up to the first SOFn. nullopt when none is found before the data
// ends (truncated or not a JPEG).
std::optional<JpegFrame> ReadJpegFrame(std::span<const std::byte> data);

// What a walk of a GIF's block structure finds. `truncated`: the stream ends inside a block
// (a cut-off frame or extension); libvips' GIF loader shows the frames it could read and
// reports no error, even with fail_on, so the engine checks the block structure itself. A
// stream that ends cleanly between blocks without the trailer byte is accepted, as browsers
// do; a stream without any frame is not. `frames`: image descriptors up to where the walk
// stopped.
struct GifBlocks {
  bool truncated = true;
  int frames = 0;
  int screen_width = 0;   // the logical screen the file declares (0 if too short to say)
  int screen_height = 0;
};
GifBlocks ScanGif(std::span<const std::byte> data);

// PNG IHDR interlace method (Adam7). nullopt when there is no valid IHDR.
std::optional<bool> PngInterlaced(std::span<const std::byte> data);

}  // namespace thumbpipe::image
