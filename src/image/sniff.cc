#include "image/sniff.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace thumbpipe::image {
namespace {

std::string_view View(std::span<const std::byte> data, size_t offset, size_t n) {
  if (offset > data.size() || data.size() - offset < n) return {};
  return {reinterpret_cast<const char*>(data.data()) + offset, n};
}

uint8_t Byte(std::span<const std::byte> data, size_t i) { return static_cast<uint8_t>(data[i]); }

uint32_t Be32(std::span<const std::byte> data, size_t i) {
  return uint32_t(Byte(data, i)) << 24 | uint32_t(Byte(data, i + 1)) << 16 |
         uint32_t(Byte(data, i + 2)) << 8 | uint32_t(Byte(data, i + 3));
}

// ISO BMFF (HEIF/AVIF): "ftyp" box with a major brand and compatible brands. AVIF is
// AV1-coded HEIF; everything else HEIF-branded is treated as HEIF (HEVC).
InputFormat SniffIsoBmff(std::span<const std::byte> data) {
  if (View(data, 4, 4) != "ftyp" || data.size() < 16) return InputFormat::kUnknown;
  const size_t box_size = std::min<size_t>(Be32(data, 0), std::min<size_t>(data.size(), 256));
  auto is_avif = [](std::string_view b) { return b == "avif" || b == "avis"; };
  auto is_heif = [](std::string_view b) {
    return b == "heic" || b == "heix" || b == "hevc" || b == "hevx" || b == "heim" ||
           b == "heis" || b == "mif1" || b == "msf1";
  };
  const std::string_view major = View(data, 8, 4);
  if (is_avif(major)) return InputFormat::kAvif;
  bool heif = is_heif(major);
  for (size_t off = 16; off + 4 <= box_size; off += 4) {
    const std::string_view brand = View(data, off, 4);
    if (is_avif(brand)) return InputFormat::kAvif;
    heif = heif || is_heif(brand);
  }
  return heif ? InputFormat::kHeif : InputFormat::kUnknown;
}

bool LooksLikeSvg(std::span<const std::byte> data) {
  // SVG is XML: allow a BOM, whitespace, an XML declaration, comments and a doctype before
  // the <svg element, within the first few KB (as librsvg's own sniffing does).
  const std::string_view head = View(data, 0, std::min<size_t>(data.size(), 4096));
  size_t i = head.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  while (i < head.size() && std::strchr(" \t\r\n", head[i]) != nullptr) ++i;
  if (head.substr(i, 1) != "<") return false;
  return head.find("<svg", i) != std::string_view::npos;
}

}  // namespace

InputFormat SniffFormat(std::span<const std::byte> data) {
  if (View(data, 0, 3) == "\xFF\xD8\xFF") return InputFormat::kJpeg;
  if (View(data, 0, 8) == "\x89PNG\r\n\x1A\n") return InputFormat::kPng;
  if (View(data, 0, 6) == "GIF87a" || View(data, 0, 6) == "GIF89a") return InputFormat::kGif;
  if (View(data, 0, 4) == "RIFF" && View(data, 8, 4) == "WEBP") return InputFormat::kWebp;
  const std::string_view tiff = View(data, 0, 4);
  if (tiff == std::string_view("II*\0", 4) || tiff == std::string_view("MM\0*", 4) ||
      tiff == std::string_view("II+\0", 4) || tiff == std::string_view("MM\0+", 4)) {
    return InputFormat::kTiff;
  }
  if (InputFormat f = SniffIsoBmff(data); f != InputFormat::kUnknown) return f;
  if (View(data, 0, 5) == "%PDF-") return InputFormat::kPdf;
  if (LooksLikeSvg(data)) return InputFormat::kSvg;
  return InputFormat::kUnknown;
}

