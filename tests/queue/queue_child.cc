// queue_child: the other process of the queue crash and concurrency tests. The tests fork
// and exec it, point its stdout at a file, and SIGKILL it when they choose. Every line it
// writes is one write(2) of a complete line, made only after the queue call it reports has
// returned OK, so what the file holds is a lower bound of what the queue promised.
//
//   queue_child send DB N DURABLE             send N messages; "s ID" per send that returned
//                                             OK, then "done" and exit
//   queue_child receive DB N VISIBILITY_MS    "t MS" (wall clock before the first receive),
//                                             then "r ID COUNT" for each of N messages
//                                             received, "done", and sleep until killed
//   queue_child consume DB VISIBILITY_MS STOP_FILE
//                                             receive/remove loop: "r ID" per message
//                                             received, "d ID" per remove that returned OK;
//                                             exits once STOP_FILE exists and a receive
//                                             found nothing
//
// Failed calls are reported as "e CALL CODE MESSAGE" lines and retried, so that a test sees
// them instead of a hang. Exit status 2 is a usage or open error.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "queue/sqlite_queue.h"

namespace thumbpipe::queue {
namespace {

using std::chrono::milliseconds;

// One write(2) per line: a SIGKILL can cut the output only between lines, never inside
// one, and nothing sits in a stdio buffer that the kill would throw away.
void Emit(const std::string& line) {
  std::string text = line + "\n";
  std::string_view rest = text;
  while (!rest.empty()) {
    ssize_t n = write(STDOUT_FILENO, rest.data(), rest.size());
    if (n < 0) std::_Exit(3);
    rest.remove_prefix(static_cast<size_t>(n));
  }
}

void EmitError(std::string_view call, const Status& status) {
  Emit("e " + std::string(call) + " " + std::string(StatusCodeName(status.code())) + " " +
       status.message());
}

int64_t WallMillis() {
  return std::chrono::duration_cast<milliseconds>(
             RealClock::Instance().Now().time_since_epoch())
      .count();
}

std::unique_ptr<Queue> OpenOrDie(const std::string& path, bool durable) {
  SqliteQueueOptions options;
  options.path = path;
  options.durable_sends = durable;
  auto queue = OpenSqliteQueue(options);
  if (!queue.ok()) {
    std::fprintf(stderr, "queue_child: open %s: %s\n", path.c_str(),
                 queue.status().ToString().c_str());
    std::exit(2);
  }
  return std::move(queue).value();
}

int Send(const std::string& path, long n, bool durable) {
  auto queue = OpenOrDie(path, durable);
  const std::string tag = std::to_string(getpid());
  for (long i = 0; i < n;) {
    auto id = queue->Send("body " + tag + " " + std::to_string(i));
    if (!id.ok()) {
      EmitError("send", id.status());
      continue;
    }
    Emit("s " + *id);
    ++i;
  }
  Emit("done");
  return 0;
}

int Receive(const std::string& path, long n, milliseconds visibility) {
  auto queue = OpenOrDie(path, true);
  Emit("t " + std::to_string(WallMillis()));
  for (long got = 0; got < n;) {
    const int max = static_cast<int>(std::min<long>(10, n - got));
    auto batch = queue->Receive(max, milliseconds(500), visibility);
    if (!batch.ok()) {
      EmitError("receive", batch.status());
      continue;
    }
    for (const Message& m : *batch) {
      Emit("r " + m.id + " " + std::to_string(m.receive_count));
      ++got;
    }
  }
  Emit("done");
  // Hold the messages until the test kills us: the point is a consumer that dies mid-job.
  for (;;) pause();
}

int Consume(const std::string& path, milliseconds visibility, const std::string& stop_file) {
  auto queue = OpenOrDie(path, true);
  for (;;) {
    // Looked at before the receive: an empty receive after the producers finished (the test
    // creates the file only then) means the queue is drained.
    const bool stopping = std::filesystem::exists(stop_file);
    auto batch = queue->Receive(10, milliseconds(200), visibility);
    if (!batch.ok()) {
      EmitError("receive", batch.status());
      continue;
    }
    if (batch->empty() && stopping) return 0;
    for (const Message& m : *batch) {
      Emit("r " + m.id);
      Status removed = queue->Remove(m.receipt);
      if (removed.ok()) {
        Emit("d " + m.id);
      } else {
        EmitError("remove", removed);
      }
    }
  }
}

int Usage() {
  std::fprintf(stderr,
               "usage: queue_child send DB N DURABLE(0|1)\n"
               "       queue_child receive DB N VISIBILITY_MS\n"
               "       queue_child consume DB VISIBILITY_MS STOP_FILE\n");
  return 2;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 4 && args[0] == "send") {
    return Send(args[1], std::stol(args[2]), args[3] == "1");
  }
  if (args.size() == 4 && args[0] == "receive") {
    return Receive(args[1], std::stol(args[2]), milliseconds(std::stol(args[3])));
  }
  if (args.size() == 4 && args[0] == "consume") {
    return Consume(args[1], milliseconds(std::stol(args[2])), args[3]);
  }
  return Usage();
}

}  // namespace
}  // namespace thumbpipe::queue

int main(int argc, char** argv) { return thumbpipe::queue::Main(argc, argv); }
