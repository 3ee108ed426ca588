// Hostile input: every corrupt, truncated, oversized and unsupported input ends with the
// right permanent Status code, no rendition, and a message that names the reason (and the
// limit, for kTooLarge) without text from libvips' process-wide error buffer. Behind the
// engine's own format check, libvips itself refuses its untrusted loaders (PPM, FITS, SVG,
// Radiance, JPEG 2000, CSV) once an Engine exists.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <vips/vips8>

#include "engine_test_support.h"

namespace thumbpipe::image::test {
namespace {

using namespace fixtures;

struct HostileCase {
  std::string name;
  std::function<std::string()> make;
  StatusCode expected;
  bool animated = false;  // run with an animated variant, which decodes every frame
};

Recipe RecipeFor(const HostileCase& c) {
  if (!c.animated) return DefaultRecipe();
  Variant v = MakeVariant("anim", 128, 128, Fit::kInside, Format::kGif);
  v.animated = true;
  return OneVariant(v);
}

// True if `message` contains `number`, also when written with digit-group separators.
bool NamesNumber(const std::string& message, uint64_t number) {
  std::string plain;
  for (size_t i = 0; i < message.size(); ++i) {
    const char ch = message[i];
    const bool separator = (ch == ',' || ch == '\'' || ch == '_' || ch == ' ') && i > 0 &&
                           i + 1 < message.size() && std::isdigit(static_cast<unsigned char>(message[i - 1])) &&
                           std::isdigit(static_cast<unsigned char>(message[i + 1]));
    if (!separator) plain += ch;
  }
  return plain.find(std::to_string(number)) != std::string::npos;
}

std::ostream& operator<<(std::ostream& os, const HostileCase& c) { return os << c.name; }

std::string Webp200() { return Webp(PhotoLike(200, 150)); }

// JPEG with its SOF0 segment length patched to 2 ("bogus marker length").
std::string JpegBadSofLength() {
  const std::string jpeg = Jpeg(PhotoLike(64, 48));
  const size_t sof = jpeg.find("\xFF\xC0");
  return WithByte(WithByte(jpeg, sof + 2, 0), sof + 3, 2);
}

// PNG whose IHDR CRC is wrong (the size fields are left alone: the header still says 64x48).
std::string PngBadIhdrCrc() {
  const std::string png = Png(PhotoLike(64, 48));
  constexpr size_t kIhdrCrc = 8 + 4 + 4 + 13;  // signature, length, type, payload
  return WithByte(png, kIhdrCrc + 1, static_cast<char>(png[kIhdrCrc + 1] ^ 0x55));
}

std::vector<HostileCase> HostileCases() {
  return {
      // Damaged files in allowed formats.
      {"truncated_jpeg", [] { return Truncated(Jpeg(PhotoLike(200, 150)), 0.5); },
       StatusCode::kCorrupt},
      {"truncated_progressive_jpeg",
       [] { return Truncated(Jpeg(PhotoLike(200, 150), {.progressive = true}), 0.5); },
       StatusCode::kCorrupt},
      {"truncated_png", [] { return Truncated(Png(PhotoLike(200, 150)), 0.5); }, StatusCode::kCorrupt},
      // Cut inside the only frame; and an animation cut in its 4th frame, with every frame
      // asked for. (A still rendition of an animation cut after its first frame needs no
      // missing byte, so no verdict is asserted for that.)
      // libvips 8.14's GIF loader does not fail on truncation even with fail_on=truncated
      // (it shows the frames it read), so the engine walks the GIF block structure itself.
      {"truncated_gif", [] { return Truncated(Gif(PhotoLike(200, 150)), 0.5); },
       StatusCode::kCorrupt},
      {"truncated_animated_gif", [] { return Truncated(AnimatedGif(64, 48, 6), 0.6); },
       StatusCode::kCorrupt, true},
      {"truncated_webp", [] { return Truncated(Webp200(), 0.5); }, StatusCode::kCorrupt},
      {"truncated_avif", [] { return Truncated(Heif(PhotoLike(64, 48), true), 0.5); },
       StatusCode::kCorrupt},
      {"jpeg_magic_then_garbage", [] { return GarbageAfterMagic("\xFF\xD8\xFF\xE0", 4000, 1); },
       StatusCode::kCorrupt},
      {"png_magic_then_garbage",
       [] { return GarbageAfterMagic(std::string("\x89PNG\r\n\x1a\n", 8), 4000, 2); },
       StatusCode::kCorrupt},
      {"gif_magic_then_garbage", [] { return GarbageAfterMagic("GIF89a", 4000, 3); },
       StatusCode::kCorrupt},
      {"webp_magic_then_garbage",
       [] { return GarbageAfterMagic(std::string("RIFF\xa0\x0f\0\0WEBPVP8 ", 16), 4000, 4); },
       StatusCode::kCorrupt},
      {"jpeg_bad_sof_length", JpegBadSofLength, StatusCode::kCorrupt},
      {"png_bad_ihdr_crc", PngBadIhdrCrc, StatusCode::kCorrupt},
      // Decompression bombs: refused from the header, before any decode.
      {"png_header_60000x60000", [] { return PngHeaderBomb(60000, 60000); }, StatusCode::kTooLarge},
      {"jpeg_sof_65000x65000", [] { return JpegSofBomb(65000, 65000); }, StatusCode::kTooLarge},
      // Formats that are not accepted.
      {"svg", [] { return Svg(120, 80); }, StatusCode::kUnsupported},
      {"svg_with_xml_prolog",
       [] { return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + Svg(120, 80); },
       StatusCode::kUnsupported},
      {"pdf", MinimalPdf, StatusCode::kUnsupported},
      {"ppm_p6", [] { return Ppm(16, 16); }, StatusCode::kUnsupported},
      {"bmp", [] { return Bmp(16, 16); }, StatusCode::kUnsupported},
      {"psd", Psd, StatusCode::kUnsupported},
      {"ico", Ico, StatusCode::kUnsupported},
      {"xcf", [] { return Xcf(16, 16); }, StatusCode::kUnsupported},
      {"random_bytes", [] { return RandomBytes(4096, 42); }, StatusCode::kUnsupported},
      {"empty", [] { return std::string(); }, StatusCode::kUnsupported},
      {"one_byte", [] { return std::string("\xFF", 1); }, StatusCode::kUnsupported},
      {"lossless_jpeg_sof3", LosslessJpeg, StatusCode::kUnsupported},
  };
}

class HostileInputTest : public EngineSuite<HostileInputTest>,
                         public ::testing::WithParamInterface<HostileCase> {};

TEST_P(HostileInputTest, EndsWithTheRightPermanentError) {
  const HostileCase& c = GetParam();
  const std::string input = c.make();
  if (c.name != "empty") {
    ASSERT_FALSE(input.empty()) << "fixture could not be made";
  }
  auto result = RunEngine(engine(), input, RecipeFor(c));
  ASSERT_FALSE(result.ok()) << c.name << " was accepted and made "
                            << result->renditions.size() << " renditions";
  const Status& status = result.status();
  EXPECT_EQ(StatusCodeName(status.code()), StatusCodeName(c.expected)) << status.ToString();
  EXPECT_TRUE(status.IsPermanent()) << status.ToString();
  EXPECT_FALSE(status.message().empty());
  if (c.expected == StatusCode::kTooLarge) {
    EXPECT_TRUE(NamesNumber(status.message(), Limits{}.max_input_pixels))
        << "message does not name the pixel limit: " << status.message();
  }
}

// engine.h: messages "never contain text from libvips' process-wide error buffer (which can
// hold another thread's error)". These fragments only ever come from that buffer.
TEST_P(HostileInputTest, MessageCarriesNoLibvipsErrorBufferText) {
  const HostileCase& c = GetParam();
  auto result = RunEngine(engine(), c.make(), RecipeFor(c));
  ASSERT_FALSE(result.ok());
  for (const char* fragment : {"VipsJpeg:", "vipspng:", "VipsForeignLoad", "webp2vips:",
                               "tiff2vips:", "heifload:", "gifload:", "VipsImage:",
                               "Premature end of", "libpng read error"}) {
    EXPECT_EQ(result.status().message().find(fragment), std::string::npos)
        << "message: " << result.status().message();
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, HostileInputTest, ::testing::ValuesIn(HostileCases()),
                         [](const auto& p) { return p.param.name; });

// Probe reads only the header, so a format it cannot read is refused the same way.
class ProbeRefusesTest : public EngineSuite<ProbeRefusesTest> {};

TEST_F(ProbeRefusesTest, UnsupportedFormats) {
  for (const HostileCase& c : HostileCases()) {
    if (c.expected != StatusCode::kUnsupported || c.name == "lossless_jpeg_sof3") continue;
    SCOPED_TRACE(c.name);
    const std::string input = c.make();
    auto info = engine().Probe(AsBytes(input));
    ASSERT_FALSE(info.ok()) << "probed as " << InputFormatName(info->format);
    EXPECT_EQ(StatusCodeName(info.status().code()), "unsupported") << info.status().ToString();
  }
}

// ---- Limits, each checked with an input on each side of it.

// Distinctive numbers, so that "the message names the limit" can be checked literally.
constexpr uint64_t kBytesLimit = 4321;
constexpr uint64_t kPixelLimit = 123456;
constexpr uint64_t kInterlacedLimit = 1234;

Limits SmallLimits() {
  Limits limits;
  limits.max_input_bytes = kBytesLimit;
  limits.max_input_pixels = kPixelLimit;
  limits.max_interlaced_pixels = kInterlacedLimit;
  return limits;
}

class LimitsTest : public EngineSuite<LimitsTest> {
 public:
  static EngineOptions Options() { return WithLimits(SmallLimits()); }

 protected:
  void ExpectTooLarge(const std::string& input, uint64_t limit) {
    ASSERT_LE(input.size(), kBytesLimit) << "test bug: fixture trips the byte limit";
    auto result = RunEngine(engine(), input, DefaultRecipe());
    ASSERT_FALSE(result.ok()) << "accepted";
    EXPECT_EQ(StatusCodeName(result.status().code()), "too_large") << result.status().ToString();
    EXPECT_TRUE(NamesNumber(result.status().message(), limit))
        << "message does not name the limit " << limit << ": " << result.status().message();
  }
  void ExpectAccepted(const std::string& input) {
    ASSERT_LE(input.size(), kBytesLimit) << "test bug: fixture trips the byte limit";
    auto result = RunEngine(engine(), input, DefaultRecipe());
    EXPECT_TRUE(result.ok()) << result.status().ToString();
  }
};

TEST_F(LimitsTest, InputBytes) {
  const std::string big = Jpeg(PhotoLike(200, 150));
  ASSERT_GT(big.size(), kBytesLimit);
  auto result = RunEngine(engine(), big, DefaultRecipe());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(StatusCodeName(result.status().code()), "too_large") << result.status().ToString();
  EXPECT_TRUE(NamesNumber(result.status().message(), kBytesLimit)) << result.status().message();
}

TEST_F(LimitsTest, InputPixelsFromTheHeader) {
  ExpectTooLarge(Png(Solid(400, 400, {90, 120, 200})), kPixelLimit);  // 160000 px
  ExpectAccepted(Png(Solid(300, 300, {90, 120, 200})));               // 90000 px
}

TEST_F(LimitsTest, ProgressiveJpegAboveInterlacedLimit) {
  ExpectTooLarge(Jpeg(Solid(100, 100, {90, 120, 200}), {.progressive = true}), kInterlacedLimit);
  ExpectAccepted(Jpeg(Solid(100, 100, {90, 120, 200})));  // the same pixels, baseline
  ExpectAccepted(Jpeg(Solid(30, 30, {90, 120, 200}), {.progressive = true}));  // 900 px
}

TEST_F(LimitsTest, InterlacedPngAboveInterlacedLimit) {
  ExpectTooLarge(Png(Solid(100, 100, {90, 120, 200}), /*interlace=*/true), kInterlacedLimit);
  ExpectAccepted(Png(Solid(100, 100, {90, 120, 200})));
}

// "over max_input_bytes" / "beyond the limits": a value equal to the limit is allowed.
class LimitBoundaryTest : public EngineSuite<LimitBoundaryTest> {
 protected:
  static Result<ThumbnailResult> RunWith(const Limits& limits, const std::string& input) {
    auto engine = Engine::Create(WithLimits(limits));
    if (!engine.ok()) return engine.status();
    return RunEngine(**engine, input, DefaultRecipe());
  }
};

TEST_F(LimitBoundaryTest, BytesAtTheLimitPassOneOverFails) {
  const std::string input = Png(PhotoLike(64, 48));
  Limits limits;
  limits.max_input_bytes = input.size();
  auto at = RunWith(limits, input);
  EXPECT_TRUE(at.ok()) << at.status().ToString();
  limits.max_input_bytes = input.size() - 1;
  auto over = RunWith(limits, input);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(StatusCodeName(over.status().code()), "too_large");
}

TEST_F(LimitBoundaryTest, PixelsAtTheLimitPassOneOverFails) {
  const std::string input = Png(PhotoLike(200, 100));
  Limits limits;
  limits.max_input_pixels = 200 * 100;
  auto at = RunWith(limits, input);
  EXPECT_TRUE(at.ok()) << at.status().ToString();
  limits.max_input_pixels = 200 * 100 - 1;
  auto over = RunWith(limits, input);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(StatusCodeName(over.status().code()), "too_large");
}

// ---- A JPEG that is also an HTML page (catalogue item 11): script in a comment segment
// and after the end-of-image marker. Browsers that sniff could run it if it were served
// as it came; every rendition is a fresh encode of the pixels and carries none of it, even
// one of the same size and format as the source (never a copy of the input bytes).

class PolyglotTest : public EngineSuite<PolyglotTest> {};

TEST_F(PolyglotTest, RenditionsCarryNoneOfTheHtml) {
  const std::string script = "<html><script>alert(document.cookie)</script></html>";
  std::string jpeg = Jpeg(PhotoLike(320, 240));
  ASSERT_EQ(jpeg.substr(0, 2), "\xFF\xD8");
  // A COM segment right after SOI: FF FE, a big-endian length that counts itself.
  const size_t length = script.size() + 2;
  const std::string com = std::string("\xFF\xFE") + char(length >> 8) + char(length & 0xFF) + script;
  const std::string polyglot = jpeg.substr(0, 2) + com + jpeg.substr(2) + script;
  Recipe recipe = DefaultRecipe();
  recipe.variants.push_back(MakeVariant("same", 320, 240, Fit::kInside, Format::kOriginal));
  auto result = RunEngine(engine(), polyglot, recipe);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->renditions.size(), 4u);
  for (const Rendition& r : result->renditions) {
    EXPECT_EQ(r.bytes.find("<script"), std::string::npos) << r.variant;
    EXPECT_EQ(r.bytes.find("<html"), std::string::npos) << r.variant;
  }
}

// ---- The allow-list.

class AllowListTest : public EngineSuite<AllowListTest> {};

TEST_F(AllowListTest, FormatRemovedFromTheListIsUnsupported) {
  Limits limits;
  std::erase(limits.allowed_formats, InputFormat::kPng);
  auto no_png = Engine::Create(WithLimits(limits));
  ASSERT_TRUE(no_png.ok()) << no_png.status().ToString();
  const std::string png = Png(PhotoLike(64, 48));
  auto refused = RunEngine(**no_png, png, DefaultRecipe());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(StatusCodeName(refused.status().code()), "unsupported") << refused.status().ToString();
  EXPECT_TRUE(refused.status().IsPermanent());
  EXPECT_NE(refused.status().message().find("png"), std::string::npos)
      << "message should name the format: " << refused.status().message();
  auto jpeg = RunEngine(**no_png, Jpeg(PhotoLike(64, 48)), DefaultRecipe());
  EXPECT_TRUE(jpeg.ok()) << "jpeg is still allowed: " << jpeg.status().ToString();
  // Loader blocking in libvips is process-wide; the allow-list must still be per Engine.
  auto other = RunEngine(engine(), png, DefaultRecipe());
  EXPECT_TRUE(other.ok()) << "an Engine that allows png refused it after another Engine "
                             "disallowed png: "
                          << other.status().ToString();
}

TEST_F(AllowListTest, SvgIsAcceptedOnlyWhenAllowed) {
  if (!HasVipsOperation("svgload_buffer")) {
    GTEST_SKIP() << "this libvips has no SVG loader (librsvg)";
  }
  Limits limits;
  limits.allowed_formats.push_back(InputFormat::kSvg);
  auto with_svg = Engine::Create(WithLimits(limits));
  ASSERT_TRUE(with_svg.ok()) << with_svg.status().ToString();
  const std::string svg = Svg(120, 80);
  const Variant v = MakeVariant("svg", 1000, 1000, Fit::kInside, Format::kPng);
  auto result = RunEngine(**with_svg, svg, OneVariant(v));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->info.format, InputFormat::kSvg);
  const vips::VImage out = ToSrgb8(CheckRendition(result->renditions[0], v));
  EXPECT_EQ(out.width(), 120);
  EXPECT_EQ(out.height(), 80);
  EXPECT_LT(ColourError(out, 10, 10, 40, 60, {255, 0, 0}), 3);
  EXPECT_LT(ColourError(out, 70, 10, 40, 60, {0, 0, 255}), 3);
  // svgload is now unblocked in this process; the default Engine must still refuse SVG.
  auto refused = RunEngine(engine(), svg, OneVariant(v));
  ASSERT_FALSE(refused.ok()) << "the default Engine accepted SVG once another allowed it";
  EXPECT_EQ(StatusCodeName(refused.status().code()), "unsupported");
  auto fresh = Engine::Create({});
  ASSERT_TRUE(fresh.ok());
  auto refused_fresh = RunEngine(**fresh, svg, OneVariant(v));
  ASSERT_FALSE(refused_fresh.ok()) << "a new default Engine accepted SVG";
  EXPECT_EQ(StatusCodeName(refused_fresh.status().code()), "unsupported");
}

// ---- libvips' own block on its untrusted loaders (vips_runtime.cc, vips_block_untrusted_set).
// Every test above stops at the engine's sniffer before libvips sees a byte; these call
// libvips directly, so they show that the second line of defence holds on its own (a bug in
// the sniffer, or a path that hands bytes to libvips without it, still reaches no untrusted
// loader).

// How the bytes reach libvips: each loader has only some of these entry points in 8.14
// (ppmload has no buffer loader, so a buffer would fail whatever the block). kNamedSource
// calls the loader by name, as code that skips format detection would; csvload has no
// detection at all, so that is the only way to reach it.
enum class Via { kBuffer, kSource, kFile, kNamedSource };

struct UntrustedCase {
  const char* name;
  const char* loader;  // the libvips operation that would read it
  Via via;
  std::function<std::string()> make;
};

// The libvips savers that make two of these are trusted operations: they work under the block.
std::vector<UntrustedCase> UntrustedCases() {
  return {
      {"ppm", "ppmload_source", Via::kSource, [] { return Ppm(16, 16); }},
      {"fits", "fitsload", Via::kFile, [] { return Fits(16, 16); }},
      {"svg", "svgload_buffer", Via::kBuffer, [] { return Svg(120, 80); }},
      {"radiance", "radload_buffer", Via::kBuffer,
       [] { return SavedAs(PhotoLike(16, 16), ".hdr"); }},
      {"jpeg2000", "jp2kload_buffer", Via::kBuffer,
       [] { return SavedAs(PhotoLike(16, 16), ".j2k"); }},
      {"csv", "csvload_source", Via::kNamedSource, [] { return std::string("1 2 3\n4 5 6\n"); }},
  };
}

// Decodes `bytes` with libvips directly (no engine, no sniffer), every pixel. OK, or the
// libvips error text.
Status VipsDecode(const std::string& bytes, Via via, const char* loader = nullptr) {
  std::filesystem::path dir;
  try {
    vips::VImage image;
    switch (via) {
      case Via::kBuffer:
        image = vips::VImage::new_from_buffer(bytes, "");
        break;
      case Via::kSource:
        image = vips::VImage::new_from_source(vips::VSource::new_from_memory(bytes.data(), bytes.size()), "");
        break;
      case Via::kFile: {
        // cfitsio opens its input by name, so FITS goes through a file (own directory, no
        // fixed name in /tmp).
        dir = std::filesystem::temp_directory_path() / ("tp-untrusted-" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(dir);
        const std::filesystem::path file = dir / "input.fits";
        std::ofstream(file, std::ios::binary) << bytes;
        image = vips::VImage::new_from_file(file.c_str());
        break;
      }
      case Via::kNamedSource:
        vips::VImage::call(loader, vips::VImage::option()
                                       ->set("source", vips::VSource::new_from_memory(bytes.data(), bytes.size()))
                                       ->set("out", &image));
        break;
    }
    (void)image.avg();  // force the decode, not only the header
  } catch (const vips::VError& e) {
    if (!dir.empty()) std::filesystem::remove_all(dir);
    vips_error_clear();
    return Status::Unsupported(e.what());
  }
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return Status::Ok();
}

class UntrustedLoaderTest : public EngineSuite<UntrustedLoaderTest> {};

TEST_F(UntrustedLoaderTest, LibvipsRefusesThemAfterAnEngineIsCreated) {
  std::vector<std::pair<UntrustedCase, std::string>> cases;  // with their bytes
  for (const UntrustedCase& c : UntrustedCases()) {
    if (!HasVipsOperation(c.loader)) {
      std::cout << "[ SKIPPED  ] " << c.name << ": this libvips has no " << c.loader << "\n";
      continue;
    }
    cases.emplace_back(c, c.make());
    ASSERT_FALSE(cases.back().second.empty()) << c.name << ": fixture could not be made";
  }
  ASSERT_FALSE(cases.empty());
  // Loader blocking is process-wide and the last Engine made sets it: make a default one now.
  auto fresh = Engine::Create({});
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  auto expect_refused = [&cases](const char* when) {
    for (const auto& [c, bytes] : cases) {
      EXPECT_FALSE(VipsDecode(bytes, c.via, c.loader).ok()) << c.name << " was decoded by libvips " << when;
    }
  };
  expect_refused("after Engine::Create");
  // Trusted loaders still work, the same ways.
  EXPECT_TRUE(VipsDecode(Jpeg(PhotoLike(32, 24)), Via::kBuffer).ok());
  EXPECT_TRUE(VipsDecode(Png(PhotoLike(32, 24)), Via::kBuffer).ok());
  EXPECT_TRUE(VipsDecode(Png(PhotoLike(32, 24)), Via::kSource).ok());

  // Lifting the block makes the same bytes decode: the refusals above come from the block,
  // not from a fixture libvips cannot read. A new Engine then puts the block back (also on an
  // early return, for the tests that run after this one in the same process).
  struct Reblock {
    ~Reblock() { (void)Engine::Create({}); }
  } reblock;
  vips_block_untrusted_set(FALSE);
  for (const auto& [c, bytes] : cases) {
    const Status decoded = VipsDecode(bytes, c.via, c.loader);
    EXPECT_TRUE(decoded.ok()) << c.name << " fixture does not decode even unblocked: " << decoded.ToString();
  }
  auto again = Engine::Create({});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  expect_refused("after a second Engine::Create");
}

}  // namespace
}  // namespace thumbpipe::image::test
