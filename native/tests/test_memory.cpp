// Memory habits against their plain twins: chunked log-probs and entropy
// (values and gradients) against the full-logits path, and activation
// checkpointing against a plain backward (bitwise, dropout on).
#include <ATen/ATen.h>

#include <limits>
#include <string>
#include <vector>

#include "chunked_logprobs.hpp"
#include "core_helpers.hpp"
#include "ppo/ppo.hpp"
#include "scoring.hpp"
#include "simd.hpp"
#include "softmax_rows.hpp"
#include "linear.hpp"
#include "supervised.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

void set_chunk(Model& m, int64_t chunk) {
  auto o = m.memory();
  o.logits_chunk = chunk;
  m.set_memory(o);
}

void set_checkpointing(Model& m, bool on) {
  auto o = m.memory();
  o.gradient_checkpointing = on ? 1 : 0;
  m.set_memory(o);
}

void zero_grads(Model& m) {
  for (auto& [n, t] : m.named_parameters()) t.mutable_grad() = at::Tensor();
}

std::vector<at::Tensor> grads(Model& m) {
  std::vector<at::Tensor> out;
  for (auto& [n, t] : m.named_parameters()) out.push_back(t.grad().defined() ? t.grad().clone() : at::Tensor());
  return out;
}

struct HeadRun {
  at::Tensor logprobs, entropy, grad_h, grad_w;
};

// loss = sum(a * logp) + sum(b * entropy) through the head at the given chunk.
HeadRun run_head(Model& m, const at::Tensor& h0, const at::Tensor& targets, int64_t chunk, bool entropy_grad) {
  zero_grads(m);
  auto h = h0.clone().requires_grad_(true);
  auto s = head_logprobs(m, h, targets, 0.7, true, entropy_grad, chunk);
  at::manual_seed(11);
  auto a = at::randn(targets.sizes(), s.logprobs.options());
  auto b = at::randn(targets.sizes(), s.logprobs.options());
  auto loss = (a * s.logprobs).sum() + (entropy_grad ? (b * s.entropy).sum() : at::zeros({}, a.options()));
  loss.backward();
  return {s.logprobs.detach(), s.entropy.detach(), h.grad(), m.lm_head_weight().grad().clone()};
}

// Four sampled responses of 6 tokens (one cut to 4), scored, with rewards and advantages.
std::unique_ptr<Rollout> sampled_for_loss(Model& m, const r4j_ppo_options& o) {
  at::NoGradGuard g;
  auto go = gen_options(6, 3);
  go.with_values = 1;
  auto r = generate(m, random_tokens(4, 5, 48, 3), at::ones({4, 5}, at::kBool), go);
  r->response_mask[2].narrow(0, 4, 2).fill_(false);
  r->field(R4J_FIELD_REF_LOGPROBS) = r->field(R4J_FIELD_OLD_LOGPROBS) * 0.9;
  r->field(R4J_FIELD_SCORES) = at::randn({4});
  compute_rewards(*r, o, algo_defaults(), 0.1, 0.0, 1.0);
  compute_advantages(*r, o, algo_defaults(), nullptr);
  return r;
}

}  // namespace

TEST(ChunkedLogprobs, ValuesAndGradientsEqualTheFullLogitsPath) {
  for (auto c : {tiny_gpt2(), tiny_llama()}) {
    auto m = make(c, R4J_DTYPE_F64);
    at::manual_seed(5);
    auto h = at::randn({3, 7, c.n_embd}, at::kDouble);
    auto targets = random_tokens(3, 7, c.vocab_size, 6);
    for (bool entropy_grad : {false, true}) {
      auto full = run_head(*m, h, targets, 0, entropy_grad);
      for (int64_t chunk : {1, 4, 21, 64}) {  // one row, a ragged last chunk, exactly the rows, more than the rows
        auto got = run_head(*m, h, targets, chunk, entropy_grad);
        const std::string at_chunk = "chunk " + std::to_string(chunk) + " entropy_grad " + std::to_string(entropy_grad);
        EXPECT_LT(max_abs_diff(got.logprobs, full.logprobs), 1e-10) << at_chunk;
        EXPECT_LT(max_abs_diff(got.entropy, full.entropy), 1e-10) << at_chunk;
        EXPECT_LT(max_abs_diff(got.grad_h, full.grad_h), 1e-10) << at_chunk;
        EXPECT_LT(max_abs_diff(got.grad_w, full.grad_w), 1e-10) << at_chunk;
        EXPECT_FALSE(got.entropy.requires_grad());
      }
    }
  }
}