namespace {

// From the SOF's component table at `at`: 3 bytes per component, the second holding its
// horizontal (high nibble) and vertical (low nibble) sampling factors.
double CodedSamplesPerPixel(std::span<const std::byte> data, size_t at, int components) {
  if (components < 1 || at + 3 * size_t(components) > data.size()) return components;
  int h_max = 0, v_max = 0;
  for (int c = 0; c < components; ++c) {
    const uint8_t factors = Byte(data, at + 3 * c + 1);
    if ((factors >> 4) == 0 || (factors & 0xF) == 0) return components;
    h_max = std::max(h_max, factors >> 4);
    v_max = std::max(v_max, factors & 0xF);
  }
  double samples = 0;
  for (int c = 0; c < components; ++c) {
    const uint8_t factors = Byte(data, at + 3 * c + 1);
    samples += double(factors >> 4) * (factors & 0xF) / (h_max * v_max);
  }
  return samples;
}

}  // namespace

std::optional<JpegFrame> ReadJpegFrame(std::span<const std::byte> data) {
  if (View(data, 0, 2) != "\xFF\xD8") return std::nullopt;
  size_t i = 2;
  while (i + 4 <= data.size()) {
    if (Byte(data, i) != 0xFF) return std::nullopt;  // markers must be contiguous
    const uint8_t marker = Byte(data, i + 1);
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no-length markers
      i += 2;
      continue;
    }
    if (marker == 0xD9 || marker == 0xDA) return std::nullopt;  // EOI or scan before any SOF
    const size_t length = size_t(Byte(data, i + 2)) << 8 | Byte(data, i + 3);
    if (length < 2) return std::nullopt;
    const bool is_sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
                        marker != 0xCC;
    if (is_sof) {
      if (i + 10 > data.size() || length < 8) return std::nullopt;
      JpegFrame frame;
      frame.sof = marker - 0xC0;
      frame.height = int(Byte(data, i + 5)) << 8 | Byte(data, i + 6);
      frame.width = int(Byte(data, i + 7)) << 8 | Byte(data, i + 8);
      frame.components = Byte(data, i + 9);
      frame.coded_samples_per_pixel = CodedSamplesPerPixel(data, i + 10, frame.components);
      return frame;
    }
    i += 2 + length;
  }
  return std::nullopt;
}

GifBlocks ScanGif(std::span<const std::byte> data) {
  GifBlocks out;  // truncated until the walk ends cleanly
  // Header (6) + logical screen descriptor (7), then the optional global colour table.
  if (data.size() < 13) return out;
  out.screen_width = Byte(data, 6) | Byte(data, 7) << 8;
  out.screen_height = Byte(data, 8) | Byte(data, 9) << 8;
  size_t i = 13;
  const uint8_t screen_flags = Byte(data, 10);
  if (screen_flags & 0x80) i += 3u << ((screen_flags & 0x07) + 1);
  // Skips data sub-blocks (length byte + bytes) up to and including the 0 terminator.
  auto skip_sub_blocks = [&]() {
    while (i < data.size()) {
      const uint8_t length = Byte(data, i);
      i += 1 + length;
      if (length == 0) return true;
    }
    return false;
  };
  while (i < data.size()) {
    const uint8_t introducer = Byte(data, i);
    if (introducer == 0x3B) {  // trailer
      out.truncated = out.frames == 0;
      return out;
    }
    if (introducer == 0x21) {  // extension: label, then sub-blocks
      i += 2;
      if (!skip_sub_blocks()) return out;
    } else if (introducer == 0x2C) {  // image descriptor (10), local colour table, LZW code size
      if (i + 10 > data.size()) return out;
      const uint8_t image_flags = Byte(data, i + 9);
      i += 10;
      if (image_flags & 0x80) i += 3u << ((image_flags & 0x07) + 1);
      i += 1;
      if (i > data.size() || !skip_sub_blocks()) return out;
      ++out.frames;
    } else {
      return out;  // not a block: damaged (the decoder would stop here too)
    }
  }
  out.truncated = i > data.size() || out.frames == 0;
  return out;
}

std::optional<bool> PngInterlaced(std::span<const std::byte> data) {
  // Signature (8) + IHDR length (4) + "IHDR" (4) + width, height, depth, colour type,
  // compression, filter (13 bytes of data up to the interlace byte at offset 28).
  if (data.size() < 29 || View(data, 12, 4) != "IHDR") return std::nullopt;
  return Byte(data, 28) == 1;
}

}  // namespace thumbpipe::image
