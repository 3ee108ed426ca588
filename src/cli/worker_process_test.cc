// WorkerProcess with /bin/sh scripts as the child: what a dead child held reaches on_death,
// malformed report lines are ignored, restarts are counted, Stop ends the child without
// reporting it as a death.
#include "cli/worker_process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "queue/sqlite_queue.h"

namespace thumbpipe::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::AllOf;

constexpr auto kDeadline = std::chrono::seconds(60);

struct Deaths {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::vector<HeldMessage>, std::string>> seen;

  void Add(const std::vector<HeldMessage>& held, const std::string& how) {
    std::scoped_lock lock(mu);
    seen.emplace_back(held, how);
    cv.notify_all();
  }
  bool WaitFor(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, kDeadline, [&] { return seen.size() >= n; });
  }
};

// Polls `done` every 10 ms (what is waited for has no notification) until kDeadline.
template <typename Done>
void WaitUntil(Done done) {
  const auto end = std::chrono::steady_clock::now() + kDeadline;
  while (!done() && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

WorkerProcessOptions Script(const std::string& script, Deaths* deaths) {
  WorkerProcessOptions o;
  o.program = "/bin/sh";
  o.args = {"-c", script};  // Spawn's "--report-fd 3" become $0 and $1: unused
  o.first_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(50);
  o.stop_grace = std::chrono::seconds(10);
  if (deaths != nullptr) {
    o.on_death = [deaths](const std::vector<HeldMessage>& held, const std::string& how) { deaths->Add(held, how); };
  }
  return o;
}

auto Held(const std::string& id, const std::string& receipt, int receive_count,
          bool started = true) {
  return AllOf(Field(&HeldMessage::id, id), Field(&HeldMessage::receipt, receipt),
               Field(&HeldMessage::receive_count, receive_count),
               Field(&HeldMessage::started, started));
}

TEST(WorkerProcessTest, ADeadChildsUnfinishedJobsReachOnDeath) {
  Deaths deaths;
  // Four messages received, three jobs start, one ends, one message waits for a slot;
  // garbage lines in between; then the child segfaults.
  WorkerProcess process(
      Script("echo 'R 1 m-1 r-1' >&3; echo 'R 2 m-2 r-2' >&3; echo 'S 1 m-1 r-1' >&3; "
             "echo 'S 2 m-2 r-2' >&3; echo 'E r-1' >&3; echo 'R 3 m-4 r-4' >&3; "
             "echo 'garbage' >&3; echo 'S x m-9 r-9' >&3; echo 'S 1 m-3' >&3; "
             "echo 'R 1 m-5' >&3; echo 'S 3 m-4 r-4' >&3; echo 'R 3 m-6 r-6' >&3; "
             "kill -SEGV $$",
             &deaths));
  ASSERT_TRUE(process.Start().ok());
  ASSERT_TRUE(deaths.WaitFor(2));  // and it is started again after each death
  process.Stop();
  std::scoped_lock lock(deaths.mu);
  EXPECT_THAT(deaths.seen[0].first, ElementsAre(Held("m-2", "r-2", 2), Held("m-4", "r-4", 3),
                                                Held("m-6", "r-6", 3, /*started=*/false)));
  EXPECT_EQ(deaths.seen[0].second, "killed by signal 11 (SIGSEGV)");
  EXPECT_GE(process.restarts(), 2);
  EXPECT_EQ(process.pid(), 0);
}

// A child that `script` ends is started again, and on_death is never called.
void ExpectRestartsWithoutOnDeath(const std::string& script) {
  Deaths deaths;
  WorkerProcess process(Script(script, &deaths));
  ASSERT_TRUE(process.Start().ok());
  WaitUntil([&] { return process.restarts() >= 2; });
  process.Stop();
  EXPECT_GE(process.restarts(), 2);
  std::scoped_lock lock(deaths.mu);
  EXPECT_TRUE(deaths.seen.empty());
}

TEST(WorkerProcessTest, AChildThatHeldNothingIsRestartedWithoutOnDeath) {
  ExpectRestartsWithoutOnDeath("exit 3");
}

TEST(WorkerProcessTest, AChildThatExitedCleanlyReleasedItsOwnMessages) {
  // Exit 0 is a worker's graceful stop (SIGTERM from someone else): restarted, not settled.
  ExpectRestartsWithoutOnDeath("echo 'S 3 m-1 r-1' >&3; exit 0");
}

TEST(WorkerProcessTest, StopEndsTheChildWithSigtermAndIsNotADeath) {
  Deaths deaths;
  // The child holds a job and waits for SIGTERM, as a worker does; the pid file says it runs.
  const std::string ready = ::testing::TempDir() + "worker_process_ready";
  std::remove(ready.c_str());
  WorkerProcess process(Script("trap 'exit 0' TERM; echo 'S 1 m-1 r-1' >&3; echo $$ > " + ready +
                                   "; while :; do sleep 0.05; done",
                               &deaths));
  ASSERT_TRUE(process.Start().ok());
  WaitUntil([&] { return access(ready.c_str(), F_OK) == 0; });
  ASSERT_EQ(access(ready.c_str(), F_OK), 0);
  process.Stop();
  EXPECT_EQ(process.pid(), 0);
  EXPECT_EQ(process.restarts(), 0);
  std::scoped_lock lock(deaths.mu);
  EXPECT_TRUE(deaths.seen.empty());
  std::remove(ready.c_str());
}

// What serve does with them: a job that was running on its last allowed receive goes to the
// DLQ with the death as its reason; a message received ahead and never started is released,
// even on its last receive (the death is not its doing), as is a job on an earlier receive.
TEST(SettleHeldMessagesTest, OnlyAJobRunningOnItsLastReceiveIsDeadLettered) {
  queue::SqliteQueueOptions options;
  options.path = ::testing::TempDir() + "settle_held_messages.db";
  std::filesystem::remove(options.path);
  options.max_receive_count = 2;
  auto opened = queue::OpenSqliteQueue(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  queue::Queue& q = **opened;
  for (const char* body : {"ran-last", "ahead-last", "ran-first", "ahead-first"}) {
    ASSERT_TRUE(q.Send(body).ok());
  }
  std::map<std::string, queue::Message> held_now;  // by body: the latest receive
  auto receive = [&](size_t expected) {
    auto got = q.Receive(10, Duration{0});
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), expected);
    for (const queue::Message& m : *got) held_now[m.body] = m;
  };
  receive(4);
  // The "-last" ones come back for their second, last allowed receive.
  for (const char* body : {"ran-last", "ahead-last"}) {
    ASSERT_TRUE(q.ChangeVisibility(held_now[body].receipt, Duration{0}).ok());
  }
  receive(2);
  auto held = [&](const char* body, bool started) {
    const queue::Message& m = held_now[body];
    return HeldMessage{m.id, m.receipt, m.receive_count, started};
  };
  SettleHeldMessages(q, {held("ran-last", true), held("ahead-last", false), held("ran-first", true),
                         held("ahead-first", false)},
                     "killed by signal 11 (SIGSEGV)", options.max_receive_count);

  auto dead = q.dead_letters().List(10);
  ASSERT_TRUE(dead.ok()) << dead.status().ToString();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].body, "ran-last");
  EXPECT_EQ((*dead)[0].reason,
            "worker process killed by signal 11 (SIGSEGV) while making this message's renditions "
            "(receive 2 of 2)");
  auto stats = q.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->visible, 3) << "the other three are visible again at once";
  EXPECT_EQ(stats->in_flight, 0);
}

TEST(DescribeExitTest, SignalsAndStatuses) {
  EXPECT_EQ(DescribeExit(SIGABRT), "killed by signal 6 (SIGABRT)");
  EXPECT_EQ(DescribeExit(3 << 8), "exited with status 3");
}

}  // namespace
}  // namespace thumbpipe::cli
