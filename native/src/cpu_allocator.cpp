#include "cpu_allocator.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <string>

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

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(size_t capacity) : capacity_(capacity) {}

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
    auto* block = new Block{this, p, size};
    return {p, block, &free_large, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }

  CpuCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cached_, hits_, misses_};
  }

 private:
  struct Block {
    const CachingCpuAllocator* owner;
    void* ptr;
    size_t size;
  };

  static void* aligned(size_t n) {
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, n) != 0) throw std::bad_alloc();
    return p;
  }

  static void free_small(void* p) { std::free(p); }

  static void free_large(void* ctx) {
    auto* b = static_cast<Block*>(ctx);
    b->owner->release(b->ptr, b->size);
    delete b;
  }

  void release(void* p, size_t size) const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + size <= capacity_) {
        free_.emplace(size, p);
        cached_ += size;
        return;
      }
    }
    std::free(p);
  }

  const size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::multimap<size_t, void*> free_;
  mutable size_t cached_ = 0, hits_ = 0, misses_ = 0;
};

CachingCpuAllocator* installed = nullptr;

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

#else
// libtorch 2.x changed the Allocator interface; its CPU variant keeps c10's allocator.
bool install_cpu_cache() { return false; }
CpuCacheStats cpu_cache_stats() { return {0, 0, 0}; }
#endif

}  // namespace r4j
