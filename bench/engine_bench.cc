// engine_bench: images per second of thumbpipe's Engine over a directory of photos, with N
// job threads, as bench/engine runs it side by side with sharp and vipsthumbnail.
//
// Modes:
//   engine          Engine::Thumbnail: one decode per photo, every variant made from it.
//   vips_thumbnail  libvips' own VImage::thumbnail_buffer once per variant, i.e. one decode
//                   per size, the way sharp and vipsthumbnail work. Same process, same
//                   threads, same file reading: the difference to `engine` is the pipeline.
//
// Each pass reads every photo from disk into memory and processes the buffer; outputs stay in
// memory and are discarded (or written under --out-dir for a look). N threads each take the
// next photo from a shared atomic index. Warm-up passes are not timed.
//
// stdout gets one machine-readable line per pass ("PASS ...") and one summary ("RESULT ...");
// bench/engine parses them. Everything else goes to stderr.
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <vips/vips8>

#include "common/result.h"
#include "common/status.h"
#include "image/engine.h"
#include "image/recipe.h"

namespace thumbpipe::bench {
namespace {

namespace fs = std::filesystem;
using image::Format;
using image::Recipe;
using image::Variant;

struct Options {
  std::string photos_dir = "../shared/corpus/photos";
  std::string mode = "engine";
  int jobs = 1;
  int passes = 3;
  int warmup = 1;
  int vips_concurrency = 1;
  std::vector<std::string> variant_specs;  // NAME:WxH[:fit[:format[:quality]]]
  std::string out_dir;                     // empty: outputs are discarded
  bool malloc_trim = false;                // call malloc_trim(0) after each pass
};

// What one photo produced, summed over its variants.
struct PhotoOutput {
  uint64_t bytes = 0;
  double decode_ms = 0;  // engine mode only: as the engine reports it
  double encode_ms = 0;
};

// Turns the bytes of one photo into its renditions. `stem` names files under --out-dir.
using MakeFn = std::function<Result<PhotoOutput>(const std::string& input, const std::string& stem)>;

// The DESIGN.md default recipe. Quality and effort are spelled out so that the other
// contenders can be configured identically (bench/sharp_bench.mjs, the vipsthumbnail lines).
Recipe DefaultRecipe() {
  Recipe recipe;
  auto add = [&](std::string name, int size, image::Fit fit, Format format) {
    Variant v;
    v.name = std::move(name);
    v.width = size;
    v.height = size;
    v.fit = fit;
    v.format = format;
    v.quality = 80;
    v.effort = format == Format::kWebp ? 4 : -1;
    recipe.variants.push_back(std::move(v));
  };
  add("small", 128, image::Fit::kCover, Format::kWebp);
  add("medium", 512, image::Fit::kInside, Format::kJpeg);
  add("large", 1024, image::Fit::kInside, Format::kWebp);
  return recipe;
}

Result<Recipe> BuildRecipe(const std::vector<std::string>& specs) {
  if (specs.empty()) return DefaultRecipe();
  Recipe recipe;
  for (const std::string& spec : specs) {
    Result<Variant> v = image::ParseVariantSpec(spec);
    if (!v.ok()) return v.status();
    recipe.variants.push_back(std::move(v).value());
  }
  return recipe;
}

bool IsImageFile(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp" || ext == ".tif" ||
         ext == ".tiff" || ext == ".heic" || ext == ".avif" || ext == ".gif";
}

// Sorted, so that every contender sees the photos in the same order.
Result<std::vector<fs::path>> ListPhotos(const std::string& dir) {
  std::error_code ec;
  std::vector<fs::path> photos;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && IsImageFile(entry.path())) photos.push_back(entry.path());
  }
  if (ec) return Status::NotFound("cannot list photos dir " + dir + ": " + ec.message());
  if (photos.empty()) return Status::NotFound("no image files in " + dir);
  std::sort(photos.begin(), photos.end());
  return photos;
}

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot open " + path.string());
  std::string bytes;
  in.seekg(0, std::ios::end);
  bytes.resize(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!in) return Status::IOError("cannot read " + path.string());
  return bytes;
}

