#include <set>
#include <string>

#include "config/checks.h"
#include "config/config.h"
#include "config/keys.h"

namespace thumbpipe::config {
namespace {

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

constexpr std::string_view kLoop =
    ": the pipeline would trigger on its own output and loop forever";

// Renditions are written to {output.prefix}{variant}/...; if any of those keys can start with
// trigger.prefix in the same bucket, every rendition raises a new event that makes renditions
// of the rendition. The suffix filter is not taken into account: the output formats'
// extensions are usually among the trigger suffixes, and relying on that would be brittle.
Status CheckNoLoop(const Config& c) {
  if (c.output.bucket != c.trigger.bucket) return Status::Ok();
  const std::string& in = c.trigger.prefix;
  const std::string& out = c.output.prefix;
  if (in.empty()) {
    return Status::InvalidArgument("trigger.prefix \"\" matches every key of bucket " +
                                   Quoted(c.trigger.bucket) + ", and output.bucket is that bucket" +
                                   std::string(kLoop) +
                                   " (set trigger.prefix, or another output.bucket)");
  }
  if (out.starts_with(in)) {
    return Status::InvalidArgument("output.prefix " + Quoted(out) + " lies under trigger.prefix " +
                                   Quoted(in) + std::string(kLoop) +
                                   " (use an output.prefix outside it, or another output.bucket)");
  }
  for (const image::Variant& v : c.recipe.variants) {
    const std::string folder = out + v.name + "/";
    if (folder.starts_with(in) || in.starts_with(folder)) {
      return Status::InvalidArgument("trigger.prefix " + Quoted(in) +
                                     " overlaps the output folder " + Quoted(folder) +
                                     " of variant " + Quoted(v.name) + std::string(kLoop));
    }
  }
  return Status::Ok();
}

Status CheckTiming(const Config& c) {
  const Duration heartbeat = c.worker.heartbeat;
  const Duration visibility = c.queue.visibility_timeout;
  if (heartbeat > Duration{0} && heartbeat >= visibility) {
    return Status::InvalidArgument(
        "worker.heartbeat (" + FormatDuration(heartbeat) +
        ") must be shorter than queue.visibility_timeout (" + FormatDuration(visibility) +
        "): the message would be handed to another worker before the heartbeat extends it");
  }
  // A message keeps its first-sent time in the DLQ (as in SQS), so a DLQ retention shorter
  // than the queue's would drop dead letters as soon as they arrive.
  if (c.queue.dlq_retention < c.queue.retention) {
    return Status::InvalidArgument("queue.dlq_retention (" + FormatDuration(c.queue.dlq_retention) +
                                   ") must not be shorter than queue.retention (" +
                                   FormatDuration(c.queue.retention) +
                                   "): dead letters keep their first-sent time and would expire "
                                   "on arrival");
  }
  return Status::Ok();
}

}  // namespace

image::Recipe DefaultRecipe() {
  using image::Fit;
  using image::Format;
  auto variant = [](std::string name, int side, Fit fit, Format format) {
    image::Variant v;
    v.name = std::move(name);
    v.width = side;
    v.height = side;
    v.fit = fit;
    v.format = format;
    return v;
  };
  return image::Recipe{{variant("small", 128, Fit::kCover, Format::kWebp),
                        variant("medium", 512, Fit::kInside, Format::kJpeg),
                        variant("large", 1024, Fit::kInside, Format::kWebp)}};
}

Duration HeartbeatInterval(const Config& config) {
  if (config.worker.heartbeat > Duration{0}) return config.worker.heartbeat;
  return config.queue.visibility_timeout / 3;
}

Status CheckCredentials(std::span<const Credential> credentials) {
  std::set<std::string, std::less<>> seen;
  for (size_t i = 0; i < credentials.size(); ++i) {
    const std::string path = "credentials[" + std::to_string(i) + "]";
    for (const KeySpec<Credential>& spec : CredentialKeys()) {
      const Value value = spec.get(credentials[i]);
      Status s = CheckValue(spec, value);
      if (!s.ok())
        return s.WithContext(Assignment(path + "." + std::string(spec.key), spec.key, value));
    }
    if (!seen.insert(credentials[i].access_key).second) {
      return Status::InvalidArgument(path + ".access_key " + Quoted(credentials[i].access_key) +
                                     " is already used by another [[credentials]] entry");
    }
  }
  return Status::Ok();
}

Status Validate(const Config& config) {
  for (const KeySpec<Config>& spec : ConfigKeys()) {
    const Value value = spec.get(config);
    Status s = CheckValue(spec, value);
    if (!s.ok()) return s.WithContext(Assignment(KeyPath(spec), spec.key, value));
  }
  THUMBPIPE_RETURN_IF_ERROR(image::ValidateRecipe(config.recipe));
  THUMBPIPE_RETURN_IF_ERROR(CheckCredentials(config.credentials));
  THUMBPIPE_RETURN_IF_ERROR(CheckNoLoop(config));
  THUMBPIPE_RETURN_IF_ERROR(CheckTiming(config));
  if (config.worker.metrics_listen == config.server.listen) {
    return Status::InvalidArgument("worker.metrics_listen and server.listen are both " +
                                   Quoted(config.server.listen) +
                                   ": `serve` listens on both, so they must differ");
  }
  return Status::Ok();
}

}  // namespace thumbpipe::config
