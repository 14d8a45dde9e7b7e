#include "generate.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "gemm_few_rows.hpp"  // kFewRowsMax
#include "linear.hpp"
#include "sampling.hpp"
#include "rollout_scoring.hpp"
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
  ScoreRequest req;
  req.temperature = temperature;
  req.values = o.with_values != 0;
  score_old(model, r, req);
}

// For each row, the index of the first row of its run of identical prompts
// (tokens and mask): the n samples of a group share one.
std::vector<int64_t> prompt_owners(const at::Tensor& prompts, const at::Tensor& prompt_mask) {
  auto p = prompts.to(at::kCPU).contiguous(), m = prompt_mask.to(at::kCPU).contiguous();
  std::vector<int64_t> owner(p.size(0));
  for (int64_t b = 0; b < p.size(0); ++b) {
    const bool same = b > 0 && at::equal(p[b], p[b - 1]) && at::equal(m[b], m[b - 1]);
    owner[b] = same ? owner[b - 1] : b;
  }
  return owner;
}

// A fast path on for the process unless the environment sets `name`=0 (see generate.hpp).
bool on_unless_env_zero(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr || std::string(v) != "0";
}

std::atomic<bool> shared_prefill{true}, live_rows_only{on_unless_env_zero("RLHF4J_LIVE_ROWS")},
    growing_kv_cache{on_unless_env_zero("RLHF4J_KV_GROW")};

// A cache for `reserved` positions (the prompt's, when not a shared prefix)
// and up to n generated ones: room for an eighth of them (at least 8) to start
// with, doubling as the longest row needs more; all of them when not growing.
KVCache new_decoding_cache(const Model& model, int64_t batch, int64_t reserved, int64_t n) {
  if (!growing_kv_cache) return model.new_cache(batch, reserved + n);
  KVCache cache = model.new_cache(batch, reserved + std::min(n, std::max<int64_t>(8, n / 8)));
  cache.most = reserved + n;
  return cache;
}

}  // namespace

void set_shared_prefill(bool on) { shared_prefill = on; }
void set_live_rows_only(bool on) { live_rows_only = on; }
void set_growing_kv_cache(bool on) { growing_kv_cache = on; }

namespace {
std::mutex forced_mutex;
std::vector<int64_t> forced_lengths;  // r4j_bench_force_lengths; empty = off
}  // namespace

void set_forced_lengths(std::vector<int64_t> lengths) {
  std::lock_guard<std::mutex> lock(forced_mutex);
  forced_lengths = std::move(lengths);
}