Status WriteFile(const fs::path& path, const std::string& bytes) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return out ? Status::Ok() : Status::IOError("cannot write " + path.string());
}

// A field of /proc/self/status in kB ("VmRSS", "VmHWM"), or -1.
long ProcStatusKb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// ---- engine mode ----

Result<MakeFn> EngineMaker(const Options& options, const Recipe& recipe) {
  image::EngineOptions engine_options;
  engine_options.vips_concurrency = options.vips_concurrency;
  Result<std::unique_ptr<image::Engine>> created = image::Engine::Create(engine_options);
  if (!created.ok()) return created.status();
  // Shared by every job thread: the Engine is thread-safe, and a worker process has one.
  std::shared_ptr<image::Engine> engine = std::move(created).value();
  std::string out_dir = options.out_dir;
  return MakeFn([engine, recipe, out_dir](const std::string& input,
                                          const std::string& stem) -> Result<PhotoOutput> {
    Result<image::ThumbnailResult> result = engine->Thumbnail(image::AsBytes(input), recipe);
    if (!result.ok()) return result.status();
    PhotoOutput out;
    out.decode_ms = result->decode_ms;
    out.encode_ms = result->encode_ms;
    for (const image::Rendition& r : result->renditions) {
      out.bytes += r.bytes.size();
      if (!out_dir.empty()) {
        fs::path path = fs::path(out_dir) / r.variant / (stem + "." + std::string(image::FormatExtension(r.format)));
        THUMBPIPE_RETURN_IF_ERROR(WriteFile(path, r.bytes));
      }
    }
    return out;
  });
}

// ---- vips_thumbnail mode ----

// The vips_thumbnail options that match a Variant: no-enlarge is VIPS_SIZE_DOWN, cover is a
// centre crop, and an embedded ICC profile is converted to sRGB (as sharp and the engine do).
vips::VOption* ThumbnailOptions(const Variant& v) {
  vips::VOption* o = vips::VImage::option()
                         ->set("height", v.height > 0 ? v.height : 10'000'000)
                         ->set("size", v.enlarge ? VIPS_SIZE_BOTH : VIPS_SIZE_DOWN)
                         ->set("export_profile", "srgb");
  if (v.fit == image::Fit::kCover) o->set("crop", VIPS_INTERESTING_CENTRE);
  return o;
}

struct BlobUnref {
  void operator()(VipsBlob* blob) const noexcept { vips_area_unref(VIPS_AREA(blob)); }
};

// libvips 8.14.1's webpsave ignores `strip` (jpegsave honours it), so the metadata is
// removed from the image itself. Saving rebuilds exif-data from the exif-* fields and from
// jpeg-thumbnail-data (the ~20 KB camera preview), so those go too; what is left is a
// ~190-byte EXIF block with the resolution, which 8.14 always writes into webp. Done on a copy:
// the fields belong to the source's header.
vips::VImage StripMetadata(const vips::VImage& in) {
  vips::VImage out = in.copy();
  char** fields = vips_image_get_fields(out.get_image());
  for (char** f = fields; *f != nullptr; ++f) {
    std::string_view name(*f);
    if (name.starts_with("exif-") || name == "xmp-data" || name == "iptc-data" ||
        name == "icc-profile-data" || name == "jpeg-thumbnail-data") {
      out.remove(*f);
    }
  }
  g_strfreev(fields);
  return out;
}

