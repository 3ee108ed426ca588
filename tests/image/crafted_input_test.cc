// Crafted input (reliability catalogue section 6, items 3, 4 and 10): GIFs written byte by
// byte with a frame off the logical screen, palette indices past the colour table, thousands
// of frames, and more frame pixels than max_input_pixels; JPEGs whose EXIF loops or carries a
// 60 KB MakerNote. Each ends cleanly: renditions, or a permanent error (unsupported, corrupt,
// too_large); never a crash, a transient error or an internal one. Every fixture is first
// checked to be what it claims (its bytes, and libvips' own reading of them), so that no
// test passes on a fixture that lost its hostile part.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <vips/vips8>

#include "engine_test_support.h"

namespace thumbpipe::image::test {
namespace {

using namespace fixtures;

vips::VImage Header(const std::string& bytes) {
  return vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "");
}

int PagesOf(const vips::VImage& image) {
  return image.get_typeof("n-pages") ? image.get_int("n-pages") : 1;
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

void ExpectPermanent(const Status& status) {
  EXPECT_TRUE(status.code() == StatusCode::kUnsupported || status.code() == StatusCode::kCorrupt ||
              status.code() == StatusCode::kTooLarge)
      << status.ToString();
  EXPECT_TRUE(status.IsPermanent()) << status.ToString();
}

uint32_t Le32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int k = 3; k >= 0; --k) v = v << 8 | static_cast<uint8_t>(s.at(at + k));
  return v;
}
uint16_t Le16(const std::string& s, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(s.at(at)) | static_cast<uint8_t>(s.at(at + 1)) << 8);
}

// The canvas a GIF decoder that sizes to its frames shows: the logical screen grown to hold
// every frame rectangle (what libnsgif does, and Chromium for a first frame).
Size GrownCanvas(const std::string& gif) {
  Size canvas{Le16(gif, 6), Le16(gif, 8)};
  for (const GifFrameRect& r : GifFrameRects(gif)) {
    canvas.width = std::max(canvas.width, r.left + r.width);
    canvas.height = std::max(canvas.height, r.top + r.height);
  }
  return canvas;
}

// ---- Item 4: frames off the logical screen, palette indices past the colour table.

class CraftedGifTest : public EngineSuite<CraftedGifTest> {};

// The LZW writer every hand-made GIF uses: libvips decodes it to exactly the indices written
// (left half index 0, right half index 1), so the hostile GIFs differ from a valid one only
// in the one field each is about.
TEST_F(CraftedGifTest, HandMadeGifDecodesAsWritten) {
  std::vector<uint8_t> pixels;
  for (int i = 0; i < 64; ++i) pixels.push_back(i % 8 < 4 ? 0 : 1);
  const std::string gif = HandGif({8, 8, {kGifRed, kGifBlue}, {{0, 0, 8, 8, pixels}}});
  const vips::VImage decoded = ToSrgb8(Decode(gif));
  ASSERT_EQ((Size{decoded.width(), decoded.height()}), (Size{8, 8}));
  EXPECT_LT(ColourError(decoded, 0, 0, 4, 8, kGifRed), 1);
  EXPECT_LT(ColourError(decoded, 4, 0, 4, 8, kGifBlue), 1);
  const std::string many = ManyFrameGif(6);
  const vips::VImage frames = ToSrgb8(Decode(many, /*all_frames=*/true));
  ASSERT_EQ(PagesOf(frames), 6);
  for (int i = 0; i < 6; ++i) {
    EXPECT_LT(ColourError(frames, 0, i, 1, 1, i % 2 ? kGifBlue : kGifRed), 1) << "frame " << i;
  }
}

struct OffScreen {
  const char* name;
  int left, top, width, height;
  bool renders;  // what libvips 8.14 does: renditions, or else a permanent error
};