std::unique_ptr<Rollout> generate(Model& model, const at::Tensor& prompts, const at::Tensor& prompt_mask,
                                  const r4j_generate_options& o, const std::vector<uint64_t>* row_seeds) {
  const int64_t B = prompts.size(0), P = prompts.size(1), N = o.max_new_tokens;
  const bool greedy = o.temperature <= 0;
  const double temperature = greedy ? 1.0 : o.temperature;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  auto dev = prompts.device();
  auto long_opts = at::TensorOptions().device(dev).dtype(at::kLong);
  // The batch a decoding step runs: the original rows `rows` (all B, or with
  // live_rows_only the ones still generating), in order.
  std::vector<int64_t> rows(B);
  for (int64_t b = 0; b < B; ++b) rows[b] = b;
  // The uniforms [L, 1] that decoding step t inverts the CDFs at for those rows:
  // each row's own, whatever the batch it is drawn in (the batch generator
  // still draws all B per step, so a row's uniform does not depend on the others).
  auto step_uniforms = [&](int64_t t) {
    if (row_seeds != nullptr) {
      std::vector<uint64_t> seeds;
      for (int64_t b : rows) seeds.push_back((*row_seeds)[b]);
      return row_uniforms(seeds, t, dev);
    }
    auto u = uniforms(B, gen, dev);
    return static_cast<int64_t>(rows.size()) == B ? u : u.index_select(0, at::tensor(rows, long_opts));
  };

  PackedWeights packing;  // every decoding step multiplies the same weights
  auto key_mask = at::zeros({B, P + N}, long_opts.dtype(at::kBool));  // [L, P+N]
  key_mask.narrow(1, 0, P).copy_(prompt_mask);

  auto tokens = at::full({B, N}, o.pad_token_id, long_opts);  // response tokens
  auto logprobs = at::zeros({B, N}, long_opts.dtype(at::kFloat));
  auto values = at::zeros({B, N}, long_opts.dtype(at::kFloat));
  auto alive = at::ones({B}, long_opts.dtype(at::kBool));    // still generating
  auto ended = at::zeros({B}, long_opts.dtype(at::kBool));   // stopped by EOS/stop
  auto lengths = at::zeros({B}, long_opts);
  at::Tensor forced;  // [B]: the benchmark's forced lengths, undefined when off
  {
    std::lock_guard<std::mutex> lock(forced_mutex);
    if (!forced_lengths.empty()) {
      std::vector<int64_t> f(B);
      for (int64_t b = 0; b < B; ++b) f[b] = forced_lengths[b % forced_lengths.size()];
      forced = at::tensor(f, long_opts);
    }
  }

  // Prefill: the whole prompt at once; only its last state feeds the heads.
  // Rows sharing a prompt (a group's samples) prefill it once. On the CPU its
  // keys and values become the rows' shared prefix (the decoding kernel reads it
  // once per head for the whole group); elsewhere each row gets a copy.
  auto positions = positions_from_mask(prompt_mask);                        // [B, P]
  std::vector<int64_t> firsts, owner_index(B);
  if (shared_prefill) {
    auto owner = prompt_owners(prompts, prompt_mask);
    for (int64_t b = 0; b < B; ++b) {
      if (owner[b] == b) firsts.push_back(b);
      owner_index[b] = static_cast<int64_t>(firsts.size()) - 1;
    }
  }
  KVCache cache;
  at::Tensor h;
  if (shared_prefill && static_cast<int64_t>(firsts.size()) < B) {
    auto distinct = at::tensor(firsts, long_opts), expand = at::tensor(owner_index, long_opts);
    const bool prefix_block = dev.is_cpu();
    cache = prefix_block ? model.new_cache(distinct.size(0), P) : new_decoding_cache(model, distinct.size(0), P, N);
    h = model.hidden(prompts.index_select(0, distinct), positions.index_select(0, distinct),
                     key_mask.narrow(1, 0, P).index_select(0, distinct), &cache);
    h = h.narrow(1, P - 1, 1).index_select(0, expand);
    if (prefix_block) {
      KVCache rows = new_decoding_cache(model, B, 0, N);
      rows.prefix = {std::move(cache.k), std::move(cache.v), expand.to(at::kCPU), P};
      rows.length = P;
      cache = std::move(rows);
    } else {
      cache.select_rows(expand);
    }
  } else {
    cache = new_decoding_cache(model, B, P, N);
    h = model.hidden(prompts, positions, key_mask.narrow(1, 0, P), &cache).narrow(1, P - 1, 1);
  }
  auto state = h.squeeze(1);                                                // [L, d]
  auto next_pos = positions.narrow(1, P - 1, 1).add(1);                     // [L, 1]

  int64_t produced = 0;
  for (int64_t t = 0; t < N; ++t) {
    auto index = at::tensor(rows, long_opts);                               // [L]
    auto live = alive.index_select(0, index);                               // [L]
    auto logits = model.lm_logits(state);                                   // [L, V] float32
    at::Tensor token, logp;                                                 // [L], [L]
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
    token = at::where(live, token, at::full_like(token, o.pad_token_id));
    tokens.select(1, t).index_copy_(0, index, token);
    // copy_ converted a float64 model's values to the float32 fields; index_copy_ does not.
    logprobs.select(1, t).index_copy_(0, index, at::where(live, logp, at::zeros_like(logp)).to(at::kFloat));
    if (o.with_values) {
      auto v = model.value(state);
      values.select(1, t).index_copy_(0, index, at::where(live, v, at::zeros_like(v)).to(at::kFloat));
    }
    lengths.index_add_(0, index, live.to(at::kLong));
    produced = t + 1;
    auto stop = at::zeros_like(live);
    if (o.eos_token_id >= 0) stop = stop.logical_or(token == o.eos_token_id);
    if (o.stop_token_id >= 0) stop = stop.logical_or(token == o.stop_token_id);
    if (forced.defined()) stop = stop.logical_or(forced.index_select(0, index) == t + 1);
    stop = stop.logical_and(live);
    ended.index_copy_(0, index, ended.index_select(0, index).logical_or(stop));
    live = live.logical_and(stop.logical_not());
    alive.index_copy_(0, index, live);
    if (t + 1 == N || !live.any().item<bool>()) break;

    // The finished rows leave the batch. Above kFewRowsMax rows a new row count
    // repacks oneDNN's weight layout, so there the batch shrinks by quarters.
    const int64_t now = static_cast<int64_t>(rows.size()), left = live.sum().item<int64_t>();
    if (live_rows_only && left < now && (now <= kFewRowsMax || 4 * left <= 3 * now)) {
      auto keep = live.nonzero().squeeze(1);
      auto kept = index.index_select(0, keep).to(at::kCPU);
      rows.assign(kept.data_ptr<int64_t>(), kept.data_ptr<int64_t>() + kept.numel());
      cache.select_rows(keep);
      key_mask = key_mask.index_select(0, keep);
      token = token.index_select(0, keep);
      next_pos = next_pos.index_select(0, keep);
    }
    key_mask.select(1, P + t).fill_(true);  // finished rows kept in the batch feed padding nobody reads
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
  const bool half = model.config().dtype == R4J_DTYPE_BF16 || model.config().dtype == R4J_DTYPE_F16;
  if (half && !o.keep_decoding_logprobs) rescore(model, *r, temperature, o);
  return r;
}

}  // namespace r4j
