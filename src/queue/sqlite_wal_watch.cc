#include "queue/sqlite_wal_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace thumbpipe::queue::internal {
namespace {

// The second wake-up after a burst of WAL writes (see Run). A commit is published within
// microseconds of its frames' write, unless its thread is preempted in between.
constexpr int kFollowUpMs = 2;

}  // namespace

Result<std::unique_ptr<WalWatch>> WalWatch::Start(const std::filesystem::path& db_path,
                                                  std::function<void()> on_change) {
  std::filesystem::path dir = db_path.parent_path();
  if (dir.empty()) dir = ".";
  const int inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd < 0) return Status::IOError(fmt::format("inotify_init1: {}", std::strerror(errno)));
  // The directory, not the file: the WAL is deleted when its last connection closes and made
  // again by the next, which a watch on the file itself would not survive.
  if (inotify_add_watch(inotify_fd, dir.c_str(), IN_MODIFY) < 0) {
    const int error = errno;
    ::close(inotify_fd);
    return Status::IOError(fmt::format("{}: inotify_add_watch: {}", dir.string(), std::strerror(error)));
  }
  const int stop_fd = eventfd(0, EFD_CLOEXEC);
  if (stop_fd < 0) {
    const int error = errno;
    ::close(inotify_fd);
    return Status::IOError(fmt::format("eventfd: {}", std::strerror(error)));
  }
  std::unique_ptr<WalWatch> watch(
      new WalWatch(inotify_fd, stop_fd, db_path.filename().string() + "-wal", std::move(on_change)));
  watch->thread_ = std::thread([w = watch.get()] { w->Run(); });
  return watch;
}

WalWatch::WalWatch(int inotify_fd, int stop_fd, std::string wal_name, std::function<void()> on_change)
    : inotify_fd_(inotify_fd), stop_fd_(stop_fd), wal_name_(std::move(wal_name)), on_change_(std::move(on_change)) {}

WalWatch::~WalWatch() {
  const uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(inotify_fd_);
  ::close(stop_fd_);
}

void WalWatch::Run() {
  alignas(inotify_event) char buffer[16 * 1024];
  pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  bool follow_up = false;
  for (;;) {
    // The WAL is written before the commit is published to readers (its wal-index header, in
    // shared memory, which inotify does not see): a long poll woken by the write itself can
    // probe a moment too early. So each burst of writes wakes them again kFollowUpMs later.
    const int ready = ::poll(fds, 2, follow_up ? kFollowUpMs : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return;  // cannot happen with valid fds; the poll fallback still works
    }
    if (ready == 0) {
      follow_up = false;
      on_change_();
      continue;
    }
    if (fds[1].revents != 0) return;
    bool changed = false;
    for (;;) {
      const ssize_t n = ::read(inotify_fd_, buffer, sizeof buffer);
      if (n <= 0) break;  // EAGAIN: all read
      for (ssize_t at = 0; at < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        // IN_Q_OVERFLOW: events were dropped, one of them may have been the WAL's.
        if ((event->mask & IN_Q_OVERFLOW) != 0 || (event->len > 0 && wal_name_ == event->name)) changed = true;
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
    if (changed) {
      on_change_();
      follow_up = true;
    }
  }
}

}  // namespace thumbpipe::queue::internal