// The libvips#2176 shape and its neighbours, on a 16x16 screen.
constexpr OffScreen kOffScreen[] = {
    {"partly outside (12,12)", 12, 12, 8, 8, true},
    {"wholly outside (200,100)", 200, 100, 8, 8, true},
    {"larger than the screen", 0, 0, 40, 40, true},
    {"past 65535 on x: corrupt at decode", 65530, 0, 8, 8, false},
    {"at 65535,65535: too_large", 65535, 65535, 1, 1, false},
};

// libvips' GIF loader (libnsgif) deliberately sizes the canvas to hold every frame (a GIF
// with a 0x0 screen is common and shows its frames; libvips#2176 calls the offset case
// legal), and the engine keeps that: limits apply to that canvas, which the header already
// reports, so a few bytes cannot make a canvas the limits did not see. Each case therefore
// ends as a rendition of exactly that canvas or as a permanent error.
TEST_F(CraftedGifTest, FrameOffTheLogicalScreen) {
  for (const OffScreen& c : kOffScreen) {
    for (const bool animated : {false, true}) {
      SCOPED_TRACE(std::string(c.name) + (animated ? ", animated" : ""));
      const std::string gif = GifFrameOffScreen(c.left, c.top, c.width, c.height, animated);
      // The fixture: a 16x16 screen, and a first frame at the rectangle asked for.
      ASSERT_EQ((Size{Le16(gif, 6), Le16(gif, 8)}), (Size{kOffScreenCanvas, kOffScreenCanvas}));
      const std::vector<GifFrameRect> rects = GifFrameRects(gif);
      ASSERT_EQ(rects.size(), animated ? 3u : 1u);
      EXPECT_EQ((std::vector<int>{rects[0].left, rects[0].top, rects[0].width, rects[0].height}),
                (std::vector<int>{c.left, c.top, c.width, c.height}));
      ASSERT_TRUE(c.left + c.width > kOffScreenCanvas || c.top + c.height > kOffScreenCanvas);
      const Size canvas = GrownCanvas(gif);
      EXPECT_EQ((Size{Header(gif).width(), Header(gif).height()}), canvas)
          << "libvips no longer grows the canvas: revisit this test's expectation";

      Recipe recipe;
      if (animated) {
        Variant v = MakeVariant("anim", 64, 64, Fit::kInside, Format::kGif);
        v.animated = true;
        recipe = OneVariant(v);
      } else {
        recipe = Recipe{{MakeVariant("png", 64, 64, Fit::kInside, Format::kPng),
                         MakeVariant("gif", 64, 64, Fit::kInside, Format::kGif)}};
      }
      auto result = RunEngine(engine(), gif, recipe);
      if (!c.renders) {
        ASSERT_FALSE(result.ok());
        ExpectPermanent(result.status());
        continue;
      }
      ASSERT_TRUE(result.ok()) << result.status().ToString();
      EXPECT_EQ((Size{result->info.width, result->info.height}), canvas);
      for (size_t i = 0; i < recipe.variants.size(); ++i) {
        const Rendition& r = result->renditions[i];
        const vips::VImage out = CheckRendition(r, recipe.variants[i]);
        EXPECT_EQ((Size{r.width, r.height}), ExpectedSize(canvas.width, canvas.height, recipe.variants[i]));
        EXPECT_EQ(r.pages, animated ? 3 : 1);
        if (c.left == 12) {
          ASSERT_EQ(out.width(), 20) << "unscaled";
          // Unscaled: the part of the frame outside the screen is drawn, in its colour.
          EXPECT_LT(ColourError(ToSrgb8(out), 12, 12, 8, 8, kGifBlue), 2);
        }
      }
    }
  }
}

