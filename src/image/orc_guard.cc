#include "image/orc_guard.h"

#include <dlfcn.h>
#include <orc/orc.h>

#include <atomic>
#include <mutex>

namespace thumbpipe::image {
namespace {

using CompileFn = OrcCompileResult (*)(OrcProgram*);
using FreeFn = void (*)(OrcProgram*);

std::atomic<unsigned long> guarded_compiles{0};

std::mutex& GuardMutex() {
  static std::mutex mu;
  return mu;
}

// liborc's own definitions, the next ones after ours in the search order.
CompileFn RealCompile() {
  static const CompileFn fn = reinterpret_cast<CompileFn>(::dlsym(RTLD_NEXT, "orc_program_compile"));
  return fn;
}
FreeFn RealFree() {
  static const FreeFn fn = reinterpret_cast<FreeFn>(::dlsym(RTLD_NEXT, "orc_program_free"));
  return fn;
}

}  // namespace

bool OrcGuardActive() { return RealCompile() != nullptr && RealFree() != nullptr; }

unsigned long OrcGuardedCompiles() { return guarded_compiles.load(); }

}  // namespace thumbpipe::image

extern "C" {

OrcCompileResult orc_program_compile(OrcProgram* program) {
  using namespace thumbpipe::image;
  std::scoped_lock lock(GuardMutex());
  ++guarded_compiles;
  const CompileFn real = RealCompile();
  // Without liborc's function there is nothing to compile with: libvips then runs the
  // operation's plain C path, as it does whenever a compile fails.
  return real != nullptr ? real(program) : ORC_COMPILE_RESULT_UNKNOWN_COMPILE;
}

void orc_program_free(OrcProgram* program) {
  using namespace thumbpipe::image;
  std::scoped_lock lock(GuardMutex());
  if (const FreeFn real = RealFree()) real(program);
}

}  // extern "C"
