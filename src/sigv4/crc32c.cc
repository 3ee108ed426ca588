// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the x-amz-checksum-crc32c
// algorithm. zlib has only CRC-32, so this is ours: the SSE4.2 crc32 instruction when the
// CPU has it (every x86-64 server of the last decade), a slicing-by-8 table otherwise.
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "sigv4/checksums.h"

namespace thumbpipe::sigv4 {

namespace {

constexpr uint32_t kPoly = 0x82F63B78u;

using Table = std::array<std::array<uint32_t, 256>, 8>;

constexpr Table MakeTable() {
  Table t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
  return t;
}

constexpr Table kTable = MakeTable();

uint32_t Crc32cTable(uint32_t crc, const unsigned char* p, std::size_t n) {
  while (n >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    // Little-endian loads; on a big-endian host the byte loop below is used instead.
    if constexpr (std::endian::native != std::endian::little) break;
    lo ^= crc;
    crc = kTable[7][lo & 0xFF] ^ kTable[6][(lo >> 8) & 0xFF] ^ kTable[5][(lo >> 16) & 0xFF] ^
          kTable[4][lo >> 24] ^ kTable[3][hi & 0xFF] ^ kTable[2][(hi >> 8) & 0xFF] ^
          kTable[1][(hi >> 16) & 0xFF] ^ kTable[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ kTable[0][(crc ^ *p++) & 0xFF];
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc, const unsigned char* p,
                                                          std::size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool HasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

namespace internal {
// Exposed for the test that checks both paths agree.
uint32_t Crc32cPortable(std::string_view data, uint32_t crc) {
  return ~Crc32cTable(~crc, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}
}  // namespace internal

uint32_t Crc32c(std::string_view data, uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
#if defined(__x86_64__)
  if (HasSse42()) return ~Crc32cHardware(~crc, p, data.size());
#endif
  return ~Crc32cTable(~crc, p, data.size());
}

}  // namespace thumbpipe::sigv4