// The #2176 memory shape: 43 bytes whose one 1x1 frame at 65535,65535 grows the canvas to
// 4.3 gigapixels. Refused from the header, naming the limit.
TEST_F(CraftedGifTest, FrameOffsetCanvasOverThePixelLimitIsTooLarge) {
  const std::string gif = GifFrameOffScreen(65535, 65535, 1, 1, false);
  ASSERT_LT(gif.size(), 100u);
  auto result = RunEngine(engine(), gif, DefaultRecipe());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kTooLarge) << result.status().ToString();
  EXPECT_TRUE(Contains(result.status().message(), "100000000")) << result.status().message();
  EXPECT_TRUE(Contains(result.status().message(), "16x16 logical screen"))
      << "the message should say the canvas grew past the declared screen: "
      << result.status().message();
  // A GIF whose screen is simply that large says nothing about a grown canvas: 30 frames of
  // a 2048x2048 screen (libnsgif ignores a screen over 2048 on either side and sizes such a
  // GIF to its frames) are 125 MP for animated output.
  Variant animated = MakeVariant("anim", 64, 64, Fit::kInside, Format::kGif);
  animated.animated = true;
  auto plain = RunEngine(engine(), ManyFrameGif(30, 2048, 2048), OneVariant(animated));
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().code(), StatusCode::kTooLarge);
  EXPECT_FALSE(Contains(plain.status().message(), "logical screen")) << plain.status().message();
}

// A 2-colour table and pixels with index 2, 5 or 255 (LZW code size 2, 3, 8): libnsgif
// draws them as opaque black; the in-range half keeps its colour.
TEST_F(CraftedGifTest, PaletteIndexPastTheColourTable) {
  for (const uint8_t index : {uint8_t{2}, uint8_t{5}, uint8_t{255}}) {
    SCOPED_TRACE("index " + std::to_string(index));
    const std::string gif = GifPaletteIndexOutOfRange(index);
    // The fixture: a global colour table of 2 entries (size field 0), and a code size that
    // carries the index; libvips reads it as a 4x4 image.
    ASSERT_EQ(static_cast<uint8_t>(gif[10]) & 0x87, 0x80);
    const std::vector<GifFrameRect> rects = GifFrameRects(gif);
    ASSERT_EQ(rects.size(), 1u);
    EXPECT_EQ(rects[0].lzw_code_size, index < 4 ? 2 : index < 8 ? 3 : 8);
    EXPECT_EQ(Header(gif).width(), 4);
    // The same GIF with index 1 in place of `index` shows red | blue: the data carries it.
    const std::string valid = GifPaletteIndexOutOfRange(1);
    EXPECT_LT(ColourError(ToSrgb8(Decode(valid)), 2, 0, 2, 4, kGifBlue), 1);

    Variant animated = MakeVariant("anim", 64, 64, Fit::kInside, Format::kGif);
    animated.animated = true;
    const Recipe recipe{{MakeVariant("png", 64, 64, Fit::kInside, Format::kPng),
                         MakeVariant("jpeg", 64, 64, Fit::kInside, Format::kJpeg), animated}};
    // Renditions are expected (a permanent error would also meet the contract, but libvips
    // 8.14 decodes the file).
    auto result = RunEngine(engine(), gif, recipe);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    for (size_t i = 0; i < recipe.variants.size(); ++i) {
      const vips::VImage out = CheckRendition(result->renditions[i], recipe.variants[i]);
      EXPECT_EQ((Size{out.width(), out.height()}), (Size{4, 4}));
      if (recipe.variants[i].format == Format::kPng) {
        EXPECT_LT(ColourError(ToSrgb8(out), 0, 0, 2, 4, kGifRed), 2);
        EXPECT_LT(ColourError(ToSrgb8(out), 2, 0, 2, 4, Rgb{0, 0, 0}), 2);
      }
    }
  }
}

// ---- Item 3: frame count and summed frame pixels.

constexpr int kManyFrames = 2000;

class CraftedManyFramesTest : public EngineSuite<CraftedManyFramesTest> {};

