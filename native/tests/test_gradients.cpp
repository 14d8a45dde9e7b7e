// Backward passes against central finite differences in float64, and the seed
// actor loss's gradient against autograd of the plain formula.
#include <ATen/ATen.h>

#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core_helpers.hpp"
#include "chunked_logprobs.hpp"
#include "generate.hpp"
#include "ppo/ppo.hpp"
#include "scoring.hpp"
#include "supervised.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

void perturb(Model& m, uint64_t seed) {
  at::NoGradGuard g;
  at::manual_seed(seed);
  for (auto& [name, t] : m.named_parameters()) t.add_(at::randn_like(t) * 0.1);
}

void zero_grads(Model& m) {
  for (auto& [n, t] : m.named_parameters())
    if (t.grad().defined()) t.mutable_grad() = at::Tensor();
}

// Checks d loss / d theta at a few entries of each named parameter against
// (L(theta + h) - L(theta - h)) / 2h. loss() returns the value and leaves
// gradients accumulated when called with grad mode on.
void check_against_finite_differences(Model& m, const std::function<double()>& loss,
                                      const std::vector<std::string>& names) {
  zero_grads(m);
  loss();  // fills .grad()
  const double h = 1e-6;
  for (const auto& name : names) {
    auto p = m.find(name);
    ASSERT_TRUE(p.defined()) << name;
    ASSERT_TRUE(p.grad().defined()) << name << " received no gradient";
    auto grad = p.grad().clone();
    auto flat = p.view({-1});
    for (int64_t i : {int64_t{0}, flat.numel() / 2, flat.numel() - 1}) {
      double plus, minus;
      {
        at::NoGradGuard g;
        const double v = flat[i].item<double>();
        flat[i] = v + h;
        plus = loss();
        flat[i] = v - h;
        minus = loss();
        flat[i] = v;
      }
      const double numeric = (plus - minus) / (2 * h);
      const double analytic = grad.view({-1})[i].item<double>();
      EXPECT_NEAR(analytic, numeric, 1e-7 + 1e-5 * std::abs(numeric)) << name << "[" << i << "]";
    }
  }
  zero_grads(m);
}

std::vector<std::string> gpt2_names() {
  return {"transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.ln_1.weight",
          "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_attn.bias",
          "transformer.h.1.attn.c_proj.weight", "transformer.h.1.mlp.c_fc.bias", "transformer.h.1.mlp.c_proj.weight",
          "transformer.ln_f.bias"};
}

std::vector<std::string> llama_names() {
  return {"model.embed_tokens.weight", "model.layers.0.input_layernorm.weight",
          "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.bias",
          "model.layers.1.self_attn.v_proj.weight", "model.layers.1.self_attn.o_proj.weight",
          "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight",
          "lm_head.weight"};
}

// The per-head norms, and the tied embedding that is also the LM head.
std::vector<std::string> qwen3_names() {
  return {"model.embed_tokens.weight", "model.layers.0.self_attn.q_norm.weight",
          "model.layers.1.self_attn.k_norm.weight", "model.layers.0.self_attn.q_proj.weight",
          "model.layers.1.self_attn.o_proj.weight"};
}

// A rollout from the model itself with rewards and advantages computed.
std::unique_ptr<Rollout> rollout_with_advantages(Model& m, const r4j_ppo_options& o, uint64_t seed) {
  at::NoGradGuard g;
  auto prompts = random_tokens(4, 5, m.config().vocab_size, seed).clamp_min(1);
  auto pmask = at::ones({4, 5}, at::kBool);
  pmask[1].narrow(0, 0, 2).fill_(false);
  auto go = gen_options(6, seed);
  go.eos_token_id = 3;
  go.with_values = 1;
  auto r = generate(m, prompts, pmask, go);
  at::manual_seed(seed);
  r->field(R4J_FIELD_REF_LOGPROBS) = r->field(R4J_FIELD_OLD_LOGPROBS) + at::randn({4, r->response_len()}) * 0.1;
  r->field(R4J_FIELD_SCORES) = at::randn({4});
  compute_rewards(*r, o, algo_defaults(), 0.1, 0.0, 1.0);
  compute_advantages(*r, o, algo_defaults(), nullptr);
  return r;
}

}  // namespace

TEST(Gradients, LmLossMatchesFiniteDifferences) {
  for (auto c : {tiny_gpt2(), tiny_llama(), tiny_qwen3()}) {
    auto m = make(c, R4J_DTYPE_F64);
    perturb(*m, 1);
    auto tokens = random_tokens(2, 6, 48, 2);
    auto mask = at::ones({2, 6}, at::kBool);
    mask[1].narrow(0, 4, 2).fill_(false);  // right padding
    auto loss = [&] {
      auto l = lm_loss(*m, tokens, mask, mask);
      if (at::GradMode::is_enabled()) l.backward();
      return l.item<double>();
    };
    check_against_finite_differences(*m, loss, c.arch == R4J_ARCH_GPT2 ? gpt2_names()
                                               : c.qk_norm                ? qwen3_names()
                                                                          : llama_names());
  }
}

TEST(Gradients, RewardModelLossMatchesFiniteDifferences) {
  auto c = tiny_gpt2();
  c.reward_head = 1;
  auto m = make(c, R4J_DTYPE_F64);
  perturb(*m, 3);
  auto chosen = random_tokens(3, 5, 48, 4), rejected = random_tokens(3, 5, 48, 5);
  auto mask = at::ones({3, 5}, at::kBool);
  mask[2].narrow(0, 0, 2).fill_(false);  // left padding
  auto loss = [&] {
    auto l = rm_loss(*m, chosen, mask, rejected, mask).loss;
    if (at::GradMode::is_enabled()) l.backward();
    return l.item<double>();
  };
  auto names = gpt2_names();
  names.push_back("score.weight");
  check_against_finite_differences(*m, loss, names);
}

