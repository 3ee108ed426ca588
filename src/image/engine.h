// The thumbnail engine: bytes of one source image + a Recipe -> one encoded rendition per
// variant. It decodes once: the source is loaded with shrink-on-load at the scale the
// largest variant needs, and every variant is resized from that one decode. Outputs are
// upright (EXIF orientation applied), sRGB, 8-bit, and carry no private metadata.
//
// Hostile input is refused before any full decode: the input format is sniffed from magic
// bytes and must be on the allow-list; byte, pixel and frame limits are checked from the
// header. Failures are classified by Status code:
//   kUnsupported, kCorrupt, kTooLarge   permanent: the same input will always fail
//   anything else                       transient (e.g. kInternal, kUnavailable)
// Error messages name the reason and, for limits, the limit; they never contain text from
// libvips' process-wide error buffer (which can hold another thread's error).
//
// An Engine is safe for concurrent use by any number of threads. libvips is initialised
// once per process, by the first Engine created.
#pragma once

#include <cstddef>
#include <cstdint>
#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "image/limits.h"
#include "image/recipe.h"

namespace thumbpipe::image {

class MemoryBudget;  // image/memory_budget.h

struct EngineOptions {
  Limits limits;
  // libvips worker threads per job. 1 suits a pool of job threads (throughput across jobs:
  // no cross-job contention); raise it only when running few, large jobs.
  int vips_concurrency = 1;
  // When > 0, vips_concurrency is ignored: each job's decode and each of its renditions get
  // share_cores / (jobs running at that moment) libvips threads, at least 1. A pool of job
  // threads then uses every core even when only one job is left (the tail of a burst, or a
  // quiet moment), and a job alone finishes as fast as the engine can make it.
  int share_cores = 0;
  // When set, each call reserves its estimated peak memory (EstimateJobMemory) here before
  // decoding, waiting while the calls running hold too much; shared by every Engine that
  // shares it. Null: no accounting.
  std::shared_ptr<MemoryBudget> memory_budget;
};

// What the source is, as read from its header.
struct ImageInfo {
  InputFormat format = InputFormat::kUnknown;
  int width = 0;           // as stored, before orientation
  int height = 0;          // as stored (for animations: one frame)
  int orientation = 1;     // EXIF orientation 1-8
  int pages = 1;           // frames (animations) or pages in the file
  bool has_alpha = false;
  std::string colourspace; // libvips interpretation: "srgb", "b-w", "cmyk", "rgb16", "grey16", "lab", ...
  int bits = 8;            // bits per sample
  bool has_icc = false;    // an embedded ICC profile
  bool interlaced = false; // progressive JPEG / interlaced PNG or GIF
  double jpeg_coded_samples = 0;  // JPEG: samples coded per pixel (JpegFrame), else 0
};

struct Rendition {
  std::string variant;
  Format format = Format::kJpeg;  // never kOriginal: the format actually written
  int width = 0;
  int height = 0;                 // for animations: one frame
  int pages = 1;
  std::string bytes;              // the encoded file
};

struct ThumbnailResult {
  ImageInfo info;
  std::vector<Rendition> renditions;  // in recipe order, one per variant
  double decode_ms = 0;               // header + shared decode
  double encode_ms = 0;               // resize + encode of all variants
  uint64_t memory_estimate = 0;       // bytes reserved for the job (EstimateJobMemory)
  double memory_wait_ms = 0;          // time waiting for them in the memory budget
  bool icc_profile_ignored = false;   // the embedded ICC profile was damaged: converted as untagged
};

class Engine {
 public:
  // Initialises libvips (once per process), blocks untrusted loaders and unblocks only the
  // allowed vector formats. Fails with kInternal if libvips cannot start, or
  // kInvalidArgument for unusable options.
  static Result<std::unique_ptr<Engine>> Create(const EngineOptions& options);

  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();

  // Reads the header only.
  Result<ImageInfo> Probe(std::span<const std::byte> input) const;

  // Makes every rendition of `recipe` from `input`. REQUIRES: ValidateRecipe(recipe).ok().
  // Either every rendition is made or an error is returned (no partial result).
  Result<ThumbnailResult> Thumbnail(std::span<const std::byte> input, const Recipe& recipe) const;

  const EngineOptions& options() const { return options_; }

 private:
  explicit Engine(EngineOptions options);
  // libvips' thread count for the next pipeline this job starts (share_cores). libvips reads
  // it once per pipeline, so a running pipeline keeps what it started with.
  void ShareCores() const;

  EngineOptions options_;
  mutable std::atomic<int> running_{0};  // Thumbnail calls in progress
};

// Frees libvips' per-thread state. A thread that called Thumbnail or Probe and is about to
// exit calls this once (libvips leaks the state otherwise; calling it per job costs speed).
void ReleaseThreadResources();

// libvips' version ("8.14.1") and the formats this build can read and write.
// REQUIRES: an Engine has been created (libvips is started).
std::string VipsVersion();
std::vector<std::string> SupportedInputFormats();   // allowed-list candidates this libvips can load
std::vector<std::string> SupportedOutputFormats();

// Convenience for callers holding a std::string.
inline std::span<const std::byte> AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace thumbpipe::image
