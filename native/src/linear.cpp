#include "linear.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>

#ifdef RLHF4J_WITH_DNNL
#include <dnnl.hpp>
#endif

namespace r4j {
namespace {
std::atomic<bool> fast_enabled{true};
}

at::Tensor linear_reference(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in) {
  auto sizes = x.sizes().vec();
  auto x2 = x.reshape({-1, x.size(-1)});
  auto wt = w_is_out_by_in ? w.t() : w;  // [in, out]
  sizes.back() = wt.size(1);
  auto y = b.defined() ? at::addmm(b, x2, wt) : at::mm(x2, wt);
  return y.view(sizes);
}

bool fast_linear_available() {
#ifdef RLHF4J_WITH_DNNL
  return true;
#else
  return false;
#endif
}

void set_fast_linear(bool on) { fast_enabled = on; }

#ifdef RLHF4J_WITH_DNNL
namespace {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A matmul primitive per shape, built once: building one (even through
// oneDNN's own cache) costs tens of microseconds, a fifth of a decoding-step
// GEMM. Weights are passed per call, so the primitives hold no tensors.
struct Shape {
  int64_t m, k, n;
  bool out_by_in, bias;
  bool operator<(const Shape& o) const {
    return std::tie(m, k, n, out_by_in, bias) < std::tie(o.m, o.k, o.n, o.out_by_in, o.bias);
  }
};

const dnnl::matmul& primitive(const Shape& s) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  static std::mutex mutex;
  static std::map<Shape, dnnl::matmul> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(s);
  if (it != cache.end()) return it->second;
  dnnl::memory::desc src({s.m, s.k}, dt::f32, tag::ab);
  dnnl::memory::desc weights({s.k, s.n}, dt::f32, s.out_by_in ? tag::ba : tag::ab);
  dnnl::memory::desc dst({s.m, s.n}, dt::f32, tag::ab);
  auto& engine = cpu_engine();
  dnnl::matmul::primitive_desc pd =
      s.bias ? dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dnnl::memory::desc({1, s.n}, dt::f32, tag::ab), dst), engine)
             : dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), engine);
  return cache.emplace(s, dnnl::matmul(pd)).first->second;
}

at::Tensor dnnl_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  auto sizes = x.sizes().vec();
  auto x2 = x.reshape({-1, x.size(-1)}).contiguous();
  const Shape s{x2.size(0), x2.size(1), w_is_out_by_in ? w.size(0) : w.size(1), w_is_out_by_in, b.defined()};
  sizes.back() = s.n;
  auto y = at::empty({s.m, s.n}, x.options());
  auto& engine = cpu_engine();
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory({{s.m, s.k}, dt::f32, tag::ab}, engine, x2.data_ptr())},
      {DNNL_ARG_WEIGHTS, dnnl::memory({{s.k, s.n}, dt::f32, s.out_by_in ? tag::ba : tag::ab}, engine, w.data_ptr())},
      {DNNL_ARG_DST, dnnl::memory({{s.m, s.n}, dt::f32, tag::ab}, engine, y.data_ptr())}};
  if (s.bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory({{1, s.n}, dt::f32, tag::ab}, engine, b.data_ptr()));
  dnnl::stream stream(engine);
  primitive(s).execute(stream, args);
  stream.wait();
  return y.view(sizes);
}

bool dnnl_applies(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  if (!fast_enabled || at::GradMode::is_enabled()) return false;
  if (!x.device().is_cpu() || x.scalar_type() != at::kFloat || w.scalar_type() != at::kFloat) return false;
  if (!w.is_contiguous() || (b.defined() && (!b.is_contiguous() || b.scalar_type() != at::kFloat))) return false;
  return x.numel() > 0;
}

}  // namespace
#endif

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in) {
#ifdef RLHF4J_WITH_DNNL
  if (dnnl_applies(x, w, b)) return dnnl_linear(x, w, b, w_is_out_by_in);
#endif
  return linear_reference(x, w, b, w_is_out_by_in);
}

}  // namespace r4j
