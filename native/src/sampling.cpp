#include "sampling.hpp"

#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "simd.hpp"

namespace r4j {

at::Tensor top_k_filter(const at::Tensor& logits, int64_t k) {
  if (k <= 0 || k >= logits.size(-1)) return logits;
  auto kth = std::get<0>(logits.topk(k, -1)).narrow(-1, k - 1, 1);  // [B, 1]
  return logits.masked_fill(logits < kth, -std::numeric_limits<float>::infinity());
}

at::Tensor top_p_filter(const at::Tensor& logits, double p) {
  if (p >= 1.0) return logits;
  auto [sorted, order] = logits.sort(-1, /*descending=*/true);
  auto probs = at::softmax(sorted, -1);
  // Drop a token when the tokens ranked above it already reach p.
  auto drop_sorted = (probs.cumsum(-1) - probs) >= p;  // [B, V]; rank 0 is never dropped
  auto drop = at::zeros_like(drop_sorted).scatter(-1, order, drop_sorted);
  return logits.masked_fill(drop, -std::numeric_limits<float>::infinity());
}

at::Tensor uniforms(int64_t B, at::Generator& gen, at::Device device) {
  return (1.0 - at::rand({B, 1}, gen, at::TensorOptions().dtype(at::kFloat))).to(device);
}

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

at::Tensor row_uniforms(const std::vector<uint64_t>& row_seeds, int64_t step, at::Device device) {
  const int64_t B = static_cast<int64_t>(row_seeds.size());
  auto u = at::empty({B, 1}, at::TensorOptions().dtype(at::kFloat));
  float* up = u.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) {
    const uint64_t bits = splitmix64(row_seeds[b] ^ splitmix64(static_cast<uint64_t>(step)));
    // 24 random bits, as a float holds them exactly: (k + 1) / 2^24 in (0, 1].
    up[b] = static_cast<float>((bits >> 40) + 1) * (1.0f / 16777216.0f);
  }
  return u.to(device);
}

at::Tensor sample_from_logits(const at::Tensor& logits, at::Generator& gen) {
  return sample_from_probs(at::softmax(logits.to(at::kFloat), -1), uniforms(logits.size(0), gen, logits.device()));
}

at::Tensor sample_from_probs(const at::Tensor& probs, const at::Tensor& u) {
  auto cdf = probs.cumsum(-1);  // [B, V]
  // u in (0, 1], so the first index with cdf >= u * total has probability > 0.
  auto target = u * cdf.narrow(-1, cdf.size(-1) - 1, 1);
  auto idx = at::searchsorted(cdf, target).squeeze(-1);  // [B]
  return idx.clamp_max(probs.size(-1) - 1);
}

Draw draw_tokens_reference(const at::Tensor& logits, double temperature, const at::Tensor& u) {
  auto logp_all = at::log_softmax(logits / temperature, -1);  // [B, V]
  auto token = sample_from_probs(logp_all.exp(), u);
  return {token, logp_all.gather(-1, token.unsqueeze(-1)).squeeze(-1)};
}

namespace {

std::atomic<bool> fast_sampling_enabled{true};

// One row: e[i] = exp((x[i] - max) / T) into e, returns max and sum.
struct RowStats {
  float max;
  double sum;
};

RowStats row_exp_plain(const float* x, int64_t V, float inv_t, float* e) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < V; ++i) m = std::max(m, x[i]);
  double z = 0;
  for (int64_t i = 0; i < V; ++i) z += (e[i] = std::exp((x[i] - m) * inv_t));
  return {m, z};
}

__attribute__((target("avx2,fma"))) RowStats row_exp_avx2(const float* x, int64_t V, float inv_t, float* e) {
  using namespace simd;
  __m256 mv = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + 8 <= V; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
  float m = hmax_ps(mv);
  for (; i < V; ++i) m = std::max(m, x[i]);
  const __m256 mb = _mm256_set1_ps(m), tv = _mm256_set1_ps(inv_t);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  i = 0;
  for (; i + 16 <= V; i += 16) {
    __m256 a = exp_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mb), tv));
    __m256 b = exp_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), mb), tv));
    _mm256_storeu_ps(e + i, a);
    _mm256_storeu_ps(e + i + 8, b);
    acc0 = _mm256_add_ps(acc0, a);
    acc1 = _mm256_add_ps(acc1, b);
  }
  double z = hsum_ps(_mm256_add_ps(acc0, acc1));
  for (; i < V; ++i) z += (e[i] = std::exp((x[i] - m) * inv_t));
  return {m, z};
}

// The first index whose running sum of e reaches target, in blocks of 64 so
// most of the row is skipped with one addition per block. Rounding may leave
// the running sum just short of a target of (almost) the whole sum: then the
// last token with non-zero probability, as searchsorted on the CDF gives.
int64_t invert_cdf(const float* e, int64_t V, double target) {
  constexpr int64_t block = 64;
  double run = 0;
  int64_t i = 0;
  for (; i + block <= V; i += block) {
    double s = 0;
    for (int64_t j = 0; j < block; ++j) s += e[i + j];
    if (run + s >= target) break;
    run += s;
  }
  for (; i < V; ++i) {
    run += e[i];
    if (run >= target && e[i] > 0) return i;
  }
  for (int64_t j = V - 1; j > 0; --j)
    if (e[j] > 0) return j;
  return 0;
}

Draw draw_tokens_cpu(const at::Tensor& logits, double temperature, const at::Tensor& u) {
  const int64_t B = logits.size(0), V = logits.size(1);
  auto x = logits.contiguous();
  auto uc = u.to(at::kFloat).contiguous();
  auto token = at::empty({B}, logits.options().dtype(at::kLong));
  auto logprob = at::empty({B}, logits.options());
  const float* xp = x.data_ptr<float>();
  const float* up = uc.data_ptr<float>();
  int64_t* tp = token.data_ptr<int64_t>();
  float* lp = logprob.data_ptr<float>();
  const float inv_t = static_cast<float>(1.0 / temperature);
  const bool avx2 = simd::has_avx2_fma();
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> e(V);
    for (int64_t b = begin; b < end; ++b) {
      const float* row = xp + b * V;
      RowStats s = avx2 ? row_exp_avx2(row, V, inv_t, e.data()) : row_exp_plain(row, V, inv_t, e.data());
      const int64_t t = invert_cdf(e.data(), V, static_cast<double>(up[b]) * s.sum);
      tp[b] = t;
      lp[b] = static_cast<float>((row[t] - s.max) * inv_t - std::log(s.sum));
    }
  });
  return {token, logprob};
}

}  // namespace

void set_fast_sampling(bool on) { fast_sampling_enabled = on; }

Draw draw_tokens(const at::Tensor& logits, double temperature, const at::Tensor& u) {
  if (fast_sampling_enabled && logits.device().is_cpu() && logits.scalar_type() == at::kFloat && logits.dim() == 2 &&
      logits.size(1) > 0)
    return draw_tokens_cpu(logits, temperature, u);
  return draw_tokens_reference(logits, temperature, u);
}

}  // namespace r4j
