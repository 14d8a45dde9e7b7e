#include "cpu_allocator.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <cstdint>
#include <cstdlib>
#include <sys/mman.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <algorithm>
#include <atomic>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace r4j {

#if TORCH_VERSION_MAJOR < 2
namespace {

constexpr size_t kAlignment = 64;           // as c10's own CPU allocator
constexpr size_t kLarge = size_t{1} << 20;  // blocks from 1 MiB are cached
constexpr size_t kPage = 4096;

size_t whole_pages(size_t n) { return (n + kPage - 1) / kPage * kPage; }

class CachingCpuAllocator;
CachingCpuAllocator* installed = nullptr;  // the one instance; the deleters reach it here

class CachingCpuAllocator final : public c10::Allocator {
 public:
  CachingCpuAllocator(size_t capacity, bool bounded) : capacity_(capacity), bounded_(bounded) {}

  // Every block's context is its own pointer, as raw_allocate requires (oneDNN's
  // scratch buffers, e.g. of bfloat16 matmuls, come through it); large blocks are
  // known by their pointer in live_.
  c10::DataPtr allocate(size_t n) const override {
    if (n < kLarge) {
      void* p = aligned(n == 0 ? kAlignment : n);
      return {p, p, &free_small, c10::Device(c10::DeviceType::CPU)};
    }
    static std::atomic<size_t> next_color{0};
    const size_t color = next_color.fetch_add(1, std::memory_order_relaxed) % kColors * kAlignment;
    const size_t need = whole_pages(n) + kPage;  // room for any color: runs fit every request of their size
    std::vector<Pages> block;                   // its pages, one run of one mapping unless assembled
    std::vector<Pages> moving, evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // The smallest free run that holds the request gives it its first pages; the
      // rest stays free. Runs merge again when freed, so the pages circulate
      // between requests of any size instead of going back to the system.
      auto it = by_length_.lower_bound(need);
      if (it != by_length_.end()) {
        block.push_back(carve(it->second, need));
        ++hits_;
      } else {
        // No run holds it: the largest runs' pages move into a fresh mapping
        // (mremap moves page tables, ~1000x cheaper than faulting the pages in
        // again), the rest of it faults in as usual. Within the bound the pass's
        // peak finds exactly its free pages, split between runs by the smaller
        // blocks that lived in them; moving them keeps them.
        size_t filled = 0;
        while (filled < need && moving.size() < kMostMoved && !by_length_.empty()) {
          moving.push_back(carve(std::prev(by_length_.end())->second, need - filled));
          filled += moving.back().length;
        }
        ++(filled == need ? hits_ : misses_);
      }
      live_bytes_ += need;
      high_water_ = std::max(high_water_, live_bytes_);
      // live + free stays within the high water of live: a request that needs fresh
      // pages first takes back free runs, oldest first, so the cache never raises the
      // process's peak above what its tensors need.
      while (bounded_ && !age_.empty() && live_bytes_ + free_bytes_ > high_water_) {
        evicted.push_back(take(age_.front()));
      }
    }
    for (const Pages& e : evicted) munmap(e.base, e.length);
    if (block.empty()) block = assemble(need, moving);
    void* p = block.front().base + color;
    std::lock_guard<std::mutex> lock(mutex_);
    live_.emplace(p, std::move(block));
    return {p, p, &free_any, c10::Device(c10::DeviceType::CPU)};
  }

  // raw_deallocate does not say which size it frees: free_any looks it up.
  c10::DeleterFnPtr raw_deleter() const override { return &free_any; }