// Encodes as bench/README.md says every contender does: metadata stripped; jpeg with
// optimised Huffman tables, 4:2:0 chroma, baseline; webp at the given effort (default 4).
Result<std::string> Encode(const vips::VImage& image, const Variant& v) {
  vips::VImage thumb = StripMetadata(image);
  VipsBlob* blob = nullptr;  // the saver's output, owned here
  int quality = v.quality > 0 ? v.quality : 80;
  switch (v.format) {
    case Format::kJpeg:
      blob = thumb.jpegsave_buffer(vips::VImage::option()
                                        ->set("Q", quality)
                                        ->set("optimize_coding", true)
                                        ->set("subsample_mode", VIPS_FOREIGN_SUBSAMPLE_ON)
                                        ->set("interlace", v.progressive)
                                        ->set("strip", true));
      break;
    case Format::kWebp:
      blob = thumb.webpsave_buffer(vips::VImage::option()
                                        ->set("Q", quality)
                                        ->set("effort", v.effort >= 0 ? v.effort : 4)
                                        ->set("strip", true));
      break;
    default:
      return Status::Unsupported("vips_thumbnail mode only writes jpeg and webp");
  }
  size_t size = 0;
  const char* data = static_cast<const char*>(vips_blob_get(blob, &size));
  std::string bytes(data, size);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

Result<MakeFn> VipsThumbnailMaker(const Options& options, const char* argv0, const Recipe& recipe) {
  if (VIPS_INIT(argv0) != 0) return Status::Internal("vips_init failed");
  // The same settings the engine applies: no operation cache (a pipeline never repeats a
  // job) and `vips_concurrency` libvips threads per image.
  vips_cache_set_max(0);
  vips_concurrency_set(options.vips_concurrency);
  std::string out_dir = options.out_dir;
  return MakeFn([recipe, out_dir](const std::string& input,
                                  const std::string& stem) -> Result<PhotoOutput> {
    PhotoOutput out;
    // A view of `input`, which outlives every image made from it in this call.
    std::unique_ptr<VipsBlob, BlobUnref> blob(vips_blob_new(nullptr, input.data(), input.size()));
    try {
      for (const Variant& v : recipe.variants) {
        // Each call decodes again (with shrink-on-load for that size): one decode per size.
        vips::VImage thumb = vips::VImage::thumbnail_buffer(blob.get(), v.width, ThumbnailOptions(v));
        Result<std::string> bytes = Encode(thumb, v);
        if (!bytes.ok()) return bytes.status();
        out.bytes += bytes->size();
        if (!out_dir.empty()) {
          fs::path path = fs::path(out_dir) / v.name / (stem + "." + std::string(image::FormatExtension(v.format)));
          THUMBPIPE_RETURN_IF_ERROR(WriteFile(path, *bytes));
        }
      }
    } catch (const vips::VError& e) {
      return Status::Internal(e.what());
    }
    return out;
  });
}

// ---- the timed loop ----

struct PassStats {
  double seconds = 0;
  int images = 0;
  int failures = 0;
  PhotoOutput totals;
  std::string first_error;
};

PassStats RunPass(const std::vector<fs::path>& photos, int jobs, const MakeFn& make) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  PassStats stats;  // protected by mu
  auto job = [&] {
    PassStats local;
    for (size_t i = next++; i < photos.size(); i = next++) {
      Result<std::string> input = ReadFile(photos[i]);
      Result<PhotoOutput> out = input.ok() ? make(*input, photos[i].stem().string())
                                           : Result<PhotoOutput>(input.status());
      if (!out.ok()) {
        ++local.failures;
        if (local.first_error.empty()) local.first_error = photos[i].filename().string() + ": " + out.status().ToString();
        continue;
      }
      ++local.images;
      local.totals.bytes += out->bytes;
      local.totals.decode_ms += out->decode_ms;
      local.totals.encode_ms += out->encode_ms;
    }
    // libvips keeps per-thread buffers; a worker thread that ends must release them.
    vips_thread_shutdown();
    std::scoped_lock lock(mu);
    stats.images += local.images;
    stats.failures += local.failures;
    stats.totals.bytes += local.totals.bytes;
    stats.totals.decode_ms += local.totals.decode_ms;
    stats.totals.encode_ms += local.totals.encode_ms;
    if (stats.first_error.empty()) stats.first_error = local.first_error;
  };
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < jobs; ++t) threads.emplace_back(job);
  for (std::thread& t : threads) t.join();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

