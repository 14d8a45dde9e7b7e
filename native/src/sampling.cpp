#include "sampling.hpp"

#include <limits>

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

at::Tensor sample_from_logits(const at::Tensor& logits, at::Generator& gen) {
  return sample_from_probs(at::softmax(logits.to(at::kFloat), -1), gen);
}

at::Tensor sample_from_probs(const at::Tensor& probs, at::Generator& gen) {
  const int64_t B = probs.size(0);
  auto cdf = probs.cumsum(-1);  // [B, V]
  // u in (0, 1] so the first index with cdf >= u * total has probability > 0.
  auto u = 1.0 - at::rand({B, 1}, gen, at::TensorOptions().dtype(at::kFloat));
  auto target = u.to(probs.device()) * cdf.narrow(-1, cdf.size(-1) - 1, 1);
  auto idx = at::searchsorted(cdf, target).squeeze(-1);  // [B]
  return idx.clamp_max(probs.size(-1) - 1);
}

}  // namespace r4j
