// Whether a source's renditions are up to date: every variant's rendition exists and carries
// the source's current ETag. The job asks before decoding (so that a redelivered event costs
// HEADs, not a decode) and backfill asks to find the gaps.
#pragma once

#include <string_view>

#include "image/recipe.h"
#include "pipeline/rendition_names.h"
#include "store/object_store.h"

namespace thumbpipe::pipeline {

// False when any rendition is missing, stale, unreadable, or named by the decoded format
// only (a kOriginal variant of a key without a known extension): then only rendering tells.
bool RenditionsUpToDate(store::ObjectStore& store, std::string_view output_bucket, const OutputLayout& layout,
                        const image::Recipe& recipe, std::string_view source_key, std::string_view source_etag);

}  // namespace thumbpipe::pipeline
