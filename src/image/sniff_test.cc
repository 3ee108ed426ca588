#include "image/sniff.h"

#include <gtest/gtest.h>

#include <string>

namespace thumbpipe::image {
namespace {

std::span<const std::byte> B(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(SniffTest, RecognisesMagicBytes) {
  EXPECT_EQ(SniffFormat(B("\xFF\xD8\xFF\xE0 rest")), InputFormat::kJpeg);
  EXPECT_EQ(SniffFormat(B("\x89PNG\r\n\x1A\n....")), InputFormat::kPng);
  EXPECT_EQ(SniffFormat(B("GIF89a....")), InputFormat::kGif);
  EXPECT_EQ(SniffFormat(B(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16))), InputFormat::kWebp);
  EXPECT_EQ(SniffFormat(B(std::string("II*\0\x08\0\0\0", 8))), InputFormat::kTiff);
  EXPECT_EQ(SniffFormat(B(std::string("\0\0\0\x1C" "ftypavif\0\0\0\0mif1miaf", 28))), InputFormat::kAvif);
  EXPECT_EQ(SniffFormat(B(std::string("\0\0\0\x18" "ftypheic\0\0\0\0mif1", 24))), InputFormat::kHeif);
  EXPECT_EQ(SniffFormat(B(std::string("\0\0\0\x18" "ftypmif1\0\0\0\0avif", 24))), InputFormat::kAvif);
  EXPECT_EQ(SniffFormat(B("%PDF-1.4")), InputFormat::kPdf);
  EXPECT_EQ(SniffFormat(B("\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<svg xmlns=...")), InputFormat::kSvg);
}

TEST(SniffTest, NamesAndContentAreIgnoredWhenMagicIsUnknown) {
  for (const char* s : {"", "P6\n1 1\n255\n...", "BM....", "8BPS....", "<html><body>", "hello.jpg"}) {
    EXPECT_EQ(SniffFormat(B(s)), InputFormat::kUnknown) << s;
  }
}

TEST(SniffTest, ReadsTheJpegFrameHeader) {
  // SOI, APP0 (length 4), SOF2 progressive 300x200, 3 components.
  const std::string jpeg("\xFF\xD8\xFF\xE0\x00\x04\x00\x00\xFF\xC2\x00\x11\x08\x00\xC8\x01\x2C\x03", 18);
  std::optional<JpegFrame> f = ReadJpegFrame(B(jpeg));
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->sof, 2);
  EXPECT_TRUE(f->progressive());
  EXPECT_TRUE(f->supported());
  EXPECT_EQ(f->width, 300);
  EXPECT_EQ(f->height, 200);
  EXPECT_EQ(f->components, 3);
}

// SOF2 of 16x16 with `components` entries of id, sampling factors, table; `cut` drops that
// many bytes from the end.
std::string ProgressiveFrame(const std::string& components, size_t cut = 0) {
  const int n = static_cast<int>(components.size() / 3);
  std::string sof("\xFF\xD8\xFF\xC2", 4);
  const size_t length = 8 + components.size();
  sof += static_cast<char>(length >> 8);
  sof += static_cast<char>(length & 0xFF);
  sof += std::string("\x08\x00\x10\x00\x10", 5);
  sof += static_cast<char>(n);
  sof += components;
  return sof.substr(0, sof.size() - cut);
}

TEST(SniffTest, CountsTheSamplesCodedPerPixelFromTheSamplingFactors) {
  const auto samples = [](const std::string& frame) {
    std::optional<JpegFrame> f = ReadJpegFrame(B(frame));
    return f ? f->coded_samples_per_pixel : -1.0;
  };
  // 4:2:0: Y 2x2, Cb and Cr 1x1.
  EXPECT_DOUBLE_EQ(samples(ProgressiveFrame(std::string("\x01\x22\x00\x02\x11\x01\x03\x11\x01", 9))), 1.5);
  // 4:2:2: Y 2x1.
  EXPECT_DOUBLE_EQ(samples(ProgressiveFrame(std::string("\x01\x21\x00\x02\x11\x01\x03\x11\x01", 9))), 2.0);
  EXPECT_DOUBLE_EQ(samples(ProgressiveFrame(std::string("\x01\x11\x00\x02\x11\x01\x03\x11\x01", 9))), 3.0);
  EXPECT_DOUBLE_EQ(samples(ProgressiveFrame(std::string("\x01\x11\x00", 3))), 1.0);
  // A factor of 0, or a table cut short: every component counted whole (the worst case).
  EXPECT_DOUBLE_EQ(samples(ProgressiveFrame(std::string("\x01\x22\x00\x02\x10\x01\x03\x11\x01", 9))), 3.0);
  EXPECT_DOUBLE_EQ(samples(ProgressiveFrame(std::string("\x01\x22\x00\x02\x11\x01\x03\x11\x01", 9), 2)), 3.0);
}

TEST(SniffTest, LosslessJpegIsUnsupported) {
  const std::string jpeg("\xFF\xD8\xFF\xC3\x00\x0B\x08\x00\x10\x00\x10\x01", 12);
  std::optional<JpegFrame> f = ReadJpegFrame(B(jpeg));
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->sof, 3);
  EXPECT_FALSE(f->supported());
}

TEST(SniffTest, TruncatedJpegHasNoFrame) {
  EXPECT_FALSE(ReadJpegFrame(B("\xFF\xD8\xFF\xE0\x00\x10")).has_value());
  EXPECT_FALSE(ReadJpegFrame(B("\xFF\xD8\xFF\xDA\x00\x04\x00\x00")).has_value());
}

TEST(SniffTest, PngInterlaceFlag) {
  std::string png = "\x89PNG\r\n\x1A\n";
  png += std::string("\0\0\0\x0D", 4) + "IHDR" + std::string("\0\0\0\x10\0\0\0\x10\x08\x02\0\0", 12);
  EXPECT_EQ(PngInterlaced(B(png + std::string(1, '\x01'))), std::optional<bool>(true));
  EXPECT_EQ(PngInterlaced(B(png + std::string(1, '\0'))), std::optional<bool>(false));
  EXPECT_FALSE(PngInterlaced(B(png)).has_value());
}

}  // namespace
}  // namespace thumbpipe::image

namespace thumbpipe::image {
namespace {

// GIF89a, 1x1 screen with a 2-colour global table, one 1x1 frame, trailer.
const std::string kTinyGif(
    "GIF89a\x01\x00\x01\x00\x80\x00\x00"  // header + screen descriptor (global table, 2 colours)
    "\x00\x00\x00\xff\xff\xff"            // global colour table
    "\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00"  // image descriptor
    "\x02\x02\x44\x01\x00"                // LZW min code size, one sub-block, terminator
    "\x3b",
    35);

TEST(ScanGifTest, CompleteStreamIsAccepted) {
  EXPECT_FALSE(ScanGif(B(kTinyGif)).truncated);
  // Ending cleanly after the last frame without the trailer is tolerated, as browsers do.
  EXPECT_FALSE(ScanGif(B(kTinyGif.substr(0, kTinyGif.size() - 1))).truncated);
}

TEST(ScanGifTest, EveryCutInsideABlockIsTruncation) {
  for (size_t n = 0; n < kTinyGif.size() - 1; ++n) {
    EXPECT_TRUE(ScanGif(B(kTinyGif.substr(0, n))).truncated) << "cut at " << n;
  }
}

}  // namespace
}  // namespace thumbpipe::image
