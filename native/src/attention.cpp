#include "attention.hpp"

#include <ATen/Dispatch.h>
#include <torch/version.h>

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "attention_softmax.hpp"
#include "linear.hpp"  // bf16_on_float32_copies, matmul_f32, onednn_products
#include "simd.hpp"

namespace r4j {

namespace {
std::atomic<bool> fast_attention_enabled{true};
}
void set_fast_attention(bool on) { fast_attention_enabled = on; }

at::Tensor columns_from(const at::Tensor& t, int64_t dim, int64_t from) {
  return from == 0 ? t : t.narrow(dim, from, t.size(dim) - from);
}

at::Tensor attention_bias(const at::Tensor& key_mask, int64_t offset, int64_t T,
                          at::ScalarType dtype) {
  const int64_t S = key_mask.size(1);
  auto opts = at::TensorOptions().device(key_mask.device()).dtype(at::kLong);
  auto query_pos = at::arange(offset, offset + T, opts).unsqueeze(1);  // [T, 1]
  auto key_pos = at::arange(0, S, opts).unsqueeze(0);                   // [1, S]
  auto causal = key_pos.le(query_pos);                                  // [T, S]
  auto allowed = causal.unsqueeze(0).logical_and(key_mask.unsqueeze(1));  // [B, T, S]
  // The dtype's lowest finite value, torch.finfo(dtype).min as Hugging Face masks with:
  // -FLT_MAX overflows float16 and bfloat16 (whose largest finite value is below FLT_MAX).
  double lowest_value = 0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "attention_bias", [&] {
    lowest_value = static_cast<double>(std::numeric_limits<scalar_t>::lowest());
  });
  auto lowest = at::scalar_tensor(at::Scalar(lowest_value), at::TensorOptions().device(key_mask.device()).dtype(dtype));
  auto zero = at::zeros({}, lowest.options());
  return at::where(allowed, zero, lowest).unsqueeze(1);  // [B, 1, T, S]
}

namespace {

// One query per sequence, the shape of every decoding step. ATen's bmm walks
// the [B * n_head] small products one select() at a time (the most costly
// part of a decoding step); here each (sequence, head) reads its keys and
// values straight from the cache once: scores, softmax, weighted sum.
// The AVX2/FMA version (hd a multiple of 8) is chosen at run time, as the
// library itself targets baseline x86-64.
// KV: float (a float32 cache) or c10::BFloat16 (a bf16 model's cache, widened
// to float32 as it is read: scores, softmax and the weighted sum stay float32).

// The S key (or value) rows of hd elements one (sequence, kv head) attends
// over: n0 rows of a prefix it shares with other sequences at p0, then its own
// at p1 (n0 = 0 without one); rows are ks elements apart in both.
template <typename KV>
struct KeyRows {
  const KV* p0;
  int64_t n0;
  const KV* p1;
  int64_t ks;
  const KV* at(int64_t s) const { return s < n0 ? p0 + s * ks : p1 + (s - n0) * ks; }
};

//   q, out: [hd]; k, v: S rows; bias, p (scratch): [S].
template <typename KV>
void attend_head_plain(const float* q, KeyRows<KV> k, KeyRows<KV> v, int64_t S, int64_t hd, float scale,
                       const float* bias, float* p, float* out) {
  float top = -std::numeric_limits<float>::infinity();
  for (int64_t s = 0; s < S; ++s) {
    const KV* ks = k.at(s);
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // eight running sums: no single dependency chain
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8)
      for (int j = 0; j < 8; ++j) acc[j] += q[d + j] * static_cast<float>(ks[d + j]);
    float dot = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; d < hd; ++d) dot += q[d] * static_cast<float>(ks[d]);
    p[s] = dot * scale + bias[s];
    top = std::max(top, p[s]);
  }
  float z = 0;
  for (int64_t s = 0; s < S; ++s) z += (p[s] = std::exp(p[s] - top));
  std::fill(out, out + hd, 0.0f);
  for (int64_t s = 0; s < S; ++s) {
    const KV* vs = v.at(s);
    for (int64_t d = 0; d < hd; ++d) out[d] += p[s] * static_cast<float>(vs[d]);
  }
  for (int64_t d = 0; d < hd; ++d) out[d] /= z;
}

