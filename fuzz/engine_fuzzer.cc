// libFuzzer target on the engine's entry point: arbitrary bytes through Engine::Thumbnail
// with the default limits and a recipe that exercises every output path (crop, pad, alpha
// flattening, animation). A finding is a crash, a sanitizer report, or a hostile input
// classified as something other than ok / Unsupported / Corrupt / TooLarge: such an input
// would be retried as if the failure were transient instead of going to the DLQ.
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <memory>

#include "image/engine.h"

namespace {

using thumbpipe::StatusCode;
using namespace thumbpipe::image;

const Engine& TheEngine() {
  static std::unique_ptr<Engine> engine = [] {
    auto created = Engine::Create(EngineOptions{});
    if (!created.ok()) {
      std::fprintf(stderr, "engine: %s\n", created.status().ToString().c_str());
      std::abort();
    }
    return std::move(created).value();
  }();
  return *engine;
}

const Recipe& TheRecipe() {
  static const Recipe recipe{{
      Variant{.name = "cover", .width = 64, .height = 48, .fit = Fit::kCover, .format = Format::kWebp},
      Variant{.name = "contain", .width = 40, .height = 40, .fit = Fit::kContain, .format = Format::kJpeg},
      Variant{.name = "anim", .width = 32, .height = 0, .fit = Fit::kInside, .format = Format::kGif,
              .animated = true},
      Variant{.name = "same", .width = 96, .height = 96, .fit = Fit::kInside},
  }};
  return recipe;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto result = TheEngine().Thumbnail({reinterpret_cast<const std::byte*>(data), size}, TheRecipe());
  if (!result.ok()) {
    const StatusCode code = result.status().code();
    if (code != StatusCode::kUnsupported && code != StatusCode::kCorrupt &&
        code != StatusCode::kTooLarge) {
      std::fprintf(stderr, "misclassified hostile input: %s\n", result.status().ToString().c_str());
      if (std::getenv("THUMBPIPE_FUZZ_STRICT") != nullptr) std::abort();
    }
  }
  return 0;
}
