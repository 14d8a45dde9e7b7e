#include "chunked_logprobs.hpp"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <utility>
#include <vector>

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
// w32: float32_copy_for_products(w), made once a pass rather than once a chunk.
// rows_only: only the row kernels read them, so bf16 logits of bf16 products at
// temperature 1 stay bf16 (the kernels widen a row at a time: the same values,
// without an [n, V] copy). Products on float32 copies keep float32 for their gradient.
at::Tensor chunk_logits(const at::Tensor& h, const at::Tensor& w, const at::Tensor& w32, double temperature,
                        bool rows_only) {
  auto z = w32.defined() ? linear_with_float32_copy(h, w32, /*w_is_out_by_in=*/true)
                         : linear(h, w, {}, /*w_is_out_by_in=*/true);
  if (rows_only && temperature == 1.0 && !bf16_on_float32_copies(w) && softmax_rows_applies(z)) return z;
  z = z.to(wide(z.scalar_type()));
  return temperature == 1.0 ? z : z / temperature;
}

// The gradient of a loss L = sum_i g_i logp_i + sum_i gH_i H_i over one chunk's
// logits, in place: z [n, V] becomes d L / dz. With p = softmax(z),
//   d logp[y] / dz = onehot(y) - p,     dH / dz = -p * (log p + H).
// g_logp [n]; g_entropy [n], undefined when the entropy has no gradient.
void logits_grad_(at::Tensor& gz, const at::Tensor& targets, const at::Tensor& g_logp, const at::Tensor& g_entropy,
                  double temperature) {
  const int64_t n = gz.size(0);
  const bool entropy_grad = g_entropy.defined();
  if (!entropy_grad && softmax_rows_applies(gz)) {
    log_softmax_grad_(gz, targets, g_logp);
  } else {
    // One [n, V] buffer: log p overwrites the logits a few rows at a time (the same
    // values as one log_softmax: rows are independent), and without the entropy's
    // gradient p and then gz take the same memory.
    auto logp = gz;
    for (int64_t r = 0; r < n; r += kSoftmaxRows) {
      auto rows = logp.narrow(0, r, std::min(kSoftmaxRows, n - r));
      rows.copy_(at::log_softmax(rows, -1));
    }
    auto g = g_logp.unsqueeze(1);                                          // [n, 1]
    auto p = entropy_grad ? logp.exp() : logp.exp_();
    gz = entropy_grad ? -p * g : p.mul_(g).neg_();
    gz.scatter_add_(1, targets.unsqueeze(1), g);
    if (entropy_grad) {
      auto H = -(p * logp).sum(-1, /*keepdim=*/true);
      gz.sub_(p * (logp + H) * g_entropy.unsqueeze(1));
    }
  }
  if (temperature != 1.0) gz.div_(temperature);
}

// The head's gradients from all its chunks: grad_h [N, d] by rows, grad_w [V, d]
// summed over chunks, at least in float32. Zeroed first rather than written by the
// first product: a fresh block then takes its page faults in one sequential pass,
// not inside the product's threads. bf16 heads sum straight into the float32
// gradient where oneDNN multiplies bf16.
struct HeadGrads {
  at::Tensor h, w;
  bool into = false;
  bool first = true;
  // A bf16 head on a CPU without bf16 products (as linear's float32 copies):
  // float32 products of gz and the pass's float32 copy of the head, never ATen's bf16 GEMM.
  bool widened = false;
  at::Tensor ws32;

  // ws32: float32_copy_for_products(ws).
  HeadGrads(const at::Tensor& hs, const at::Tensor& ws, const at::Tensor& ws32, bool need_h, bool need_w)
      : widened(bf16_on_float32_copies(ws)), ws32(ws32) {
    if (need_h) h = at::empty_like(hs);
    into = need_w && hs.size(0) > 0 && matmul_bf16_into_applies(hs, ws);
    if (widened && need_h && !this->ws32.defined()) this->ws32 = ws.to(at::kFloat);
    if (need_w) w = into ? at::empty(ws.sizes(), ws.options().dtype(at::kFloat))
                         : at::zeros(ws.sizes(), ws.options().dtype(wide(ws.scalar_type())));
  }