// Eight values as float32: loaded, or bf16 widened (a bf16 is a float32's upper half).
__attribute__((target("avx2,fma"))) inline __m256 load8(const float* x) { return _mm256_loadu_ps(x); }
__attribute__((target("avx2,fma"))) inline __m256 load8(const c10::BFloat16* x) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// Four keys' scores: one accumulator per key over hd, one horizontal reduction.
template <typename KV>
__attribute__((target("avx2,fma"))) inline __m128 four_dots(const float* q, const KV* k0, const KV* k1, const KV* k2,
                                                            const KV* k3, int64_t hd) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t d = 0; d < hd; d += 8) {
    const __m256 qd = _mm256_loadu_ps(q + d);
    a0 = _mm256_fmadd_ps(qd, load8(k0 + d), a0);
    a1 = _mm256_fmadd_ps(qd, load8(k1 + d), a1);
    a2 = _mm256_fmadd_ps(qd, load8(k2 + d), a2);
    a3 = _mm256_fmadd_ps(qd, load8(k3 + d), a3);
  }
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));  // [4]
}

// The weighted sum of values over lanes [d, d + 8 * A) of out, A accumulators
// of 8 lanes kept in registers over every key: the prefix's rows, then the
// sequence's own, in one running sum per lane.
template <int A, typename KV>
__attribute__((target("avx2,fma"))) inline void weighted_values(const float* p, KeyRows<KV> v, int64_t S, int64_t d,
                                                                __m256 inv_z, float* out) {
  __m256 o[A];
  for (int a = 0; a < A; ++a) o[a] = _mm256_setzero_ps();
  const int64_t n0 = std::min(v.n0, S);
  const KV* base[2] = {v.p0 + d, v.p1 + d};
  const int64_t from[2] = {0, n0}, to[2] = {n0, S};
  for (int seg = 0; seg < 2; ++seg) {
    const KV* vs = base[seg];
    for (int64_t s = from[seg]; s < to[seg]; ++s, vs += v.ks) {
      const __m256 w = _mm256_broadcast_ss(p + s);
      for (int a = 0; a < A; a += 2)
        _mm_prefetch(reinterpret_cast<const char*>(vs + 8 * v.ks + 8 * a), _MM_HINT_T0);
      for (int a = 0; a < A; ++a) o[a] = _mm256_fmadd_ps(w, load8(vs + 8 * a), o[a]);
    }
  }
  for (int a = 0; a < A; ++a) _mm256_storeu_ps(out + d + 8 * a, _mm256_mul_ps(o[a], inv_z));
}

template <typename KV>
__attribute__((target("avx2,fma"))) void attend_head_avx2(const float* q, KeyRows<KV> k, KeyRows<KV> v, int64_t S,
                                                          int64_t hd, float scale, const float* bias, float* p,
                                                          float* out) {
  using namespace simd;
  // Scores eight keys at a time (two independent groups of four keep the FMA
  // units busy), then four, then one by one.
  const __m128 sc = _mm_set1_ps(scale);
  auto prefetch_key = [&](int64_t s) {
    const KV* f = k.at(s);
    for (int64_t d = 0; d < hd; d += 16) _mm_prefetch(reinterpret_cast<const char*>(f + d), _MM_HINT_T0);
  };
  int64_t s = 0;
  for (; s + 8 <= S; s += 8) {
    for (int64_t j = 8; j < 16; ++j) prefetch_key(s + j);  // the keys 8 rows on, a line at a time
    const __m128 lo = four_dots(q, k.at(s), k.at(s + 1), k.at(s + 2), k.at(s + 3), hd);
    const __m128 hi = four_dots(q, k.at(s + 4), k.at(s + 5), k.at(s + 6), k.at(s + 7), hd);
    _mm_storeu_ps(p + s, _mm_fmadd_ps(lo, sc, _mm_loadu_ps(bias + s)));
    _mm_storeu_ps(p + s + 4, _mm_fmadd_ps(hi, sc, _mm_loadu_ps(bias + s + 4)));
  }
  for (; s + 4 <= S; s += 4)
    _mm_storeu_ps(p + s, _mm_fmadd_ps(four_dots(q, k.at(s), k.at(s + 1), k.at(s + 2), k.at(s + 3), hd), sc,
                                      _mm_loadu_ps(bias + s)));
  for (; s < S; ++s) {
    __m256 a = _mm256_setzero_ps();
    const KV* ks = k.at(s);
    for (int64_t d = 0; d < hd; d += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load8(ks + d), a);
    p[s] = hsum_ps(a) * scale + bias[s];
  }
  // Softmax numerators exp(p - max) and their sum, eight at a time.
  __m256 top8 = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (s = 0; s + 8 <= S; s += 8) top8 = _mm256_max_ps(top8, _mm256_loadu_ps(p + s));
  float top = hmax_ps(top8);
  for (; s < S; ++s) top = std::max(top, p[s]);
  const __m256 t8 = _mm256_set1_ps(top);
  __m256 z8 = _mm256_setzero_ps();
  for (s = 0; s + 8 <= S; s += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(p + s), t8));
    _mm256_storeu_ps(p + s, e);
    z8 = _mm256_add_ps(z8, e);
  }
  float z = hsum_ps(z8);
  for (; s < S; ++s) z += (p[s] = std::exp(p[s] - top));
  // Weighted sum of values: 64 lanes at a time (eight accumulators, one pass
  // over each value row), else 32, else 8.
  const __m256 inv_z = _mm256_set1_ps(1.0f / z);
  int64_t d = 0;
  for (; d + 64 <= hd; d += 64) weighted_values<8>(p, v, S, d, inv_z, out);
  for (; d + 32 <= hd; d += 32) weighted_values<4>(p, v, S, d, inv_z, out);
  for (; d < hd; d += 8) weighted_values<1>(p, v, S, d, inv_z, out);
}

