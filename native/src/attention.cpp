#include "attention.hpp"

#include <ATen/Dispatch.h>
#include <torch/version.h>

#include <ATen/Parallel.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

namespace r4j {

namespace {
std::atomic<bool> fast_attention_enabled{true};
}
void set_fast_attention(bool on) { fast_attention_enabled = on; }

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
// q . k and o += w v over one head's vector. The AVX2/FMA versions are chosen at
// run time (the library itself targets baseline x86-64); a single running sum
// in the plain versions is a dependency chain the compiler may not reorder.
__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(acc0, acc1));
  float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

__attribute__((target("avx2,fma"))) void axpy_avx2(float w, const float* x, float* y, int64_t n) {
  const __m256 wv = _mm256_set1_ps(w);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += w * x[i];
}

float dot_plain(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy_plain(float w, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += w * x[i];
}

const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");

inline float dot(const float* a, const float* b, int64_t n) { return has_avx2 ? dot_avx2(a, b, n) : dot_plain(a, b, n); }

inline void axpy(float w, const float* x, float* y, int64_t n) {
  if (has_avx2) {
    axpy_avx2(w, x, y, n);
  } else {
    axpy_plain(w, x, y, n);
  }
}

bool decode_applies(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double dropout_p) {
  return q.size(2) == 1 && dropout_p == 0 && !at::GradMode::is_enabled() && q.device().is_cpu() &&
         q.scalar_type() == at::kFloat && k.scalar_type() == at::kFloat && v.scalar_type() == at::kFloat &&
         k.stride(3) == 1 && v.stride(3) == 1 && k.strides() == v.strides();
}

at::Tensor attention_decode(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias) {
  const int64_t B = q.size(0), nh = q.size(1), hd = q.size(3), S = k.size(2), groups = nh / k.size(1);
  auto qc = q.contiguous();
  auto bc = bias.to(at::kFloat).expand({B, 1, 1, S}).contiguous();  // [B, 1, 1, S]
  auto out = at::empty({B, nh, 1, hd}, q.options());
  const float* qp = qc.data_ptr<float>();
  const float* kp = k.data_ptr<float>();
  const float* vp = v.data_ptr<float>();
  const float* bp = bc.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const int64_t kb = k.stride(0), kh = k.stride(1), ks = k.stride(2);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  at::parallel_for(0, B * nh, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> p(S);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / nh, h = bh % nh;
      const float* qv = qp + bh * hd;
      const float* kbase = kp + b * kb + (h / groups) * kh;
      const float* vbase = vp + b * kb + (h / groups) * kh;
      float top = -std::numeric_limits<float>::infinity();
      for (int64_t s = 0; s < S; ++s) {
        p[s] = dot(qv, kbase + s * ks, hd) * scale + bp[b * S + s];
        top = std::max(top, p[s]);
      }
      float z = 0;
      for (int64_t s = 0; s < S; ++s) z += (p[s] = std::exp(p[s] - top));
      float* o = op + bh * hd;
      std::fill(o, o + hd, 0.0f);
      for (int64_t s = 0; s < S; ++s) axpy(p[s] / z, vbase + s * ks, o, hd);
    }
  });
  return out;
}

}  // namespace

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& bias, double dropout_p) {
  if (fast_attention_enabled && decode_applies(q, k, v, dropout_p)) return attention_decode(q, k, v, bias);
  return attention_reference(q, k, v, bias, dropout_p);
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
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = at::matmul(q, kk.transpose(-2, -1)).mul_(scale).add_(bias);  // [B, nh, T, S]
  auto probs = at::softmax(scores, -1);
  if (dropout_p > 0) probs = at::dropout(probs, dropout_p, /*train=*/true);
  return at::matmul(probs, vv);  // [B, nh, T, hd]
}

}  // namespace r4j