TEST(ChunkedLogprobs, Float32WithinTolerance) {
  auto m = make(tiny_gpt2());
  at::manual_seed(7);
  auto h = at::randn({4, 9, 16});
  auto targets = random_tokens(4, 9, 48, 8);
  auto full = run_head(*m, h, targets, 0, true);
  auto got = run_head(*m, h, targets, 5, true);
  EXPECT_LT(max_abs_diff(got.logprobs, full.logprobs), 1e-5);
  EXPECT_LT(max_abs_diff(got.entropy, full.entropy), 1e-5);
  EXPECT_LT(max_abs_diff(got.grad_h, full.grad_h), 1e-5);
  EXPECT_LT(max_abs_diff(got.grad_w, full.grad_w), 1e-5);
}

// The training losses through the whole model: every parameter's gradient.
TEST(ChunkedLogprobs, LmLossAndPpoLossGradientsEqualUnchunked) {
  auto c = tiny_gpt2();
  c.value_head = 1;
  auto m = make(c, R4J_DTYPE_F64);
  auto tokens = random_tokens(2, 9, 48, 2);
  auto mask = at::ones({2, 9}, at::kBool);
  mask[1].narrow(0, 6, 3).fill_(false);
  r4j_ppo_options o;
  r4j_ppo_options_defaults(&o);
  o.ent_coef = 0.05;
  o.temperature = 0.8;
  auto r = sampled_for_loss(*m, o);
  auto rows = at::arange(4, at::kLong);
  auto losses = [&](int64_t chunk) {
    set_chunk(*m, chunk);
    zero_grads(*m);
    auto l = lm_loss(*m, tokens, mask, mask);
    l.backward();
    auto lm = grads(*m);
    zero_grads(*m);
    auto st = accumulate_loss(*m, nullptr, *r, rows, o, algo_defaults(), 1.0, nullptr);
    return std::make_tuple(l.item<double>(), lm, st, grads(*m));
  };
  auto [l0, g0, s0, p0] = losses(0);
  auto [l1, g1, s1, p1] = losses(3);
  EXPECT_NEAR(l0, l1, 1e-12);
  EXPECT_NEAR(s0.loss_total, s1.loss_total, 1e-12);
  EXPECT_NEAR(s0.entropy, s1.entropy, 1e-12);
  for (size_t i = 0; i < g0.size(); ++i) {
    const auto& name = m->named_parameters()[i].first;
    if (g0[i].defined()) EXPECT_LT(max_abs_diff(g0[i], g1[i]), 1e-10) << "lm_loss " << name;
    if (p0[i].defined()) EXPECT_LT(max_abs_diff(p0[i], p1[i]), 1e-10) << "ppo " << name;
  }
}

