// The one place that maps a store URL to an implementation (DESIGN "Rooms"): file://PATH
// (the local store; "file:///abs/path" or "file://relative/path", the folder is created).
// s3://BUCKET?endpoint=...&region=...&path_style=... (the S3 client, s3_store.h).
#pragma once

#include <memory>
#include <string_view>

#include "common/result.h"
#include "store/local_store.h"
#include "store/object_store.h"
#include "store/s3_store.h"

namespace thumbpipe::store {

// Opens the store at `url`. `options` carries the local store's settings (limits, inline
// size, durability, clock); its dir is taken from the URL. `s3` carries what an s3:// URL
// cannot (the fallback credentials from the config file, the clock); the URL's parameters
// override its fields. kInvalidArgument for an unknown scheme, a URL without a path, or a bad
// s3:// parameter; kNotFound for an s3:// store without credentials.
Result<std::unique_ptr<ObjectStore>> OpenStore(std::string_view url, LocalStoreOptions options,
                                               S3StoreOptions s3 = {});

}  // namespace thumbpipe::store
