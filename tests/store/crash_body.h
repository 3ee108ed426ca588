// What store_child writes under each key, shared with crash_put_test so that the test can
// check the bytes of every acknowledged put. Every third object is larger than the inline
// limit (a blob file), the rest live in the index.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>

namespace thumbpipe::store::testing {

inline constexpr const char* kCrashBucket = "crash";

inline std::string CrashBody(const std::string& key, int index) {
  const size_t size = index % 3 == 0 ? 150'000 + (index * 7919) % 100'000 : 1 + (index * 131) % 4000;
  std::string out(size, '\0');
  std::minstd_rand rng(static_cast<uint32_t>(std::hash<std::string>{}(key)) | 1);
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

}  // namespace thumbpipe::store::testing