// The PPO loss lets the chunked head form its gradients in forward (no chunk's
// logits computed twice); recomputing in backward is the twin. Every policy-loss
// setting that is token by token takes the forward path; GSPO's sequence ratio
// does not offer it; SFT's loss takes it when told its scale; and a loss that
// tells the head other gradients than those backward receives gets the recomputed ones.
TEST(ChunkedLogprobs, GradientsFormedInForwardEqualTheRecomputedOnes) {
  auto c = tiny_gpt2();
  c.value_head = 1;
  auto m = make(c, R4J_DTYPE_F64);
  r4j_ppo_options o;
  r4j_ppo_options_defaults(&o);
  o.clip_ratio = 1;
  o.temperature = 0.8;
  auto r = sampled_for_loss(*m, o);
  {  // ratios away from 1 so that clipping takes part
    auto& old = r->field(R4J_FIELD_OLD_LOGPROBS);
    old = old + 0.3 * at::sin(at::arange(old.numel()).view(old.sizes()));
  }
  set_chunk(*m, 4);
  auto rows = at::arange(4, at::kLong);
  auto run = [&](const r4j_ppo_options& po, const r4j_algo_options& a, bool in_forward) {
    set_head_gradient_in_forward(in_forward);
    zero_grads(*m);
    const int64_t before = head_gradients_from_forward();
    auto st = accumulate_loss(*m, nullptr, *r, rows, po, a, 0.7, nullptr);
    set_head_gradient_in_forward(true);
    return std::make_tuple(st.loss_total, grads(*m), head_gradients_from_forward() - before);
  };
  struct Case {
    const char* name;
    double ent_coef;
    int32_t kl_in, agg, is;
    int64_t from_forward;
  };
  for (const Case& k : {Case{"ppo", 0.0, R4J_KL_IN_REWARD, R4J_LOSS_TOKEN_MEAN, R4J_IS_TOKEN, 1},
                        Case{"entropy bonus", 0.05, R4J_KL_IN_REWARD, R4J_LOSS_TOKEN_MEAN, R4J_IS_TOKEN, 1},
                        Case{"kl in loss, seq-mean", 0.05, R4J_KL_IN_LOSS, R4J_LOSS_SEQ_MEAN_TOKEN_MEAN, R4J_IS_TOKEN, 1},
                        Case{"gspo", 0.0, R4J_KL_IN_REWARD, R4J_LOSS_TOKEN_MEAN, R4J_IS_SEQUENCE, 0}}) {
    auto po = o;
    po.ent_coef = k.ent_coef;
    auto a = algo_defaults();
    a.kl_in = k.kl_in;
    a.kl_loss_coef = 0.1;
    a.kl_loss_estimator = R4J_KL_LOSS_K3;
    a.loss_agg = k.agg;
    a.importance_sampling = k.is;
    auto [l_fwd, g_fwd, n_fwd] = run(po, a, true);
    auto [l_bwd, g_bwd, n_bwd] = run(po, a, false);
    EXPECT_EQ(n_fwd, k.from_forward) << k.name;
    EXPECT_EQ(n_bwd, 0) << k.name;
    EXPECT_EQ(l_fwd, l_bwd) << k.name;
    for (size_t i = 0; i < g_fwd.size(); ++i) {
      ASSERT_EQ(g_fwd[i].defined(), g_bwd[i].defined()) << k.name << " " << m->named_parameters()[i].first;
      if (g_fwd[i].defined())
        EXPECT_LT(max_abs_diff(g_fwd[i], g_bwd[i]), 1e-12) << k.name << " " << m->named_parameters()[i].first;
    }
  }

  // SFT's loss, told the scale its caller differentiates it with.
  auto tokens = random_tokens(3, 9, 48, 2);
  auto tmask = at::ones({3, 9}, at::kBool);
  tmask[1].narrow(0, 6, 3).fill_(false);
  auto sft = [&](double told_scale) {
    zero_grads(*m);
    const int64_t before = head_gradients_from_forward();
    (lm_loss(*m, tokens, tmask, tmask, told_scale) * 0.7).backward();
    return std::make_pair(grads(*m), head_gradients_from_forward() - before);
  };
  auto [sft_told, n_told] = sft(0.7);
  auto [sft_plain, n_plain_sft] = sft(0.0);
  EXPECT_EQ(n_told, 1);
  EXPECT_EQ(n_plain_sft, 0);
  for (size_t i = 0; i < sft_told.size(); ++i)
    if (sft_told[i].defined()) EXPECT_LT(max_abs_diff(sft_told[i], sft_plain[i]), 1e-12) << "sft " << i;

  // A loss whose told gradients are not the received ones: twice the real one.
  at::manual_seed(5);
  auto h = at::randn({3, 7, c.n_embd}, at::kDouble);
  auto targets = random_tokens(3, 7, c.vocab_size, 6);
  auto a = at::randn({3, 7}, at::kDouble);
  auto head_run = [&](const HeadLoss& told) {
    zero_grads(*m);
    auto hr = h.clone().requires_grad_(true);
    const int64_t before = head_gradients_from_forward();
    auto s = head_logprobs(*m, hr, targets, 1.0, false, false, 4, told);
    (a * s.logprobs).sum().backward();
    return std::make_tuple(hr.grad(), m->lm_head_weight().grad().clone(), head_gradients_from_forward() - before);
  };
  auto [h_plain, w_plain, n_plain] = head_run({});
  auto [h_true, w_true, n_true] = head_run([&](const at::Tensor& lp, const at::Tensor&) { return (a * lp).sum(); });
  auto [h_off, w_off, n_off] = head_run([&](const at::Tensor& lp, const at::Tensor&) { return (2 * a * lp).sum(); });
  EXPECT_EQ(n_plain, 0);
  EXPECT_EQ(n_true, 1);
  EXPECT_EQ(n_off, 0);
  EXPECT_LT(max_abs_diff(h_true, h_plain), 1e-12);
  EXPECT_LT(max_abs_diff(w_true, w_plain), 1e-12);
  EXPECT_TRUE(at::equal(h_off, h_plain));
  EXPECT_TRUE(at::equal(w_off, w_plain));
}

