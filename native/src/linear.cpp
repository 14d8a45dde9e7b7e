#include "linear.hpp"

#include <atomic>

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

// oneDNN caches primitives by descriptor, so building one per call costs a lookup.
at::Tensor dnnl_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  auto sizes = x.sizes().vec();
  auto x2 = x.reshape({-1, x.size(-1)}).contiguous();
  const int64_t M = x2.size(0), K = x2.size(1), N = w_is_out_by_in ? w.size(0) : w.size(1);
  sizes.back() = N;
  auto y = at::empty({M, N}, x.options());
  dnnl::memory::desc src({M, K}, dt::f32, tag::ab);
  dnnl::memory::desc weights({K, N}, dt::f32, w_is_out_by_in ? tag::ba : tag::ab);
  dnnl::memory::desc dst({M, N}, dt::f32, tag::ab);
  auto& engine = cpu_engine();
  dnnl::stream stream(engine);
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory(src, engine, x2.data_ptr())},
      {DNNL_ARG_WEIGHTS, dnnl::memory(weights, engine, w.data_ptr())},
      {DNNL_ARG_DST, dnnl::memory(dst, engine, y.data_ptr())}};
  if (b.defined()) {
    dnnl::memory::desc bias({1, N}, dt::f32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, bias, dst), engine);
    args.emplace(DNNL_ARG_BIAS, dnnl::memory(bias, engine, b.data_ptr()));
    dnnl::matmul(pd).execute(stream, args);
  } else {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, dst), engine);
    dnnl::matmul(pd).execute(stream, args);
  }
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
