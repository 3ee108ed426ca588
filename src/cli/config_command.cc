// `thumbpipe config [--config FILE] [--show-secrets]`: validates the configuration and prints
// the effective result (file + environment + defaults) as TOML.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/startup.h"

namespace thumbpipe::cli {
namespace {

struct ConfigFlags {
  std::string config_path;
  bool show_secrets = false;
};

int RunConfig(const ConfigFlags& flags) {
  auto config = config::LoadConfig(flags.config_path, config::Environment::FromProcess());
  if (!config.ok()) return ReportStartupError(config.status());
  std::cout << config::ToToml(*config, flags.show_secrets ? config::Secrets::kShow
                                                          : config::Secrets::kRedact);
  return 0;
}

}  // namespace

void AddConfigCommand(CLI::App& app, CommandRun* run) {
  auto flags = std::make_shared<ConfigFlags>();
  CLI::App* cmd = app.add_subcommand("config", "Validate the configuration and print it as TOML");
  cmd->add_option("-c,--config", flags->config_path, "TOML config file")->check(CLI::ExistingFile);
  cmd->add_flag("--show-secrets", flags->show_secrets, "Print secret keys instead of <redacted>");
  cmd->callback([run, flags] { *run = [flags] { return RunConfig(*flags); }; });
}

}  // namespace thumbpipe::cli