// The row kernels against ATen's log_softmax, on every kernel this CPU runs: a
// vocabulary that is no multiple of the vector width, a row far from zero, and a
// row with filtered-out (-inf) tokens.
TEST(SoftmaxRows, EveryKernelGivesAtenLogSoftmaxEntropyAndGradient) {
  const auto kernels = elementwise_isas_here();
  at::manual_seed(17);
  auto z = at::randn({5, 1003}) * 4;
  z[1].add_(80);
  z[2].narrow(0, 500, 100).fill_(-std::numeric_limits<float>::infinity());
  auto targets = at::randint(0, 500, {5}, at::kLong);
  auto g = at::randn({5});
  auto logp = at::log_softmax(z, -1);
  auto p = logp.exp();
  auto want_logprobs = logp.gather(1, targets.unsqueeze(1)).squeeze(1);
  auto want_entropy = -at::where(p > 0, p * logp, at::zeros_like(p)).sum(-1);
  auto want_grad = g.unsqueeze(1) * (at::zeros_like(z).scatter_(1, targets.unsqueeze(1), 1.0) - p);
  for (const char* kernel : kernels) {
    simd::pin_elementwise_isa(kernel);
    auto got = row_log_softmax(z, targets, true);
    EXPECT_LT(max_abs_diff(got.logprobs, want_logprobs), 1e-5) << kernel;
    EXPECT_LT(max_abs_diff(got.entropy, want_entropy), 1e-5) << kernel;
    auto gz = z.clone();
    log_softmax_grad_(gz, targets, g);
    EXPECT_LT(max_abs_diff(gz, want_grad), 1e-6) << kernel;
  }
  simd::pin_elementwise_isa(nullptr);
}

// bf16 logits: each kernel widens a row into its buffer, so its log-probs and entropy
// are bitwise those of the widened logits, and its gradient that of the widened
// logits rounded once (the twin: a float32 copy, then .to(bf16)).
TEST(SoftmaxRows, Bf16LogitsGiveTheWidenedLogitsBitsOnEveryKernel) {
  at::manual_seed(18);
  auto z32 = at::randn({6, 1003}) * 4;
  z32[1].add_(80);
  z32[2].narrow(0, 500, 100).fill_(-std::numeric_limits<float>::infinity());
  auto z = z32.to(at::kBFloat16);
  auto targets = at::randint(0, 500, {6}, at::kLong);
  auto g = at::randn({6});
  for (const char* kernel : elementwise_isas_here()) {
    simd::pin_elementwise_isa(kernel);
    auto widened = z.to(at::kFloat);
    auto want = row_log_softmax(widened, targets, true);
    auto got = row_log_softmax(z, targets, true);
    EXPECT_EQ(got.logprobs.scalar_type(), at::kFloat) << kernel;
    EXPECT_TRUE(at::equal(got.logprobs, want.logprobs)) << kernel;
    EXPECT_TRUE(at::equal(got.entropy, want.entropy)) << kernel;
    log_softmax_grad_(widened, targets, g);
    auto gz = z.clone();
    log_softmax_grad_(gz, targets, g);
    EXPECT_TRUE(at::equal(gz, widened.to(at::kBFloat16))) << kernel;
  }
  simd::pin_elementwise_isa(nullptr);
  set_bf16_softmax_rows(false);
  EXPECT_FALSE(softmax_rows_applies(z));
  set_bf16_softmax_rows(true);
}