bool decode_applies(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double dropout_p) {
  return q.size(2) == 1 && dropout_p == 0 && !at::GradMode::is_enabled() && q.device().is_cpu() &&
         (q.scalar_type() == at::kFloat || q.scalar_type() == at::kBFloat16) && k.scalar_type() == q.scalar_type() &&
         v.scalar_type() == q.scalar_type() &&
         k.stride(3) == 1 && v.stride(3) == 1 && k.strides() == v.strides();
}

// A shared prefix for attention_decode: pk, pv [G, n_kv_head, P, hd] (strides
// as the own keys' in the last two dimensions), row [B] int64 on the CPU.
struct SharedPrefix {
  const at::Tensor &k, &v, &row;
};

template <typename KV>
at::Tensor attention_decode(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                            const SharedPrefix* prefix) {
  const int64_t B = q.size(0), nh = q.size(1), hd = q.size(3), groups = nh / k.size(1);
  const int64_t P = prefix ? prefix->k.size(2) : 0, S = P + k.size(2);
  auto qc = q.to(at::kFloat).contiguous();
  auto bc = bias.to(at::kFloat).expand({B, 1, 1, S}).contiguous();  // [B, 1, 1, S]
  auto out = at::empty({B, nh, 1, hd}, q.options().dtype(at::kFloat));
  const float* qp = qc.data_ptr<float>();
  const KV* kp = k.data_ptr<KV>();
  const KV* vp = v.data_ptr<KV>();
  const float* bp = bc.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const int64_t kb = k.stride(0), kh = k.stride(1), ks = k.stride(2);
  const KV* pkp = prefix ? prefix->k.data_ptr<KV>() : nullptr;
  const KV* pvp = prefix ? prefix->v.data_ptr<KV>() : nullptr;
  const int64_t pb = prefix ? prefix->k.stride(0) : 0, ph = prefix ? prefix->k.stride(1) : 0;
  const int64_t* row = prefix ? prefix->row.data_ptr<int64_t>() : nullptr;
  // The (sequence, head) pairs in the order they run, b * nh + h. With a shared
  // prefix, the sequences of one prefix run head by head, one after the other:
  // a head's prefix keys and values are read from memory once for all of them.
  std::vector<int64_t> order(B * nh);
  std::iota(order.begin(), order.end(), 0);
  if (prefix)
    std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
      return std::make_pair(row[x / nh], x % nh) < std::make_pair(row[y / nh], y % nh);
    });
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  const bool avx2 = simd::has_avx2_fma() && hd % 8 == 0;
  at::parallel_for(0, B * nh, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> p(S);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t bh = order[i], b = bh / nh, kvh = (bh % nh) / groups;
      const int64_t pre = prefix ? row[b] * pb + kvh * ph : 0;
      const KeyRows<KV> keys{pkp + pre, P, kp + b * kb + kvh * kh, ks};
      const KeyRows<KV> values{pvp + pre, P, vp + b * kb + kvh * kh, ks};
      (avx2 ? attend_head_avx2<KV> : attend_head_plain<KV>)(qp + bh * hd, keys, values, S, hd, scale, bp + b * S,
                                                            p.data(), op + bh * hd);
    }
  });
  return out.to(q.scalar_type());
}

}  // namespace

