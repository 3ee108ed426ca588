// `thumbpipe version`: thumbpipe's and libvips' versions and the formats this build handles.
#include <iostream>

#include "cli/commands.h"
#include "cli/startup.h"
#include "image/engine.h"

namespace thumbpipe::cli {
namespace {

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : " ") + s;
  return out;
}

int RunVersion() {
  // The defaults are enough to start libvips; a broken config file must not hide the version.
  auto engine = image::Engine::Create(image::EngineOptions{});
  if (!engine.ok()) return ReportStartupError(engine.status());
  std::cout << "thumbpipe " << THUMBPIPE_VERSION << "\n"
            << "libvips " << image::VipsVersion() << "\n"
            << "input formats: " << Join(image::SupportedInputFormats())
            << " (svg and pdf only when enabled in [limits])\n"
            << "output formats: " << Join(image::SupportedOutputFormats()) << "\n";
  return 0;
}

}  // namespace

void AddVersionCommand(CLI::App& app, CommandRun* run) {
  CLI::App* cmd = app.add_subcommand("version", "Print versions and supported image formats");
  cmd->callback([run] { *run = RunVersion; });
}

}  // namespace thumbpipe::cli