// The learning phase's head in float32 takes the row kernels; ATen's formulas are their twin.
TEST(ChunkedLogprobs, Float32RowKernelsGiveTheAtenFormulasValuesAndGradients) {
  auto m = make(tiny_gpt2());
  at::manual_seed(19);
  auto h = at::randn({4, 9, 16});
  auto targets = random_tokens(4, 9, 48, 20);
  for (bool entropy_grad : {false, true}) {
    auto fast = run_head(*m, h, targets, 5, entropy_grad);
    set_fast_softmax_rows(false);
    auto slow = run_head(*m, h, targets, 5, entropy_grad);
    set_fast_softmax_rows(true);
    const std::string where = "entropy_grad " + std::to_string(entropy_grad);
    EXPECT_LT(max_abs_diff(fast.logprobs, slow.logprobs), 1e-5) << where;
    EXPECT_LT(max_abs_diff(fast.entropy, slow.entropy), 1e-5) << where;
    EXPECT_LT(max_abs_diff(fast.grad_h, slow.grad_h), 1e-5) << where;
    EXPECT_LT(max_abs_diff(fast.grad_w, slow.grad_w), 1e-5) << where;
  }
  auto fast = ref_scores(*m, h, nullptr, {}, targets, 0.9);
  set_fast_softmax_rows(false);
  auto slow = ref_scores(*m, h, nullptr, {}, targets, 0.9);
  set_fast_softmax_rows(true);
  EXPECT_LT(max_abs_diff(fast.ref_logprobs, slow.ref_logprobs), 1e-5);
}

// Backward starts with the logits forward kept of the last chunk; recomputing every
// chunk is its twin, and the same products give the same bits. A second backward
// over a retained graph recomputes them: the kept buffer became the first's gradient.
TEST(ChunkedLogprobs, KeptLastChunkGivesTheRecomputedGradientsBitwise) {
  auto m = make(tiny_gpt2());
  at::manual_seed(23);
  auto h = at::randn({4, 9, 16});
  auto targets = random_tokens(4, 9, 48, 21);
  for (int64_t chunk : {5, 12, 36, 64}) {  // a partial last chunk, whole chunks, one chunk, fewer rows than a chunk
    for (bool entropy_grad : {false, true}) {
      auto kept = run_head(*m, h, targets, chunk, entropy_grad);
      set_keep_last_logits(false);
      auto recomputed = run_head(*m, h, targets, chunk, entropy_grad);
      set_keep_last_logits(true);
      const std::string where = "chunk " + std::to_string(chunk) + " entropy_grad " + std::to_string(entropy_grad);
      EXPECT_TRUE(at::equal(kept.grad_h, recomputed.grad_h)) << where;
      EXPECT_TRUE(at::equal(kept.grad_w, recomputed.grad_w)) << where;
      EXPECT_LT(max_abs_diff(kept.grad_w, run_head(*m, h, targets, 0, entropy_grad).grad_w), 1e-5) << where;
    }
  }
  zero_grads(*m);
  auto hr = h.clone().requires_grad_(true);
  auto loss = head_logprobs(*m, hr, targets, 0.7, false, false, 5).logprobs.sum();
  loss.backward({}, /*retain_graph=*/true);
  auto once = hr.grad().clone();
  loss.backward();
  EXPECT_TRUE(at::equal(hr.grad(), 2 * once));
}

TEST(ChunkedLogprobs, ReferenceLogprobsAndFullKlEqualUnchunked) {
  auto ref = make(tiny_llama(), R4J_DTYPE_F64);
  auto c = tiny_llama();
  c.seed = 9;
  auto pol = make(c, R4J_DTYPE_F64);
  at::manual_seed(1);
  auto hr = at::randn({2, 5, 16}, at::kDouble), hp = at::randn({2, 5, 16}, at::kDouble);
  auto targets = random_tokens(2, 5, 48, 4);
  set_chunk(*ref, 0);
  auto full = ref_scores(*ref, hr, pol.get(), hp, targets, 0.9);
  set_chunk(*ref, 3);
  auto got = ref_scores(*ref, hr, pol.get(), hp, targets, 0.9);
  EXPECT_LT(max_abs_diff(got.ref_logprobs, full.ref_logprobs), 1e-12);
  EXPECT_LT(max_abs_diff(got.full_kl, full.full_kl), 1e-12);
  EXPECT_GT(full.full_kl.min().item<double>(), 0.0);  // two different models: KL > 0 everywhere
}

