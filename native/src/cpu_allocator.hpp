// A caching allocator for large CPU tensors. glibc hands blocks above 32 MB
// to mmap and back on free, so every large temporary of a training step
// (logits over the vocabulary and their gradients: ~100 MB each) page-faults
// its memory in afresh: a fifth of the learning phase went to the kernel
// zeroing pages. Keeping freed large blocks for reuse by the next request of
// the same size class removes that. Small blocks go to malloc as before.
// The cache is bounded by the high water of live large blocks: live + cached
// never exceeds the most the tensors themselves ever held, so caching costs
// no peak memory (a fresh block first unmaps cached blocks, oldest first). A
// request may take a cached block up to twice its size, which keeps the
// blocks circulating when sizes change between passes; a new high water
// first has such blocks give back their pages past their tensors.
#pragma once

#include <cstddef>

namespace r4j {

// Installs the caching allocator as libtorch's CPU allocator, once. Off when
// the environment sets RLHF4J_CPU_CACHE=0 (the slow twin); RLHF4J_CPU_CACHE=keep
// keeps every freed block up to the capacity instead of bounding the cache by
// the high water (faster where a pass's tensor sizes change over time, more
// peak memory); the capacity in MiB comes from RLHF4J_CPU_CACHE_MB (default
// 4096). Returns whether it is on.
bool install_cpu_cache();

struct CpuCacheStats {
  size_t cached_bytes;  // free blocks held for reuse
  size_t hits;          // requests served from the cache
  size_t misses;        // large requests that went to the system
  size_t live_bytes;    // large blocks in use
  size_t high_water;    // the most live_bytes has been; live + cached stays within it (bounded)
  bool bounded;         // false under RLHF4J_CPU_CACHE=keep
};
CpuCacheStats cpu_cache_stats();

// Hands every cached free block back to the system (and glibc's free heap
// top to the kernel): after a one-off drop of memory that will not be asked
// for again, such as a model's base copy replaced by a shared one.
void release_cpu_cache();

}  // namespace r4j