// Over limits.max_frames (100 by default) the engine keeps the first max_frames frames, in
// order (animation_test.cc); a still variant decodes only the first.
TEST_F(CraftedManyFramesTest, TwoThousandFramesKeepTheFirstMaxFrames) {
  const std::string gif = ManyFrameGif(kManyFrames);
  ASSERT_EQ(GifFrameRects(gif).size(), size_t(kManyFrames));
  ASSERT_EQ(PagesOf(Header(gif)), kManyFrames);
  const int max_frames = engine().options().limits.max_frames;
  ASSERT_LT(max_frames, kManyFrames);

  Variant animated = MakeVariant("anim", 64, 64, Fit::kInside, Format::kGif);
  animated.animated = true;
  Variant webp = animated;
  webp.name = "webp";
  webp.format = Format::kWebp;
  const Variant still = MakeVariant("still", 64, 64, Fit::kInside, Format::kPng);
  auto result = RunEngine(engine(), gif, Recipe{{animated, webp, still}});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->info.pages, kManyFrames);
  for (int v : {0, 1}) {
    const Rendition& r = result->renditions[v];
    CheckRendition(r, v == 0 ? animated : webp);
    EXPECT_EQ(r.pages, max_frames);
    const vips::VImage all = ToSrgb8(Decode(r.bytes, /*all_frames=*/true));
    ASSERT_EQ(PagesOf(all), max_frames);
    for (int i : {0, 1, max_frames - 2, max_frames - 1}) {
      EXPECT_LT(ColourError(all, 0, i, 1, 1, i % 2 ? kGifBlue : kGifRed), 4) << "frame " << i;
    }
  }
  EXPECT_EQ(result->renditions[2].pages, 1);
}

// libvips' GIF decoder reads at most 4097 frames and fails the header of a longer GIF; the
// engine counts the frames itself and refuses such a GIF as too_large, naming the count,
// instead of calling a valid file damaged.
TEST_F(CraftedManyFramesTest, MoreFramesThanTheDecoderReadsAreTooLarge) {
  const std::string at_limit = ManyFrameGif(4097);
  Variant animated = MakeVariant("anim", 64, 64, Fit::kInside, Format::kGif);
  animated.animated = true;
  auto ok = RunEngine(engine(), at_limit, OneVariant(animated));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->info.pages, 4097);

  const std::string gif = ManyFrameGif(5000);
  ASSERT_EQ(GifFrameRects(gif).size(), 5000u);
  for (const Recipe& recipe : {OneVariant(animated), DefaultRecipe()}) {
    auto refused = RunEngine(engine(), gif, recipe);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), StatusCode::kTooLarge) << refused.status().ToString();
    EXPECT_TRUE(Contains(refused.status().message(), "5000 frames")) << refused.status().message();
    EXPECT_TRUE(Contains(refused.status().message(), "4097")) << refused.status().message();
  }
  auto probed = engine().Probe(AsBytes(gif));
  ASSERT_FALSE(probed.ok());
  EXPECT_EQ(probed.status().code(), StatusCode::kTooLarge);
}

// With max_frames at the top of its configurable range every frame is kept, in order: 2000
// frames (44 groups of 45 and one of 20 inside the engine) come out as 2000 pages, each its
// input frame's colour. This also keeps the per-frame path from growing faster than the
// frame count: before frames were grouped this case cost 26 s of CPU (libvips' region
// sanity check walks every link of an image, and one join had 2000).
class CraftedAllFramesTest : public EngineSuite<CraftedAllFramesTest> {
 public:
  static EngineOptions Options() { return WithMaxFrames(10000); }
};