// Dropout on, so the recomputation must replay the forward's masks.
TEST(GradientCheckpointing, GradientsAreBitwiseThoseOfThePlainPass) {
  for (auto c : {tiny_gpt2(), tiny_llama(), tiny_qwen3()}) {
    c.dropout = 0.2;
    auto m = make(c);
    m->set_training(true);
    auto tokens = random_tokens(3, 10, 48, 4);
    auto mask = at::ones({3, 10}, at::kBool);
    mask[2].narrow(0, 0, 3).fill_(false);
    auto run = [&](bool checkpointing) {
      set_checkpointing(*m, checkpointing);
      zero_grads(*m);
      at::manual_seed(42);
      auto l = lm_loss(*m, tokens, mask, mask);
      l.backward();
      auto after = at::rand({4});  // the generator continues where it would without checkpointing
      return std::make_tuple(l.item<double>(), grads(*m), after);
    };
    auto [l0, g0, a0] = run(false);
    auto [l1, g1, a1] = run(true);
    EXPECT_EQ(l0, l1);
    EXPECT_TRUE(at::equal(a0, a1));
    auto [l2, g2, a2] = run(false);  // dropout really draws: another seed would differ, this one repeats
    EXPECT_EQ(l0, l2);
    for (size_t i = 0; i < g0.size(); ++i) {
      const auto& name = m->named_parameters()[i].first;
      ASSERT_TRUE(g1[i].defined()) << name;
      EXPECT_TRUE(at::equal(g0[i], g1[i])) << name << " differs by " << max_abs_diff(g0[i], g1[i]);
    }
    m->set_training(false);
    at::manual_seed(42);
    EXPECT_NE(lm_loss(*m, tokens, mask, mask).item<double>(), l0);  // dropout was on
  }
}

// Frozen embeddings (as under LoRA): the blocks' weights still get their gradients.
TEST(GradientCheckpointing, BlocksBehindFrozenEmbeddingsStillLearn) {
  auto m = make(tiny_gpt2());
  for (const char* name : {"transformer.wte.weight", "transformer.wpe.weight"}) m->find(name).requires_grad_(false);
  auto tokens = random_tokens(2, 8, 48, 5);
  auto mask = at::ones({2, 8}, at::kBool);
  auto run = [&](bool checkpointing) {
    set_checkpointing(*m, checkpointing);
    zero_grads(*m);
    lm_loss(*m, tokens, mask, mask).backward();
    return m->find("transformer.h.0.attn.c_attn.weight").grad();
  };
  auto plain = run(false);
  auto ckpt = run(true);
  ASSERT_TRUE(ckpt.defined());
  EXPECT_TRUE(at::equal(plain, ckpt));
}

TEST(MemoryOptions, RejectsBadValues) {
  auto m = make(tiny_gpt2());
  auto o = m->memory();
  o.logits_chunk = -1;
  EXPECT_THROW(m->set_memory(o), std::exception);
  o.logits_chunk = 8;
  o.gradient_checkpointing = 2;
  EXPECT_THROW(m->set_memory(o), std::exception);
  EXPECT_EQ(m->memory().logits_chunk, 256);
}

namespace {

r4j_lora_options lora(int64_t r, double alpha, bool rslora = false) {
  auto o = default_lora_options();
  o.r = r;
  o.alpha = alpha;
  o.use_rslora = rslora ? 1 : 0;
  o.seed = 4;
  return o;
}

// Adapters that change the output: B is zero at init.
void randomize_b(Model& m) {
  at::NoGradGuard g;
  at::manual_seed(8);
  for (auto& [name, t] : m.named_parameters())
    if (name.find("lora_B") != std::string::npos) t.normal_(0, 0.2);
}

at::Tensor logits(Model& m, const at::Tensor& tokens) {
  at::NoGradGuard g;
  auto mask = at::ones(tokens.sizes(), at::kBool);
  return m.lm_logits(m.hidden(tokens, positions_from_mask(mask), mask, nullptr));
}

}  // namespace

TEST(Lora, AdaptedForwardEqualsTheMergedModelAndDisabledEqualsTheBase) {
  for (auto c : {tiny_gpt2(), tiny_llama(), tiny_qwen3()}) {
    for (bool rslora : {false, true}) {
      auto m = make(c, R4J_DTYPE_F64);
      auto tokens = random_tokens(2, 7, 48, 1);
      auto base = logits(*m, tokens);
      m->add_lora(lora(4, 8.0, rslora));
      EXPECT_TRUE(at::equal(logits(*m, tokens), base));  // B = 0: a new adapter changes nothing
      randomize_b(*m);
      auto adapted = logits(*m, tokens);
      EXPECT_GT(max_abs_diff(adapted, base), 1e-3);
      m->set_adapters_enabled(false);
      EXPECT_TRUE(at::equal(logits(*m, tokens), base));
      m->set_adapters_enabled(true);
      m->merge_lora();
      EXPECT_FALSE(m->has_lora());
      EXPECT_LT(max_abs_diff(logits(*m, tokens), adapted), 1e-10);
      for (auto& [name, t] : m->named_parameters()) EXPECT_EQ(name.find("lora_"), std::string::npos) << name;
    }
  }
}

