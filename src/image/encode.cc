#include "image/encode.h"

#include <glib.h>
#include <webp/mux.h>

#include <memory>

namespace thumbpipe::image {
namespace {

using vips::VImage;
using vips::VOption;

// Defaults as in sharp, so that a recipe ported from sharp gives the same sizes.
constexpr int kJpegQuality = 80;
constexpr int kWebpQuality = 80;
constexpr int kAvifQuality = 50;

int QualityOr(const Variant& v, int fallback) { return v.quality > 0 ? v.quality : fallback; }

VOption* Common() { return VImage::option()->set("strip", true); }

// Calls a libvips "*save_buffer" operation and takes ownership of its output.
std::string SaveBuffer(const VImage& image, const char* operation, VOption* options) {
  VipsBlob* blob = nullptr;
  VImage::call(operation, options->set("in", image)->set("buffer", &blob));
  std::unique_ptr<VipsBlob, void (*)(VipsBlob*)> owned(
      blob, [](VipsBlob* b) { vips_area_unref(VIPS_AREA(b)); });
  size_t length = 0;
  const void* data = vips_blob_get(blob, &length);
  return std::string(static_cast<const char*>(data), length);
}

// libvips 8.14's webpsave ignores `strip` and, even for an image without metadata, writes a
// fresh 3 KB EXIF block (more than a small thumbnail itself). libwebpmux removes the EXIF,
// XMP and ICC chunks and fixes the container's flags; the pixels are not touched.
std::string StripWebpChunks(std::string webp) {
  WebPData input{reinterpret_cast<const uint8_t*>(webp.data()), webp.size()};
  std::unique_ptr<WebPMux, void (*)(WebPMux*)> mux(WebPMuxCreate(&input, 0), WebPMuxDelete);
  if (!mux) throw vips::VError("thumbpipe: webp output could not be parsed to strip metadata");
  for (const char* chunk : {"EXIF", "XMP ", "ICCP"}) {
    const WebPMuxError err = WebPMuxDeleteChunk(mux.get(), chunk);
    if (err != WEBP_MUX_OK && err != WEBP_MUX_NOT_FOUND) {
      throw vips::VError("thumbpipe: removing a webp metadata chunk failed");
    }
  }
  WebPData output;
  WebPDataInit(&output);
  if (WebPMuxAssemble(mux.get(), &output) != WEBP_MUX_OK) {
    throw vips::VError("thumbpipe: re-assembling webp output failed");
  }
  std::string stripped(reinterpret_cast<const char*>(output.bytes), output.size);
  WebPDataClear(&output);
  return stripped;
}

}  // namespace

bool SupportsAlpha(Format format) { return format != Format::kJpeg; }

Format ResolveFormat(Format requested, InputFormat input, bool has_alpha) {
  if (requested != Format::kOriginal) return requested;
  switch (input) {
    case InputFormat::kJpeg: return Format::kJpeg;
    case InputFormat::kPng: return Format::kPng;
    case InputFormat::kWebp: return Format::kWebp;
    case InputFormat::kGif: return Format::kGif;
    case InputFormat::kAvif: return Format::kAvif;
    default: return has_alpha ? Format::kPng : Format::kJpeg;
  }
}

std::string Encode(const VImage& image, Format format, const Variant& v) {
  switch (format) {
    case Format::kJpeg:
      return SaveBuffer(image, "jpegsave_buffer",
                        Common()
                            ->set("Q", QualityOr(v, kJpegQuality))
                            ->set("optimize_coding", true)
                            ->set("interlace", v.progressive));
    case Format::kPng: {
      VOption* options = Common()->set("compression", 6)->set("interlace", v.progressive);
      // A quality asks for a palette image (as in sharp): much smaller, lossy.
      if (v.quality > 0) {
        options->set("palette", true)->set("Q", v.quality)->set("effort", v.effort >= 1 ? v.effort : 7);
      }
      return SaveBuffer(image, "pngsave_buffer", options);
    }
    case Format::kWebp:
      return StripWebpChunks(SaveBuffer(image, "webpsave_buffer",
                                        Common()
                                            ->set("Q", QualityOr(v, kWebpQuality))
                                            ->set("effort", v.effort >= 0 ? v.effort : 4)));
    case Format::kAvif:
      return SaveBuffer(image, "heifsave_buffer",
                        Common()
                            ->set("Q", QualityOr(v, kAvifQuality))
                            ->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1)
                            ->set("effort", v.effort >= 0 ? v.effort : 4));
    case Format::kGif:
      return SaveBuffer(image, "gifsave_buffer",
                        Common()->set("effort", v.effort >= 1 ? v.effort : 7));
    case Format::kOriginal: break;
  }
  throw vips::VError("thumbpipe: unresolved output format");
}

}  // namespace thumbpipe::image