  // Adds one chunk: gz = d L / d logits [n, V] of rows hc [n, d] starting at row s;
  // float32, or bf16 already where the row kernels rounded it (then .to is no copy).
  void add(const at::Tensor& gz, const at::Tensor& hc, const at::Tensor& ws, int64_t s) {
    if (widened) {
      if (h.defined()) h.narrow(0, s, hc.size(0)).copy_(matmul_f32(gz, ws32));  // [n, d]
      if (w.defined()) w.addmm_(gz.t(), hc.to(at::kFloat));
      first = false;
      return;
    }
    auto gzw = gz.to(ws.scalar_type());
    if (h.defined()) h.narrow(0, s, hc.size(0)).copy_(matmul_f32(gzw, ws));  // [n, d]
    if (w.defined()) {
      if (into) matmul_bf16_into(gzw.t(), hc, w, /*accumulate=*/!first);
      else if (w.scalar_type() == ws.scalar_type()) w.addmm_(gzw.t(), hc);
      else w.add_(gzw.t().matmul(hc));
    }
    first = false;
  }

  at::Tensor weight_grad(const at::Tensor& ws) const { return w.defined() ? w.to(ws.scalar_type()) : w; }
};

// d loss / d logprobs [N] and d loss / d entropy [N] (undefined unless the entropy
// has a gradient) at the head's outputs so far, by autograd through the caller's loss.
std::pair<at::Tensor, at::Tensor> loss_gradients(const HeadLoss& loss, const at::Tensor& logprobs,
                                                 const at::Tensor& entropy, bool entropy_grad) {
  at::AutoGradMode grad_mode(true);  // a custom function's forward runs without it
  auto lp = logprobs.detach().requires_grad_(true);
  auto H = entropy.defined() ? entropy.detach().requires_grad_(entropy_grad) : entropy;
  std::vector<at::Tensor> inputs{lp};
  if (entropy_grad) inputs.push_back(H);
  auto g = torch::autograd::grad({loss(lp, H)}, inputs, {}, false, false, /*allow_unused=*/true);
  auto defined = [&](const at::Tensor& t) { return t.defined() ? t : at::zeros_like(lp); };
  return {defined(g[0]), entropy_grad ? defined(g[1]) : at::Tensor()};
}

std::atomic<int64_t> gradients_from_forward{0};
std::atomic<bool> head_gradient_in_forward{true};

