#include "cpu_allocator.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <cstdlib>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

namespace r4j {

#if TORCH_VERSION_MAJOR < 2
namespace {

constexpr size_t kAlignment = 64;           // as c10's own CPU allocator
constexpr size_t kLarge = size_t{1} << 20;  // blocks from 1 MiB are cached

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
  explicit CachingCpuAllocator(size_t capacity) : capacity_(capacity) {}

  // Every block's context is its own pointer, as raw_allocate requires (oneDNN's
  // scratch buffers, e.g. of bfloat16 matmuls, come through it); large blocks are
  // known by their pointer in live_.
  c10::DataPtr allocate(size_t n) const override {
    if (n < kLarge) {
      void* p = aligned(n == 0 ? kAlignment : n);
      return {p, p, &free_small, c10::Device(c10::DeviceType::CPU)};
    }
    const size_t size = size_class(n);
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end()) {
        p = it->second;
        free_.erase(it);
        cached_ -= size;
        ++hits_;
      } else {
        ++misses_;
      }
    }
    if (p == nullptr) p = aligned(size);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_.emplace(p, size);
    }
    return {p, p, &free_any, c10::Device(c10::DeviceType::CPU)};
  }

  // raw_deallocate does not say which size it frees: free_any looks it up.
  c10::DeleterFnPtr raw_deleter() const override { return &free_any; }

  void release_all() const {
    std::multimap<size_t, void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      cached_ = 0;
    }
    for (auto& [size, p] : blocks) std::free(p);
  }

  CpuCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cached_, hits_, misses_};
  }

 private:
  static void* aligned(size_t n) {
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, n) != 0) throw std::bad_alloc();
    return p;
  }

  static void free_small(void* p) { std::free(p); }

  static void free_any(void* p) { installed->release(p); }

  // A large block goes back to the cache (or the system when the cache is full);
  // any other block was small.
  void release(void* p) const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = live_.find(p);
      if (it != live_.end()) {
        const size_t size = it->second;
        live_.erase(it);
        if (cached_ + size <= capacity_) {
          free_.emplace(size, p);
          cached_ += size;
          return;
        }
      }
    }
    std::free(p);
  }

  const size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::multimap<size_t, void*> free_;
  mutable std::unordered_map<void*, size_t> live_;
  mutable size_t cached_ = 0, hits_ = 0, misses_ = 0;
};

}  // namespace

bool install_cpu_cache() {
  static const bool on = [] {
    const char* off = std::getenv("RLHF4J_CPU_CACHE");
    if (off != nullptr && std::string(off) == "0") return false;
    size_t mib = 4096;
    if (const char* cap = std::getenv("RLHF4J_CPU_CACHE_MB")) mib = std::strtoull(cap, nullptr, 10);
    installed = new CachingCpuAllocator(mib << 20);  // lives as long as the process: tensors may outlive us
    c10::SetCPUAllocator(installed, /*priority=*/1);
    return true;
  }();
  return on;
}

CpuCacheStats cpu_cache_stats() { return installed ? installed->stats() : CpuCacheStats{0, 0, 0}; }

void release_cpu_cache() {
  if (installed) installed->release_all();
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

#else
// libtorch 2.x changed the Allocator interface; its CPU variant keeps c10's allocator.
bool install_cpu_cache() { return false; }
CpuCacheStats cpu_cache_stats() { return {0, 0, 0}; }
void release_cpu_cache() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}
#endif

}  // namespace r4j
