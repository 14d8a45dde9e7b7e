#include "logprobs.hpp"

namespace r4j {

at::Tensor gather_logprobs(const at::Tensor& logits, const at::Tensor& targets, double temperature,
                           at::Tensor* entropy_out, bool entropy_grad) {
  auto scaled = temperature == 1.0 ? logits : logits / temperature;
  auto logp = at::log_softmax(scaled, -1);  // [..., V]
  if (entropy_out) {
    auto lp = entropy_grad ? logp : logp.detach();
    *entropy_out = -(lp.exp() * lp).sum(-1);
  }
  return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1);
}

}  // namespace r4j
