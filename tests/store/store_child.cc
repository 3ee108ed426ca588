// The process crash_put_test kills: writes a stream of objects into a local store from a few
// threads and prints "ok <key> <size> <etag>" for each put only after Commit returned, so
// every line is a put the store acknowledged. Bodies are derived from their keys
// (crash_body.h), so the test can check the bytes without this process.
//
//   store_child DIR ROUND THREADS
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crash_body.h"
#include "store/local_store.h"

using namespace thumbpipe;

namespace {

std::mutex out_mu;

void Report(const std::string& line) {
  std::scoped_lock lock(out_mu);
  // One write per line: a kill can cut the file only between lines or inside the last one.
  const std::string text = line + "\n";
  (void)!::write(STDOUT_FILENO, text.data(), text.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: store_child DIR ROUND THREADS\n");
    return 2;
  }
  store::LocalStoreOptions options;
  options.dir = argv[1];
  const std::string round = argv[2];
  const int threads = std::stoi(argv[3]);
  auto opened = store::OpenLocalStore(options);
  if (!opened.ok()) {
    Report("err open " + opened.status().ToString());
    return 1;
  }
  std::unique_ptr<store::ObjectStore> s = std::move(opened).value();
  s->SetCommitHook([](const store::WriteRecord& r) {
    return std::vector<std::string>{"put " + r.object.key + " " + r.object.etag};
  });
  if (Status b = s->CreateBucket(store::testing::kCrashBucket); !b.ok() && b.code() != StatusCode::kAlreadyExists) {
    Report("err bucket " + b.ToString());
    return 1;
  }
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        const std::string key = "r" + round + "/t" + std::to_string(t) + "/" + std::to_string(i);
        const std::string body = store::testing::CrashBody(key, i);
        auto w = s->BeginPut(store::testing::kCrashBucket, key, {});
        if (!w.ok()) {
          Report("err begin " + w.status().ToString());
          return;
        }
        // In 64 KiB chunks, as the HTTP server streams them.
        for (size_t at = 0; at < body.size(); at += 65536) {
          if (Status ws = (*w)->Write(std::string_view(body).substr(at, 65536)); !ws.ok()) {
            Report("err write " + ws.ToString());
            return;
          }
        }
        auto info = (*w)->Commit();
        if (!info.ok()) {
          Report("err commit " + info.status().ToString());
          return;
        }
        Report("ok " + key + " " + std::to_string(info->size) + " " + info->etag);
      }
    });
  }
  for (auto& w : workers) w.join();
  return 1;
}
