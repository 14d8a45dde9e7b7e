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
