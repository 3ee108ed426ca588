#include "image/memory_estimate.h"

#include "image/geometry.h"

namespace thumbpipe::image {
namespace {

constexpr double kPipelineBytes = 32.0 * (1 << 20);  // libvips' buffers, encoders, at most

int ColourBands(const ImageInfo& info) {
  if (info.colourspace == "b-w" || info.colourspace == "grey16") return 1;
  if (info.colourspace == "cmyk") return 4;
  return 3;
}

// What the decoder itself holds while it runs, per pixel of one frame as decoded.
double DecoderBytesPerPixel(const ImageInfo& info, int bands, int sample_bytes) {
  switch (info.format) {
    case InputFormat::kHeif:
    case InputFormat::kAvif:
      // 2.2 measured on 4 KiB pages; with the transparent huge pages that thumbpipe's jemalloc
      // asks for (src/common/jemalloc_options.cc) the decoders' sparsely touched buffers are
      // backed 2 MiB at a time: 2.9 measured (bench/README.md, "Job memory").
      return 3.2 * bands * sample_bytes;
    case InputFormat::kJpeg:
      // Progressive: a coefficient (2 bytes) for every coded sample, full size whatever the
      // shrink-on-load: 1.5 samples a pixel for 4:2:0 YCbCr, 3 for 4:4:4.
      return info.interlaced
                 ? 2.2 * (info.jpeg_coded_samples > 0 ? info.jpeg_coded_samples : ColourBands(info))
                 : 0.5;
    case InputFormat::kPng:
      return info.interlaced ? 1.5 * bands * sample_bytes : 0.5 * sample_bytes;
    case InputFormat::kGif:
      return 6.0;
    case InputFormat::kWebp:
      return 10.0;  // RGBA at the decode scale, libvips' copy of it, huge-page slack
    default:
      return 0.5 * sample_bytes;  // read in strips (TIFF) or rendered at scale (SVG, PDF)
  }
}

}  // namespace

uint64_t EstimateJobMemory(const ImageInfo& info, int frames, double scale, uint64_t input_bytes) {
  const int sample_bytes = info.bits > 8 ? 2 : 1;
  const int bands = ColourBands(info) + (info.has_alpha ? 1 : 0);
  const double frame_pixels = double(info.width) * double(info.height);

  // Shrink-on-load: JPEG decodes at 1/2, 1/4 or 1/8 (its coefficients stay full size), WebP
  // at any integer scale.
  const bool loads_shrunk = info.format == InputFormat::kWebp ||
                            (info.format == InputFormat::kJpeg && !info.interlaced);
  const int load_shrink = loads_shrunk ? JpegShrinkFactor(scale) : 1;
  const double loaded_pixels = frame_pixels / (double(load_shrink) * load_shrink);
  const double decoder_pixels =
      info.format == InputFormat::kJpeg && info.interlaced ? frame_pixels : loaded_pixels;
  const double decoder = decoder_pixels * DecoderBytesPerPixel(info, bands, sample_bytes);

  double base;
  if (frames > 1) {
    // Every frame, converted to 8-bit sRGB and kept whole, and the animated output's frames
    // (at most as large) made beside it; 10% more for huge-page slack.
    base = 2.2 * loaded_pixels * frames * (3 + (info.has_alpha ? 1 : 0));
  } else {
    // After a streaming box shrink down to twice what the largest variant needs.
    const int factor = BaseShrinkFactor(scale * load_shrink);
    base = loaded_pixels / (double(factor) * factor) * bands * sample_bytes;
  }
  return static_cast<uint64_t>(kPipelineBytes + decoder + base) + input_bytes;
}

}  // namespace thumbpipe::image
