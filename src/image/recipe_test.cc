#include "image/recipe.h"

#include <gtest/gtest.h>

#include "image/limits.h"

namespace thumbpipe::image {
namespace {

TEST(RecipeTest, ParsesNamesAndAliases) {
  EXPECT_EQ(*ParseFit("cover"), Fit::kCover);
  EXPECT_EQ(*ParseGravity("center"), Gravity::kCentre);
  EXPECT_EQ(*ParseGravity("northeast"), Gravity::kNorthEast);
  EXPECT_EQ(*ParseGravity("south-west"), Gravity::kSouthWest);
  EXPECT_EQ(*ParseGravity("attention"), Gravity::kAttention);
  EXPECT_EQ(*ParseFormat("JPG"), Format::kJpeg);
  EXPECT_EQ(*ParseInputFormat("heic"), InputFormat::kHeif);
}

TEST(RecipeTest, UnknownNamesListTheAllowedValues) {
  Result<Fit> fit = ParseFit("stretch");
  ASSERT_FALSE(fit.ok());
  EXPECT_EQ(fit.status().message(),
            "unknown fit \"stretch\" (allowed: cover, contain, inside, outside, fill)");
}

TEST(RecipeTest, ParsesColours) {
  EXPECT_EQ(*ParseColour("#ff8000"), (Colour{255, 128, 0, 255}));
  EXPECT_EQ(*ParseColour("#00000000"), (Colour{0, 0, 0, 0}));
  for (const char* bad : {"ff8000", "#ff80", "#gg0000", "#ff800", ""}) {
    EXPECT_FALSE(ParseColour(bad).ok()) << bad;
  }
}

TEST(RecipeTest, VariantSpecShorthand) {
  Result<Variant> v = ParseVariantSpec("small:128x96:cover:webp:75");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->name, "small");
  EXPECT_EQ(v->width, 128);
  EXPECT_EQ(v->height, 96);
  EXPECT_EQ(v->fit, Fit::kCover);
  EXPECT_EQ(v->format, Format::kWebp);
  EXPECT_EQ(v->quality, 75);

  Result<Variant> wide = ParseVariantSpec("wide:800x");
  ASSERT_TRUE(wide.ok());
  EXPECT_EQ(wide->width, 800);
  EXPECT_EQ(wide->height, 0);
  EXPECT_EQ(wide->fit, Fit::kInside);
  EXPECT_EQ(wide->format, Format::kOriginal);
}

TEST(RecipeTest, VariantSpecErrorsShowTheExpectedForm) {
  for (const char* bad : {"small", "small:128", "small:axb", "small:0x0", "s:1x1:bogus",
                          "s:1x1:cover:tiff", "s:1x1:cover:jpeg:101", "bad name:1x1",
                          "a:1x1:cover:jpeg:80:extra"}) {
    Result<Variant> v = ParseVariantSpec(bad);
    EXPECT_FALSE(v.ok()) << bad;
  }
  EXPECT_NE(ParseVariantSpec("small").status().message().find("NAME:WxH"), std::string::npos);
}

TEST(RecipeTest, ValidationNamesTheField) {
  Variant v{.name = "x", .width = 100, .height = 100};
  v.quality = 101;
  EXPECT_NE(ValidateVariant(v).message().find("quality"), std::string::npos);
  v.quality = 0;
  v.format = Format::kWebp;
  v.effort = 7;
  EXPECT_NE(ValidateVariant(v).message().find("effort must be 0-6 for webp"), std::string::npos);
  v.effort = -1;
  v.format = Format::kJpeg;
  v.animated = true;
  EXPECT_NE(ValidateVariant(v).message().find("animated"), std::string::npos);
  v.animated = false;
  v.fit = Fit::kInside;
  v.gravity = Gravity::kAttention;
  EXPECT_NE(ValidateVariant(v).message().find("fit = cover"), std::string::npos);
  v.gravity = Gravity::kCentre;
  v.width = 20000;
  EXPECT_FALSE(ValidateVariant(v).ok());
}

TEST(RecipeTest, RecipeNeedsUniqueNamesAndAtLeastOneVariant) {
  EXPECT_FALSE(ValidateRecipe({}).ok());
  Variant a{.name = "a", .width = 10};
  EXPECT_TRUE(ValidateRecipe({{a}}).ok());
  EXPECT_NE(ValidateRecipe({{a, a}}).message().find("used twice"), std::string::npos);
}

}  // namespace
}  // namespace thumbpipe::image
