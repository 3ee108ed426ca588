#include "image/engine.h"

#include <vips/vips8>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>

#include "common/logging.h"
#include "image/deadline.h"
#include "image/encode.h"
#include "image/geometry.h"
#include "image/memory_budget.h"
#include "image/memory_estimate.h"
#include "image/pipeline_steps.h"
#include "image/renditions.h"
#include "image/sniff.h"
#include "image/vips_runtime.h"

namespace thumbpipe::image {
namespace {

using vips::VError;
using vips::VImage;

// libvips 8.14's GIF loader (libnsgif) reads at most this many frames and fails the header
// of a longer GIF with a warning, which fail_on turns into an error that looks like damage.
// Counted from the block structure first, such a frame bomb is refused for what it is.
// (Measured: tests/image/crafted_input_test.cc, CraftedManyFramesTest.)
constexpr int kGifDecoderMaxFrames = 4097;

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// libvips' error buffer is one process-wide string: its text may belong to another
// thread's job. It goes to the debug log only; callers get messages we compose ourselves.
void LogVipsError(std::string_view stage, const std::exception& e) {
  LogDebug("libvips error (process-wide buffer, may include other jobs' text)",
           {{"stage", stage}, {"text", e.what()}});
  vips_error_clear();
}

std::string AllowedList(const Limits& limits) {
  std::string out;
  for (InputFormat f : limits.allowed_formats) {
    if (!out.empty()) out += ", ";
    out += InputFormatName(f);
  }
  return out;
}

bool IsAllowed(const Limits& limits, InputFormat f) {
  return std::find(limits.allowed_formats.begin(), limits.allowed_formats.end(), f) !=
         limits.allowed_formats.end();
}

int MetaInt(const VImage& image, const char* name, int fallback) {
  if (image.get_typeof(name) == 0) return fallback;
  return image.get_int(name);
}

int BitsOf(VipsBandFormat format) {
  switch (format) {
    case VIPS_FORMAT_UCHAR: case VIPS_FORMAT_CHAR: return 8;
    case VIPS_FORMAT_USHORT: case VIPS_FORMAT_SHORT: return 16;
    case VIPS_FORMAT_DOUBLE: case VIPS_FORMAT_DPCOMPLEX: return 64;
    default: return 32;
  }
}

// Checks, in order: the byte limit, the format by magic bytes, the allow-list, what the
// format itself says (JPEG coding process, GIF truncation), then the header through libvips.
Result<ImageInfo> ReadHeader(std::span<const std::byte> input, const Limits& limits) {
  if (input.size() > limits.max_input_bytes) {
    return Status::TooLarge("input is " + std::to_string(input.size()) +
                            " bytes, over limits.max_input_bytes = " +
                            std::to_string(limits.max_input_bytes));
  }
  if (input.empty()) return Status::Unsupported("input is empty");
  ImageInfo info;
  info.format = SniffFormat(input);
  if (info.format == InputFormat::kUnknown) {
    return Status::Unsupported("not a supported image format (magic bytes match none of: " +
                               AllowedList(limits) + ")");
  }
  if (!IsAllowed(limits, info.format)) {
    return Status::Unsupported(std::string(InputFormatName(info.format)) +
                               " input is not allowed (limits.allowed_formats: " +
                               AllowedList(limits) + ")");
  }
  if (info.format == InputFormat::kJpeg) {
    const std::optional<JpegFrame> frame = ReadJpegFrame(input);
    if (!frame) return Status::Corrupt("jpeg has no frame header (truncated or damaged)");
    if (!frame->supported()) {
      return Status::Unsupported("jpeg coding process SOF" + std::to_string(frame->sof) +
                                 (frame->sof == 3 ? " (lossless)" : "") + " is not supported");
    }
    info.interlaced = frame->progressive();
    info.jpeg_coded_samples = frame->coded_samples_per_pixel;
  } else if (info.format == InputFormat::kPng) {
    info.interlaced = PngInterlaced(input).value_or(false);
  } else if (info.format == InputFormat::kGif) {
    const GifBlocks gif = ScanGif(input);
    if (gif.truncated) {
      return Status::Corrupt("gif ends inside a frame or extension (truncated or damaged)");
    }
    if (gif.frames > kGifDecoderMaxFrames) {
      return Status::TooLarge("gif has " + std::to_string(gif.frames) +
                              " frames, over the " + std::to_string(kGifDecoderMaxFrames) +
                              " that libvips' gif decoder can read");
    }
  }

  const char* loader = vips_foreign_find_load_buffer(input.data(), input.size());
  if (loader == nullptr) {
    vips_error_clear();
    return Status::Unsupported("no decoder in this build accepts this " +
                               std::string(InputFormatName(info.format)) + " file");
  }
  if (ExpectedBufferLoader(info.format) != loader) {
    return Status::Unsupported("magic bytes say " + std::string(InputFormatName(info.format)) +
                               " but libvips would decode it with " + loader);
  }

  VImage image;
  try {
    image = VImage::new_from_buffer(input.data(), input.size(), "", SafeLoadOptions());
  } catch (const VError& e) {
    LogVipsError("header", e);
    return Status::Corrupt(std::string(InputFormatName(info.format)) +
                           " header could not be read (damaged or truncated)");
  }
  info.width = image.width();
  info.pages = std::max(1, MetaInt(image, VIPS_META_N_PAGES, 1));
  info.height = info.pages > 1 ? vips_image_get_page_height(image.get_image()) : image.height();
  info.orientation = std::clamp(MetaInt(image, VIPS_META_ORIENTATION, 1), 1, 8);
  info.has_alpha = HasAlpha(image);
  info.colourspace = vips_enum_nick(VIPS_TYPE_INTERPRETATION, image.interpretation());
  info.bits = BitsOf(image.format());
  info.has_icc = image.get_typeof(VIPS_META_ICC_NAME) != 0;
  if (info.format == InputFormat::kGif) info.interlaced = MetaInt(image, "interlaced", 0) != 0;
  if (image.bands() > 5) {
    return Status::Unsupported("image has " + std::to_string(image.bands()) +
                               " channels; at most 5 (CMYK + alpha) are supported");
  }
  return info;
}

// Whether the colour transform can use the input's embedded ICC profile (its header only
// is read). REQUIRES: ReadHeader(input) succeeded.
bool EmbeddedProfileUsable(std::span<const std::byte> input) {
  try {
    return EmbeddedProfileConverts(
        VImage::new_from_buffer(input.data(), input.size(), "", SafeLoadOptions()));
  } catch (const VError& e) {
    LogVipsError("icc check", e);
    return true;  // unreadable for another reason, which the caller has already reported
  }
}

Status CheckPixelLimits(const ImageInfo& info, int frames, const Limits& limits) {
  const uint64_t frame_pixels = uint64_t(info.width) * uint64_t(info.height);
  const uint64_t pixels = frame_pixels * uint64_t(frames);
  if (pixels > limits.max_input_pixels) {
    std::string what = std::to_string(info.width) + "x" + std::to_string(info.height);
    if (frames > 1) what += " x " + std::to_string(frames) + " frames";
    return Status::TooLarge(what + " = " + std::to_string(pixels) +
                            " pixels, over limits.max_input_pixels = " +
                            std::to_string(limits.max_input_pixels));
  }
  if (info.interlaced && (info.format == InputFormat::kJpeg || info.format == InputFormat::kPng) &&
      frame_pixels > limits.max_interlaced_pixels) {
    return Status::TooLarge(std::string(info.format == InputFormat::kJpeg ? "progressive jpeg"
                                                                          : "interlaced png") +
                            " of " + std::to_string(frame_pixels) +
                            " pixels must be decoded whole, over limits.max_interlaced_pixels = " +
                            std::to_string(limits.max_interlaced_pixels));
  }
  return Status::Ok();
}

// libvips sizes a GIF's canvas to hold every frame, so one frame placed far outside a small
// logical screen makes a huge canvas. A refusal then says so; otherwise it would name a
// size the file never declares.
Status WithGifCanvasNote(Status status, std::span<const std::byte> input, const ImageInfo& info) {
  if (info.format != InputFormat::kGif) return status;
  const GifBlocks gif = ScanGif(input);
  if (gif.screen_width >= info.width && gif.screen_height >= info.height) return status;
  return Status(status.code(), status.message() + " (frames outside the gif's " +
                                   std::to_string(gif.screen_width) + "x" +
                                   std::to_string(gif.screen_height) +
                                   " logical screen grow its canvas)");
}

}  // namespace

Engine::Engine(EngineOptions options) : options_(std::move(options)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options) {
  const Limits& l = options.limits;
  if (l.max_input_bytes == 0 || l.max_input_pixels == 0 || l.max_frames < 1 ||
      l.max_interlaced_pixels == 0 || l.max_processing_time <= Duration{0}) {
    return Status::InvalidArgument("image limits must all be positive");
  }
  if (options.vips_concurrency < 0 || options.share_cores < 0) {
    return Status::InvalidArgument("vips_concurrency and share_cores must be >= 0");
  }
  THUMBPIPE_RETURN_IF_ERROR(
      InitVipsRuntime(l, options.share_cores > 0 ? options.share_cores : options.vips_concurrency));
  return std::unique_ptr<Engine>(new Engine(options));
}

Result<ImageInfo> Engine::Probe(std::span<const std::byte> input) const {
  try {
    return ReadHeader(input, options_.limits);
  } catch (const std::exception& e) {
    LogVipsError("probe", e);
    return Status::Internal("probing the image failed unexpectedly");
  }
}

void Engine::ShareCores() const {
  if (options_.share_cores <= 0) return;
  // vips_concurrency_set is process-wide: the last job to start a pipeline sets it for the
  // next one, which is what dividing the cores among the jobs of the moment needs.
  vips_concurrency_set(std::max(1, options_.share_cores / std::max(1, running_.load())));
}

Result<ThumbnailResult> Engine::Thumbnail(std::span<const std::byte> input,
                                          const Recipe& recipe) const {
  const Limits& limits = options_.limits;
  const auto start = std::chrono::steady_clock::now();
  Deadline deadline = start + limits.max_processing_time;
  // libvips stopped the job at the deadline (a VError like any other): say so.
  auto over_budget = [&](std::string_view step) {
    return Status::TooLarge("processing took longer than limits.max_processing_time = " +
                            FormatDuration(limits.max_processing_time) + "; stopped during " +
                            std::string(step));
  };
  ThumbnailResult result;
  try {
    THUMBPIPE_ASSIGN_OR_RETURN(result.info, ReadHeader(input, limits));
    const ImageInfo& info = result.info;

    const bool any_animated = std::any_of(recipe.variants.begin(), recipe.variants.end(),
                                          [&](const Variant& v) { return WantsAnimation(v, info); });
    const int frames = any_animated ? std::min(info.pages, limits.max_frames) : 1;
    if (Status pixels = CheckPixelLimits(info, frames, limits); !pixels.ok()) {
      return WithGifCanvasNote(std::move(pixels), input, info);
    }

    const Size stored{info.width, info.height};
    const Size upright = OrientationSwapsAxes(info.orientation) ? Size{stored.height, stored.width}
                                                               : stored;
    std::vector<VariantPlan> plans;
    plans.reserve(recipe.variants.size());
    for (const Variant& v : recipe.variants) plans.push_back(PlanVariant(upright, v));
    const double scale = LargestScale(upright, plans);

    result.memory_estimate = EstimateJobMemory(info, frames, scale, input.size());
    MemoryBudget::Reservation memory;
    if (options_.memory_budget != nullptr) {
      THUMBPIPE_ASSIGN_OR_RETURN(memory,
                                 options_.memory_budget->Reserve(result.memory_estimate, deadline));
      // The time budget is for the work: a job that waited for memory starts its own now.
      const auto admitted = std::chrono::steady_clock::now();
      result.memory_wait_ms = std::chrono::duration<double, std::milli>(admitted - start).count();
      deadline = admitted + limits.max_processing_time;
    }

    // Only jobs past the memory budget count as running: a waiting one uses no core.
    ++running_;
    struct Leave {
      std::atomic<int>& running;
      ~Leave() { --running; }
    } leave{running_};
    // One decode and the renditions from it. A VError means damaged data in the decode; in
    // the renditions it is unexpected (Internal, retried) unless the deadline stopped it.
    auto decode_and_render = [&](bool ignore_icc) -> Status {
      DecodedBase base;
      ShareCores();
      try {
        base = DecodeBase(input, info, scale, frames, deadline, ignore_icc);
      } catch (const VError& e) {
        LogVipsError("decode", e);
        if (Passed(deadline)) return over_budget("the decode");
        return Status::Corrupt(std::string(InputFormatName(info.format)) +
                               " data could not be decoded (damaged or truncated)");
      }
      result.decode_ms = MillisSince(start) - result.memory_wait_ms;
      const auto encode_start = std::chrono::steady_clock::now();
      ShareCores();  // jobs may have started or finished during the decode
      try {
        result.renditions = MakeRenditions(base, info, plans, recipe);
      } catch (const VError& e) {
        LogVipsError("encode", e);
        if (Passed(deadline)) return over_budget("the renditions");
        return Status::Internal("making the renditions failed in libvips");
      }
      result.encode_ms = MillisSince(encode_start);
      return Status::Ok();
    };
    Status made = decode_and_render(false);
    // A damaged embedded ICC profile fails the colour transform (in the decode for an
    // animation, else in the renditions). Browsers show such a file as if untagged, so the
    // job does too, rather than retrying it or calling the whole image corrupt. Checked only
    // after a failure: the check links the profile once more, which costs a CMYK file
    // milliseconds.
    if (!made.ok() && info.has_icc && !Passed(deadline) && !EmbeddedProfileUsable(input)) {
      result.icc_profile_ignored = true;
      made = decode_and_render(true);
    }
    if (!made.ok()) return made;
  } catch (const std::bad_alloc&) {
    return Status::Unavailable("out of memory while processing the image");
  } catch (const std::exception& e) {
    LogVipsError("thumbnail", e);
    return Status::Internal("image processing failed unexpectedly");
  }
  return result;
}

void ReleaseThreadResources() { vips_thread_shutdown(); }

std::string VipsVersion() { return vips_version_string(); }

std::vector<std::string> SupportedInputFormats() {
  std::vector<std::string> out;
  for (InputFormat f : {InputFormat::kJpeg, InputFormat::kPng, InputFormat::kWebp, InputFormat::kGif,
                        InputFormat::kTiff, InputFormat::kHeif, InputFormat::kAvif, InputFormat::kSvg,
                        InputFormat::kPdf}) {
    const std::string_view loader = ExpectedBufferLoader(f);
    if (g_type_from_name(std::string(loader).c_str()) != 0) out.emplace_back(InputFormatName(f));
  }
  return out;
}

std::vector<std::string> SupportedOutputFormats() {
  std::vector<std::string> out;
  const std::pair<Format, const char*> savers[] = {
      {Format::kJpeg, "VipsForeignSaveJpegBuffer"}, {Format::kPng, "VipsForeignSavePngBuffer"},
      {Format::kWebp, "VipsForeignSaveWebpBuffer"}, {Format::kAvif, "VipsForeignSaveHeifBuffer"},
      {Format::kGif, "VipsForeignSaveCgifBuffer"}};
  for (const auto& [format, saver] : savers) {
    if (g_type_from_name(saver) != 0) out.emplace_back(FormatName(format));
  }
  return out;
}

}  // namespace thumbpipe::image
