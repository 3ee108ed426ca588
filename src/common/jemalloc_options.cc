// jemalloc's options for `thumbpipe` and the benches that measure its parts, compiled into
// each of them through the thumbpipe_allocator target (src/common/CMakeLists.txt) when they
// link jemalloc (THUMBPIPE_ALLOCATOR=jemalloc). jemalloc reads `malloc_conf` once,
// at its first allocation; MALLOC_CONF in the environment is applied after it, so an
// operator can still change any of these.
//
// thp:always: jemalloc asks the kernel for transparent huge pages (madvise MADV_HUGEPAGE,
// which Debian's default THP mode, "madvise", honours) on the memory it maps. libvips'
// buffers are megabytes each and short-lived; on 4 KiB pages every image's buffers were
// faulted in page by page again (about 4,500 page faults an image on the 40 photos of
// bench/; page faults and madvise were a fifth of the engine's CPU) and walked with 4 KiB
// TLB entries.
// Measured with `thumbpipe thumbnail -j 2` on those photos: 5.6-6.3 s -> 3.6-3.8 s, CPU
// 10.6-11.8 -> 6.7-6.8 s, minor faults 178,000 -> 8,500, peak RSS 120 -> 170 MB
// (bench/README.md, "Huge pages").
extern "C" {
// NOLINTNEXTLINE: the name and linkage are jemalloc's interface.
const char* malloc_conf = "thp:always";
}
