// The caching CPU allocator: large blocks come back for reuse, contents stay
// the caller's, and small blocks bypass it.
#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>

#include "core_helpers.hpp"
#include "cpu_allocator.hpp"

using namespace r4j;

TEST(CpuCache, LargeBlocksAreReusedAndHoldWhatWasWritten) {
  if (!install_cpu_cache()) GTEST_SKIP() << "cache off (RLHF4J_CPU_CACHE=0 or libtorch 2.x)";
  const auto before = cpu_cache_stats();
  {
    auto a = at::empty({3, 1 << 20});  // 12 MiB
    a.fill_(1.5f);
  }
  const auto after_free = cpu_cache_stats();
  EXPECT_GT(after_free.cached_bytes, before.cached_bytes) << "a freed large block is kept";
  auto b = at::empty({3, 1 << 20});
  EXPECT_EQ(cpu_cache_stats().hits, after_free.hits + 1) << "the same size is served from the cache";
  b.copy_(at::arange(3 << 20, at::kFloat).view({3, 1 << 20}));
  EXPECT_EQ(b[2][(1 << 20) - 1].item<float>(), static_cast<float>((3 << 20) - 1));
  auto small = at::ones({16});
  EXPECT_EQ(cpu_cache_stats().hits, after_free.hits + 1) << "small tensors bypass the cache";
}

// oneDNN takes its scratch buffers (e.g. of bfloat16 matmuls) through raw_allocate,
// which needs each block's context to be its pointer and a raw deleter for any size.
TEST(CpuCache, RawAllocationsOfAnySizeGoBackWhereTheyCameFrom) {
  if (!install_cpu_cache()) GTEST_SKIP() << "cache off (RLHF4J_CPU_CACHE=0 or libtorch 2.x)";
  c10::Allocator* allocator = c10::GetCPUAllocator();
  const size_t large = size_t{5} << 20;
  for (size_t n : {size_t{64}, large}) {
    auto* p = static_cast<char*>(allocator->raw_allocate(n));
    p[0] = 1;
    p[n - 1] = 2;
    allocator->raw_deallocate(p);
  }
  const auto before = cpu_cache_stats();
  void* again = allocator->raw_allocate(large);
  EXPECT_EQ(cpu_cache_stats().hits, before.hits + 1) << "a large raw block comes back to the cache";
  allocator->raw_deallocate(again);
  EXPECT_EQ(cpu_cache_stats().cached_bytes, before.cached_bytes);
}

// The cache costs no peak memory: live + cached blocks stay within the most the
// live blocks have ever held, so a request that would raise the process past that
// takes cached blocks of other sizes back first.
TEST(CpuCache, CachedBlocksNeverRaiseThePeakAboveWhatTensorsHeld) {
  if (!install_cpu_cache()) GTEST_SKIP() << "cache off (RLHF4J_CPU_CACHE=0 or libtorch 2.x)";
  if (!cpu_cache_stats().bounded) GTEST_SKIP() << "RLHF4J_CPU_CACHE=keep";
  { auto a = at::empty({3, 1 << 20}); }  // 12 MiB, freed into the cache
  auto s = cpu_cache_stats();
  ASSERT_GE(s.cached_bytes, size_t{12} << 20);
  EXPECT_LE(s.live_bytes + s.cached_bytes, s.high_water);
  // A size no block has (the cache is untouched until it is live), just past the high water.
  const int64_t floats = static_cast<int64_t>((s.high_water - s.live_bytes) / 4) + (1 << 20) + 12345;
  auto big = at::empty({floats});
  s = cpu_cache_stats();
  EXPECT_EQ(s.cached_bytes, 0u) << "a new high water leaves no room for cached blocks";
  EXPECT_EQ(s.live_bytes, s.high_water);
  big.reset();
  s = cpu_cache_stats();
  EXPECT_EQ(s.live_bytes + s.cached_bytes, s.high_water) << "the freed block is kept: the sum is unchanged";
  auto again = at::empty({floats});
  EXPECT_EQ(cpu_cache_stats().hits, s.hits + 1);
}

// A request takes the smallest cached block up to twice its size, pages and all
// (they were within the bound while cached), until a new high water would count them.
TEST(CpuCache, ASmallerRequestTakesALargerBlockUntilANewHighWater) {
  if (!install_cpu_cache()) GTEST_SKIP() << "cache off (RLHF4J_CPU_CACHE=0 or libtorch 2.x)";
  if (!cpu_cache_stats().bounded) GTEST_SKIP() << "RLHF4J_CPU_CACHE=keep";
  release_cpu_cache();
  { at::empty({3, 1 << 20}).fill_(1.0f); }  // 12 MiB, the only cached block
  const auto before = cpu_cache_stats();
  ASSERT_EQ(before.cached_bytes, size_t{12} << 20);
  auto b = at::empty({2, 1 << 20});  // 8 MiB
  auto after = cpu_cache_stats();
  EXPECT_EQ(after.hits, before.hits + 1) << "the 12 MiB block serves the 8 MiB request";
  EXPECT_EQ(after.cached_bytes, 0u);
  EXPECT_EQ(after.live_bytes, before.live_bytes + (size_t{12} << 20));
  EXPECT_LE(after.live_bytes + after.cached_bytes, after.high_water);
  b.fill_(2.5f);
  // A new high water: b's block gives back its pages past 8 MiB before the peak counts them.
  const size_t big_bytes = after.high_water - after.live_bytes + (size_t{4} << 20);  // a class of its own
  auto big = at::empty({static_cast<int64_t>(big_bytes / 4)});
  const auto peak = cpu_cache_stats();
  EXPECT_EQ(peak.live_bytes, before.live_bytes + (size_t{8} << 20) + big_bytes);
  EXPECT_EQ(peak.high_water, peak.live_bytes);
  EXPECT_EQ(b[1][(1 << 20) - 1].item<float>(), 2.5f) << "the tensor's own bytes are kept";
  big.reset();
  b.reset();
  EXPECT_EQ(cpu_cache_stats().live_bytes, before.live_bytes);
}

// RLHF4J_CPU_CACHE=keep (run by ctest as rlhf4j_cpu_cache_keep): every freed block
// stays, past the high water, and only a request of its own size takes it.
TEST(CpuCache, KeepModeHoldsEveryFreedBlock) {
  if (!install_cpu_cache() || cpu_cache_stats().bounded) GTEST_SKIP() << "not RLHF4J_CPU_CACHE=keep";
  { auto a = at::empty({3, 1 << 20}); }  // 12 MiB
  auto s = cpu_cache_stats();
  const int64_t floats = static_cast<int64_t>((s.high_water - s.live_bytes) / 4) + (1 << 20) + 12345;
  auto big = at::empty({floats});
  EXPECT_GE(cpu_cache_stats().cached_bytes, size_t{12} << 20) << "a new high water keeps the cache";
  const auto before = cpu_cache_stats();
  auto b = at::empty({2, 1 << 20});  // 8 MiB: no block of its size, a fresh one
  EXPECT_EQ(cpu_cache_stats().misses, before.misses + 1);
}
