// Backfill: enqueue an ObjectCreated event for every existing source whose renditions are
// missing or stale (a variant was added to the recipe, a rendition was deleted, the pipeline
// was down while events were lost). The workers then do the rest as for any upload. Running
// it again after the workers caught up enqueues nothing: it only looks for gaps.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "pipeline/job.h"
#include "queue/queue.h"
#include "store/object_store.h"

namespace thumbpipe::pipeline {

struct BackfillOptions {
  std::string prefix;                  // "" = the trigger prefix; must lie under it
  std::vector<std::string> variants;   // only check these variants ("" = all of the recipe)
  std::vector<std::string> suffixes;   // key endings that trigger (case-insensitive); empty = all
  bool dry_run = false;                // count, enqueue nothing
};

struct BackfillReport {
  int64_t scanned = 0;      // objects listed under the prefix
  int64_t candidates = 0;   // of those, sources (suffix matches, not a rendition)
  int64_t up_to_date = 0;
  int64_t enqueued = 0;     // (or, in a dry run, would be)
};

// kInvalidArgument for a prefix outside the trigger prefix or an unknown variant name.
Result<BackfillReport> Backfill(const JobConfig& config, const BackfillOptions& options, store::ObjectStore& store,
                                queue::Queue& queue);

}  // namespace thumbpipe::pipeline