// Query-chunked attention. With, per (sequence, head), queries Q [T, hd], keys
// K and values V [S, hd], scale = 1 / sqrt(hd) and rows i of a chunk c:
//   S_c = Q_c K^T * scale + bias_c   [c, S]
//   m_i = max_j S_ij,  z_i = sum_j exp(S_ij - m_i)   [c]   (kept for backward: [B, nh, T] each)
//   P_c = exp(S_c - m) / z           [c, S]
//   O_c = P_c V                      [c, hd]
// (m and z are the logsumexp, m + log z, in two parts: a padding query whose every key
// has the bias's lowest value would round m + log z to m and lose the 1 / z.)
// Backward, given dO (FlashAttention's, at chunk granularity):
//   D_i = sum_d dO_id O_id  (= sum_j P_ij dP_ij)   [T]
//   dV += P_c^T dO_c                 [S, hd]
//   dP_c = dO_c V^T                  [c, S]
//   dS_c = P_c * (dP_c - D_c)        [c, S]
//   dQ_c = dS_c K * scale            [c, hd]
//   dK += dS_c^T Q_c * scale         [S, hd]
// Products run in q's dtype, as in attention_reference; scores, logsumexp,
// probabilities and dS in float32 at least (probabilities rounded to q's dtype
// before the products with V, as the reference rounds its softmax).
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

at::ScalarType wide(at::ScalarType t) { return at::promote_types(t, at::kFloat); }

// Query rows [s, s + n) of the bias [B, 1, T, S] (or the bias itself when it broadcasts over queries).
at::Tensor bias_rows(const at::Tensor& bias, int64_t s, int64_t n) {
  return bias.size(-2) == 1 ? bias : bias.narrow(-2, s, n);
}

double attention_scale(const at::Tensor& q) { return 1.0 / std::sqrt(static_cast<double>(q.size(-1))); }

// P_c = softmax(S_c) [B, nh, n, S] in the wide type, S_c = q_c k^T * scale + bias_c from
// q_c [B, nh, n, hd], k^T [B, nh, hd, S]; with each row's m and z [B, nh, n, 1].
at::Tensor chunk_probs(const at::Tensor& qc, const at::Tensor& kt, const at::Tensor& bias_c, double scale,
                       SoftmaxStats& stats) {
  auto raw = matmul_f32(qc, kt);
  if (attention_softmax_applies(raw, bias_c)) {
    stats = attention_softmax_(raw, bias_c, scale);
    return raw;
  }
  auto scores = raw.mul_(scale).add_(bias_c).to(wide(raw.scalar_type()));
  stats.max = std::get<0>(scores.max(-1, /*keepdim=*/true));
  auto p = scores.sub_(stats.max).exp_();
  stats.sum = p.sum(-1, /*keepdim=*/true);
  return p.div_(stats.sum);
}

// P_c again in backward from the forward's m_c and z_c.
at::Tensor chunk_probs_again(const at::Tensor& qc, const at::Tensor& kt, const at::Tensor& bias_c, double scale,
                             const at::Tensor& m_c, const at::Tensor& z_c) {
  auto raw = matmul_f32(qc, kt);
  if (attention_softmax_applies(raw, bias_c)) {
    attention_probs_(raw, bias_c, scale, m_c, z_c);
    return raw;
  }
  return raw.mul_(scale).add_(bias_c).to(wide(raw.scalar_type())).sub_(m_c).exp_().div_(z_c);
}

// O [B, nh, T, hd]; with stats, also m and z.
at::Tensor chunked_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                           int64_t chunk, SoftmaxStats* stats) {
  const int64_t B = q.size(0), nh = q.size(1), T = q.size(2);
  const double scale = attention_scale(q);
  auto kt = k.transpose(-2, -1);
  auto out = at::empty({B, nh, T, v.size(-1)}, q.options());
  if (stats) {
    auto wopts = q.options().dtype(wide(q.scalar_type()));
    *stats = {at::empty({B, nh, T, 1}, wopts), at::empty({B, nh, T, 1}, wopts)};
  }
  for (int64_t s = 0; s < T; s += chunk) {
    const int64_t n = std::min(chunk, T - s);
    SoftmaxStats c;
    auto p = chunk_probs(q.narrow(2, s, n), kt, bias_rows(bias, s, n), scale, c);  // [B, nh, n, S]
    out.narrow(2, s, n).copy_(matmul_f32(p.to(q.scalar_type()), v));             // P_c V
    if (stats) {
      stats->max.narrow(2, s, n).copy_(c.max);
      stats->sum.narrow(2, s, n).copy_(c.sum);
    }
  }
  return out;
}

