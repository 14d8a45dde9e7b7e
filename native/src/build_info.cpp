#include "build_info.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <dlfcn.h>
#include <torch/version.h>

#include <climits>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "cpu_allocator.hpp"
#include "gemm_few_rows.hpp"
#include "linear.hpp"
#include "rlhf4j.h"

#ifndef RLHF4J_VERSION
#define RLHF4J_VERSION "0.0.0"
#endif
#ifndef RLHF4J_CUDA_ARCHS
#define RLHF4J_CUDA_ARCHS ""
#endif

namespace r4j {
namespace {

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string quoted(const std::string& s) { return "\"" + json_escape(s) + "\""; }

}  // namespace

BlasInfo detect_blas() {
  BlasInfo info{"unknown", "", ""};
  void* sym = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info dl{};
  if (sym == nullptr || dladdr(sym, &dl) == 0 || dl.dli_fname == nullptr) return info;
  char resolved[PATH_MAX];
  info.path = realpath(dl.dli_fname, resolved) ? resolved : dl.dli_fname;
  const std::string& p = info.path;
  using GetConfig = char* (*)();
  if (auto cfg = reinterpret_cast<GetConfig>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) info.detail = cfg();
  if (p.find("openblas") != std::string::npos) {
    info.name = "openblas";
  } else if (p.find("mkl") != std::string::npos) {
    info.name = "mkl";
  } else if (p.find("blis") != std::string::npos) {
    info.name = "blis";
  } else if (p.find("atlas") != std::string::npos) {
    info.name = "atlas";
  } else if (p.find("/blas/") != std::string::npos || p.find("libblas") != std::string::npos) {
    info.name = "reference";  // Netlib's unoptimised BLAS (Debian's libblas3)
  }
  return info;
}

// Threads that the library's own at::parallel_for kernels actually run on: one
// unless this code was compiled with OpenMP (ATen's parallel_for is a header
// template whose parallel region opens in the caller's code).
int kernel_threads() {
  const int n = at::get_num_threads();
  std::vector<char> seen(n, 0);
  at::parallel_for(0, 2 * n, 1, [&](int64_t, int64_t) { seen[at::get_thread_num() % n] = 1; });
  int count = 0;
  for (char s : seen) count += s;
  return count;
}

std::string build_info_json() {
  std::ostringstream o;
  const auto blas = detect_blas();
  const int gpus = at::detail::getCUDAHooks().hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
  o << "{\"version\":" << quoted(RLHF4J_VERSION) << ",\"abi\":" << R4J_ABI_VERSION
    << ",\"libtorch\":" << quoted(TORCH_VERSION) << ",\"blas\":" << quoted(blas.name)
    << ",\"blas_library\":" << quoted(blas.path) << ",\"blas_config\":" << quoted(blas.detail)
    << ",\"cuda\":" << (at::detail::getCUDAHooks().hasCUDA() ? "true" : "false") << ",\"cuda_archs\":[";
  std::istringstream archs(RLHF4J_CUDA_ARCHS);
  std::string arch;
  bool first = true;
  while (std::getline(archs, arch, ';')) {
    if (arch.empty()) continue;
    o << (first ? "" : ",") << quoted(arch);
    first = false;
  }
  o << "],\"devices\":[\"cpu\"";
  for (int i = 0; i < gpus; ++i) o << ",\"cuda:" << i << "\"";
  o << "],\"threads\":" << at::get_num_threads() << ",\"kernel_threads\":" << kernel_threads();
  const bool cache_on = install_cpu_cache();
  const auto cache = cpu_cache_stats();
  o << ",\"cpu_cache\":" << (cache_on ? "true" : "false") << ",\"cpu_cache_bytes\":" << cache.cached_bytes
    << ",\"cpu_cache_mode\":" << quoted(!cache_on ? "off" : cache.bounded ? "bounded" : "keep");
  // The CPU's decoding kernels (float32, bf16), and how bf16 products of many rows run.
  const char* decode = few_rows_kernel();
  o << ",\"decode_kernel\":" << quoted(decode ? decode : "none") << ",\"bf16_decode_kernel\":" << quoted(few_rows_bf16_kernel()) << ",\"bf16_matmul\":"
    << quoted(!cpu_bf16_matmul_native() ? "float32 copies" : onednn_products() ? "onednn bf16" : "aten (onednn bf16)") << "}";
  return o.str();
}

}  // namespace r4j
