// CPU priority of the calling thread. Image jobs run below the threads that serve uploads and
// talk to the queue: on a saturated machine the kernel then hands a core to an HTTP request,
// a receive or a heartbeat as soon as it is ready, instead of after a libvips time slice, so
// thumbnailing never slows the upload path down and a heartbeat is never late because the
// jobs it protects hold every core. Total throughput is unchanged: the jobs get every cycle
// the others leave.
#pragma once

#include "common/status.h"

namespace thumbpipe {

// Sets the calling thread's nice value (Linux: per thread; threads it creates afterwards
// inherit it, which is how libvips' worker threads started by a job get it too). 0-19; raising
// it needs no privilege, lowering it again would (so a thread is lowered once, for good).
Status SetThisThreadNice(int nice);

// The calling thread's nice value.
int ThisThreadNice();

}  // namespace thumbpipe