// Inputs q [B, nh, T, hd], k, v [B, nh, S, hd] (kv heads already repeated), bias [B, 1, T, S].
struct ChunkedAttention : torch::autograd::Function<ChunkedAttention> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& bias, int64_t chunk) {
    SoftmaxStats stats;
    auto out = chunked_forward(q, k, v, bias, chunk, &stats);
    ctx->save_for_backward({q, k, v, bias, out, stats.max, stats.sum});
    ctx->saved_data["chunk"] = chunk;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &q = saved[0], &k = saved[1], &v = saved[2], &bias = saved[3], &out = saved[4];
    const auto &m = saved[5], &z = saved[6];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const bool need_q = ctx->needs_input_grad(0), need_k = ctx->needs_input_grad(1), need_v = ctx->needs_input_grad(2);
    const auto dt = q.scalar_type(), wt = wide(dt);
    const int64_t T = q.size(2);
    const double scale = attention_scale(q);
    const auto& dO = grads[0];  // [B, nh, T, hd]
    auto kt = k.transpose(-2, -1), vt = v.transpose(-2, -1);
    // dK and dV sum over chunks: accumulated at least in float32.
    at::Tensor dq = need_q ? at::empty(q.sizes(), q.options()) : at::Tensor();
    at::Tensor dk = need_k ? at::zeros(k.sizes(), k.options().dtype(wt)) : at::Tensor();
    at::Tensor dv = need_v ? at::zeros(v.sizes(), v.options().dtype(wt)) : at::Tensor();
    auto D = (dO.to(wt) * out.to(wt)).sum(-1, /*keepdim=*/true);  // [B, nh, T, 1]
    for (int64_t s = 0; s < T; s += chunk) {
      const int64_t n = std::min(chunk, T - s);
      auto qc = q.narrow(2, s, n), dOc = dO.narrow(2, s, n);
      auto p = chunk_probs_again(qc, kt, bias_rows(bias, s, n), scale, m.narrow(2, s, n), z.narrow(2, s, n));
      if (need_v) dv.add_(matmul_f32(p.to(dt).transpose(-2, -1), dOc));  // dV += P_c^T dO_c
      if (!need_q && !need_k) continue;
      auto ds = matmul_f32(dOc, vt).to(wt).sub_(D.narrow(2, s, n)).mul_(p).to(dt);  // dS_c [B, nh, n, S]
      if (need_q) dq.narrow(2, s, n).copy_(matmul_f32(ds, k).mul_(scale));
      if (need_k) dk.add_(matmul_f32(ds.transpose(-2, -1), qc).mul_(scale));
    }
    if (need_k) dk = dk.to(k.scalar_type());
    if (need_v) dv = dv.to(v.scalar_type());
    return {dq, dk, dv, at::Tensor(), at::Tensor()};
  }
};

// The fused kernels of libtorch 2.x on GPUs come before chunking (they never hold the scores either).
bool fused_first(const at::Tensor& q) {
#if TORCH_VERSION_MAJOR >= 2
  return q.is_cuda();
#else
  (void)q;
  return false;
#endif
}

}  // namespace

