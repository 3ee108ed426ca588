// store_bench: small-object PUT throughput of the local store, with an event per put (a
// CommitHook writing a ~700-byte outbox entry, what an S3 event record weighs), beside the
// disk's own fdatasync rate (the physical limit of one-at-a-time durable commits). Issue 4's
// target is >= 3,000 PUT/s with events at 16 connections; this measures the store alone
// (no HTTP), at 1 and 16 threads, with bodies inline in the index and as files.
//
//   store_bench [--dir DIR] [--threads 1,16] [--seconds 5] [--size 4096] [--durable 1]
//
// Each run uses a fresh data directory under --dir; every thread puts unique keys.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "store/local_store.h"

namespace thumbpipe::store::bench {
namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

double SecondsSince(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

// 4 KiB appends + fdatasync per second in `dir`.
double DiskSyncRate(const fs::path& dir, double seconds) {
  const fs::path file = dir / "disk-sync.bin";
  const int fd = ::open(file.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) return -1;
  std::vector<char> block(4096, 'x');
  int64_t ops = 0;
  const auto start = Steady::now();
  while (SecondsSince(start) < seconds) {
    if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(ops * 4096)) != 4096 || ::fdatasync(fd) != 0) {
      ::close(fd);
      return -1;
    }
    ++ops;
  }
  const double rate = ops / SecondsSince(start);
  ::close(fd);
  fs::remove(file);
  return rate;
}

struct RunResult {
  double puts_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
  double group = 0;  // writes per commit
  int64_t errors = 0;
};

RunResult Run(const fs::path& dir, int threads, double seconds, size_t size, bool durable, uint64_t inline_max) {
  fs::remove_all(dir);
  LocalStoreOptions o;
  o.dir = dir;
  o.durable = durable;
  o.inline_max_bytes = inline_max;
  auto opened = OpenLocalStore(o);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    std::exit(1);
  }
  std::unique_ptr<ObjectStore> s = std::move(opened).value();
  (void)s->CreateBucket("bench");
  const std::string event_padding(600, 'e');
  s->SetCommitHook([&](const WriteRecord& r) {
    return std::vector<std::string>{"{\"eventName\":\"ObjectCreated:Put\",\"key\":\"" + r.object.key + "\",\"eTag\":\"" +
                                    r.object.etag + "\",\"pad\":\"" + event_padding + "\"}"};
  });
  const std::string body(size, 'b');
  std::atomic<bool> stop{false};
  std::atomic<int64_t> errors{0};
  std::mutex mu;
  std::vector<double> latencies;
  const LocalCommitStats before = GetLocalCommitStats(*s);
  const auto start = Steady::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<double> mine;
      for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const auto t0 = Steady::now();
        auto w = s->BeginPut("bench", "uploads/t" + std::to_string(t) + "/" + std::to_string(i) + ".jpg", {});
        if (!w.ok() || !(*w)->Write(body).ok() || !(*w)->Commit().ok()) {
          ++errors;
          continue;
        }
        mine.push_back(SecondsSince(t0) * 1000);
      }
      std::scoped_lock lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed = SecondsSince(start);
  const LocalCommitStats after = GetLocalCommitStats(*s);
  RunResult r;
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) {
    r.p50_ms = latencies[latencies.size() / 2];
    r.p99_ms = latencies[latencies.size() * 99 / 100];
  }
  r.puts_per_s = latencies.size() / elapsed;
  // Each put is one write; outbox Done calls are not made here.
  r.group = after.commits > before.commits
                ? static_cast<double>(after.writes - before.writes) / static_cast<double>(after.commits - before.commits)
                : 0;
  r.errors = errors.load();
  s.reset();
  fs::remove_all(dir);
  return r;
}

}  // namespace
}  // namespace thumbpipe::store::bench

int main(int argc, char** argv) {
  using namespace thumbpipe::store::bench;
  CLI::App app{"store_bench: small PUT throughput of the local store with events"};
  std::string dir = "/tmp/thumbpipe-store-bench";
  std::vector<int> threads = {1, 16};
  double seconds = 5;
  size_t size = 4096;
  bool durable = true;
  app.add_option("--dir", dir, "scratch folder (its file system is what is measured)");
  app.add_option("--threads", threads, "thread counts to run")->delimiter(',');
  app.add_option("--seconds", seconds, "seconds per run");
  app.add_option("--size", size, "body bytes");
  app.add_option("--durable", durable, "fsync blobs and commit with synchronous=FULL");
  CLI11_PARSE(app, argc, argv);
  fs::create_directories(dir);
  // The disk's rate is measured before and after the runs: on a shared machine it moves,
  // and commit/s is only meaningful beside it (each commit costs at least one fdatasync).
  std::printf("disk: 4 KiB append + fdatasync %.0f/s\n", DiskSyncRate(dir, 2));
  std::printf("%-8s %-7s %10s %8s %8s %7s %9s %6s\n", "bodies", "threads", "put/s", "p50 ms", "p99 ms", "group",
              "commit/s", "errors");
  for (const uint64_t inline_max : {uint64_t{64 * 1024}, uint64_t{0}}) {
    for (int t : threads) {
      const RunResult r = Run(fs::path(dir) / "store", t, seconds, size, durable, inline_max);
      std::printf("%-8s %-7d %10.0f %8.2f %8.2f %7.1f %9.0f %6lld\n", inline_max ? "inline" : "files", t,
                  r.puts_per_s, r.p50_ms, r.p99_ms, r.group, r.group > 0 ? r.puts_per_s / r.group : 0,
                  static_cast<long long>(r.errors));
      std::fflush(stdout);
    }
  }
  std::printf("disk: 4 KiB append + fdatasync %.0f/s\n", DiskSyncRate(dir, 2));
  return 0;
}
