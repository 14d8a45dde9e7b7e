#include "cpu_allocator.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

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

// Size classes with at most 1/8 waste: round up to a multiple of an eighth of
// the request's power of two, so nearby sizes (micro-batches of slightly
// different lengths) share blocks.
size_t size_class(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  const size_t step = std::max<size_t>(p / 8, 4096);
  return (n + step - 1) / step * step;
}

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
    const size_t size = size_class(n);
    Block block{0, 0, nullptr, 0};
    std::vector<Block> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // The smallest cached block that fits, up to twice the request: when the
      // tensors' sizes change between passes (the logits' chunks, the head's
      // gradient) the cache keeps serving them instead of trading blocks with
      // the system. It counts with the pages it has.
      auto it = free_.lower_bound(size);
      if (it != free_.end() && it->first <= (bounded_ ? 2 * size : size)) {
        block = *it->second;
        lru_.erase(it->second);
        free_.erase(it);
        cached_ -= block.counted;
        ++hits_;
      } else {
        block = {size, size, nullptr, 0};
        ++misses_;
      }
      block.counted = std::max(block.counted, size);
      live_bytes_ += block.counted;
      if (bounded_ && live_bytes_ > high_water_) {
        // A new high water: live blocks larger than their tensors give back the
        // pages past them first, so the peak counts only what tensors use.
        if (block.p != nullptr && block.counted > size) shrink(block, size);
        for (auto& [q, l] : live_) {
          if (l.block.counted > l.size) shrink(l.block, l.size);
        }
      }
      // live + cached stays within the high water of live: a request first takes
      // back cached blocks, oldest first, so the cache never raises the process's
      // peak above what its tensors need.
      high_water_ = std::max(high_water_, live_bytes_);
      while (bounded_ && !lru_.empty() && live_bytes_ + cached_ > high_water_) {
        const Block oldest = lru_.front();
        evicted.push_back(oldest);
        forget(oldest);
      }
    }
    for (const Block& b : evicted) unmap(b);
    if (block.p == nullptr) block = map(size);
    std::lock_guard<std::mutex> lock(mutex_);
    if (block.p == nullptr) {
      live_bytes_ -= size;
      throw std::bad_alloc();
    }
    live_.emplace(block.p, Live{block, size});
    return {block.p, block.p, &free_any, c10::Device(c10::DeviceType::CPU)};
  }

  // raw_deallocate does not say which size it frees: free_any looks it up.
  c10::DeleterFnPtr raw_deleter() const override { return &free_any; }

  void release_all() const {
    std::list<Block> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(lru_);
      free_.clear();
      cached_ = 0;
    }
    for (const Block& b : blocks) unmap(b);
  }

  CpuCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cached_, hits_, misses_, live_bytes_, high_water_, bounded_};
  }

 private:
  // Large blocks are mapped directly: glibc would serve blocks under its dynamic
  // mmap threshold (up to 32 MB) from arenas that do not give memory back, so a
  // block the cache lets go would still count in the process's memory.
  struct Block {
    size_t capacity;  // bytes usable from p
    size_t counted;   // bytes of it that may be resident: what it counts for
    void* p;
    size_t color;     // p's offset into its mapping
  };
  struct Live {
    Block block;
    size_t size;  // the request's size class
  };

  // Blocks start at one of 64 cache-line offsets into their first page, as glibc's
  // blocks did: page-aligned buffers read side by side (a decoding step's keys and
  // values, weight panels) would contend for the same L1 sets (20% slower decoding).
  static constexpr size_t kColors = 64;

  static Block map(size_t size) {
    static std::atomic<size_t> next{0};
    const size_t color = next.fetch_add(1, std::memory_order_relaxed) % kColors * kAlignment;
    void* base = mmap(nullptr, size + kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return {size, size, nullptr, 0};
    return {size, size, static_cast<char*>(base) + color, color};
  }

  static void unmap(const Block& b) { munmap(static_cast<char*>(b.p) - b.color, b.capacity + kPage); }

  // Gives back b's whole pages past its first `size` bytes and counts it as `size` (under the lock).
  void shrink(Block& b, size_t size) const {
    auto* base = static_cast<char*>(b.p) - b.color;
    const size_t from = (b.color + size + kPage - 1) / kPage * kPage;
    const size_t to = (b.color + b.counted) / kPage * kPage;
    if (to > from) madvise(base + from, to - from, MADV_DONTNEED);
    live_bytes_ -= b.counted - size;
    b.counted = size;
  }

  static void* aligned(size_t n) {
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, n) != 0) throw std::bad_alloc();
    return p;
  }

  static void free_small(void* p) { std::free(p); }

  static void free_any(void* p) { installed->release(p); }

  // Drops the cached block b (under the lock).
  void forget(const Block& b) const {
    auto [first, last] = free_.equal_range(b.capacity);
    for (auto it = first; it != last; ++it) {
      if (it->second->p == b.p) {
        lru_.erase(it->second);
        free_.erase(it);
        break;
      }
    }
    cached_ -= b.counted;
  }

  // A large block goes back to the cache (or the system when the cache is full);
  // any other block was small. Keeping it never breaks live + cached <= high water:
  // the freed bytes only move from live to cached.
  void release(void* p) const {
    Block block{0, 0, nullptr, 0};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = live_.find(p);
      if (it == live_.end()) {
        std::free(p);
        return;
      }
      block = it->second.block;
      live_.erase(it);
      live_bytes_ -= block.counted;
      if (cached_ + block.counted <= capacity_) {
        free_.emplace(block.capacity, lru_.insert(lru_.end(), block));
        cached_ += block.counted;
        return;
      }
    }
    unmap(block);
  }

  const size_t capacity_;
  const bool bounded_;
  mutable std::mutex mutex_;
  mutable std::list<Block> lru_;                                    // cached blocks, oldest first
  mutable std::multimap<size_t, std::list<Block>::iterator> free_;  // the same, by capacity
  mutable std::unordered_map<void*, Live> live_;
  mutable size_t cached_ = 0, hits_ = 0, misses_ = 0, live_bytes_ = 0, high_water_ = 0;
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
