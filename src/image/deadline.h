// A job's processing-time budget (limits.max_processing_time), enforced inside libvips.
//
// libvips computes lazily: the pixels of a decode or a resize are made only when something
// writes them (copy_memory, a saver), tile by tile, and after each tile it emits the "eval"
// signal on the image being watched (the one set_progress was called on, or the nearest
// such image upstream). WatchDeadline connects to that signal: once the deadline has passed,
// it sets the image's kill flag, libvips stops at the next tile, and the write throws a
// VError. So a pathological input cannot hold a job thread for longer than the budget plus
// one tile, whatever the pixels cost, and the thread is free for the next job.
//
// What it cannot cut short is a single long call inside a codec (libjpeg decoding a whole
// progressive JPEG before the first tile, an AVIF encoder on its finished input): those are
// bounded by limits.max_interlaced_pixels and by the small size of renditions.
#pragma once

#include <chrono>

#include <vips/vips8>

namespace thumbpipe::image {

using Deadline = std::chrono::steady_clock::time_point;

// Computations reading `image`, directly or through any image made from it (not through a
// copy_memory of it: watch the copy too), stop once `deadline` has passed.
void WatchDeadline(vips::VImage& image, Deadline deadline);

inline bool Passed(Deadline deadline) { return std::chrono::steady_clock::now() >= deadline; }

}  // namespace thumbpipe::image
