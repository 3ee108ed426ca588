// The one place that maps a store URL to an implementation (DESIGN "Rooms"): file://PATH
// (the local store; "file:///abs/path" or "file://relative/path", the folder is created).
// s3://BUCKET?endpoint=...&region=... joins with issue 6 and is kUnsupported until then.
#pragma once

#include <memory>
#include <string_view>

#include "common/result.h"
#include "store/local_store.h"
#include "store/object_store.h"

namespace thumbpipe::store {

// Opens the store at `url`. `options` carries the local store's settings (limits, inline
// size, durability, clock); its dir is taken from the URL. kInvalidArgument for an unknown
// scheme or a URL without a path, kUnsupported for s3:// (not built yet).
Result<std::unique_ptr<ObjectStore>> OpenStore(std::string_view url, LocalStoreOptions options);

}  // namespace thumbpipe::store
