// The machine's matrix-multiply rate for a dtype: the reference a benchmark
// divides its phases' achieved rates by. Measured over every path the library
// uses for that dtype on that device (ATen's matmul: OpenBLAS, oneDNN through
// ideep or cuBLAS; oneDNN's matmul directly when the build has it; for bf16 on
// CPUs without oneDNN's bf16 kernels, float32 products of the bf16 values), the best
// of several timed products each; the best path is the rate.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace r4j {

struct GemmPath {
  std::string name;    // "aten/openblas", "aten", "onednn", ...
  double gflops = 0;   // best of the timed runs; 0 when skipped
  int64_t n = 0;       // the product's size (n x n x n) it was timed at
  std::string note;    // why it was skipped or shrunk, else ""
};

struct GemmRate {
  double gflops = 0;  // the best path's rate
  std::string best;   // its name
  std::vector<GemmPath> paths;
  double read_gbps = 0;  // read_bandwidth_gbps on CPUs, 0 elsewhere
  std::string json() const;  // {"gflops","best","paths":[{"name","gflops","n","note"}],"read_gbps"}
};

// The CPU's memory read rate in GB/s, the bound of a decoding step (it reads
// every weight once): every thread sums its share of a 128 MiB buffer (4x the
// largest L3 of the machines this runs on, so it comes from memory), best of
// `iterations` timed passes after one warm-up. The buffer is the system
// allocator's, returned when done, so the caching allocator keeps none of it.
double read_bandwidth_gbps(int iterations);

// n x n x n products in dtype (float32 or bfloat16) on device, `iterations`
// timed runs per path after a warm-up. A path too slow for n (a reference
// implementation) is timed at a smaller n so the measurement stays short.
GemmRate gemm_rate(at::Device device, at::ScalarType dtype, int64_t n, int iterations);

}  // namespace r4j