TEST_F(CraftedAllFramesTest, TwoThousandFramesAllKeptInOrder) {
  const std::string gif = ManyFrameGif(kManyFrames);
  Variant animated = MakeVariant("anim", 64, 64, Fit::kInside, Format::kGif);
  animated.animated = true;
  auto result = RunEngine(engine(), gif, OneVariant(animated));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const Rendition& r = result->renditions[0];
  CheckRendition(r, animated);
  EXPECT_EQ(r.pages, kManyFrames);
  const vips::VImage all = ToSrgb8(Decode(r.bytes, /*all_frames=*/true)).copy_memory();
  ASSERT_EQ(PagesOf(all), kManyFrames);
  ASSERT_EQ((Size{all.width(), all.height()}), (Size{1, kManyFrames}));
  int wrong = 0;
  for (int i = 0; i < kManyFrames; ++i) {
    const std::vector<double> px = all.getpoint(0, i);
    const Rgb want = i % 2 ? kGifBlue : kGifRed;
    if (std::abs(px[0] - want.r) > 4 || std::abs(px[2] - want.b) > 4) ++wrong;
  }
  EXPECT_EQ(wrong, 0) << "frames out of order or lost";
}

// 300 frames of 1x1 on a 1000x1000 screen: 7 KB that decode to 300 megapixels for animated
// output. With max_frames raised to 300 (configuration allows up to 10000) the summed
// pixels exceed max_input_pixels (100 MP by default): refused from the header as too_large,
// naming the limit. A still variant decodes one 1 MP frame and succeeds.
class CraftedFrameBombTest : public EngineSuite<CraftedFrameBombTest> {
 public:
  static EngineOptions Options() { return WithMaxFrames(300); }
};

TEST_F(CraftedFrameBombTest, SummedFramePixelsOverTheLimitAreTooLarge) {
  const std::string gif = ManyFrameGif(300, 1000, 1000);
  ASSERT_LT(gif.size(), 10'000u);
  const vips::VImage header = Header(gif);
  ASSERT_EQ((Size{header.width(), vips_image_get_page_height(header.get_image())}),
            (Size{1000, 1000}));
  ASSERT_EQ(PagesOf(header), 300);
  Variant animated = MakeVariant("anim", 64, 64, Fit::kInside, Format::kGif);
  animated.animated = true;
  auto refused = RunEngine(engine(), gif, OneVariant(animated));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kTooLarge) << refused.status().ToString();
  EXPECT_TRUE(Contains(refused.status().message(), "300 frames")) << refused.status().message();
  EXPECT_TRUE(Contains(refused.status().message(), "max_input_pixels = 100000000"))
      << refused.status().message();

  const Variant still = MakeVariant("still", 64, 64, Fit::kInside, Format::kPng);
  auto ok = RunEngine(engine(), gif, OneVariant(still));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->renditions[0].pages, 1);
}

// ---- Item 10: EXIF with an IFD loop, and a 60 KB MakerNote.

class CraftedExifTest : public EngineSuite<CraftedExifTest> {
 protected:
  // Every output format, plus "original": each rendition upright (orientation 6 turns the
  // 96x64 stored image into 64x96) and carrying no EXIF, XMP or the strings inside them.
  void ExpectUprightAndStripped(const std::string& jpeg) {
    Recipe recipe;
    for (Format f : {Format::kJpeg, Format::kPng, Format::kWebp, Format::kAvif, Format::kGif}) {
      recipe.variants.push_back(MakeVariant(std::string(FormatName(f)), 96, 96, Fit::kInside, f));
    }
    recipe.variants.push_back(MakeVariant("original", 96, 96, Fit::kInside, Format::kOriginal));
    for (std::string_view text : {std::string_view("Exif\0\0", 6), std::string_view("xpacket"),
                                  std::string_view("Private Person"), std::string_view("Canon")}) {
      if (text != "Canon" || Contains(jpeg, "Canon")) {
        ASSERT_TRUE(Contains(jpeg, text)) << "the input should carry \"" << text << "\"";
      }
    }
    // libvips reads both blocks without complaint, so renditions are expected (a permanent
    // error would also be acceptable, but is not what happens).
    auto result = RunEngine(engine(), jpeg, recipe);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->info.orientation, 6);
    for (size_t i = 0; i < recipe.variants.size(); ++i) {
      SCOPED_TRACE(recipe.variants[i].name);
      const Rendition& r = result->renditions[i];
      const vips::VImage out = CheckRendition(r, recipe.variants[i]);
      EXPECT_EQ((Size{r.width, r.height}), (Size{64, 96}));
      for (const char* field : {"exif-data", "xmp-data", "iptc-data", "icc-profile-data"}) {
        EXPECT_FALSE(HasField(out, field)) << field << " was copied to the output";
      }
      for (std::string_view text : {std::string_view("Exif\0\0", 6), std::string_view("xpacket"),
                                    std::string_view("Private Person"), std::string_view("Canon")}) {
        EXPECT_FALSE(Contains(r.bytes, text)) << "output bytes contain \"" << text << "\"";
      }
    }
  }
};

