#include "image/vips_runtime.h"

#include <vips/vips8>

#include <algorithm>
#include <mutex>

#include "common/logging.h"
#include "image/orc_guard.h"

namespace thumbpipe::image {
namespace {

bool Allowed(const Limits& limits, InputFormat f) {
  return std::find(limits.allowed_formats.begin(), limits.allowed_formats.end(), f) !=
         limits.allowed_formats.end();
}

void RouteVipsLog(const gchar* domain, GLogLevelFlags, const gchar* message, gpointer) {
  LogDebug("libvips", {{"domain", domain ? domain : ""}, {"text", message ? message : ""}});
}

}  // namespace

Status InitVipsRuntime(const Limits& limits, int concurrency) {
  static std::once_flag once;
  static bool started = false;
  std::call_once(once, [] {
    started = VIPS_INIT("thumbpipe") == 0;
    // libvips reports warnings (e.g. "premature end of JPEG file") through GLib, which would
    // print plain text into our JSON log on stderr. fail_on already turns the warnings that
    // matter into errors, so route them to the debug log.
    g_log_set_handler("VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE |
                                                          G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG),
                      RouteVipsLog, nullptr);
    // Also keeps image/orc_guard.cc in every binary that starts libvips.
    if (!OrcGuardActive()) LogWarn("libvips: liborc not found; operations run without vector code");
  });
  if (!started) return Status::Internal("libvips failed to start");

  vips_cache_set_max(0);
  vips_cache_set_max_mem(0);
  vips_cache_set_max_files(0);
  vips_concurrency_set(std::max(0, concurrency));
  vips_block_untrusted_set(TRUE);
  vips_operation_block_set("VipsForeignLoadSvg", Allowed(limits, InputFormat::kSvg) ? FALSE : TRUE);
  vips_operation_block_set("VipsForeignLoadPdf", Allowed(limits, InputFormat::kPdf) ? FALSE : TRUE);
  return Status::Ok();
}

std::string_view ExpectedBufferLoader(InputFormat format) {
  switch (format) {
    case InputFormat::kJpeg: return "VipsForeignLoadJpegBuffer";
    case InputFormat::kPng: return "VipsForeignLoadPngBuffer";
    case InputFormat::kWebp: return "VipsForeignLoadWebpBuffer";
    case InputFormat::kGif: return "VipsForeignLoadNsgifBuffer";
    case InputFormat::kTiff: return "VipsForeignLoadTiffBuffer";
    case InputFormat::kHeif:
    case InputFormat::kAvif: return "VipsForeignLoadHeifBuffer";
    case InputFormat::kSvg: return "VipsForeignLoadSvgBuffer";
    case InputFormat::kPdf: return "VipsForeignLoadPdfBuffer";
    case InputFormat::kUnknown: break;
  }
  return "";
}

}  // namespace thumbpipe::image
