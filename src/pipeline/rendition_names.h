// Where a source's renditions live, and what they carry (DESIGN.md "Renditions"):
//   {output_prefix}{variant}/{source key without the trigger prefix and extension}.{ext}
// e.g. uploads/2024/cat.JPG -> thumbnails/small/2024/cat.webp. The name depends only on the
// source key and the recipe, so a worker can tell whether the renditions exist without
// decoding anything, and ObjectRemoved can find them to delete.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/recipe.h"
#include "store/object_store.h"

namespace thumbpipe::pipeline {

struct OutputLayout {
  std::string trigger_prefix;  // stripped from the source key ("uploads/")
  std::string output_prefix;   // put in front ("thumbnails/")
};

// The rendition format a variant writes for a source. For Format::kOriginal it is the format
// the source key's extension names (.jpg/.jpeg, .png, .webp, .avif, .gif); nullopt when the
// extension names none of those (the real format is known only after decoding).
std::optional<image::Format> PlannedFormat(const image::Variant& variant, std::string_view source_key);

// The rendition key of one variant in a given format.
std::string RenditionKey(const OutputLayout& layout, std::string_view variant, std::string_view source_key,
                         image::Format format);

// Every key a source's renditions may have: one per variant, or, for kOriginal variants whose
// format the key does not tell, one per output format (used to delete them all).
std::vector<std::string> PossibleRenditionKeys(const OutputLayout& layout, const image::Recipe& recipe,
                                               std::string_view source_key);

// User metadata a rendition carries (x-amz-meta-*): which source (its key encoded as in S3
// events), which version of it (ETag), which variant, and its size.
inline constexpr std::string_view kMetaSourceKey = "thumbpipe-source-key";
inline constexpr std::string_view kMetaSourceEtag = "thumbpipe-source-etag";
inline constexpr std::string_view kMetaVariant = "thumbpipe-variant";
inline constexpr std::string_view kMetaWidth = "thumbpipe-width";
inline constexpr std::string_view kMetaHeight = "thumbpipe-height";

store::Metadata RenditionMetadata(std::string_view source_key, std::string_view source_etag,
                                  std::string_view variant, int width, int height);

// Whether a rendition was last written for this source. Two sources that differ only in
// their extension (cat.jpg, cat.png) share the names of the variants with a fixed format;
// the last one rendered owns them, and deleting the other must leave them alone.
bool RenditionOf(const store::ObjectInfo& rendition, std::string_view source_key);

// MIME type of an output format ("image/webp").
std::string_view ContentType(image::Format format);

}  // namespace thumbpipe::pipeline
