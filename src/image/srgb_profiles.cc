#include "image/srgb_profiles.h"

#include <cstring>
#include <functional>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace thumbpipe::image {
namespace {

using vips::VImage;

// Enough for every profile a deployment meets in practice; beyond it, verdicts are simply
// recomputed (a cleared cache only costs time).
constexpr size_t kMaxRememberedProfiles = 256;
// 8 levels per channel: 512 colours spread over the cube, corners included.
constexpr int kLevels = 8;

bool TestProfile(const void* profile, size_t length) {
  std::vector<unsigned char> pixels;
  pixels.reserve(kLevels * kLevels * kLevels * 3);
  for (int r = 0; r < kLevels; ++r) {
    for (int g = 0; g < kLevels; ++g) {
      for (int b = 0; b < kLevels; ++b) {
        for (int c : {r, g, b}) pixels.push_back(static_cast<unsigned char>(c * 255 / (kLevels - 1)));
      }
    }
  }
  VImage grid = VImage::new_from_memory(pixels.data(), pixels.size(), kLevels * kLevels * kLevels,
                                        1, 3, VIPS_FORMAT_UCHAR)
                    .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  grid.set(VIPS_META_ICC_NAME, static_cast<VipsCallbackFn>(nullptr),
           const_cast<void*>(profile), length);
  try {
    VImage out = grid.icc_transform("srgb", VImage::option()
                                                ->set("embedded", true)
                                                ->set("intent", VIPS_INTENT_RELATIVE)
                                                ->set("depth", 8));
    const double max_error = (out.cast(VIPS_FORMAT_INT) - grid.cast(VIPS_FORMAT_INT)).abs().max();
    return max_error <= 1.0;
  } catch (const vips::VError&) {
    vips_error_clear();
    return false;  // an unusable profile is certainly not "already sRGB"
  }
}

}  // namespace

bool HasEffectivelySrgbProfile(const VImage& image) {
  if (image.format() != VIPS_FORMAT_UCHAR || image.interpretation() != VIPS_INTERPRETATION_sRGB ||
      image.get_typeof(VIPS_META_ICC_NAME) == 0) {
    return false;
  }
  size_t length = 0;
  const void* profile = image.get_blob(VIPS_META_ICC_NAME, &length);
  const std::string_view bytes(static_cast<const char*>(profile), length);
  const size_t key = std::hash<std::string_view>{}(bytes);

  static std::mutex mu;
  // Protected by mu. Keyed by hash, with the bytes kept to rule out collisions.
  static std::unordered_map<size_t, std::pair<std::string, bool>> verdicts;
  {
    std::scoped_lock lock(mu);
    if (auto it = verdicts.find(key); it != verdicts.end() && it->second.first == bytes) {
      return it->second.second;
    }
  }
  // Tested outside the lock: two threads may test the same new profile once each.
  const bool srgb = TestProfile(profile, length);
  std::scoped_lock lock(mu);
  if (verdicts.size() >= kMaxRememberedProfiles) verdicts.clear();
  verdicts[key] = {std::string(bytes), srgb};
  return srgb;
}

}  // namespace thumbpipe::image