TEST(Lora, ScaleIsAlphaOverROrOverSqrtROnOneProjection) {
  auto c = tiny_llama();
  auto m = make(c, R4J_DTYPE_F64);
  auto o = lora(4, 2.0);
  o.target_modules = R4J_LORA_V_PROJ;
  for (bool rslora : {false, true}) {
    auto net = make(c, R4J_DTYPE_F64);
    o.use_rslora = rslora;
    auto w = net->find("model.layers.1.self_attn.v_proj.weight").clone();
    net->add_lora(o);
    randomize_b(*net);
    auto A = net->find("base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight");
    auto B = net->find("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight");
    ASSERT_TRUE(A.defined() && B.defined());
    EXPECT_EQ(A.sizes(), (at::IntArrayRef{4, 16}));                     // [r, in]
    EXPECT_EQ(B.sizes(), (at::IntArrayRef{c.n_kv_head * 16 / c.n_head, 4}));  // [out, r]
    EXPECT_FALSE(net->find("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight").defined());
    auto expected = w + B.matmul(A).detach() * (rslora ? 2.0 / 2.0 : 2.0 / 4.0);
    net->merge_lora();
    EXPECT_LT(max_abs_diff(net->find("model.layers.1.self_attn.v_proj.weight"), expected), 1e-12);
  }
}

TEST(Lora, OnlyAdaptersAndHeadsTrain) {
  auto c = tiny_gpt2();
  c.value_head = 1;
  auto m = make(c);
  m->add_lora(lora(2, 4.0));
  randomize_b(*m);
  int64_t adapters = 0;
  for (auto& [name, t] : m->named_parameters()) {
    const bool trains = name.rfind("base_model.model.", 0) == 0 || name.rfind("v_head.", 0) == 0;
    EXPECT_EQ(t.requires_grad(), trains) << name;
    adapters += name.find("lora_") != std::string::npos;
  }
  EXPECT_EQ(adapters, 2 * 4 * c.n_layer);
  auto tokens = random_tokens(2, 6, 48, 3);
  auto mask = at::ones({2, 6}, at::kBool);
  for (bool ckpt : {false, true}) {
    set_checkpointing(*m, ckpt);
    zero_grads(*m);
    lm_loss(*m, tokens, mask, mask).backward();
    EXPECT_FALSE(m->find("transformer.wte.weight").grad().defined());
    EXPECT_FALSE(m->find("transformer.h.0.attn.c_attn.weight").grad().defined());
    auto ga = m->find("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight").grad();
    ASSERT_TRUE(ga.defined()) << "checkpointing " << ckpt;
    EXPECT_GT(ga.abs().max().item<double>(), 0.0);
  }
}

// Adapters on frozen bases, with and without checkpointing: the products that
// record gradients (oneDNN's) give ATen's loss and gradients.
TEST(Lora, FastProductsGiveTheAtenGradients) {
  for (auto c : {tiny_llama(), tiny_gpt2()}) {
    auto m = make(c);
    m->add_lora(lora(8, 16.0));
    randomize_b(*m);
    auto tokens = random_tokens(2, 6, 48, 3);
    auto mask = at::ones({2, 6}, at::kBool);
    auto run = [&] {
      zero_grads(*m);
      auto l = lm_loss(*m, tokens, mask, mask);
      l.backward();
      return std::make_pair(l.item<double>(), grads(*m));
    };
    for (bool ckpt : {false, true}) {
      set_checkpointing(*m, ckpt);
      auto [loss_fast, fast] = run();
      set_fast_linear(false);
      auto [loss_slow, slow] = run();
      set_fast_linear(true);
      EXPECT_NEAR(loss_fast, loss_slow, 1e-5);
      for (size_t i = 0; i < fast.size(); ++i) {
        const std::string where = m->named_parameters()[i].first + " checkpointing " + std::to_string(ckpt);
        ASSERT_EQ(fast[i].defined(), slow[i].defined()) << where;
        if (fast[i].defined()) EXPECT_LT(max_abs_diff(fast[i], slow[i]), 1e-5) << where;
      }
    }
  }
}
