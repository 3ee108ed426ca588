#include "image/memory_budget.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace thumbpipe::image {

MemoryBudget::Reservation::Reservation(Reservation&& other) noexcept
    : budget_(other.budget_), bytes_(other.bytes_) {
  other.budget_ = nullptr;
  other.bytes_ = 0;
}

MemoryBudget::Reservation& MemoryBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (budget_ != nullptr) budget_->Release(bytes_);
    budget_ = other.budget_;
    bytes_ = other.bytes_;
    other.budget_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

MemoryBudget::Reservation::~Reservation() {
  if (budget_ != nullptr) budget_->Release(bytes_);
}

Result<MemoryBudget::Reservation> MemoryBudget::Reserve(uint64_t bytes,
                                                       std::chrono::steady_clock::time_point deadline) {
  if (bytes > capacity_) {
    return Status::TooLarge("needs about " + std::to_string(bytes >> 20) +
                            " MiB of memory at its peak (estimated from its header), more than "
                            "worker.memory_budget = " +
                            std::to_string(capacity_ >> 20) + " MiB");
  }
  std::unique_lock lock(mu_);
  auto fits = [&] { return stats_.reserved + bytes <= capacity_; };
  if (!(line_.empty() && fits())) {
    const uint64_t me = next_waiter_++;
    line_.push_back(me);
    ++stats_.waited;
    const bool served =
        changed_.wait_until(lock, deadline, [&] { return line_.front() == me && fits(); });
    line_.erase(std::find(line_.begin(), line_.end(), me));
    // Whether served or not, whoever is first in line now may fit.
    changed_.notify_all();
    if (!served) {
      return Status::Unavailable("waited for " + std::to_string(bytes >> 20) +
                                 " MiB of worker.memory_budget until the job's deadline; the "
                                 "jobs holding it are still running");
    }
  }
  stats_.reserved += bytes;
  stats_.high_water = std::max(stats_.high_water, stats_.reserved);
  return Reservation(this, bytes);
}

void MemoryBudget::Release(uint64_t bytes) {
  std::lock_guard lock(mu_);
  stats_.reserved -= bytes;
  changed_.notify_all();
}

MemoryBudget::Stats MemoryBudget::stats() const {
  std::lock_guard lock(mu_);
  Stats now = stats_;
  now.waiting = line_.size();
  return now;
}

namespace {

// The first number in `path`, or 0 (absent, unreadable, or "max": no limit).
uint64_t ReadLimitFile(const std::string& path) {
  std::ifstream in(path);
  uint64_t value = 0;
  if (!(in >> value)) return 0;
  return value;
}

// The memory limit of this process's cgroup, v2 or v1, or 0 if it has none.
uint64_t CgroupMemoryLimit() {
  std::ifstream cgroups("/proc/self/cgroup");
  std::string line;
  uint64_t limit = 0;
  auto consider = [&](uint64_t value) {
    // v1 reports "no limit" as a number near 2^63.
    if (value > 0 && value < (uint64_t{1} << 60)) limit = limit == 0 ? value : std::min(limit, value);
  };
  while (std::getline(cgroups, line)) {
    // "ID:CONTROLLERS:PATH"; v2 is "0::PATH".
    const size_t first = line.find(':');
    const size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (controllers.empty()) {
      consider(ReadLimitFile("/sys/fs/cgroup" + path + "/memory.max"));
      consider(ReadLimitFile("/sys/fs/cgroup/unified" + path + "/memory.max"));
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      consider(ReadLimitFile("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes"));
    }
  }
  return limit;
}

}  // namespace

uint64_t MemoryAvailableToProcess() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  uint64_t ram = pages > 0 && page_size > 0 ? uint64_t(pages) * uint64_t(page_size) : 0;
  const uint64_t cgroup = CgroupMemoryLimit();
  if (ram == 0) return cgroup;
  return cgroup == 0 ? ram : std::min(ram, cgroup);
}

uint64_t AutomaticMemoryBudget() {
  constexpr uint64_t kFloor = 64ull << 20;  // even a tiny container runs small jobs
  const uint64_t available = MemoryAvailableToProcess();
  if (available == 0) return 2ull << 30;  // nothing readable: assume a small machine
  return std::max(kFloor, available / 10 * 6);
}

}  // namespace thumbpipe::image
