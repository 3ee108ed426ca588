#include "common/clock.h"

#include <thread>

namespace thumbpipe {

RealClock& RealClock::Instance() {
  static RealClock clock;
  return clock;
}

void RealClock::SleepFor(Duration d) { std::this_thread::sleep_for(d); }

}  // namespace thumbpipe
