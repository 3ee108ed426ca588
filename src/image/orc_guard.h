// liborc 0.4.33 (Debian 12), which libvips 8.14 uses to compile vector code for some
// operations (vips_reducev under every resize, integer convolutions), keeps the executable
// memory it compiles into in process-wide lists without a lock: two threads compiling, or
// one compiling while another frees a program, can corrupt them and crash the process
// (AddressSanitizer: SEGV in orc_code_allocate_codemem, from vips_reducev; seen about once
// in 20-300 runs of a test with 4 jobs at once). orc_guard.cc defines orc_program_compile and
// orc_program_free: the executable's definitions come first in the dynamic linker's search,
// so libvips' calls reach them, and they call liborc's under one mutex. Compiling happens
// when libvips builds an operation, not per pixel, so the lock is taken a few times a job.
// Turning vector code off instead (VIPS_NOVECTOR) cost about 20% of the engine's speed.
#pragma once

namespace thumbpipe::image {

// Whether libvips' orc calls go through the guard (false if liborc's own functions could not
// be found, in which case they run unguarded). Referencing it also keeps orc_guard.cc's
// definitions in every binary that links the engine.
bool OrcGuardActive();

// Compiles that went through the guard so far in this process (for tests).
unsigned long OrcGuardedCompiles();

}  // namespace thumbpipe::image
