// Shared pieces of the engine tests: one Engine per test suite, variant builders, the
// expected output size computed from the rule text in recipe.h (never from engine code),
// and checks that every rendition is what it claims to be.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "fixtures/fixtures.h"
#include "image/engine.h"

namespace thumbpipe::image::test {

// A test suite with its own Engine, made once in SetUpTestSuite (creating an Engine
// initialises libvips). A suite overrides `static EngineOptions Options()` to change limits.
template <typename Suite>
class EngineSuite : public ::testing::Test {
 public:
  static EngineOptions Options() { return {}; }

  static void SetUpTestSuite() {
    fixtures::EnsureVips();
    auto created = Engine::Create(Suite::Options());
    if (created.ok()) {
      engine_ = std::move(created).value();
    } else {
      create_error_ = created.status().ToString();
    }
  }
  static void TearDownTestSuite() { engine_.reset(); }

 protected:
  void SetUp() override { ASSERT_NE(engine_, nullptr) << "Engine::Create failed: " << create_error_; }
  static const Engine& engine() { return *engine_; }

 private:
  inline static std::unique_ptr<Engine> engine_;
  inline static std::string create_error_;
};

// Limits with one field changed, for the limit tests.
inline EngineOptions WithLimits(const Limits& limits) {
  EngineOptions options;
  options.limits = limits;
  return options;
}

// The default limits with max_frames changed, for the animation tests.
inline EngineOptions WithMaxFrames(int frames) {
  Limits limits;
  limits.max_frames = frames;
  return WithLimits(limits);
}

inline Variant MakeVariant(std::string name, int width, int height, Fit fit, Format format,
                           bool enlarge = false) {
  Variant v;
  v.name = std::move(name);
  v.width = width;
  v.height = height;
  v.fit = fit;
  v.format = format;
  v.enlarge = enlarge;
  return v;
}

inline Recipe OneVariant(Variant v) { return Recipe{{std::move(v)}}; }

// The three variants of the default configuration (DESIGN.md).
inline Recipe DefaultRecipe() {
  return Recipe{{MakeVariant("small", 128, 128, Fit::kCover, Format::kWebp),
                 MakeVariant("medium", 512, 512, Fit::kInside, Format::kJpeg),
                 MakeVariant("large", 1024, 1024, Fit::kInside, Format::kWebp)}};
}

// Runs the engine after checking the REQUIRES of Thumbnail().
inline Result<ThumbnailResult> RunEngine(const Engine& engine, const std::string& input,
                                   const Recipe& recipe) {
  const Status valid = ValidateRecipe(recipe);
  if (!valid.ok()) return Status::Internal("test bug, invalid recipe: " + valid.ToString());
  return engine.Thumbnail(AsBytes(input), recipe);
}

struct Size {
  int width = 0;
  int height = 0;
  friend bool operator==(const Size&, const Size&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const Size& s) {
  return os << s.width << "x" << s.height;
}

// The size recipe.h's rule gives for an upright W x H input: a scale s = num/den turns a side
// X into round(X * s), at least 1, with exact rational arithmetic and halves rounded up
// (std::round), so that the expectation does not depend on floating-point accidents.
inline int ScaleSide(int64_t side, int64_t num, int64_t den) {
  const int64_t scaled = (2 * side * num + den) / (2 * den);
  return static_cast<int>(std::max<int64_t>(1, scaled));
}

inline Size ExpectedSize(int W, int H, const Variant& v) {
  int64_t num = 1, den = 1;
  auto cap = [&] {  // enlarge = false: no scale factor exceeds 1
    if (!v.enlarge && num > den) num = den = 1;
  };
  if (v.width == 0 || v.height == 0) {
    // Only one dimension: every fit scales to it and derives the other from the aspect.
    num = v.width != 0 ? v.width : v.height;
    den = v.width != 0 ? W : H;
    cap();
    return {ScaleSide(W, num, den), ScaleSide(H, num, den)};
  }
  const bool width_ratio_larger = int64_t{v.width} * H >= int64_t{v.height} * W;  // w/W >= h/H
  auto use = [&](bool width_ratio) {
    num = width_ratio ? v.width : v.height;
    den = width_ratio ? W : H;
    cap();
  };
  switch (v.fit) {
    case Fit::kInside:
      use(!width_ratio_larger);
      return {ScaleSide(W, num, den), ScaleSide(H, num, den)};
    case Fit::kOutside:
      use(width_ratio_larger);
      return {ScaleSide(W, num, den), ScaleSide(H, num, den)};
    case Fit::kCover:
      use(width_ratio_larger);
      return {std::min(v.width, ScaleSide(W, num, den)), std::min(v.height, ScaleSide(H, num, den))};
    case Fit::kContain:
      return {v.width, v.height};
    case Fit::kFill: {
      const int w = v.enlarge || v.width < W ? v.width : W;
      const int h = v.enlarge || v.height < H ? v.height : H;
      return {w, h};
    }
  }
  return {};
}

inline std::string Describe(const Variant& v) {
  return v.name + " " + std::to_string(v.width) + "x" + std::to_string(v.height) + " " +
         std::string(FitName(v.fit)) + " " + std::string(FormatName(v.format)) +
         (v.enlarge ? " enlarge" : "");
}

// Checks what every rendition must satisfy: it is the variant asked for, its magic bytes
// are its reported format, and its reported size and pages are those of the decoded file.
// Returns the decoded first frame (empty VImage on failure).
inline vips::VImage CheckRendition(const Rendition& r, const Variant& v) {
  EXPECT_EQ(r.variant, v.name);
  EXPECT_NE(r.format, Format::kOriginal) << "Rendition::format must be the format written";
  if (v.format != Format::kOriginal) {
    EXPECT_EQ(r.format, v.format) << Describe(v);
  }
  EXPECT_EQ(fixtures::MagicFormat(r.bytes), std::string(FormatName(r.format))) << Describe(v);
  vips::VImage decoded;
  try {
    decoded = fixtures::Decode(r.bytes);
  } catch (const vips::VError& e) {
    ADD_FAILURE() << Describe(v) << ": output does not decode: " << e.what();
    return {};
  }
  EXPECT_EQ(decoded.width(), r.width) << Describe(v);
  const int page_height =
      decoded.get_typeof("page-height") ? decoded.get_int("page-height") : decoded.height();
  EXPECT_EQ(page_height, r.height) << Describe(v);
  return decoded;
}

}  // namespace thumbpipe::image::test
