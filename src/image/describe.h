// JSON descriptions of what the engine read and made, shared by the CLI's output lines and
// the pipeline's job logs so that both speak the same field names.
#pragma once

#include <nlohmann/json.hpp>

#include "image/engine.h"

namespace thumbpipe::image {

// {"format","width","height","orientation","pages","has_alpha","colourspace","bits","icc","interlaced"}
nlohmann::json DescribeInfo(const ImageInfo& info);

// {"variant","format","width","height","pages","bytes"} (bytes = encoded size)
nlohmann::json DescribeRendition(const Rendition& rendition);

// {"class": "corrupt", "permanent": true, "reason": "..."}
nlohmann::json DescribeError(const Status& status);

}  // namespace thumbpipe::image
