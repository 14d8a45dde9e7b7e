// The C ABI of the benchmarks' helpers: the dtype-aware GEMM reference rate
// (gemm_rate.hpp) and the forced response lengths (generate.hpp).
#include <cstring>
#include <string>
#include <vector>

#include "abi_handles.hpp"
#include "cpu_allocator.hpp"
#include "gemm_rate.hpp"
#include "generate.hpp"
#include "model.hpp"

extern "C" {

R4J_API r4j_status r4j_bench_force_lengths(const int32_t* lengths, int64_t n) {
  return r4j::guarded(__func__, [&] {
    r4j::require(n >= 0 && (n == 0 || lengths != nullptr), "lengths is NULL with n " + std::to_string(n));
    std::vector<int64_t> v(lengths, lengths + n);
    for (int64_t l : v) r4j::require(l >= 1, "a forced length must be >= 1, got " + std::to_string(l));
    r4j::set_forced_lengths(std::move(v));
  });
}

R4J_API r4j_status r4j_gemm_rate(const char* device, int32_t dtype, int64_t n, int32_t iterations,
                                 double* out_gflops, char* buf, size_t cap, size_t* out_needed) {
  return r4j::guarded(__func__, [&] {
    r4j::require_out(out_gflops, "out_gflops");
    r4j::require_out(out_needed, "out_needed");
    r4j::require(n >= 64 && n <= 16384, "n must be in [64, 16384], got " + std::to_string(n));
    r4j::require(iterations >= 1 && iterations <= 100, "iterations must be in [1, 100], got " + std::to_string(iterations));
    r4j::require(dtype == R4J_DTYPE_F32 || dtype == R4J_DTYPE_BF16,
                 "dtype must be R4J_DTYPE_F32 or R4J_DTYPE_BF16, got " + std::to_string(dtype));
    auto dev = r4j::parse_device(device);
    r4j::install_cpu_cache();
    const r4j::GemmRate rate = r4j::gemm_rate(dev, r4j::scalar_type_of(dtype), n, iterations);
    *out_gflops = rate.gflops;
    const std::string json = rate.json();
    *out_needed = json.size() + 1;
    if (buf == nullptr || cap < json.size() + 1)
      r4j::fail(R4J_ERR_BUFFER_TOO_SMALL, "buffer holds " + std::to_string(cap) + " bytes, " +
                                              std::to_string(json.size() + 1) + " needed");
    std::memcpy(buf, json.c_str(), json.size() + 1);
  });
}

}  // extern "C"
