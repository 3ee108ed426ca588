// thumbpipe: one binary, one subcommand per job (see `thumbpipe --help`).
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"thumbpipe: an event-driven image thumbnail pipeline"};
  app.require_subcommand(1);
  thumbpipe::cli::CommandRun run;
  thumbpipe::cli::AddThumbnailCommand(app, &run);
  thumbpipe::cli::AddVersionCommand(app, &run);
  thumbpipe::cli::AddConfigCommand(app, &run);
  thumbpipe::cli::AddQueueCommands(app, &run);
  thumbpipe::cli::AddServeCommand(app, &run);
  thumbpipe::cli::AddWorkerCommand(app, &run);
  thumbpipe::cli::AddBackfillCommand(app, &run);
  thumbpipe::cli::AddStatusCommand(app, &run);
  CLI11_PARSE(app, argc, argv);
  return run ? run() : 0;
}
