// The PPO formulas on small hand-worked examples (numbers derived by hand in the
// comments), the ratio-is-one check, and masking invariance.
#include <ATen/ATen.h>

#include <cmath>

#include "core_helpers.hpp"
#include "generate.hpp"
#include "ppo/masked.hpp"
#include "ppo/ppo.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

r4j_ppo_options seed_options() {
  r4j_ppo_options o;
  r4j_ppo_options_defaults(&o);
  return o;
}

// Two samples, R = 3; the second response has 2 tokens and no EOS.
//   old_logprobs  [-1.0, -2.0, -0.5] / [-1.5, -0.2, pad]
//   ref_logprobs  [-1.2, -1.5, -0.5] / [-1.0, -0.4, pad]
//   old_values    [ 0.5,  0.2, -0.1] / [ 1.0,  0.3, pad]
//   scores         2.0                / -1.0
Rollout example() {
  Rollout r;
  r.query_tokens = longs({5, 6, 7, 8}, {2, 2});
  r.query_mask = at::ones({2, 2}, at::kBool);
  r.response_tokens = longs({1, 2, 3, 4, 5, 0}, {2, 3});
  r.response_mask = bools({1, 1, 1, 1, 1, 0}, {2, 3});
  r.ended = bools({1, 0}, {2});
  r.field(R4J_FIELD_OLD_LOGPROBS) = floats({-1.0f, -2.0f, -0.5f, -1.5f, -0.2f, 0.0f}, {2, 3});
  r.field(R4J_FIELD_REF_LOGPROBS) = floats({-1.2f, -1.5f, -0.5f, -1.0f, -0.4f, 0.0f}, {2, 3});
  r.field(R4J_FIELD_OLD_VALUES) = floats({0.5f, 0.2f, -0.1f, 1.0f, 0.3f, 0.0f}, {2, 3});
  r.field(R4J_FIELD_SCORES) = floats({2.0f, -1.0f}, {2});
  return r;
}

void expect_close(const at::Tensor& actual, std::vector<float> expected, double tol = 1e-5) {
  auto e = at::tensor(expected, at::kFloat).view(actual.sizes());
  EXPECT_LT(max_abs_diff(actual, e), tol) << "actual:\n" << actual << "\nexpected:\n" << e;
}

}  // namespace

TEST(PpoMath, SeedRewardsReturnsAndAdvantages) {
  auto r = example();
  auto o = seed_options();
  auto s = compute_rewards(r, o, algo_defaults(), /*kl_coef=*/0.1, 0.0, 1.0);
  // k1: KL = old - ref
  expect_close(r.field(R4J_FIELD_KL), {0.2f, -0.5f, 0.0f, -0.5f, 0.2f, 0.0f});
  // rewards = -0.1 * KL, score on the last real token
  expect_close(r.field(R4J_FIELD_REWARDS), {-0.02f, 0.05f, 2.0f, 0.05f, -1.02f, 0.0f});
  EXPECT_NEAR(s.kl, -0.3, 1e-6);                 // (-0.3 + -0.3) / 2
  EXPECT_NEAR(s.non_score_reward, 0.03, 1e-6);   // (0.03 + 0.03) / 2
  EXPECT_NEAR(s.scores, 0.5, 1e-6);
  EXPECT_NEAR(s.rlhf_reward, 0.53, 1e-6);
  EXPECT_NEAR(s.entropy, 2.6, 1e-6);             // (3.5 + 1.7) / 2
  EXPECT_NEAR(s.response_length, 2.5, 1e-6);
  EXPECT_NEAR(s.eos_rate, 0.5, 1e-6);

  auto a = compute_advantages(r, o, algo_defaults(), nullptr);
  // returns[t] = sum_{j>=t} r[j]; advantages = returns - values
  expect_close(r.field(R4J_FIELD_RETURNS), {2.03f, 2.05f, 2.0f, -0.97f, -1.02f, 0.0f});
  expect_close(r.field(R4J_FIELD_ADVANTAGES), {1.53f, 1.85f, 2.1f, -1.97f, -1.32f, 0.0f});
  expect_close(r.field(R4J_FIELD_ADVANTAGES_WHITENED), {1.53f, 1.85f, 2.1f, -1.97f, -1.32f, 0.0f});
  EXPECT_NEAR(a.returns_mean, (2.03 + 2.05 + 2.0 - 0.97 - 1.02) / 5, 1e-6);
  EXPECT_NEAR(a.advantages_mean, (1.53 + 1.85 + 2.1 - 1.97 - 1.32) / 5, 1e-6);
}

