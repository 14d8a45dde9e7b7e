#include "matmul_dnnl.hpp"

#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#ifdef RLHF4J_WITH_DNNL
#include <dnnl.hpp>
#endif

namespace r4j {
namespace {

// Row- or column-major, rows or columns possibly apart (a block of a larger matrix).
bool unit_strided(const at::Tensor& t) {
  if (t.dim() != 2) return false;
  return (t.stride(1) == 1 && t.stride(0) >= t.size(1)) || (t.stride(0) == 1 && t.stride(1) >= t.size(0));
}

bool float_cpu(const at::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == at::kFloat; }

#ifdef RLHF4J_WITH_DNNL

using dt = dnnl::memory::data_type;

dnnl::memory::desc desc_of(const at::Tensor& t) {
  return dnnl::memory::desc({t.size(0), t.size(1)}, dt::f32, {t.stride(0), t.stride(1)});
}

dnnl::engine& engine() {
  static dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
  return cpu;
}

dnnl::memory::desc bias_desc(int64_t n) { return dnnl::memory::desc({1, n}, dt::f32, dnnl::memory::format_tag::ab); }

// One primitive per (shapes, strides, bias, accumulate), built once: building
// costs tens of microseconds. Data pointers come with each call.
struct Key {
  std::vector<int64_t> dims;  // m, k, n and the three matrices' strides
  bool bias, accumulate;
  bool operator<(const Key& o) const { return std::tie(dims, bias, accumulate) < std::tie(o.dims, o.bias, o.accumulate); }
};

const dnnl::matmul& primitive(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b, bool bias,
                              bool accumulate) {
  static std::mutex mutex;
  static std::map<Key, dnnl::matmul> cache;
  Key key{{a.size(0), a.size(1), b.size(1), a.stride(0), a.stride(1), b.stride(0), b.stride(1), out.stride(0),
           out.stride(1)},
          bias, accumulate};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  dnnl::primitive_attr attr;
  if (accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  auto d = bias ? dnnl::matmul::desc(desc_of(a), desc_of(b), bias_desc(b.size(1)), desc_of(out))
                : dnnl::matmul::desc(desc_of(a), desc_of(b), desc_of(out));
  dnnl::matmul::primitive_desc pd(d, attr, engine());
  return cache.emplace(key, dnnl::matmul(pd)).first->second;
}

void run(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b, const at::Tensor& bias, bool accumulate) {
  auto& engine = r4j::engine();
  const auto& prim = primitive(out, a, b, bias.defined(), accumulate);
  std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, dnnl::memory(desc_of(a), engine, a.data_ptr())},
                                                {DNNL_ARG_WEIGHTS, dnnl::memory(desc_of(b), engine, b.data_ptr())},
                                                {DNNL_ARG_DST, dnnl::memory(desc_of(out), engine, out.data_ptr())}};
  if (bias.defined())
    args.emplace(DNNL_ARG_BIAS, dnnl::memory(bias_desc(b.size(1)), engine, bias.data_ptr()));
  dnnl::stream stream(engine);
  prim.execute(stream, args);
  stream.wait();
}

#endif

}  // namespace

bool matmul_dnnl_applies(const at::Tensor& a, const at::Tensor& b) {
#ifdef RLHF4J_WITH_DNNL
  return float_cpu(a) && float_cpu(b) && unit_strided(a) && unit_strided(b) && a.numel() > 0 && b.numel() > 0;
#else
  return false;
#endif
}

at::Tensor matmul_dnnl(const at::Tensor& a, const at::Tensor& b, const at::Tensor& bias) {
  const bool own = matmul_dnnl_applies(a, b) && (!bias.defined() || (float_cpu(bias) && bias.is_contiguous()));
  if (!own) return bias.defined() ? at::addmm(bias, a, b) : at::mm(a, b);
  auto out = at::empty({a.size(0), b.size(1)}, a.options());
#ifdef RLHF4J_WITH_DNNL
  run(out, a, b, bias, /*accumulate=*/false);
#endif
  return out;
}

void matmul_dnnl_out(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b, bool accumulate) {
  if (!matmul_dnnl_applies(a, b) || !float_cpu(out) || out.stride(1) != 1 || out.stride(0) < out.size(1)) {
    if (accumulate) out.addmm_(a, b);
    else at::mm_out(const_cast<at::Tensor&>(out), a, b);
    return;
  }
#ifdef RLHF4J_WITH_DNNL
  run(out, a, b, {}, accumulate);
#endif
}

}  // namespace r4j
