#include "chunked_logprobs.hpp"

#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <atomic>

#include "linear.hpp"
#include "logprobs.hpp"
#include "softmax_rows.hpp"

namespace r4j {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kSoftmaxRows = 16;  // rows of log-probs computed aside before overwriting the logits

std::atomic<bool> keep_last_logits{true};

at::ScalarType wide(at::ScalarType t) { return at::promote_types(t, at::kFloat); }

// logits / temperature of rows h [n, d] under the head w [V, d]: [n, V], widened as Model::lm_logits.
at::Tensor chunk_logits(const at::Tensor& h, const at::Tensor& w, double temperature) {
  auto z = linear(h, w, {}, /*w_is_out_by_in=*/true);
  z = z.to(wide(z.scalar_type()));
  return temperature == 1.0 ? z : z / temperature;
}

// Inputs: h [N, d], w [V, d], targets [N]. Outputs: logprobs [N] and, with
// entropy, entropy [N]. Saves its inputs and the last chunk's logits; backward
// recomputes every other chunk's log-softmax and uses, with z = logits / temperature and p = softmax(z),
//   d logp[y] / dz = onehot(y) - p,     dH / dz = -p * (log p + H).
struct ChunkedHead : torch::autograd::Function<ChunkedHead> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& h, const at::Tensor& w,
                               const at::Tensor& targets, double temperature, int64_t chunk, int64_t entropy_mode) {
    const int64_t N = h.size(0);
    auto opts = h.options().dtype(wide(h.scalar_type()));
    auto logprobs = at::empty({N}, opts);
    at::Tensor entropy = entropy_mode ? at::empty({N}, opts) : at::Tensor();
    at::Tensor z;
    for (int64_t s = 0; s < N; s += chunk) {
      const int64_t n = std::min(chunk, N - s);
      z = chunk_logits(h.narrow(0, s, n), w, temperature);  // [n, V]
      if (softmax_rows_applies(z)) {
        auto r = row_log_softmax(z, targets.narrow(0, s, n), entropy_mode != 0);
        logprobs.narrow(0, s, n).copy_(r.logprobs);
        if (entropy_mode) entropy.narrow(0, s, n).copy_(r.entropy);
        continue;
      }
      auto logp = at::log_softmax(z, -1);  // [n, V]
      logprobs.narrow(0, s, n).copy_(logp.gather(1, targets.narrow(0, s, n).unsqueeze(1)).squeeze(1));
      if (entropy_mode) entropy.narrow(0, s, n).copy_(-logp.exp().mul_(logp).sum(-1));
    }
    ctx->save_for_backward({h, w, targets});
    // The last chunk's logits stay for backward, which starts with them: the pass
    // holds one [chunk, V] buffer from here on either way, and one recomputed
    // product fewer per call. Backward takes them out, so a second backward
    // (retain_graph) recomputes them.
    if (z.defined() && (h.requires_grad() || w.requires_grad()) && keep_last_logits.load()) {
      ctx->saved_data["last_logits"] = z;
    }
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["entropy_mode"] = entropy_mode;
    if (!entropy_mode) return {logprobs};
    if (entropy_mode == 1) ctx->mark_non_differentiable({entropy});
    return {logprobs, entropy};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &h = saved[0], &w = saved[1], &targets = saved[2];
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const bool entropy_grad = ctx->saved_data["entropy_mode"].toInt() == 2;
    const bool need_h = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1);
    const auto& g_logp = grads[0];  // [N]
    const int64_t N = h.size(0);
    at::Tensor grad_h = need_h ? at::empty_like(h) : at::Tensor();
    // The head's gradient sums over chunks: accumulated at least in float32. Zeroed
    // first rather than written by the first product: a fresh block then takes its
    // page faults in one sequential pass, not inside the product's threads.
    // bf16 heads sum straight into the float32 gradient where oneDNN multiplies bf16.
    const bool into = need_w && N > 0 && matmul_bf16_into_applies(h, w);
    at::Tensor grad_w;
    if (need_w) grad_w = into ? at::empty(w.sizes(), w.options().dtype(at::kFloat))
                              : at::zeros(w.sizes(), w.options().dtype(wide(w.scalar_type())));
    at::Tensor kept;
    if (auto it = ctx->saved_data.find("last_logits"); it != ctx->saved_data.end()) {
      kept = it->second.toTensor();
      ctx->saved_data.erase(it);
    }
    // Last chunk first: its logits may be the ones forward kept.
    const int64_t last = N > 0 ? (N - 1) / chunk * chunk : 0;
    for (int64_t s = last; s >= 0 && N > 0; s -= chunk) {
      const int64_t n = std::min(chunk, N - s);
      auto hc = h.narrow(0, s, n);
      // One [n, V] buffer per chunk instead of four at the learning phase's peak,
      // which lies here: log p overwrites the logits a few rows at a time (the same
      // values as one log_softmax: rows are independent), and without the entropy's
      // gradient p and then gz take the same memory.
      auto gz = s == last && kept.defined() ? std::move(kept) : chunk_logits(hc, w, temperature);  // [n, V]: z, then d loss / dz
      if (!entropy_grad && softmax_rows_applies(gz)) {
        log_softmax_grad_(gz, targets.narrow(0, s, n), g_logp.narrow(0, s, n));
      } else {
        auto logp = gz;
        for (int64_t r = 0; r < n; r += kSoftmaxRows) {
          auto rows = logp.narrow(0, r, std::min(kSoftmaxRows, n - r));
          rows.copy_(at::log_softmax(rows, -1));
        }
        auto g = g_logp.narrow(0, s, n).unsqueeze(1);                        // [n, 1]
        auto p = entropy_grad ? logp.exp() : logp.exp_();
        gz = entropy_grad ? -p * g : p.mul_(g).neg_();
        gz.scatter_add_(1, targets.narrow(0, s, n).unsqueeze(1), g);
        if (entropy_grad) {
          auto H = -(p * logp).sum(-1, /*keepdim=*/true);
          gz.sub_(p * (logp + H) * grads[1].narrow(0, s, n).unsqueeze(1));
        }
      }
      if (temperature != 1.0) gz.div_(temperature);
      auto gzw = gz.to(w.scalar_type());                                     // d loss / d logits [n, V]
      if (need_h) grad_h.narrow(0, s, n).copy_(matmul_f32(gzw, w));          // [n, d]
      if (need_w) {
        if (into) matmul_bf16_into(gzw.t(), hc, grad_w, /*accumulate=*/s != last);
        else if (grad_w.scalar_type() == w.scalar_type()) grad_w.addmm_(gzw.t(), hc);
        else grad_w.add_(gzw.t().matmul(hc));
      }
    }
    if (need_w) grad_w = grad_w.to(w.scalar_type());
    return {grad_h, grad_w, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

void set_keep_last_logits(bool on) { keep_last_logits.store(on); }

HeadScores head_logprobs(const Model& model, const at::Tensor& h, const at::Tensor& targets, double temperature,
                         bool entropy, bool entropy_grad, int64_t chunk) {
  HeadScores out;
  if (chunk <= 0) {
    out.logprobs = gather_logprobs(model.lm_logits(h), targets, temperature, entropy ? &out.entropy : nullptr,
                                   entropy_grad);
    return out;
  }
  const int64_t d = h.size(-1);
  auto flat_h = h.reshape({-1, d});        // [N, d]
  auto flat_t = targets.reshape({-1});     // [N]
  const int64_t mode = entropy ? (entropy_grad ? 2 : 1) : 0;
  auto outs = ChunkedHead::apply(flat_h, model.lm_head_weight(), flat_t, temperature, chunk, mode);
  out.logprobs = outs[0].view(targets.sizes());
  if (entropy) out.entropy = outs[1].view(targets.sizes());
  return out;
}

HeadScores head_logprobs(const Model& model, const at::Tensor& h, const at::Tensor& targets, double temperature,
                         bool entropy, bool entropy_grad) {
  return head_logprobs(model, h, targets, temperature, entropy, entropy_grad, model.memory().logits_chunk);
}

RefScores ref_scores(const Model& ref, const at::Tensor& h_ref, const Model* policy, const at::Tensor& h_policy,
                     const at::Tensor& targets, double temperature) {
  at::NoGradGuard no_grad;
  const int64_t d = h_ref.size(-1);
  auto hr = h_ref.reshape({-1, d});
  auto hp = policy ? h_policy.reshape({-1, d}) : at::Tensor();
  auto t = targets.reshape({-1});
  const int64_t N = hr.size(0);
  const int64_t chunk = ref.memory().logits_chunk > 0 ? ref.memory().logits_chunk : std::max<int64_t>(N, 1);
  auto opts = hr.options().dtype(wide(hr.scalar_type()));
  RefScores out;
  out.ref_logprobs = at::empty({N}, opts);
  if (policy) out.full_kl = at::empty({N}, opts);
  for (int64_t s = 0; s < N; s += chunk) {
    const int64_t n = std::min(chunk, N - s);
    auto z_ref = chunk_logits(hr.narrow(0, s, n), ref.lm_head_weight(), temperature);  // [n, V]
    if (!policy && softmax_rows_applies(z_ref)) {
      out.ref_logprobs.narrow(0, s, n).copy_(row_log_softmax(z_ref, t.narrow(0, s, n), false).logprobs);
      continue;
    }
    auto ref_logp = at::log_softmax(z_ref, -1);
    out.ref_logprobs.narrow(0, s, n).copy_(ref_logp.gather(1, t.narrow(0, s, n).unsqueeze(1)).squeeze(1));
    if (policy) {
      auto logp = at::log_softmax(chunk_logits(hp.narrow(0, s, n), policy->lm_head_weight(), temperature), -1);
      // KL(pi || ref) = sum_v pi(v) (log pi(v) - log ref(v))
      auto pi = logp.exp();
      out.full_kl.narrow(0, s, n).copy_(pi.mul_(logp.sub_(ref_logp)).sum(-1));
    }
  }
  out.ref_logprobs = out.ref_logprobs.view(targets.sizes());
  if (policy) out.full_kl = out.full_kl.view(targets.sizes());
  return out;
}

}  // namespace r4j