at::Tensor attention_chunked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                             int64_t chunk) {
  TORCH_CHECK(chunk >= 1, "attention_chunked: chunk must be >= 1, got ", chunk);
  TORCH_CHECK(!bias.requires_grad(), "attention_chunked: the attention bias takes no gradient");
  auto kk = k, vv = v;
  const int64_t groups = q.size(1) / k.size(1);
  if (groups > 1) {  // grouped-query attention; repeat_interleave's backward sums the heads' dK, dV
    kk = k.repeat_interleave(groups, 1);
    vv = v.repeat_interleave(groups, 1);
  }
  if (bf16_on_float32_copies(q)) {
    // As attention_reference: the products in float32 from the bf16 values.
    auto f = [](const at::Tensor& t) { return t.to(at::kFloat); };
    return attention_chunked(f(q), f(kk), f(vv), f(bias), chunk).to(at::kBFloat16);
  }
  if (at::GradMode::is_enabled() && (q.requires_grad() || kk.requires_grad() || vv.requires_grad()))
    return ChunkedAttention::apply(q, kk, vv, bias, chunk);
  return chunked_forward(q, kk, vv, bias, chunk, nullptr);
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& bias, double dropout_p, int64_t chunk) {
  if (fast_attention_enabled && decode_applies(q, k, v, dropout_p))
    return q.scalar_type() == at::kFloat ? attention_decode<float>(q, k, v, bias, nullptr)
                                         : attention_decode<c10::BFloat16>(q, k, v, bias, nullptr);
  // Dropout on the probabilities stays with the reference (RLHF runs turn dropout off, as TRL does).
  // A float32 pass on the CPU (training, scoring, a prompt's prefill) takes the
  // chunked path at any length: its products run as one oneDNN matmul over the
  // batch (matmul_f32) and its softmax as row kernels, where ATen's bmm runs one
  // OpenBLAS product per matrix (~40-70 GFLOP/s on the 2-core EPYC). A bf16 pass on a CPU
  // without bf16 products runs on float32 copies, so it is such a pass too.
  const bool cpu_f32 = q.device().is_cpu() && (q.scalar_type() == at::kFloat || bf16_on_float32_copies(q)) &&
                       onednn_products();
  if (chunk > 0 && (q.size(2) > chunk || cpu_f32) && dropout_p == 0 && !bias.requires_grad() &&
      !fused_first(q))
    return attention_chunked(q, k, v, bias, chunk);
  return attention_reference(q, k, v, bias, dropout_p);
}

bool shared_prefix_decode_applies(const at::Tensor& q, const at::Tensor& prefix_k, const at::Tensor& k,
                                  const at::Tensor& v) {
  return fast_attention_enabled && decode_applies(q, k, v, 0.0) && prefix_k.scalar_type() == k.scalar_type() &&
         prefix_k.is_contiguous() && prefix_k.size(1) == k.size(1) && prefix_k.stride(2) == k.stride(2);
}

at::Tensor attention_decode_shared_prefix(const at::Tensor& q, const at::Tensor& prefix_k, const at::Tensor& prefix_v,
                                          const at::Tensor& prefix_row, const at::Tensor& k, const at::Tensor& v,
                                          const at::Tensor& bias) {
  TORCH_CHECK(prefix_v.is_contiguous() && prefix_v.sizes() == prefix_k.sizes() && prefix_row.is_cpu() &&
                  prefix_row.scalar_type() == at::kLong && prefix_row.is_contiguous() &&
                  prefix_row.size(0) == q.size(0),
              "attention_decode_shared_prefix: prefix keys and values of one shape, one CPU int64 row per sequence");
  const SharedPrefix prefix{prefix_k, prefix_v, prefix_row};
  return q.scalar_type() == at::kFloat ? attention_decode<float>(q, k, v, bias, &prefix)
                                       : attention_decode<c10::BFloat16>(q, k, v, bias, &prefix);
}

at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& bias, double dropout_p) {
  auto kk = k, vv = v;
  const int64_t groups = q.size(1) / k.size(1);
  if (groups > 1) {  // grouped-query attention: each kv head serves `groups` query heads
    kk = k.repeat_interleave(groups, 1);
    vv = v.repeat_interleave(groups, 1);
  }
#if TORCH_VERSION_MAJOR >= 2
  // libtorch 2.x: the fused kernels (flash / memory-efficient attention) on GPUs.
  if (q.is_cuda()) return at::scaled_dot_product_attention(q, kk, vv, bias, dropout_p, /*is_causal=*/false);
#endif
  if (bf16_on_float32_copies(q)) {
    // See cpu_bf16_matmul_native(): the products in float32 from the bf16 values.
    auto f = [](const at::Tensor& t) { return t.to(at::kFloat); };
    return attention_reference(f(q), f(kk), f(vv), f(bias), dropout_p).to(at::kBFloat16);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = at::matmul(q, kk.transpose(-2, -1)).mul_(scale).add_(bias);  // [B, nh, T, S]
  // The softmax in float32 at least (a bf16 model's probabilities are rounded to bf16 after it).
  auto probs = at::softmax(scores, -1, at::promote_types(scores.scalar_type(), at::kFloat)).to(scores.scalar_type());
  if (dropout_p > 0) probs = at::dropout(probs, dropout_p, /*train=*/true);
  return at::matmul(probs, vv);  // [B, nh, T, hd]
}

}  // namespace r4j
