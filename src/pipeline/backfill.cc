#include "pipeline/backfill.h"

#include <algorithm>
#include <cctype>

#include "events/event_json.h"
#include "pipeline/freshness.h"

namespace thumbpipe::pipeline {
namespace {

bool EndsWithIgnoringCase(std::string_view s, std::string_view suffix) {
  if (suffix.size() > s.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), s.end() - static_cast<std::ptrdiff_t>(suffix.size()),
                    [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) ==
                                                std::tolower(static_cast<unsigned char>(b)); });
}

Status Flush(queue::Queue& queue, std::vector<queue::SendEntry>& batch) {
  if (batch.empty()) return Status::Ok();
  Result<std::vector<Result<std::string>>> sent = queue.SendBatch(batch);
  if (!sent.ok()) return sent.status().WithContext("enqueueing backfill events");
  for (const auto& r : *sent) {
    if (!r.ok()) return r.status().WithContext("enqueueing a backfill event");
  }
  batch.clear();
  return Status::Ok();
}

}  // namespace

Result<BackfillReport> Backfill(const JobConfig& config, const BackfillOptions& options, store::ObjectStore& store,
                                queue::Queue& queue) {
  const std::string prefix = options.prefix.empty() ? config.layout.trigger_prefix : options.prefix;
  if (!prefix.starts_with(config.layout.trigger_prefix)) {
    return Status::InvalidArgument("prefix \"" + prefix + "\" is outside the trigger prefix \"" +
                                   config.layout.trigger_prefix + "\": the workers would ignore its events");
  }
  image::Recipe checked = config.recipe;
  if (!options.variants.empty()) {
    checked.variants.clear();
    for (const std::string& name : options.variants) {
      auto it = std::find_if(config.recipe.variants.begin(), config.recipe.variants.end(),
                             [&](const image::Variant& v) { return v.name == name; });
      if (it == config.recipe.variants.end()) return Status::InvalidArgument("no variant named \"" + name + "\"");
      checked.variants.push_back(*it);
    }
  }

  BackfillReport report;
  std::vector<queue::SendEntry> batch;
  store::ListRequest request;
  request.prefix = prefix;
  while (true) {
    Result<store::ListPage> page = store.List(config.trigger_bucket, request);
    if (!page.ok()) return page.status().WithContext("listing " + config.trigger_bucket + "/" + prefix);
    for (const store::ObjectInfo& object : page->objects) {
      ++report.scanned;
      if (config.trigger_bucket == config.output_bucket && object.key.starts_with(config.layout.output_prefix)) continue;
      if (!options.suffixes.empty() &&
          std::none_of(options.suffixes.begin(), options.suffixes.end(),
                       [&](const std::string& s) { return EndsWithIgnoringCase(object.key, s); })) {
        continue;
      }
      ++report.candidates;
      if (RenditionsUpToDate(store, config.output_bucket, config.layout, checked, object.key, object.etag)) {
        ++report.up_to_date;
        continue;
      }
      ++report.enqueued;
      if (options.dry_run) continue;
      store::ObjectInfo info = object;
      info.bucket = config.trigger_bucket;
      batch.push_back({events::EncodeEventBody({store::WriteKind::kPut, info, {}}, {}), {}, std::nullopt});
      if (batch.size() == 10) THUMBPIPE_RETURN_IF_ERROR(Flush(queue, batch));
    }
    if (!page->truncated) break;
    request.continuation_token = page->next_continuation_token;
  }
  THUMBPIPE_RETURN_IF_ERROR(Flush(queue, batch));
  return report;
}

}  // namespace thumbpipe::pipeline