int Run(const Options& options, const char* argv0) {
  Result<std::vector<fs::path>> photos = ListPhotos(options.photos_dir);
  if (!photos.ok()) {
    std::fprintf(stderr, "engine_bench: %s\n", photos.status().ToString().c_str());
    return 2;
  }
  Result<Recipe> recipe = BuildRecipe(options.variant_specs);
  if (recipe.ok()) {
    Status valid = image::ValidateRecipe(*recipe);
    if (!valid.ok()) recipe = valid;
  }
  if (!recipe.ok()) {
    std::fprintf(stderr, "engine_bench: %s\n", recipe.status().ToString().c_str());
    return 2;
  }
  Result<MakeFn> make = options.mode == "engine" ? EngineMaker(options, *recipe)
                                                 : VipsThumbnailMaker(options, argv0, *recipe);
  if (!make.ok()) {
    std::fprintf(stderr, "engine_bench: %s\n", make.status().ToString().c_str());
    return 1;
  }

  std::vector<double> rates;
  int failures = 0;
  PassStats last;
  for (int pass = 0; pass < options.warmup + options.passes; ++pass) {
    bool timed = pass >= options.warmup;
    last = RunPass(*photos, options.jobs, *make);
    // glibc keeps freed memory in its arenas; trimming shows how much of the RSS is that.
    if (options.malloc_trim) malloc_trim(0);
    failures += last.failures;
    if (!last.first_error.empty()) std::fprintf(stderr, "engine_bench: %s\n", last.first_error.c_str());
    double rate = last.images / last.seconds;
    if (timed) rates.push_back(rate);
    std::printf("PASS n=%d timed=%d images=%d failures=%d seconds=%.3f ips=%.3f rss_kb=%ld hwm_kb=%ld\n",
                pass, timed ? 1 : 0, last.images, last.failures, last.seconds, rate,
                ProcStatusKb("VmRSS"), ProcStatusKb("VmHWM"));
    std::fflush(stdout);
  }
  double n = std::max(last.images, 1);
  std::printf(
      "RESULT mode=%s jobs=%d photos=%zu variants=%zu passes=%d median_ips=%.3f min_ips=%.3f "
      "max_ips=%.3f out_bytes=%llu decode_ms_per_image=%.2f encode_ms_per_image=%.2f "
      "failures=%d vips=%s peak_rss_kb=%ld\n",
      options.mode.c_str(), options.jobs, photos->size(), recipe->variants.size(),
      options.passes, Median(rates), *std::min_element(rates.begin(), rates.end()),
      *std::max_element(rates.begin(), rates.end()),
      static_cast<unsigned long long>(last.totals.bytes), last.totals.decode_ms / n,
      last.totals.encode_ms / n, failures, vips_version_string(), ProcStatusKb("VmHWM"));
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace thumbpipe::bench

int main(int argc, char** argv) {
  thumbpipe::bench::Options options;
  CLI::App app{"Images per second of thumbpipe's engine (or of vips_thumbnail) over a photo directory"};
  app.add_option("--photos", options.photos_dir, "directory of photos")->capture_default_str();
  app.add_option("--mode", options.mode, "engine | vips_thumbnail")
      ->check(CLI::IsMember({"engine", "vips_thumbnail"}))
      ->capture_default_str();
  app.add_option("--jobs", options.jobs, "job threads, each taking the next photo")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--passes", options.passes, "timed passes over all photos")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--warmup", options.warmup, "untimed passes first")->check(CLI::Range(0, 100))->capture_default_str();
  app.add_option("--vips-concurrency", options.vips_concurrency, "libvips threads per image")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--variant", options.variant_specs,
                 "NAME:WxH[:fit[:format[:quality]]], repeatable (default: DESIGN.md's three)");
  app.add_option("--out-dir", options.out_dir, "write renditions here (default: discard)");
  app.add_flag("--malloc-trim", options.malloc_trim, "malloc_trim(0) after each pass");
  CLI11_PARSE(app, argc, argv);
  return thumbpipe::bench::Run(options, argv[0]);
}
