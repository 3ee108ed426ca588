#include "image/recipe.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <set>
#include <utility>

#include "image/limits.h"

namespace thumbpipe::image {
namespace {

template <typename E>
struct Named {
  std::string_view name;
  E value;
};

constexpr Named<Fit> kFits[] = {{"cover", Fit::kCover},     {"contain", Fit::kContain},
                                {"inside", Fit::kInside},   {"outside", Fit::kOutside},
                                {"fill", Fit::kFill}};
constexpr Named<Gravity> kGravities[] = {
    {"centre", Gravity::kCentre},        {"north", Gravity::kNorth},
    {"north_east", Gravity::kNorthEast}, {"east", Gravity::kEast},
    {"south_east", Gravity::kSouthEast}, {"south", Gravity::kSouth},
    {"south_west", Gravity::kSouthWest}, {"west", Gravity::kWest},
    {"north_west", Gravity::kNorthWest}, {"attention", Gravity::kAttention},
    {"entropy", Gravity::kEntropy}};
constexpr Named<Format> kFormats[] = {{"jpeg", Format::kJpeg}, {"png", Format::kPng},
                                      {"webp", Format::kWebp}, {"avif", Format::kAvif},
                                      {"gif", Format::kGif},   {"original", Format::kOriginal}};
constexpr Named<InputFormat> kInputFormats[] = {
    {"jpeg", InputFormat::kJpeg}, {"png", InputFormat::kPng},   {"webp", InputFormat::kWebp},
    {"gif", InputFormat::kGif},   {"tiff", InputFormat::kTiff}, {"heif", InputFormat::kHeif},
    {"avif", InputFormat::kAvif}, {"svg", InputFormat::kSvg},   {"pdf", InputFormat::kPdf}};

template <typename E, size_t N>
std::string AllowedNames(const Named<E> (&table)[N]) {
  std::string out;
  for (const auto& entry : table) {
    if (!out.empty()) out += ", ";
    out += entry.name;
  }
  return out;
}

template <typename E, size_t N>
Result<E> Lookup(const Named<E> (&table)[N], std::string_view what, std::string_view text) {
  for (const auto& entry : table) {
    if (entry.name == text) return entry.value;
  }
  return Status::InvalidArgument("unknown " + std::string(what) + " \"" + std::string(text) +
                                 "\" (allowed: " + AllowedNames(table) + ")");
}

template <typename E, size_t N>
std::string_view NameOf(const Named<E> (&table)[N], E value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "unknown";
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<int> ParseDimension(std::string_view text, std::string_view what) {
  if (text.empty()) return 0;
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return Status::InvalidArgument("bad " + std::string(what) + " \"" + std::string(text) + "\"");
  }
  return value;
}

}  // namespace

std::string_view FitName(Fit fit) { return NameOf(kFits, fit); }
std::string_view GravityName(Gravity gravity) { return NameOf(kGravities, gravity); }
std::string_view FormatName(Format format) { return NameOf(kFormats, format); }
std::string_view InputFormatName(InputFormat f) {
  return f == InputFormat::kUnknown ? "unknown" : NameOf(kInputFormats, f);
}

Result<Fit> ParseFit(std::string_view text) { return Lookup(kFits, "fit", Lower(text)); }

Result<Gravity> ParseGravity(std::string_view text) {
  std::string s = Lower(text);
  if (s == "center") s = "centre";
  // Accept sharp's spellings too: "northeast", "north-east".
  std::erase(s, '-');
  for (const char* compound : {"north", "south"}) {
    const std::string c = compound;
    if (s.size() > c.size() && s.starts_with(c) && s[c.size()] != '_') s.insert(c.size(), "_");
  }
  return Lookup(kGravities, "gravity", s);
}

Result<Format> ParseFormat(std::string_view text) {
  std::string s = Lower(text);
  if (s == "jpg") s = "jpeg";
  return Lookup(kFormats, "format", s);
}

Result<InputFormat> ParseInputFormat(std::string_view text) {
  std::string s = Lower(text);
  if (s == "jpg") s = "jpeg";
  if (s == "tif") s = "tiff";
  if (s == "heic") s = "heif";
  return Lookup(kInputFormats, "input format", s);
}

Result<Colour> ParseColour(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("bad colour \"" + std::string(text) +
                                   "\" (expected #rrggbb or #rrggbbaa)");
  };
  if (text.size() != 7 && text.size() != 9) return bad();
  if (text[0] != '#') return bad();
  std::array<uint8_t, 4> channels{0, 0, 0, 255};
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(text.data() + 1 + i, text.data() + 3 + i, value, 16);
    if (ec != std::errc() || ptr != text.data() + 3 + i) return bad();
    channels[i / 2] = static_cast<uint8_t>(value);
  }
  return Colour{channels[0], channels[1], channels[2], channels[3]};
}

