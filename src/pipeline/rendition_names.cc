#include "pipeline/rendition_names.h"

#include "events/key_encoding.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace thumbpipe::pipeline {
namespace {

constexpr std::array kOutputFormats = {image::Format::kJpeg, image::Format::kPng, image::Format::kWebp,
                                       image::Format::kAvif, image::Format::kGif};

// "2024/cat.JPG" -> ("2024/cat", "jpg"). Only the last path segment can hold the extension:
// "a.b/c" has none.
std::pair<std::string_view, std::string> SplitExtension(std::string_view key) {
  const size_t slash = key.rfind('/');
  const size_t dot = key.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash) || dot + 1 == key.size()) {
    return {key, ""};
  }
  std::string ext(key.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return {key.substr(0, dot), ext};
}

std::string_view Stem(const OutputLayout& layout, std::string_view source_key) {
  std::string_view key = source_key;
  if (key.starts_with(layout.trigger_prefix)) key.remove_prefix(layout.trigger_prefix.size());
  return SplitExtension(key).first;
}

}  // namespace

std::optional<image::Format> PlannedFormat(const image::Variant& variant, std::string_view source_key) {
  if (variant.format != image::Format::kOriginal) return variant.format;
  const std::string ext = SplitExtension(source_key).second;
  if (ext == "jpg" || ext == "jpeg" || ext == "jpe") return image::Format::kJpeg;
  if (ext == "png") return image::Format::kPng;
  if (ext == "webp") return image::Format::kWebp;
  if (ext == "avif") return image::Format::kAvif;
  if (ext == "gif") return image::Format::kGif;
  return std::nullopt;
}

std::string RenditionKey(const OutputLayout& layout, std::string_view variant, std::string_view source_key,
                         image::Format format) {
  std::string key = layout.output_prefix;
  key.append(variant).append("/").append(Stem(layout, source_key)).append(".");
  key.append(image::FormatExtension(format));
  return key;
}

std::vector<std::string> PossibleRenditionKeys(const OutputLayout& layout, const image::Recipe& recipe,
                                               std::string_view source_key) {
  std::vector<std::string> keys;
  for (const image::Variant& v : recipe.variants) {
    if (auto format = PlannedFormat(v, source_key)) {
      keys.push_back(RenditionKey(layout, v.name, source_key, *format));
    } else {
      for (image::Format f : kOutputFormats) keys.push_back(RenditionKey(layout, v.name, source_key, f));
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

store::Metadata RenditionMetadata(std::string_view source_key, std::string_view source_etag,
                                  std::string_view variant, int width, int height) {
  store::Metadata m;
  // Encoded as in S3 events: metadata travels in HTTP headers, which keys in UTF-8 cannot.
  m.emplace(kMetaSourceKey, events::EncodeEventKey(source_key));
  m.emplace(kMetaSourceEtag, source_etag);
  m.emplace(kMetaVariant, variant);
  m.emplace(kMetaWidth, std::to_string(width));
  m.emplace(kMetaHeight, std::to_string(height));
  return m;
}

bool RenditionOf(const store::ObjectInfo& rendition, std::string_view source_key) {
  auto it = rendition.metadata.find(kMetaSourceKey);
  return it != rendition.metadata.end() && it->second == events::EncodeEventKey(source_key);
}

std::string_view ContentType(image::Format format) {
  switch (format) {
    case image::Format::kJpeg: return "image/jpeg";
    case image::Format::kPng: return "image/png";
    case image::Format::kWebp: return "image/webp";
    case image::Format::kAvif: return "image/avif";
    case image::Format::kGif: return "image/gif";
    case image::Format::kOriginal: break;
  }
  return "application/octet-stream";
}

}  // namespace thumbpipe::pipeline
