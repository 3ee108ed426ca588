// What one Thumbnail call holds in memory at its peak, estimated from the header before
// anything is decoded, so that MemoryBudget can decide whether the job may start now.
//
// The model follows how each decoder works, with factors measured on this build (peak RSS
// of `thumbpipe thumbnail -j 1` over the process at rest, bench/job_memory) and rounded up:
//   - formats decoded whole into memory: HEIF/AVIF (libheif's planes and libvips' copy,
//     2.9 bytes per pixel and band on huge pages), progressive JPEG (a 16-bit DCT coefficient per
//     coded sample: its chroma subsampling counts), interlaced PNG, GIF (libnsgif's RGBA
//     canvas and its copy), WebP (at the scale it is decoded at);
//   - formats read in strips (baseline JPEG at its shrink-on-load scale, PNG, TIFF): a
//     fraction of a byte per pixel;
//   - the decoded base kept in memory for the renditions (all frames of an animation, and
//     room for the animated output's frames);
//   - the encoded input itself, and a constant for libvips' pipelines and the encoders.
// It errs high (bench/README.md, "Job memory"): too high only delays a job when memory is
// short, too low lets jobs overcommit it.
#pragma once

#include <cstdint>

#include "image/engine.h"

namespace thumbpipe::image {

// `frames`: frames decoded (1 unless an animated rendition is asked for). `scale`: the
// largest variant's size over the source's (LargestScale). `input_bytes`: the encoded source.
uint64_t EstimateJobMemory(const ImageInfo& info, int frames, double scale, uint64_t input_bytes);

}  // namespace thumbpipe::image
