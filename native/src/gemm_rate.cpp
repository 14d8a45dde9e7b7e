#include "gemm_rate.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <sstream>
#include <unordered_map>
#include <vector>

#ifdef RLHF4J_WITH_DNNL
#include <dnnl.hpp>
#endif

#include "build_info.hpp"
#include "errors.hpp"
#include "linear.hpp"  // cpu_bf16_matmul_native
#include "simd.hpp"

namespace r4j {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A product of size n, timed: run(n) must return only when the product is done.
using Product = std::function<void(int64_t)>;
using Prepare = std::function<Product(int64_t)>;

// A probe at n / 4 predicts the time at n; above 1 s a product, the path is
// timed at the n that takes about 0.25 s (64 at least), and says so.
GemmPath time_path(const std::string& name, const Prepare& prepare, int64_t n, int iterations) {
  GemmPath path{name, 0, n, ""};
  const int64_t probe = std::max<int64_t>(64, n / 4);
  {
    auto run = prepare(probe);
    run(probe);  // warm-up: thread pools, caches, primitive creation
    auto t0 = std::chrono::steady_clock::now();
    run(probe);
    const double predicted = seconds_since(t0) * std::pow(static_cast<double>(n) / probe, 3);
    if (predicted > 1.0) {
      path.n = std::max<int64_t>(64, static_cast<int64_t>(n * std::cbrt(0.25 / predicted)) / 64 * 64);
      path.note = "slow path: timed at n " + std::to_string(path.n);
    }
  }
  auto run = prepare(path.n);
  run(path.n);
  for (int i = 0; i < iterations; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    run(path.n);
    const double s = seconds_since(t0);
    path.gflops = std::max(path.gflops, 2.0 * path.n * path.n * path.n / s / 1e9);
  }
  return path;
}

Prepare aten_product(at::Device device, at::ScalarType dtype) {
  return [=](int64_t n) -> Product {
    auto opts = at::TensorOptions().device(device);
    auto a = at::randn({n, n}, opts).to(dtype), b = at::randn({n, n}, opts).to(dtype);
    auto c = at::mm(a, b);
    return [a, b, c](int64_t) mutable {
      at::mm_out(c, a, b);
      c.sum().item<float>();  // waits for asynchronous devices
    };
  };
}

// bf16 values multiplied as float32 and rounded back, as linear() does on CPUs
// without oneDNN's bf16 kernels (cpu_bf16_matmul_native()).
Prepare widened_product() {
  return [](int64_t n) -> Product {
    auto a = at::randn({n, n}).to(at::kBFloat16), b = at::randn({n, n}).to(at::kBFloat16);
    return [a, b](int64_t) { at::mm(a.to(at::kFloat), b.to(at::kFloat)).to(at::kBFloat16); };
  };
}

#ifdef RLHF4J_WITH_DNNL
// oneDNN's matmul with the layouts it prefers (src/weights "any"), as the
// library's packed weights are; null when oneDNN has only its reference
// implementation for dtype on this CPU (bf16 without AVX-512).
Prepare onednn_product(at::ScalarType dtype, std::string* skipped) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const dt type = dtype == at::kBFloat16 ? dt::bf16 : dt::f32;
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  try {
    dnnl::memory::desc probe({64, 64}, type, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(probe, probe, probe), engine);
    const std::string impl = pd.impl_info_str();
    if (impl.rfind("ref", 0) == 0) {
      *skipped = "oneDNN has only its reference implementation (" + impl + ") for this dtype on this CPU";
      return nullptr;
    }
  } catch (const dnnl::error& e) {
    *skipped = std::string("oneDNN: ") + e.what();
    return nullptr;
  }
  return [=](int64_t n) -> Product {
    dnnl::memory::desc plain({n, n}, type, tag::ab), any({n, n}, type, tag::any);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(plain, any, plain), engine);
    auto src = dnnl::memory(plain, engine), dst = dnnl::memory(plain, engine);
    auto weights = dnnl::memory(pd.weights_desc(), engine);
    std::memset(src.get_data_handle(), 0, plain.get_size());
    std::memset(weights.get_data_handle(), 0, pd.weights_desc().get_size());
    auto prim = std::make_shared<dnnl::matmul>(pd);
    return [=](int64_t) {
      dnnl::stream stream(engine);
      prim->execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
      stream.wait();
    };
  };
}
#endif

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) out += (ch == '"' || ch == '\\') ? std::string("\\") + ch : std::string(1, ch);
  return out + "\"";
}

}  // namespace

