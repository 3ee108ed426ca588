#include "common/thread_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace thumbpipe {
namespace {

// On Linux PRIO_PROCESS with a thread id names that one thread (nice is per thread there).
id_t ThisThreadId() { return static_cast<id_t>(::syscall(SYS_gettid)); }

}  // namespace

Status SetThisThreadNice(int nice) {
  if (nice < 0 || nice > 19) return Status::InvalidArgument("nice must be 0-19, not " + std::to_string(nice));
  if (::setpriority(PRIO_PROCESS, ThisThreadId(), nice) != 0) {
    return Status::Internal(std::string("setpriority: ") + std::strerror(errno));
  }
  return Status::Ok();
}

int ThisThreadNice() {
  errno = 0;  // -1 is a valid nice value: only errno tells an error
  const int nice = ::getpriority(PRIO_PROCESS, ThisThreadId());
  return errno == 0 ? nice : 0;
}

}  // namespace thumbpipe