std::string_view FormatExtension(Format format) {
  switch (format) {
    case Format::kJpeg: return "jpg";
    case Format::kPng: return "png";
    case Format::kWebp: return "webp";
    case Format::kAvif: return "avif";
    case Format::kGif: return "gif";
    case Format::kOriginal: break;
  }
  return "bin";
}

namespace {
// Largest output side we allow: WebP's own limit, and far more than any thumbnail needs.
constexpr int kMaxOutputSide = 16383;
}  // namespace

Status ValidateVariant(const Variant& v) {
  auto fail = [&](std::string field, std::string why) {
    return Status::InvalidArgument("variant \"" + v.name + "\": " + field + " " + why);
  };
  if (v.name.empty() || v.name.size() > 64 ||
      !std::all_of(v.name.begin(), v.name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      })) {
    return Status::InvalidArgument("variant name \"" + v.name +
                                   "\" must be 1-64 characters of A-Z a-z 0-9 _ -");
  }
  if (v.width < 0 || v.width > kMaxOutputSide) return fail("width", "must be 0-16383");
  if (v.height < 0 || v.height > kMaxOutputSide) return fail("height", "must be 0-16383");
  if (v.width == 0 && v.height == 0) return fail("width/height", "at least one must be set");
  if (v.quality < 0 || v.quality > 100) return fail("quality", "must be 1-100 (0 = default)");
  int max_effort = 10;
  int min_effort = 0;
  switch (v.format) {
    case Format::kWebp: max_effort = 6; break;
    case Format::kAvif: max_effort = 9; break;
    case Format::kPng: min_effort = 1; break;  // libvips pngsave effort (palette) is 1-10
    case Format::kGif: min_effort = 1; break;
    default: break;
  }
  if (v.effort != -1 && (v.effort < min_effort || v.effort > max_effort)) {
    return fail("effort", "must be " + std::to_string(min_effort) + "-" +
                              std::to_string(max_effort) + " for " +
                              std::string(FormatName(v.format)) + " (-1 = default)");
  }
  if (v.animated && v.format != Format::kGif && v.format != Format::kWebp &&
      v.format != Format::kOriginal) {
    return fail("animated", "needs format gif, webp or original");
  }
  if ((v.gravity == Gravity::kAttention || v.gravity == Gravity::kEntropy) && v.fit != Fit::kCover) {
    return fail("gravity", "attention and entropy need fit = cover");
  }
  return Status::Ok();
}

Status ValidateRecipe(const Recipe& recipe) {
  if (recipe.variants.empty()) return Status::InvalidArgument("no variants configured");
  std::set<std::string, std::less<>> names;
  for (const Variant& v : recipe.variants) {
    THUMBPIPE_RETURN_IF_ERROR(ValidateVariant(v));
    if (!names.insert(v.name).second) {
      return Status::InvalidArgument("variant name \"" + v.name + "\" is used twice");
    }
  }
  return Status::Ok();
}

Result<Variant> ParseVariantSpec(std::string_view spec) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  auto usage = [&](std::string why) {
    return Status::InvalidArgument("--variant \"" + std::string(spec) + "\": " + why +
                                   " (expected NAME:WxH[:fit[:format[:quality]]])");
  };
  if (parts.size() < 2 || parts.size() > 5) return usage("wrong number of fields");
  Variant v;
  v.name = std::string(parts[0]);
  const size_t x = parts[1].find('x');
  if (x == std::string_view::npos) return usage("size must be WxH");
  auto w = ParseDimension(parts[1].substr(0, x), "width");
  auto h = ParseDimension(parts[1].substr(x + 1), "height");
  if (!w.ok()) return usage(w.status().message());
  if (!h.ok()) return usage(h.status().message());
  v.width = *w;
  v.height = *h;
  v.fit = Fit::kInside;
  if (parts.size() > 2 && !parts[2].empty()) {
    auto fit = ParseFit(parts[2]);
    if (!fit.ok()) return usage(fit.status().message());
    v.fit = *fit;
  }
  if (parts.size() > 3 && !parts[3].empty()) {
    auto format = ParseFormat(parts[3]);
    if (!format.ok()) return usage(format.status().message());
    v.format = *format;
  }
  if (parts.size() > 4 && !parts[4].empty()) {
    auto q = ParseDimension(parts[4], "quality");
    if (!q.ok()) return usage(q.status().message());
    v.quality = *q;
  }
  THUMBPIPE_RETURN_IF_ERROR(ValidateVariant(v));
  return v;
}

}  // namespace thumbpipe::image
