// How much memory image jobs may hold at once (worker.memory_budget).
//
// The limits in Limits bound one job; they do not bound several at once. A 100 MP AVIF
// of 8 KB takes about 700 MB to decode and a 100-frame animated GIF of 80 KB as much, so
// four such uploads arriving together could ask a 2 GB container for 3 GB and have the
// kernel kill the whole process, every other job and the S3 API with it. Instead, each
// job reserves its estimated peak (EstimateJobMemory) before it decodes; a job that does
// not fit beside the ones running waits for them, in arrival order, and one that could
// never fit is refused as kTooLarge (permanent: it goes to the dead-letter queue with the
// reason) instead of being tried.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

#include "common/result.h"

namespace thumbpipe::image {

class MemoryBudget {
 public:
  // Bytes held by one job until it is destroyed (or moved from).
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation();

    uint64_t bytes() const { return bytes_; }

   private:
    friend class MemoryBudget;
    Reservation(MemoryBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    MemoryBudget* budget_ = nullptr;
    uint64_t bytes_ = 0;
  };

  // REQUIRES: capacity > 0.
  explicit MemoryBudget(uint64_t capacity) : capacity_(capacity) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Waits until `bytes` fit beside what is reserved and every earlier caller still waiting
  // has been served (first come, first served: a large job is not overtaken forever by
  // small ones), then reserves them. kTooLarge at once if `bytes` exceeds the capacity;
  // kUnavailable if `deadline` passes first (the caller may try again later).
  Result<Reservation> Reserve(uint64_t bytes, std::chrono::steady_clock::time_point deadline);

  uint64_t capacity() const { return capacity_; }

  struct Stats {
    uint64_t reserved = 0;    // bytes held now
    uint64_t high_water = 0;  // the most ever held at once
    uint64_t waiting = 0;     // callers waiting now
    uint64_t waited = 0;      // reservations that had to wait, in all
  };
  Stats stats() const;

 private:
  void Release(uint64_t bytes);

  const uint64_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<uint64_t> line_;  // callers waiting, in arrival order; only the first may reserve
  uint64_t next_waiter_ = 0;
  Stats stats_;
};

// What worker.memory_budget = 0 means: 60% of the memory this process may use, the
// smallest of the machine's RAM and the memory limit of its cgroup (v2 memory.max, v1
// memory.limit_in_bytes). The rest is left to the process itself (the S3 API, SQLite's
// caches, uploads in flight) and to the page cache.
uint64_t AutomaticMemoryBudget();

// The memory limit that applies to this process: the smallest of physical RAM and any
// cgroup limit found for it. 0 if none could be read.
uint64_t MemoryAvailableToProcess();

}  // namespace thumbpipe::image
