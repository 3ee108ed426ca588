#include "image/deadline.h"

namespace thumbpipe::image {
namespace {

struct Watch {
  Deadline deadline;
};

// Runs on the thread that drives the computation, between tiles.
void OnEval(VipsImage* image, VipsProgress* /*progress*/, gpointer data) {
  if (Passed(static_cast<const Watch*>(data)->deadline)) vips_image_set_kill(image, TRUE);
}

void FreeWatch(gpointer data, GClosure* /*closure*/) { delete static_cast<Watch*>(data); }

}  // namespace

void WatchDeadline(vips::VImage& image, Deadline deadline) {
  VipsImage* raw = image.get_image();
  // The Watch belongs to the signal connection, which the image frees with itself.
  g_signal_connect_data(raw, "eval", G_CALLBACK(OnEval), new Watch{deadline}, FreeWatch, GConnectFlags(0));
  vips_image_set_progress(raw, TRUE);
}

}  // namespace thumbpipe::image
