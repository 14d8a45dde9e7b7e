// A caching allocator for large CPU tensors. glibc hands blocks above 32 MB
// to mmap and back on free, so every large temporary of a training step
// (logits over the vocabulary and their gradients: ~100 MB each) page-faults
// its memory in afresh: a fifth of the learning phase went to the kernel
// zeroing pages. Keeping freed large blocks' pages for reuse removes that.
// Small blocks go to malloc as before.
// Freed pages stay mapped as free runs: a request takes the first pages of the
// smallest run that holds it and leaves the rest free, runs of one mapping merge
// again when their neighbours are freed, and a request that no run holds moves
// the pages of the largest runs into its new mapping (mremap) instead of having
// fresh ones zeroed. So the pages of a pass's largest temporary serve the smaller
// ones after it and come back to it next time, whatever sizes the passes ask for.
// The cache is bounded by the high water of live large blocks: live + free
// never exceeds the most the tensors themselves ever held, so caching costs no
// peak memory (a request that still needs fresh pages first unmaps the free runs
// it could not use, oldest first).
#pragma once

#include <cstddef>

namespace r4j {

// Installs the caching allocator as libtorch's CPU allocator, once. Off when
// the environment sets RLHF4J_CPU_CACHE=0 (the slow twin); RLHF4J_CPU_CACHE=keep
// keeps every freed page up to the capacity instead of bounding the cache by
// the high water (more peak memory); the capacity in MiB comes from
// RLHF4J_CPU_CACHE_MB (default 4096). Returns whether it is on.
bool install_cpu_cache();

struct CpuCacheStats {
  size_t cached_bytes;  // free pages held for reuse
  size_t hits;          // large requests served from free pages alone
  size_t misses;        // large requests that needed fresh pages from the system
  size_t live_bytes;    // large blocks in use
  size_t high_water;    // the most live_bytes has been; live + cached stays within it (bounded)
  bool bounded;         // false under RLHF4J_CPU_CACHE=keep
};
CpuCacheStats cpu_cache_stats();

// Hands every free run back to the system (and glibc's free heap
// top to the kernel): after a one-off drop of memory that will not be asked
// for again, such as a model's base copy replaced by a shared one.
void release_cpu_cache();

}  // namespace r4j