TEST(Gradients, PpoLossMatchesFiniteDifferences) {
  r4j_ppo_options o;
  r4j_ppo_options_defaults(&o);
  o.clip_ratio = 1;
  o.clip_value = 1;
  o.whiten_advantages = 1;
  o.lam = 0.95;
  o.ent_coef = 0.01;
  auto c = tiny_gpt2();
  c.value_head = 1;
  auto m = make(c, R4J_DTYPE_F64);
  perturb(*m, 6);
  auto r = rollout_with_advantages(*m, o, 7);
  {  // move the policy off the rollout so ratios differ from 1
    at::NoGradGuard g;
    for (auto& [n, t] : m->named_parameters()) t.add_(at::randn_like(t) * 0.01);
  }
  auto rows = at::arange(4, at::kLong);
  auto loss = [&] {
    const double scale = at::GradMode::is_enabled() ? 1.0 : 0.0;
    auto st = accumulate_loss(*m, nullptr, *r, rows, o, algo_defaults(), scale, nullptr);
    return st.loss_total;
  };
  auto names = gpt2_names();
  names.push_back("v_head.summary.weight");
  names.push_back("v_head.summary.bias");
  check_against_finite_differences(*m, loss, names);
}

TEST(Gradients, SeedActorGradientAtRatioOneIsMinusAdvantageTimesGradLogp) {
  r4j_ppo_options o;
  r4j_ppo_options_defaults(&o);  // the seed preset
  o.vf_coef = 0;                 // isolate the actor
  auto c = tiny_gpt2();
  c.value_head = 1;
  auto m = make(c);
  perturb(*m, 8);
  auto r = rollout_with_advantages(*m, o, 9);
  auto rows = at::arange(4, at::kLong);
  auto st = accumulate_loss(*m, nullptr, *r, rows, o, algo_defaults(), 1.0, nullptr);
  EXPECT_NEAR(st.ratio_mean, 1.0, 1e-6);
  std::vector<at::Tensor> ppo_grads;
  for (auto& [n, t] : m->named_parameters()) ppo_grads.push_back(t.grad().defined() ? t.grad().clone() : at::Tensor());
  zero_grads(*m);

  // The plain formula: -sum(A * logp) / n_tokens, by autograd.
  auto s = score_tokens(*m, r->tokens(), r->mask(), r->query_len(), r->response_len(), ScoreRequest{});
  auto mask = r->response_mask.to(at::kFloat);
  auto plain = -(r->field(R4J_FIELD_ADVANTAGES_WHITENED) * s.logprobs * mask).sum() / mask.sum();
  plain.backward();
  size_t i = 0;
  int compared = 0;
  for (auto& [n, t] : m->named_parameters()) {
    auto& g = ppo_grads[i++];
    if (n.rfind("v_head", 0) == 0) continue;  // vf_coef 0: the critic gets nothing
    ASSERT_TRUE(g.defined() && t.grad().defined()) << n;
    const double scale = t.grad().abs().max().item<double>();
    EXPECT_LT(max_abs_diff(g, t.grad()), 1e-4 * scale + 1e-8) << n;
    ++compared;
  }
  EXPECT_GT(compared, 20);
}

// Inside a HeadInLoss scope the tied embedding's lookup gradient is sparse and autograd
// adds it into the head's dense one: the parameter's .grad is dense and equals the
// gradient of the same loss taken with a dense lookup (outside the scope), also when a
// token occurs several times.
TEST(Gradients, TiedEmbeddingSparseLookupGradientEqualsTheDenseOne) {
  auto llama_tied = tiny_llama();
  llama_tied.tie_word_embeddings = 1;
  for (auto c : {tiny_gpt2(), llama_tied}) {
    auto m = make(c, R4J_DTYPE_F64);
    perturb(*m, 3);
    auto tokens = random_tokens(2, 6, 8, 4);  // a vocabulary slice of 8: repeated tokens
    auto mask = at::ones({2, 6}, at::kBool);
    const auto& table = m->lm_head_weight();
    auto lm_grad = [&](bool in_scope) {
      zero_grads(*m);
      std::optional<Model::HeadInLoss> scope;
      if (in_scope) scope.emplace(*m);
      auto h = m->hidden(tokens, positions_from_mask(mask), mask, nullptr).narrow(1, 0, 5);
      head_logprobs(*m, h, tokens.narrow(1, 1, 5), 1.0, false, false).logprobs.sum().backward();
      return table.grad().clone();
    };
    auto dense = lm_grad(false);
    auto sparse = lm_grad(true);
    EXPECT_FALSE(sparse.is_sparse());
    EXPECT_LT(max_abs_diff(sparse, dense), 1e-12) << c.arch;
    // The lookup's own gradient, without the head, shows which path each side took.
    for (bool in_scope : {false, true}) {
      zero_grads(*m);
      std::optional<Model::HeadInLoss> scope;
      if (in_scope) scope.emplace(*m);
      m->hidden(tokens, positions_from_mask(mask), mask, nullptr).sum().backward();
      EXPECT_EQ(table.grad().is_sparse(), in_scope) << c.arch;
    }
  }
}