std::string GemmRate::json() const {
  std::ostringstream o;
  o << "{\"gflops\":" << gflops << ",\"best\":" << json_string(best) << ",\"paths\":[";
  for (size_t i = 0; i < paths.size(); ++i) {
    const auto& p = paths[i];
    o << (i ? "," : "") << "{\"name\":" << json_string(p.name) << ",\"gflops\":" << p.gflops << ",\"n\":" << p.n
      << ",\"note\":" << json_string(p.note) << "}";
  }
  o << "],\"read_gbps\":" << read_gbps << "}";
  return o.str();
}

double read_bandwidth_gbps(int iterations) {
  const int64_t words = (int64_t{128} << 20) / sizeof(uint64_t);
  std::vector<uint64_t> buffer(words);
  at::parallel_for(0, words, 1 << 16, [&](int64_t i0, int64_t i1) {  // each page first touched by its reader
    for (int64_t i = i0; i < i1; ++i) buffer[i] = static_cast<uint64_t>(i);
  });
  const int64_t chunks = std::max<int64_t>(1, at::get_num_threads());
  std::vector<uint64_t> sums(chunks);
  double best = 0;
  for (int it = 0; it <= iterations; ++it) {
    auto t0 = std::chrono::steady_clock::now();
    at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t i0 = words * c / chunks, i1 = words * (c + 1) / chunks;
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;  // four chains: the loads, not the adds, set the pace
        int64_t i = i0;
        for (; i + 4 <= i1; i += 4) {
          s0 += buffer[i];
          s1 += buffer[i + 1];
          s2 += buffer[i + 2];
          s3 += buffer[i + 3];
        }
        for (; i < i1; ++i) s0 += buffer[i];
        sums[c] = s0 + s1 + s2 + s3;
      }
    });
    const double s = seconds_since(t0);
    // The sums are checked so the compiler cannot drop the reads: sum of 0..words-1.
    uint64_t total = 0;
    for (auto v : sums) total += v;
    require(total == static_cast<uint64_t>(words) * (words - 1) / 2, "read bandwidth: wrong sum");
    if (it > 0) best = std::max(best, words * sizeof(uint64_t) / s / 1e9);
  }
  return best;
}

GemmRate gemm_rate(at::Device device, at::ScalarType dtype, int64_t n, int iterations) {
  require(dtype == at::kFloat || dtype == at::kBFloat16, "gemm rate: dtype must be F32 or BF16");
  at::NoGradGuard no_grad;
  simd::avx512_allowed();  // under the AVX2 cap, before ATen's first product
  GemmRate rate;
  // ATen's matmul: float32 through the BLAS it links (OpenBLAS here), bf16
  // through oneDNN (ideep) on CPUs with AVX-512, else ATen's own loops; cuBLAS on GPUs.
  std::string aten = device.is_cpu() ? (dtype == at::kFloat ? "aten/" + detect_blas().name : "aten") : "aten/cublas";
  rate.paths.push_back(time_path(aten, aten_product(device, dtype), n, iterations));
  if (device.is_cpu() && dtype == at::kBFloat16 && !cpu_bf16_matmul_native())
    rate.paths.push_back(time_path("float32 copies/" + detect_blas().name, widened_product(), n, iterations));
#ifdef RLHF4J_WITH_DNNL
  if (device.is_cpu()) {
    std::string skipped;
    if (auto onednn = onednn_product(dtype, &skipped)) {
      rate.paths.push_back(time_path("onednn", onednn, n, iterations));
    } else {
      rate.paths.push_back(GemmPath{"onednn", 0, 0, skipped});
    }
  }
#endif
  if (device.is_cpu()) rate.read_gbps = read_bandwidth_gbps(iterations);
  for (const auto& p : rate.paths) {
    if (p.gflops > rate.gflops) {
      rate.gflops = p.gflops;
      rate.best = p.name;
    }
  }
  return rate;
}

}  // namespace r4j