TEST(PpoMath, StandardGaeAndWhitening) {
  auto r = example();
  auto o = seed_options();
  o.lam = 0.95;
  o.whiten_advantages = 1;
  compute_rewards(r, o, algo_defaults(), 0.1, 0.0, 1.0);
  compute_advantages(r, o, algo_defaults(), nullptr);
  // row 0: deltas 2.1, -0.25, -0.32 -> A2 = 2.1, A1 = -0.25 + 0.95*2.1 = 1.745,
  //        A0 = -0.32 + 0.95*1.745 = 1.33775
  // row 1: deltas -1.32, -0.65 -> A1 = -1.32, A0 = -0.65 + 0.95*(-1.32) = -1.904
  expect_close(r.field(R4J_FIELD_ADVANTAGES), {1.33775f, 1.745f, 2.1f, -1.904f, -1.32f, 0.0f});
  expect_close(r.field(R4J_FIELD_RETURNS), {1.83775f, 1.945f, 2.0f, -0.904f, -1.02f, 0.0f});
  // whitened over the 5 real tokens: mean 0, unbiased variance 1, padding 0
  auto w = r.field(R4J_FIELD_ADVANTAGES_WHITENED);
  auto mask = r.response_mask.to(at::kFloat);
  EXPECT_NEAR(masked_mean(w, mask).item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(masked_var(w, mask).item<double>(), 1.0, 1e-5);
  EXPECT_EQ(w[1][2].item<float>(), 0.0f);
}

TEST(PpoMath, K3EstimatorIsExpMinusOneMinusLogRatio) {
  auto r = example();
  auto o = seed_options();
  o.kl_estimator = R4J_KL_K3;
  compute_rewards(r, o, algo_defaults(), 0.1, 0.0, 1.0);
  // ref - old = -0.2: e^-0.2 - 1 + 0.2 = 0.0187308; = 0.5: e^0.5 - 1 - 0.5 = 0.1487213
  expect_close(r.field(R4J_FIELD_KL), {0.0187308f, 0.1487213f, 0.0f, 0.1487213f, 0.0187308f, 0.0f});
}

TEST(PpoMath, ScoreNormalisationPenaltyAndClipping) {
  auto r = example();
  auto o = seed_options();
  compute_rewards(r, o, algo_defaults(), 0.0, /*shift=*/0.5, /*scale=*/2.0);
  // (2 - 0.5) / 2 = 0.75, (-1 - 0.5) / 2 = -0.75
  expect_close(r.field(R4J_FIELD_REWARDS), {0, 0, 0.75f, 0, -0.75f, 0});
  o.missing_eos_penalty_on = 1;
  o.missing_eos_penalty = -3.0;
  compute_rewards(r, o, algo_defaults(), 0.0, 0.5, 2.0);
  expect_close(r.field(R4J_FIELD_REWARDS), {0, 0, 0.75f, 0, -3.0f, 0});  // no EOS: replaced
  o.score_clip = 0.6;
  compute_rewards(r, o, algo_defaults(), 0.0, 0.5, 2.0);
  expect_close(r.field(R4J_FIELD_REWARDS), {0, 0, 0.6f, 0, -0.6f, 0});
}

TEST(PpoMath, PolicyLossSeedAndClipped) {
  auto logp = floats({-0.9f, -2.1f, -0.5f, -1.5f, -0.3f, 0.0f}, {2, 3});
  auto old = floats({-1.0f, -2.0f, -0.5f, -1.5f, -0.2f, 0.0f}, {2, 3});
  auto adv = floats({1.0f, -2.0f, 0.5f, -1.0f, 3.0f, 7.0f}, {2, 3});  // 7.0 sits on padding
  auto mask = floats({1, 1, 1, 1, 1, 0}, {2, 3});
  auto o = seed_options();
  const auto a = algo_defaults();
  // The loss as accumulate_loss takes it: per-token losses aggregated by PPO's token mean.
  auto loss = [&](const PolicyLossTokens& pg) {
    return aggregate_loss(pg.pg_losses, mask, a.loss_agg, a.max_new_tokens).item<double>();
  };
  // ratios e^0.1, e^-0.1, 1 / 1, e^-0.1: -A*ratio = -1.10517, 1.80967, -0.5, 1.0, -2.71451
  auto seed = policy_loss_tokens(logp, old, adv, mask, o, a);
  EXPECT_NEAR(loss(seed), -1.510008336 / 5, 1e-6);
  EXPECT_EQ(masked_mean(seed.clipped, mask).item<double>(), 0.0);
  o.clip_ratio = 1;
  o.cliprange = 0.05;
  // clipped ratios 1.05, 0.95, 1 / 1, 0.95: max(-A*r, -A*clip(r)) = -1.05, 1.9, -0.5, 1.0, -2.71451
  auto clipped = policy_loss_tokens(logp, old, adv, mask, o, a);
  EXPECT_NEAR(loss(clipped), -1.364512254 / 5, 1e-6);
  EXPECT_NEAR(masked_mean(clipped.clipped, mask).item<double>(), 0.4, 1e-6);
}

TEST(PpoMath, ValueLossSeedAndClipped) {
  auto values = floats({0.6f, 0.0f, 0.3f, 0.8f, 0.5f, 9.0f}, {2, 3});
  auto old = floats({0.5f, 0.2f, -0.1f, 1.0f, 0.3f, 0.0f}, {2, 3});
  auto returns = floats({1.0f, 0.5f, 0.2f, 0.5f, 0.4f, 0.0f}, {2, 3});
  auto mask = floats({1, 1, 1, 1, 1, 0}, {2, 3});
  auto o = seed_options();
  // (V - R)^2 = 0.16, 0.25, 0.01, 0.09, 0.01
  auto seed = value_loss(values, old, returns, mask, o);
  EXPECT_NEAR(seed.loss.item<double>(), 0.52 / 5, 1e-6);
  o.clip_value = 1;
  o.cliprange_value = 0.1;
  // clipped V = 0.6, 0.1, 0.0, 0.9, 0.4: squared errors 0.16, 0.16, 0.04, 0.16, 0.0; max with the above
  auto clipped = value_loss(values, old, returns, mask, o);
  EXPECT_NEAR(clipped.loss.item<double>(), 0.62 / 5, 1e-6);
  EXPECT_NEAR(clipped.clipfrac.item<double>(), 0.4, 1e-6);
}

namespace {

std::unique_ptr<Rollout> sampled(Model& m, uint64_t seed) {
  at::NoGradGuard g;
  auto prompts = random_tokens(6, 5, 48, seed).clamp_min(4);
  auto pmask = at::ones({6, 5}, at::kBool);
  pmask[2].narrow(0, 0, 3).fill_(false);
  pmask[4].narrow(0, 0, 1).fill_(false);
  auto go = gen_options(8, seed);
  go.eos_token_id = 3;
  go.with_values = 1;
  auto r = generate(m, prompts, pmask, go);
  r->field(R4J_FIELD_REF_LOGPROBS) = r->field(R4J_FIELD_OLD_LOGPROBS) * 0.9;
  r->field(R4J_FIELD_SCORES) = at::linspace(-1, 1, 6);
  return r;
}

}  // namespace

TEST(PpoMath, RatioIsOneAtTheFirstMinibatch) {
  auto c = tiny_gpt2();
  c.value_head = 1;
  auto m = make(c);
  auto r = sampled(*m, 3);
  auto o = seed_options();
  compute_rewards(*r, o, algo_defaults(), 0.1, 0, 1);
  compute_advantages(*r, o, algo_defaults(), nullptr);
  // Minibatches that crop differently: all rows, then rows whose prompts are all long.
  for (auto rows : {at::arange(6, at::kLong), longs({0, 1}, {2}), longs({4, 2}, {2})}) {
    auto st = accumulate_loss(*m, nullptr, *r, rows, o, algo_defaults(), 0.0, nullptr);
    EXPECT_NEAR(st.ratio_mean, 1.0, 1e-6);
    EXPECT_LT(st.ratio_var, 1e-10);
    EXPECT_LT(st.approxkl, 1e-10);
  }
}

TEST(PpoMath, PaddingAndTokensAfterEosChangeNothing) {
  auto c = tiny_gpt2();
  c.value_head = 1;
  auto m = make(c);
  auto a = sampled(*m, 4);
  // b: the same samples with two extra response columns, and garbage in every
  // masked position (tokens after EOS, log-probs, values).
  Rollout b = *a;
  const int64_t R = a->response_len();
  auto junk_tokens = random_tokens(6, R + 2, 48, 5);
  auto mask2 = at::cat({a->response_mask, at::zeros({6, 2}, at::kBool)}, 1);
  b.response_tokens = at::where(mask2, at::cat({a->response_tokens, at::zeros({6, 2}, at::kLong)}, 1), junk_tokens);
  b.response_mask = mask2;
  b.floats.clear();
  for (int32_t f : {R4J_FIELD_OLD_LOGPROBS, R4J_FIELD_OLD_VALUES, R4J_FIELD_REF_LOGPROBS}) {
    auto padded = at::cat({a->field(f), at::zeros({6, 2})}, 1);
    b.field(f) = at::where(mask2, padded, at::full_like(padded, 123.0f));
  }
  b.field(R4J_FIELD_SCORES) = a->field(R4J_FIELD_SCORES).clone();
  const auto ppo = algo_defaults();
  for (bool standard : {false, true}) {
    auto o = seed_options();
    if (standard) {
      o.lam = 0.95;
      o.whiten_advantages = o.clip_ratio = o.clip_value = 1;
    }
    auto ra = compute_rewards(*a, o, ppo, 0.1, 0, 1), rb = compute_rewards(b, o, ppo, 0.1, 0, 1);
    EXPECT_NEAR(ra.kl, rb.kl, 1e-6);
    EXPECT_NEAR(ra.rlhf_reward, rb.rlhf_reward, 1e-6);
    EXPECT_NEAR(ra.entropy, rb.entropy, 1e-5);
    EXPECT_NEAR(ra.response_length, rb.response_length, 1e-9);
    auto aa = compute_advantages(*a, o, ppo, nullptr), ab = compute_advantages(b, o, ppo, nullptr);
    EXPECT_NEAR(aa.returns_mean, ab.returns_mean, 1e-6);
    EXPECT_NEAR(aa.returns_var, ab.returns_var, 1e-6);
    EXPECT_NEAR(aa.var_explained, ab.var_explained, 1e-6);
    EXPECT_LT(max_abs_diff(a->field(R4J_FIELD_ADVANTAGES_WHITENED),
                           b.field(R4J_FIELD_ADVANTAGES_WHITENED).narrow(1, 0, R)), 1e-6);
    auto rows = at::arange(6, at::kLong);
    auto la = accumulate_loss(*m, nullptr, *a, rows, o, ppo, 0.0, nullptr);
    auto lb = accumulate_loss(*m, nullptr, b, rows, o, ppo, 0.0, nullptr);
    EXPECT_NEAR(la.loss_total, lb.loss_total, 1e-6);
    EXPECT_NEAR(la.entropy, lb.entropy, 1e-6);
    EXPECT_NEAR(la.vpred, lb.vpred, 1e-6);
    EXPECT_EQ(la.n_tokens, lb.n_tokens);
  }
}