// Inputs: h [N, d], w [V, d], targets [N]. Outputs: logprobs [N] and, with
// entropy, entropy [N]. Saves its inputs and the last chunk's logits; backward
// recomputes every other chunk's log-softmax (logits_grad_).
//
// With the caller's loss (token-separable: each token's gradient depends on its own
// scores only), forward also asks it, chunk by chunk, for the gradients backward
// will receive, and forms the head's gradient products while the chunk's logits are
// at hand: no chunk is recomputed. Backward uses them when the gradients it receives
// are those, bitwise, and recomputes otherwise, so a loss that is not token-separable
// costs time, never correctness.
struct ChunkedHead : torch::autograd::Function<ChunkedHead> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& h, const at::Tensor& w,
                               const at::Tensor& targets, double temperature, int64_t chunk, int64_t entropy_mode,
                               const HeadLoss& loss) {
    const int64_t N = h.size(0);
    const bool need_h = h.requires_grad(), need_w = w.requires_grad();
    const bool predict = loss && N > 0 && (need_h || need_w) && head_gradient_in_forward.load();
    auto opts = h.options().dtype(wide(h.scalar_type()));
    auto logprobs = predict ? at::zeros({N}, opts) : at::empty({N}, opts);
    at::Tensor entropy = entropy_mode ? (predict ? at::zeros({N}, opts) : at::empty({N}, opts)) : at::Tensor();
    std::optional<HeadGrads> grads;
    at::Tensor g_logp, g_entropy;
    auto w32 = N > 0 ? float32_copy_for_products(w) : at::Tensor();
    if (predict) {
      grads.emplace(h, w, w32, need_h, need_w);
      g_logp = at::empty({N}, opts);
      if (entropy_mode == 2) g_entropy = at::empty({N}, opts);
    }
    at::Tensor z;
    for (int64_t s = 0; s < N; s += chunk) {
      const int64_t n = std::min(chunk, N - s);
      z = at::Tensor();  // the last chunk's buffer goes before this one's comes: one at a time
      z = chunk_logits(h.narrow(0, s, n), w, w32, temperature, /*rows_only=*/entropy_mode != 2);  // [n, V]
      if (softmax_rows_applies(z)) {
        auto r = row_log_softmax(z, targets.narrow(0, s, n), entropy_mode != 0);
        logprobs.narrow(0, s, n).copy_(r.logprobs);
        if (entropy_mode) entropy.narrow(0, s, n).copy_(r.entropy);
      } else {
        auto logp = at::log_softmax(z, -1);  // [n, V]
        logprobs.narrow(0, s, n).copy_(logp.gather(1, targets.narrow(0, s, n).unsqueeze(1)).squeeze(1));
        if (entropy_mode) entropy.narrow(0, s, n).copy_(-logp.exp().mul_(logp).sum(-1));
      }
      if (!predict) continue;
      auto [gl, ge] = loss_gradients(loss, logprobs, entropy, entropy_mode == 2);
      g_logp.narrow(0, s, n).copy_(gl.narrow(0, s, n));
      if (ge.defined()) g_entropy.narrow(0, s, n).copy_(ge.narrow(0, s, n));
      logits_grad_(z, targets.narrow(0, s, n), g_logp.narrow(0, s, n),
                   ge.defined() ? g_entropy.narrow(0, s, n) : at::Tensor(), temperature);
      grads->add(z, h.narrow(0, s, n), w, s);
    }
    ctx->save_for_backward({h, w, targets});
    if (predict) {
      ctx->saved_data["g_logp"] = g_logp;
      if (g_entropy.defined()) ctx->saved_data["g_entropy"] = g_entropy;
      if (grads->h.defined()) ctx->saved_data["grad_h"] = grads->h;
      // The head's float32 copy and the last logits go before the gradient's bf16 copy comes.
      w32 = grads->ws32 = z = at::Tensor();
      if (grads->w.defined()) ctx->saved_data["grad_w"] = grads->weight_grad(w);
    } else if (z.defined() && (need_h || need_w) && keep_last_logits.load()) {
      // The last chunk's logits stay for backward, which starts with them: the pass
      // holds one [chunk, V] buffer from here on either way, and one recomputed
      // product fewer per call. Backward takes them out, so a second backward
      // (retain_graph) recomputes them.
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
    const at::Tensor none;
    // The gradients forward formed leave the context: the weight's then becomes its
    // .grad without a copy, and a second backward (retain_graph) recomputes.
    auto take = [&](const char* key) {
      auto found = ctx->saved_data.find(key);
      if (found == ctx->saved_data.end()) return none;
      auto t = found->second.toTensor();
      ctx->saved_data.erase(found);
      return t;
    };
    auto told_logp = take("g_logp"), told_entropy = take("g_entropy");
    auto formed_h = take("grad_h"), formed_w = take("grad_w");
    const bool as_told = told_logp.defined() && g_logp.defined() && at::equal(g_logp, told_logp) &&
                         (!entropy_grad || (grads[1].defined() && at::equal(grads[1], told_entropy)));
    if (as_told && (!need_h || formed_h.defined()) && (!need_w || formed_w.defined())) {
      gradients_from_forward.fetch_add(1);
      return {need_h ? formed_h : none, need_w ? std::move(formed_w) : none, none, none, none, none, none};
    }
    formed_w = at::Tensor();  // not as told: the recomputed gradient takes its place, not its side
    const int64_t N = h.size(0);
    at::Tensor kept;
    if (auto it = ctx->saved_data.find("last_logits"); it != ctx->saved_data.end()) {
      kept = it->second.toTensor();
      ctx->saved_data.erase(it);
    }
    const auto w32 = N > 0 ? float32_copy_for_products(w) : at::Tensor();
    HeadGrads out(h, w, w32, need_h, need_w);
    // Last chunk first: its logits may be the ones forward kept.
    const int64_t last = N > 0 ? (N - 1) / chunk * chunk : 0;
    for (int64_t s = last; s >= 0 && N > 0; s -= chunk) {
      const int64_t n = std::min(chunk, N - s);
      auto hc = h.narrow(0, s, n);
      // [n, V]: z, then d loss / dz
      auto gz = s == last && kept.defined() ? std::move(kept)
                                            : chunk_logits(hc, w, w32, temperature, /*rows_only=*/!entropy_grad);
      logits_grad_(gz, targets.narrow(0, s, n), g_logp.narrow(0, s, n),
                   entropy_grad ? grads[1].narrow(0, s, n) : none, temperature);
      out.add(gz, hc, w, s);
    }
    return {out.h, out.weight_grad(w), none, none, none, none, none};
  }
};

}  // namespace

