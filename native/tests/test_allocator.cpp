// The caching CPU allocator: large blocks come back for reuse, contents stay
// the caller's, and small blocks bypass it.
#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>

#include "core_helpers.hpp"
#include "cpu_allocator.hpp"

#include <sys/resource.h>

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

// The cache costs no peak memory: live + free pages stay within the most the live
// blocks have ever held, so a request no free run holds takes the free pages into
// itself, or gives them back, before it raises the process past that.
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

// Minor page faults of this process so far: each is a fresh page the kernel zeroed.
long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// A request takes the first pages of the smallest free run that holds it and leaves
// the rest free; freed again, the pieces merge, and the whole size is served again.
TEST(CpuCache, ASmallerRequestTakesPagesOfALargerRunAndThePiecesMergeBack) {
  if (!install_cpu_cache()) GTEST_SKIP() << "cache off (RLHF4J_CPU_CACHE=0 or libtorch 2.x)";
  release_cpu_cache();
  { at::empty({3, 1 << 20}).fill_(1.0f); }  // 12 MiB, the only free run
  const auto before = cpu_cache_stats();
  ASSERT_GE(before.cached_bytes, size_t{12} << 20);
  auto b = at::empty({2, 1 << 20});  // 8 MiB
  auto after = cpu_cache_stats();
  EXPECT_EQ(after.hits, before.hits + 1) << "the 12 MiB run serves the 8 MiB request";
  EXPECT_GE(after.cached_bytes, size_t{4} << 20) << "the rest of the run stays free";
  EXPECT_LT(after.cached_bytes, (size_t{4} << 20) + (size_t{16} << 10));
  auto c = at::empty({(1 << 20) - 4096});  // the rest's size, less a page for any offset
  EXPECT_EQ(cpu_cache_stats().hits, before.hits + 2) << "the rest serves a request of its size";
  b.fill_(2.5f);
  c.fill_(3.5f);
  EXPECT_EQ(b[1][(1 << 20) - 1].item<float>(), 2.5f) << "the two blocks do not overlap";
  b.reset();
  c.reset();
  EXPECT_EQ(cpu_cache_stats().cached_bytes, before.cached_bytes) << "the pieces are one run again";
  const auto merged = cpu_cache_stats();
  auto whole = at::empty({3, 1 << 20});
  EXPECT_EQ(cpu_cache_stats().hits, merged.hits + 1);
  EXPECT_EQ(cpu_cache_stats().misses, merged.misses);
}

// A request no free run holds takes the free runs' pages along (moved, not copied)
// instead of faulting its memory in afresh: at a pass's peak the free pages are
// exactly what the largest temporary needs, in pieces the smaller blocks left.
TEST(CpuCache, FreePagesInPiecesMoveIntoABlockNoRunHolds) {
  if (!install_cpu_cache()) GTEST_SKIP() << "cache off (RLHF4J_CPU_CACHE=0 or libtorch 2.x)";
  release_cpu_cache();
  auto a = at::empty({1 << 20});  // 4 MiB each, three mappings
  auto b = at::empty({1 << 20});
  auto c = at::empty({1 << 20});
  a.fill_(1.0f);
  c.fill_(1.0f);
  a.reset();
  c.reset();  // two free runs of 4 MiB with b between them
  const auto before = cpu_cache_stats();
  ASSERT_GE(before.cached_bytes, size_t{8} << 20);
  const long faults = minor_faults();
  auto big = at::empty({2, 1 << 20});  // 8 MiB: no run holds it
  big.fill_(7.0f);
  const long fresh = minor_faults() - faults;
  const auto after = cpu_cache_stats();
  EXPECT_LE(after.cached_bytes, size_t{4096}) << "both runs moved into the block (each has a page for offsets)";
  EXPECT_LT(fresh, 2048 / 8) << "8 MiB is 2048 pages; only the pages no run had may fault";
  EXPECT_EQ(big[1][(1 << 20) - 1].item<float>(), 7.0f);
  EXPECT_EQ(big.sum().item<float>(), 7.0f * (2 << 20));
}

// A request no free run holds moves at most eight runs' pages; the runs left over
// go back to the system where they would raise live + free past the high water,
// except under RLHF4J_CPU_CACHE=keep (run by ctest as rlhf4j_cpu_cache_keep),
// which keeps every freed page up to its capacity.
TEST(CpuCache, RunsANewPeakCannotUseGoBackUnlessKept) {
  if (!install_cpu_cache()) GTEST_SKIP() << "cache off (RLHF4J_CPU_CACHE=0 or libtorch 2.x)";
  release_cpu_cache();
  std::vector<at::Tensor> runs, between;
  for (int i = 0; i < 10; ++i) {  // ten free runs of 2 MiB, none next to another
    runs.push_back(at::empty({1 << 19}));
    between.push_back(at::empty({1 << 19}));
  }
  runs.clear();
  auto s = cpu_cache_stats();
  ASSERT_GE(s.cached_bytes, size_t{20} << 20);
  const int64_t floats = static_cast<int64_t>((s.high_water - s.live_bytes) / 4) + (1 << 20) + 12345;
  auto big = at::empty({floats});  // past the high water: a new peak
  s = cpu_cache_stats();
  EXPECT_EQ(s.live_bytes, s.high_water);
  if (s.bounded) {
    EXPECT_EQ(s.cached_bytes, 0u) << "a new high water leaves no room for free runs";
  } else {
    EXPECT_GE(s.cached_bytes, size_t{4} << 20) << "keep: the two runs left over stay";
    EXPECT_LT(s.cached_bytes, size_t{5} << 20);
  }
}
