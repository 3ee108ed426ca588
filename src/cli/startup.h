// What every command does first: load the configuration (file, then THUMBPIPE_* variables),
// set up logging, and build the image engine from the config's limits.
#pragma once

#include <signal.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "config/config.h"
#include "image/engine.h"
#include "queue/queue.h"
#include "queue/sqlite_queue.h"

namespace thumbpipe::cli {

// Loads `config_path` (empty = defaults only) with the process environment and applies the
// log level. Errors are printed by the caller.
Result<config::Config> LoadConfigAndLogging(const std::string& config_path);

// An engine whose jobs share the cores: each job gets cores / (jobs running) libvips threads.
Result<std::unique_ptr<image::Engine>> MakeEngine(const config::Config& config);

// The settings of [queue] (visibility, receive count, retention, ...), without url.
queue::SqliteQueueOptions ConfiguredQueueSettings(const config::Config& config);
// The queue of [queue]: queue.url with the section's settings. `consumer_capacity`: the jobs
// this process runs at once from it (0 = it runs none, or receives only now and then): see
// queue::OpenQueue. `consumer_beside_sender`: this process consumes what another one sends
// (`thumbpipe worker`); an sqlite:// queue then watches its WAL, so that long polls notice
// that process's sends at once (SqliteQueueOptions::notice_other_processes).
Result<std::unique_ptr<queue::Queue>> OpenConfiguredQueue(const config::Config& config, int consumer_capacity = 0,
                                                          bool consumer_beside_sender = false);

// A --listen style flag: "host:port" or "[v6]:port" where, unlike the config's addresses,
// port 0 (any free port) is allowed, so that tests never depend on a fixed port. Errors name
// `flag`.
Result<config::HostPort> ParseListenFlag(std::string_view flag, std::string_view text);

// Blocks SIGTERM and SIGINT in the calling thread and returns the set for sigwait. Called
// before any thread starts, so that every thread inherits the mask and a stop signal waits
// for the command's orderly shutdown instead of killing the process mid-request.
sigset_t BlockStopSignals();

// Prints "thumbpipe: <message>" to stderr and returns the exit code for a usage/config error.
int ReportStartupError(const Status& status);

}  // namespace thumbpipe::cli
