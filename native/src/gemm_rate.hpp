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
  std::string json() const;  // {"dtype","gflops","best","paths":[{"name","gflops","n","note"}]}
};

// n x n x n products in dtype (float32 or bfloat16) on device, `iterations`
// timed runs per path after a warm-up. A path too slow for n (a reference
// implementation) is timed at a smaller n so the measurement stays short.
GemmRate gemm_rate(at::Device device, at::ScalarType dtype, int64_t n, int iterations);

}  // namespace r4j
