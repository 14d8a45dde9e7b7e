#include "generate.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include "linear.hpp"
#include "sampling.hpp"
#include "scoring.hpp"

namespace r4j {

namespace {

// In bf16 a decoding step rounds its activations at other points than a forward
// pass over the whole sequence does (other kernels, other shapes): log-probs
// differ by ~1e-2, and the learning phase's first ratio would not be 1. So, as
// OpenRLHF and verl recompute them with the training engine, a bf16 model's
// old log-probs and values are those of the forward pass the learning phase
// makes (one more pass over the rollout, without gradients).
void rescore(Model& model, Rollout& r, double temperature, const r4j_generate_options& o) {
  if (r.response_len() == 0) return;
  at::NoGradGuard no_grad;
  ScoreRequest req;
  req.temperature = temperature;
  req.values = o.with_values != 0;
  auto full = score_tokens(model, r.tokens(), r.mask(), r.query_len(), r.response_len(), req);
  auto rmask = r.response_mask.to(at::kFloat);
  r.floats[R4J_FIELD_OLD_LOGPROBS] = (full.logprobs * rmask).contiguous();
  if (o.with_values) r.floats[R4J_FIELD_OLD_VALUES] = (full.values * rmask).contiguous();
}

}  // namespace

std::unique_ptr<Rollout> generate(Model& model, const at::Tensor& prompts, const at::Tensor& prompt_mask,
                                  const r4j_generate_options& o, const std::vector<uint64_t>* row_seeds) {
  const int64_t B = prompts.size(0), P = prompts.size(1), N = o.max_new_tokens;
  const bool greedy = o.temperature <= 0;
  const double temperature = greedy ? 1.0 : o.temperature;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  auto dev = prompts.device();
  auto long_opts = at::TensorOptions().device(dev).dtype(at::kLong);
  // The uniforms [B, 1] that decoding step t inverts the CDFs at.
  auto step_uniforms = [&](int64_t t) {
    return row_seeds != nullptr ? row_uniforms(*row_seeds, t, dev) : uniforms(B, gen, dev);
  };

  PackedWeights packing;  // every decoding step multiplies the same weights
  KVCache cache = model.new_cache(B, P + N);
  auto key_mask = at::zeros({B, P + N}, long_opts.dtype(at::kBool));  // [B, P+N]
  key_mask.narrow(1, 0, P).copy_(prompt_mask);

  auto tokens = at::full({B, N}, o.pad_token_id, long_opts);  // response tokens
  auto logprobs = at::zeros({B, N}, long_opts.dtype(at::kFloat));
  auto values = at::zeros({B, N}, long_opts.dtype(at::kFloat));
  auto alive = at::ones({B}, long_opts.dtype(at::kBool));    // still generating
  auto ended = at::zeros({B}, long_opts.dtype(at::kBool));   // stopped by EOS/stop
  auto lengths = at::zeros({B}, long_opts);

  // Prefill: the whole prompt at once; only its last state feeds the heads.
  auto positions = positions_from_mask(prompt_mask);                        // [B, P]
  auto h = model.hidden(prompts, positions, key_mask.narrow(1, 0, P), &cache);
  auto state = h.narrow(1, P - 1, 1).squeeze(1);                            // [B, d]
  auto next_pos = positions.narrow(1, P - 1, 1).add(1);                     // [B, 1]

  int64_t produced = 0;
  for (int64_t t = 0; t < N; ++t) {
    auto logits = model.lm_logits(state);                                   // [B, V] float32
    at::Tensor token, logp;                                                 // [B], [B]
    if (!greedy && o.top_k == 0 && o.top_p >= 1.0) {
      auto d = draw_tokens(logits, temperature, step_uniforms(t));
      token = d.token;
      logp = d.logprob;
    } else {
      auto scaled = greedy ? logits : logits / temperature;
      token = greedy ? scaled.argmax(-1)
                     : sample_from_probs(at::softmax(top_p_filter(top_k_filter(scaled, o.top_k), o.top_p), -1),
                                         step_uniforms(t));
      logp = at::log_softmax(scaled, -1).gather(-1, token.unsqueeze(-1)).squeeze(-1);
    }
    token = at::where(alive, token, at::full_like(token, o.pad_token_id));
    tokens.select(1, t).copy_(token);
    logprobs.select(1, t).copy_(at::where(alive, logp, at::zeros_like(logp)));
    if (o.with_values) {
      auto v = model.value(state);
      values.select(1, t).copy_(at::where(alive, v, at::zeros_like(v)));
    }
    lengths.add_(alive.to(at::kLong));
    produced = t + 1;
    auto stop = at::zeros_like(alive);
    if (o.eos_token_id >= 0) stop = stop.logical_or(token == o.eos_token_id);
    if (o.stop_token_id >= 0) stop = stop.logical_or(token == o.stop_token_id);
    stop = stop.logical_and(alive);
    ended.logical_or_(stop);
    alive.logical_and_(stop.logical_not());
    if (t + 1 == N || !alive.any().item<bool>()) break;

    key_mask.select(1, P + t).fill_(true);  // finished rows feed padding nobody reads
    h = model.hidden(token.unsqueeze(1), next_pos, key_mask.narrow(1, 0, P + t + 1), &cache);
    state = h.squeeze(1);
    next_pos = next_pos + 1;
  }

  auto r = std::make_unique<Rollout>();
  r->device = dev;
  r->pad_token_id = o.pad_token_id;
  r->query_tokens = prompts;
  r->query_mask = prompt_mask;
  r->response_tokens = tokens.narrow(1, 0, produced).contiguous();
  r->response_mask = at::arange(produced, long_opts).unsqueeze(0) < lengths.unsqueeze(1);
  r->ended = ended;
  r->floats[R4J_FIELD_OLD_LOGPROBS] = logprobs.narrow(1, 0, produced).contiguous();
  if (o.with_values) r->floats[R4J_FIELD_OLD_VALUES] = values.narrow(1, 0, produced).contiguous();
  if (model.config().dtype == R4J_DTYPE_BF16 || model.config().dtype == R4J_DTYPE_F16) rescore(model, *r, temperature, o);
  return r;
}

}  // namespace r4j