  void release_all() const {
    std::vector<Pages> all;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (!age_.empty()) all.push_back(take(age_.front()));
    }
    for (const Pages& e : all) munmap(e.base, e.length);
  }

  CpuCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {free_bytes_, hits_, misses_, live_bytes_, high_water_, bounded_};
  }

 private:
  // Whole pages of one mapping (origin): a live block's, or a free run's. Runs of
  // the same mapping that meet merge; runs of different mappings never do, even
  // where the kernel placed the mappings side by side.
  struct Pages {
    char* base;
    size_t length;
    uint64_t origin;
  };
  struct Free {
    Pages pages;
    std::multimap<size_t, char*>::iterator by_length;
    std::list<char*>::iterator age;
  };

  // At most this many free runs move into one new block: each stays a mapping of its own.
  static constexpr size_t kMostMoved = 8;

  // Blocks start at one of 64 cache-line offsets into their first page, as glibc's
  // blocks did: page-aligned buffers read side by side (a decoding step's keys and
  // values, weight panels) would contend for the same L1 sets (20% slower decoding).
  static constexpr size_t kColors = 64;

  // The first `most` bytes of the free run at base, or all of it; the rest stays
  // free, of the same mapping (under the lock).
  Pages carve(char* base, size_t most) const {
    const Pages run = take(base);
    if (run.length <= most) return run;
    keep_free({run.base + most, run.length - most, run.origin});
    return {run.base, most, run.origin};
  }

  // A fresh mapping of `need` bytes with the free pages of `moving` moved to its
  // start, each a mapping of its own from then on (a run must lie within one
  // mapping for mremap to move it again). Pages that cannot move are unmapped and
  // their place faults in afresh.
  std::vector<Pages> assemble(size_t need, const std::vector<Pages>& moving) const {
    void* fresh = mmap(nullptr, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fresh == MAP_FAILED) {
      for (const Pages& m : moving) munmap(m.base, m.length);
      std::lock_guard<std::mutex> lock(mutex_);
      live_bytes_ -= need;
      throw std::bad_alloc();
    }
    auto* dest = static_cast<char*>(fresh);
    std::vector<Pages> block;
    size_t at = 0;
    for (const Pages& m : moving) {
      if (mremap(m.base, m.length, m.length, MREMAP_MAYMOVE | MREMAP_FIXED, dest + at) == MAP_FAILED) {
        munmap(m.base, m.length);
      }
      block.push_back({dest + at, m.length, next_origin_++});
      at += m.length;
    }
    if (at < need) block.push_back({dest + at, need - at, next_origin_++});
    return block;
  }

  static void* aligned(size_t n) {
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, n) != 0) throw std::bad_alloc();
    return p;
  }

  static void free_small(void* p) { std::free(p); }

  static void free_any(void* p) { installed->release(p); }

  // Removes the free run at base from every index (under the lock).
  Pages take(char* base) const {
    auto it = free_.find(base);
    const Free run = it->second;
    by_length_.erase(run.by_length);
    age_.erase(run.age);
    free_.erase(it);
    free_bytes_ -= run.pages.length;
    return run.pages;
  }

  // Adds a free run, the newest (under the lock).
  void keep_free(const Pages& pages) const {
    Free run{pages, by_length_.emplace(pages.length, pages.base), age_.insert(age_.end(), pages.base)};
    free_.emplace(pages.base, run);
    free_bytes_ += pages.length;
  }

  // A large block's pages become free, merged with the free runs of its mapping on
  // either side; any other block was small. Freeing only moves bytes from live to
  // free, so live + free <= high water still holds. Past the capacity the oldest
  // runs go back to the system.
  void release(void* p) const {
    std::vector<Pages> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = live_.find(p);
      if (it == live_.end()) {
        std::free(p);
        return;
      }
      for (const Pages& pages : it->second) {
        live_bytes_ -= pages.length;
        free_merged(pages);
      }
      live_.erase(it);
      while (free_bytes_ > capacity_) evicted.push_back(take(age_.front()));
    }
    for (const Pages& e : evicted) munmap(e.base, e.length);
  }

  // Adds pages as a free run, merged with the free runs of its mapping on either
  // side (under the lock).
  void free_merged(Pages pages) const {
    auto after = free_.lower_bound(pages.base);
    if (after != free_.end() && after->second.pages.origin == pages.origin && after->first == pages.base + pages.length) {
      pages.length += take(after->first).length;
    }
    auto before = free_.lower_bound(pages.base);
    if (before != free_.begin()) {
      --before;
      const Pages& run = before->second.pages;
      if (run.origin == pages.origin && run.base + run.length == pages.base) {
        pages = {run.base, run.length + pages.length, pages.origin};
        take(pages.base);
      }
    }
    keep_free(pages);
  }

  const size_t capacity_;
  const bool bounded_;
  mutable std::mutex mutex_;
  mutable std::map<char*, Free> free_;                 // free runs by address, to merge neighbours
  mutable std::multimap<size_t, char*> by_length_;     // the same by length, for the smallest that fits
  mutable std::list<char*> age_;                       // the same oldest first, to give back
  mutable std::unordered_map<void*, std::vector<Pages>> live_;  // large blocks in use, by their pointer
  mutable std::atomic<uint64_t> next_origin_{0};
  mutable size_t free_bytes_ = 0, hits_ = 0, misses_ = 0, live_bytes_ = 0, high_water_ = 0;
};

}  // namespace

bool install_cpu_cache() {
  static const bool on = [] {
    const char* mode = std::getenv("RLHF4J_CPU_CACHE");
    const std::string m = mode ? mode : "";
    if (m == "0") return false;
    size_t mib = 4096;
    if (const char* cap = std::getenv("RLHF4J_CPU_CACHE_MB")) mib = std::strtoull(cap, nullptr, 10);
    // lives as long as the process: tensors may outlive us
    installed = new CachingCpuAllocator(mib << 20, /*bounded=*/m != "keep");
    c10::SetCPUAllocator(installed, /*priority=*/1);
    return true;
  }();
  return on;
}

CpuCacheStats cpu_cache_stats() { return installed ? installed->stats() : CpuCacheStats{}; }

void release_cpu_cache() {
  if (installed) installed->release_all();
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

#else
// libtorch 2.x changed the Allocator interface; its CPU variant keeps c10's allocator.
bool install_cpu_cache() { return false; }
CpuCacheStats cpu_cache_stats() { return {}; }
void release_cpu_cache() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}
#endif

}  // namespace r4j
