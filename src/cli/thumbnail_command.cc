// `thumbpipe thumbnail [--config F] [--variant NAME:WxH[:fit[:format[:quality]]]]... [-o DIR]
// FILES...`: makes every rendition of each file into DIR/<variant>/<name>.<ext> and prints one
// JSON line per input, in input order. Exits 1 when any input failed, 2 on a usage or config
// error.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "cli/startup.h"
#include "common/logging.h"
#include "image/describe.h"

namespace thumbpipe::cli {
namespace {

namespace fs = std::filesystem;

struct ThumbnailFlags {
  std::string config_path;
  std::vector<std::string> variant_specs;
  std::string out_dir = "thumbnails";
  std::vector<std::string> files;
  int jobs = 0;
};

// Reads a whole file, refusing before reading anything when it is over `max_bytes`.
Result<std::string> ReadInput(const fs::path& path, uint64_t max_bytes) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) return Status::NotFound("cannot read " + path.string() + ": " + ec.message());
  if (size > max_bytes) {
    return Status::TooLarge("input is " + std::to_string(size) +
                            " bytes, over limits.max_input_bytes = " + std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  std::string data(size, '\0');
  if (!in.read(data.data(), static_cast<std::streamsize>(size))) {
    return Status::IOError("cannot read " + path.string());
  }
  return data;
}

// Writes through a temporary file and a rename, so a reader never sees half a rendition.
Status WriteFileAtomically(const fs::path& path, const std::string& bytes) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return Status::IOError("cannot create " + path.parent_path().string() + ": " + ec.message());
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) return Status::IOError("cannot write " + tmp.string());
  }
  fs::rename(tmp, path, ec);
  if (ec) return Status::IOError("cannot rename " + tmp.string() + ": " + ec.message());
  return Status::Ok();
}

nlohmann::json Failure(const std::string& input, const Status& status) {
  return {{"input", input}, {"ok", false}, {"error", image::DescribeError(status)}};
}

// Makes and writes every rendition of one input; returns its JSON output line.
nlohmann::json ProcessOne(const image::Engine& engine, const image::Recipe& recipe,
                          const fs::path& out_dir, const std::string& input) {
  auto bytes = ReadInput(input, engine.options().limits.max_input_bytes);
  if (!bytes.ok()) return Failure(input, bytes.status());
  auto result = engine.Thumbnail(image::AsBytes(*bytes), recipe);
  if (!result.ok()) return Failure(input, result.status());

  nlohmann::json renditions = nlohmann::json::array();
  const std::string stem = fs::path(input).stem().string();
  for (const image::Rendition& r : result->renditions) {
    const fs::path path = out_dir / r.variant / (stem + "." + std::string(FormatExtension(r.format)));
    if (Status s = WriteFileAtomically(path, r.bytes); !s.ok()) return Failure(input, s);
    nlohmann::json described = image::DescribeRendition(r);
    described["path"] = path.string();
    renditions.push_back(std::move(described));
  }
  nlohmann::json line = {{"input", input},
                         {"ok", true},
                         {"info", image::DescribeInfo(result->info)},
                         {"renditions", std::move(renditions)},
                         {"decode_ms", result->decode_ms},
                         {"encode_ms", result->encode_ms},
                         {"memory_estimate", result->memory_estimate}};
  if (result->icc_profile_ignored) line["icc_profile_ignored"] = true;
  return line;
}

Result<image::Recipe> RecipeFrom(const ThumbnailFlags& flags, const config::Config& config) {
  if (flags.variant_specs.empty()) return config.recipe;
  image::Recipe recipe;
  for (const std::string& spec : flags.variant_specs) {
    THUMBPIPE_ASSIGN_OR_RETURN(image::Variant v, image::ParseVariantSpec(spec));
    recipe.variants.push_back(std::move(v));
  }
  THUMBPIPE_RETURN_IF_ERROR(image::ValidateRecipe(recipe));
  return recipe;
}

int RunThumbnail(const ThumbnailFlags& flags) {
  auto config = LoadConfigAndLogging(flags.config_path);
  if (!config.ok()) return ReportStartupError(config.status());
  auto recipe = RecipeFrom(flags, *config);
  if (!recipe.ok()) return ReportStartupError(recipe.status());

  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int jobs = std::clamp(flags.jobs > 0 ? flags.jobs : cores, 1,
                              static_cast<int>(flags.files.size()));
  auto engine = MakeEngine(*config);
  if (!engine.ok()) return ReportStartupError(engine.status());

  // Workers take inputs in order; lines are printed in input order as they complete.
  std::vector<std::optional<nlohmann::json>> lines(flags.files.size());
  std::mutex mu;  // protects lines
  std::condition_variable done;
  std::atomic<size_t> next{0};
  std::vector<std::jthread> workers;
  for (int w = 0; w < jobs; ++w) {
    workers.emplace_back([&] {
      for (size_t i; (i = next++) < flags.files.size();) {
        nlohmann::json line = ProcessOne(**engine, *recipe, flags.out_dir, flags.files[i]);
        std::scoped_lock lock(mu);
        lines[i] = std::move(line);
        done.notify_all();
      }
      image::ReleaseThreadResources();
    });
  }
  int exit_code = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::unique_lock lock(mu);
    done.wait(lock, [&] { return lines[i].has_value(); });
    if (!(*lines[i])["ok"].get<bool>()) exit_code = 1;
    std::cout << lines[i]->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    lines[i].reset();
  }
  std::cout.flush();
  return exit_code;
}

}  // namespace

void AddThumbnailCommand(CLI::App& app, CommandRun* run) {
  auto flags = std::make_shared<ThumbnailFlags>();
  CLI::App* cmd = app.add_subcommand("thumbnail", "Make the configured renditions of image files");
  cmd->add_option("-c,--config", flags->config_path, "TOML config file ([[variant]] and [limits])")
      ->check(CLI::ExistingFile);
  cmd->add_option("--variant", flags->variant_specs,
                  "NAME:WxH[:fit[:format[:quality]]], repeatable; replaces the config's variants")
      ->allow_extra_args(false);  // one value per --variant; the rest are input files
  cmd->add_option("-o,--out", flags->out_dir, "Output directory (DIR/<variant>/<name>.<ext>)")
      ->capture_default_str();
  cmd->add_option("-j,--jobs", flags->jobs, "Images processed at once (0 = one per core)")
      ->check(CLI::Range(0, 256));
  cmd->add_option("files", flags->files, "Input images")->required();
  cmd->callback([run, flags] { *run = [flags] { return RunThumbnail(*flags); }; });
}

}  // namespace thumbpipe::cli
