#include "pipeline/freshness.h"

namespace thumbpipe::pipeline {

bool RenditionsUpToDate(store::ObjectStore& store, std::string_view output_bucket, const OutputLayout& layout,
                        const image::Recipe& recipe, std::string_view source_key, std::string_view source_etag) {
  for (const image::Variant& v : recipe.variants) {
    const std::optional<image::Format> format = PlannedFormat(v, source_key);
    if (!format) return false;
    Result<store::ObjectInfo> r = store.Head(output_bucket, RenditionKey(layout, v.name, source_key, *format));
    if (!r.ok()) return false;
    auto it = r->metadata.find(kMetaSourceEtag);
    if (it == r->metadata.end() || it->second != source_etag) return false;
  }
  return true;
}

}  // namespace thumbpipe::pipeline
