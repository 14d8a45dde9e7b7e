// The caching CPU allocator: large blocks come back for reuse, contents stay
// the caller's, and small blocks bypass it.
#include <ATen/ATen.h>

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