void set_keep_last_logits(bool on) { keep_last_logits.store(on); }

void set_head_gradient_in_forward(bool on) { head_gradient_in_forward.store(on); }

int64_t head_gradients_from_forward() { return gradients_from_forward.load(); }

HeadScores head_logprobs(const Model& model, const at::Tensor& h, const at::Tensor& targets, double temperature,
                         bool entropy, bool entropy_grad, int64_t chunk, const HeadLoss& loss) {
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
  // The caller's loss takes outputs shaped as the targets.
  HeadLoss flat_loss;
  if (loss) flat_loss = [&](const at::Tensor& lp, const at::Tensor& H) {
    return loss(lp.view(targets.sizes()), H.defined() ? H.view(targets.sizes()) : H);
  };
  auto outs = ChunkedHead::apply(flat_h, model.lm_head_weight(), flat_t, temperature, chunk, mode, flat_loss);
  out.logprobs = outs[0].view(targets.sizes());
  if (entropy) out.entropy = outs[1].view(targets.sizes());
  return out;
}

HeadScores head_logprobs(const Model& model, const at::Tensor& h, const at::Tensor& targets, double temperature,
                         bool entropy, bool entropy_grad, const HeadLoss& loss) {
  return head_logprobs(model, h, targets, temperature, entropy, entropy_grad, model.memory().logits_chunk, loss);
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
  const auto w32_ref = N > 0 ? float32_copy_for_products(ref.lm_head_weight()) : at::Tensor();
  const auto w32_policy = N > 0 && policy ? float32_copy_for_products(policy->lm_head_weight()) : at::Tensor();
  RefScores out;
  out.ref_logprobs = at::empty({N}, opts);
  if (policy) out.full_kl = at::empty({N}, opts);
  for (int64_t s = 0; s < N; s += chunk) {
    const int64_t n = std::min(chunk, N - s);
    auto z_ref = chunk_logits(hr.narrow(0, s, n), ref.lm_head_weight(), w32_ref, temperature,
                              /*rows_only=*/policy == nullptr);  // [n, V]
    if (!policy && softmax_rows_applies(z_ref)) {
      out.ref_logprobs.narrow(0, s, n).copy_(row_log_softmax(z_ref, t.narrow(0, s, n), false).logprobs);
      continue;
    }
    auto ref_logp = at::log_softmax(z_ref, -1);
    out.ref_logprobs.narrow(0, s, n).copy_(ref_logp.gather(1, t.narrow(0, s, n).unsqueeze(1)).squeeze(1));
    if (policy) {
      auto z = chunk_logits(hp.narrow(0, s, n), policy->lm_head_weight(), w32_policy, temperature, false);
      auto logp = at::log_softmax(z, -1);
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