TEST_F(CraftedExifTest, IfdLoopIsReadAndStripped) {
  const vips::VImage photo = PhotoLike(96, 64);
  for (const ExifLoop loop : {ExifLoop::kNextIfdIsItself, ExifLoop::kExifIfdIsIfd0}) {
    const bool next_loop = loop == ExifLoop::kNextIfdIsItself;
    SCOPED_TRACE(next_loop ? "IFD0 next-IFD -> IFD0" : "Exif SubIFD -> IFD0");
    const std::string jpeg = JpegWithExifLoop(photo, loop);
    // The fixture: TIFF header II*\0 with IFD0 at 8, and the loop where it claims to be.
    const std::string tiff = JpegExifTiff(jpeg);
    ASSERT_GE(tiff.size(), 26u);
    ASSERT_EQ(tiff.substr(0, 4), std::string("II*\0", 4));
    ASSERT_EQ(Le32(tiff, 4), 8u);
    const uint16_t entries = Le16(tiff, 8);
    const uint32_t next_ifd = Le32(tiff, 8 + 2 + 12 * entries);
    if (next_loop) {
      EXPECT_EQ(next_ifd, 8u);
    } else {
      ASSERT_EQ(entries, 2);
      EXPECT_EQ(Le16(tiff, 8 + 2 + 12), 0x8769);  // ExifIFD pointer
      EXPECT_EQ(Le32(tiff, 8 + 2 + 12 + 8), 8u);  // -> IFD0
    }
    // libvips (libexif) reads the block: orientation, EXIF and XMP are there to strip.
    const vips::VImage header = Header(jpeg);
    ASSERT_EQ(header.get_int("orientation"), 6);
    ASSERT_TRUE(HasField(header, "exif-data"));
    ASSERT_TRUE(HasField(header, "xmp-data"));
    ExpectUprightAndStripped(jpeg);
  }
}

TEST_F(CraftedExifTest, SixtyKilobyteMakerNoteIsReadAndStripped) {
  constexpr size_t kNote = 60 * 1024;
  const std::string jpeg = JpegWithBigMakerNote(PhotoLike(96, 64), kNote);
  const std::string tiff = JpegExifTiff(jpeg);
  ASSERT_GT(tiff.size(), kNote);
  // The fixture: IFD0 Make "Canon" and an Exif IFD whose one entry is MakerNote, 60 KiB.
  ASSERT_EQ(Le16(tiff, 8 + 2), 0x010F);
  ASSERT_EQ(tiff.substr(Le32(tiff, 8 + 2 + 8), 5), "Canon");
  const uint32_t exif_ifd = Le32(tiff, 8 + 2 + 24 + 8);
  ASSERT_EQ(Le16(tiff, exif_ifd + 2), 0x927C);
  ASSERT_EQ(Le32(tiff, exif_ifd + 2 + 4), kNote);
  const vips::VImage header = Header(jpeg);
  ASSERT_TRUE(HasField(header, "exif-ifd2-MakerNote"));
  ASSERT_EQ(header.get_int("orientation"), 6);
  ASSERT_TRUE(HasField(header, "xmp-data"));
  ExpectUprightAndStripped(jpeg);
}

}  // namespace
}  // namespace thumbpipe::image::test
