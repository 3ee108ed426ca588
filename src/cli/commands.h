// Each subcommand lives in its own file and registers itself on the CLI11 app. When CLI11
// selects a subcommand, its callback stores the work to run in `*run`; main() runs it after
// parsing and exits with its return value.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace thumbpipe::cli {

using CommandRun = std::function<int()>;

void AddThumbnailCommand(CLI::App& app, CommandRun* run);
void AddVersionCommand(CLI::App& app, CommandRun* run);
void AddConfigCommand(CLI::App& app, CommandRun* run);
void AddQueueCommands(CLI::App& app, CommandRun* run);  // queue ... and dlq ...
void AddServeCommand(CLI::App& app, CommandRun* run);
void AddWorkerCommand(CLI::App& app, CommandRun* run);
void AddBackfillCommand(CLI::App& app, CommandRun* run);
void AddStatusCommand(CLI::App& app, CommandRun* run);

}  // namespace thumbpipe::cli
