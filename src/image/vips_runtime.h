// Process-wide libvips set-up. libvips keeps its settings (concurrency, operation cache,
// blocked loaders) in globals, so they live here, in one place, and every Engine applies
// the same ones.
#pragma once

#include <string_view>

#include "common/status.h"
#include "image/limits.h"

namespace thumbpipe::image {

// Starts libvips on first call (later calls only re-apply settings):
//  - the operation cache is off: a pipeline never repeats a job, and cached operations pin
//    decoded images in memory;
//  - `concurrency` worker threads per image pipeline (0 = libvips' default, one per core);
//  - every untrusted loader is blocked, then only svg/pdf are unblocked, and only when
//    `limits` allows them. Blocking is global: the last call wins. This holds even for
//    bytes handed to libvips without the engine's sniffer (UntrustedLoaderTest).
Status InitVipsRuntime(const Limits& limits, int concurrency);

// The libvips loader class (e.g. "VipsForeignLoadJpegBuffer") expected for an input format.
std::string_view ExpectedBufferLoader(InputFormat format);

}  // namespace thumbpipe::image
