// `thumbpipe backfill [--config F] [--prefix P] [--variant NAME]... [--dry-run] [--json]`:
// enqueue an ObjectCreated event for every source under the trigger prefix whose renditions
// are missing or stale (a variant was added, a rendition deleted, events lost while the
// pipeline was down). The workers do the rest. Idempotent once they caught up: it only
// enqueues gaps. Sources are the keys the trigger would have fired on (trigger.suffixes).
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/startup.h"
#include "cli/workers.h"
#include "pipeline/backfill.h"
#include "pipeline/from_config.h"

namespace thumbpipe::cli {
namespace {

struct BackfillFlags {
  std::string config_path;
  std::string prefix;
  std::vector<std::string> variants;
  bool dry_run = false;
  bool json = false;
};

int RunBackfill(const BackfillFlags& flags) {
  auto loaded = LoadConfigAndLogging(flags.config_path);
  if (!loaded.ok()) return ReportStartupError(loaded.status());
  const config::Config cfg = std::move(loaded).value();
  auto store = OpenConfiguredStore(cfg);
  if (!store.ok()) return ReportStartupError(store.status());
  auto queue = OpenConfiguredQueue(cfg);
  if (!queue.ok()) return ReportStartupError(queue.status());

  const pipeline::JobConfig job = pipeline::JobConfigFrom(cfg);
  pipeline::BackfillOptions options;
  options.prefix = flags.prefix;
  options.variants = flags.variants;
  options.suffixes = cfg.trigger.suffixes;
  options.dry_run = flags.dry_run;
  Result<pipeline::BackfillReport> report = pipeline::Backfill(job, options, **store, **queue);
  if (!report.ok()) {
    std::cerr << "thumbpipe backfill: " << report.status().ToString() << "\n";
    return report.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (flags.json) {
    const nlohmann::json out = {{"scanned", report->scanned}, {"sources", report->candidates},
                                {"up_to_date", report->up_to_date}, {"enqueued", report->enqueued},
                                {"dry_run", flags.dry_run}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "scanned:     " << report->scanned << " objects under s3://" << job.trigger_bucket << "/"
              << (flags.prefix.empty() ? job.layout.trigger_prefix : flags.prefix) << "\n"
              << "sources:     " << report->candidates << "\n"
              << "up to date:  " << report->up_to_date << "\n"
              << (flags.dry_run ? "would enqueue: " : "enqueued:    ") << report->enqueued << "\n";
  }
  return 0;
}

}  // namespace

void AddBackfillCommand(CLI::App& app, CommandRun* run) {
  auto flags = std::make_shared<BackfillFlags>();
  CLI::App* cmd = app.add_subcommand("backfill", "Enqueue events for sources whose renditions are missing or stale");
  cmd->add_option("--config", flags->config_path, "TOML config file (default: built-in defaults)");
  cmd->add_option("--prefix", flags->prefix, "only sources under this prefix (inside trigger.prefix)");
  cmd->add_option("--variant", flags->variants, "only check this variant (repeatable; default: all)");
  cmd->add_flag("--dry-run", flags->dry_run, "count, enqueue nothing");
  cmd->add_flag("--json", flags->json, "print the counts as JSON");
  cmd->callback([run, flags] { *run = [flags] { return RunBackfill(*flags); }; });
}

}  // namespace thumbpipe::cli
