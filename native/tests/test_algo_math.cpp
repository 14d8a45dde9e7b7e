// The estimators beyond GAE (GRPO, RLOO, REINFORCE++) against slow, obvious
// per-group loops; zero-variance groups; the KL-in-loss estimators by finite
// differences; loss aggregation across micro-batches; clipping variants; DAPO's
// shaping; the on-policy ratio.
#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "core_helpers.hpp"
#include "errors.hpp"
#include "generate.hpp"
#include "ppo/ppo.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

r4j_ppo_options ppo_defaults() {
  r4j_ppo_options o;
  r4j_ppo_options_defaults(&o);
  return o;
}

r4j_algo_options algo(int32_t estimator) {
  auto a = algo_defaults();
  a.estimator = estimator;
  return a;
}

std::vector<double> to_vector(const at::Tensor& t) {
  auto c = t.to(at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// B = 12 samples in 3 groups of 4 whose rows interleave (group = b % 3), R = 4,
// lengths 1..4. Group 2's scores are all 0.5 and its KL is 0: a zero-variance group.
Rollout grouped() {
  const int64_t B = 12, R = 4;
  Rollout r;
  r.query_tokens = at::full({B, 2}, 5, at::kLong);
  r.query_mask = at::ones({B, 2}, at::kBool);
  r.response_tokens = at::full({B, R}, 7, at::kLong);
  std::vector<int64_t> m;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < R; ++t) m.push_back(t < 1 + b % R ? 1 : 0);
  r.response_mask = bools(m, {B, R});
  r.ended = at::ones({B}, at::kBool);
  at::manual_seed(11);
  auto old_lp = -at::rand({B, R}) * 2;
  auto ref_lp = old_lp + at::randn({B, R}) * 0.3;
  auto scores = at::randn({B});
  for (int64_t b = 2; b < B; b += 3) {
    ref_lp[b].copy_(old_lp[b]);
    scores[b] = 0.5f;
  }
  r.field(R4J_FIELD_OLD_LOGPROBS) = old_lp;
  r.field(R4J_FIELD_REF_LOGPROBS) = ref_lp;
  r.field(R4J_FIELD_SCORES) = scores;
  r.field(R4J_FIELD_GROUP_ID) = at::arange(B, at::kFloat).remainder(3);
  return r;
}

// The slow twin of the sequence reward: sum_t rewards[b, t] over the response, in plain loops.
std::vector<double> seq_rewards(Rollout& r) {
  auto rewards = to_vector(r.field(R4J_FIELD_REWARDS));
  auto mask = to_vector(r.response_mask.to(at::kFloat));
  const int64_t B = r.batch(), R = r.response_len();
  std::vector<double> out(B, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < R; ++t) out[b] += rewards[b * R + t] * mask[b * R + t];
  return out;
}

std::map<int64_t, std::vector<int64_t>> members(Rollout& r) {
  auto ids = to_vector(r.field(R4J_FIELD_GROUP_ID));
  std::map<int64_t, std::vector<int64_t>> g;
  for (size_t b = 0; b < ids.size(); ++b) g[static_cast<int64_t>(ids[b])].push_back(static_cast<int64_t>(b));
  return g;
}

double mean_of(const std::vector<double>& x, const std::vector<int64_t>& rows) {
  double s = 0;
  for (auto b : rows) s += x[b];
  return s / rows.size();
}

double std_of(const std::vector<double>& x, const std::vector<int64_t>& rows) {
  const double m = mean_of(x, rows);
  double s = 0;
  for (auto b : rows) s += (x[b] - m) * (x[b] - m);
  return std::sqrt(s / (rows.size() - 1));
}

bool all_equal(const std::vector<double>& x, const std::vector<int64_t>& rows) {
  for (auto b : rows)
    if (x[b] != x[rows[0]]) return false;
  return true;
}

// Every response token of sample b carries expected[b]; padding carries 0.
void expect_sequence_level(Rollout& r, const std::vector<double>& expected, double tol = 1e-5) {
  auto adv = to_vector(r.field(R4J_FIELD_ADVANTAGES));
  auto mask = to_vector(r.response_mask.to(at::kFloat));
  const int64_t R = r.response_len();
  for (int64_t b = 0; b < r.batch(); ++b)
    for (int64_t t = 0; t < R; ++t)
      EXPECT_NEAR(adv[b * R + t], mask[b * R + t] * expected[b], tol) << "sample " << b << " token " << t;
}

}  // namespace

TEST(AlgoMath, GrpoMatchesPerGroupLoopsForEveryScaling) {
  for (int32_t scale : {R4J_SCALE_GROUP, R4J_SCALE_BATCH, R4J_SCALE_NONE}) {
    auto r = grouped();
    auto o = ppo_defaults();
    auto a = algo(R4J_ESTIMATOR_GRPO);
    a.scale_rewards = scale;
    compute_rewards(r, o, a, /*kl_coef=*/0.1, 0, 1);  // KL in the reward: part of the sequence reward
    r4j_group_stats gs{};
    auto st = compute_advantages(r, o, a, &gs);
    EXPECT_EQ(st.non_finite, 0);
    EXPECT_EQ(gs.groups, 3);
    EXPECT_EQ(gs.zero_variance_groups, 1);

    auto x = seq_rewards(r);
    std::vector<int64_t> all(x.size());
    for (size_t b = 0; b < all.size(); ++b) all[b] = static_cast<int64_t>(b);
    std::vector<double> expected(x.size());
    for (auto& [id, rows] : members(r)) {
      for (auto b : rows) {
        double centered = x[b] - mean_of(x, rows);
        double divisor = scale == R4J_SCALE_GROUP ? std_of(x, rows) + 1e-4
                         : scale == R4J_SCALE_BATCH ? std_of(x, all) + 1e-4 : 1.0;
        expected[b] = all_equal(x, rows) ? 0.0 : centered / divisor;
      }
    }
    expect_sequence_level(r, expected, 1e-4);
    EXPECT_TRUE(at::equal(r.field(R4J_FIELD_RETURNS), r.field(R4J_FIELD_ADVANTAGES)));
  }
}

TEST(AlgoMath, RlooMatchesLeaveOneOutLoops) {
  auto r = grouped();
  auto o = ppo_defaults();
  auto a = algo(R4J_ESTIMATOR_RLOO);
  compute_rewards(r, o, a, 0.05, 0, 1);
  compute_advantages(r, o, a, nullptr);
  auto x = seq_rewards(r);
  std::vector<double> expected(x.size());
  for (auto& [id, rows] : members(r)) {
    for (auto b : rows) {
      double others = 0;
      for (auto j : rows)
        if (j != b) others += x[j];
      expected[b] = x[b] - others / (rows.size() - 1);
    }
  }
  expect_sequence_level(r, expected);
}

TEST(AlgoMath, RlooRejectsGroupsOfOne) {
  auto r = grouped();
  r.field(R4J_FIELD_GROUP_ID) = at::arange(12, at::kFloat);
  auto o = ppo_defaults();
  auto a = algo(R4J_ESTIMATOR_RLOO);
  compute_rewards(r, o, a, 0.05, 0, 1);
  EXPECT_THROW(compute_advantages(r, o, a, nullptr), Error);
}

TEST(AlgoMath, GroupEstimatorsNeedGroupIds) {
  auto r = grouped();
  r.floats.erase(R4J_FIELD_GROUP_ID);
  auto o = ppo_defaults();
  auto a = algo(R4J_ESTIMATOR_GRPO);
  compute_rewards(r, o, a, 0, 0, 1);
  EXPECT_THROW(compute_advantages(r, o, a, nullptr), Error);
}

// The dispatch tables have no default row: a value no row is keyed by is an
// error naming it, even where validation did not run first.
TEST(AlgoMath, UnknownEstimatorAndPolicyLossAreErrorsNamingTheValue) {
  auto r = grouped();
  auto o = ppo_defaults();
  auto a = algo(R4J_ESTIMATOR_GAE);
  compute_rewards(r, o, a, 0.1, 0, 1);
  a.estimator = 42;
  try {
    compute_advantages(r, o, a, nullptr);
    FAIL() << "estimator 42 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown advantage estimator 42"), std::string::npos) << e.what();
  }
  a = algo(R4J_ESTIMATOR_GAE);
  a.importance_sampling = 9;
  auto lp = at::zeros({2, 3});
  try {
    policy_loss_tokens(lp, lp, lp, at::ones({2, 3}), o, a);
    FAIL() << "importance_sampling 9 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown importance_sampling 9"), std::string::npos) << e.what();
  }
  EXPECT_THROW(aggregate_loss(lp, at::ones({2, 3}), 17, 0), Error);
  EXPECT_THROW(kl_loss_tokens(lp, lp, 17), Error);
}

TEST(AlgoMath, ReinforcePlusPlusMatchesRewardToGoAndWhiteningLoops) {
  for (int32_t estimator : {R4J_ESTIMATOR_REINFORCE_PP, R4J_ESTIMATOR_REINFORCE_PP_BASELINE}) {
    auto r = grouped();
    auto o = ppo_defaults();
    o.gamma = 0.9;
    auto a = algo(estimator);
    compute_rewards(r, o, a, 0.1, 0, 1);
    compute_advantages(r, o, a, nullptr);

    const int64_t B = r.batch(), R = r.response_len();
    auto rewards = to_vector(r.field(R4J_FIELD_REWARDS));
    auto mask = to_vector(r.response_mask.to(at::kFloat));
    auto score = to_vector(r.field(R4J_FIELD_SCORES_SHAPED));
    if (estimator == R4J_ESTIMATOR_REINFORCE_PP_BASELINE) {
      for (auto& [id, rows] : members(r)) {
        const double baseline = mean_of(score, rows);
        for (auto b : rows) {
          int64_t last = 0;
          for (int64_t t = 0; t < R; ++t)
            if (mask[b * R + t] > 0) last = t;
          rewards[b * R + last] -= baseline;
        }
      }
    }
    std::vector<double> returns(B * R, 0.0);
    double sum = 0, n = 0;
    for (int64_t b = 0; b < B; ++b) {
      double g = 0;
      for (int64_t t = R - 1; t >= 0; --t) {
        g = mask[b * R + t] > 0 ? rewards[b * R + t] + o.gamma * g : 0.0;
        returns[b * R + t] = g;
        sum += g * mask[b * R + t];
        n += mask[b * R + t];
      }
    }
    const double mean = sum / n;
    double var = 0;
    for (int64_t i = 0; i < B * R; ++i) var += mask[i] * (returns[i] - mean) * (returns[i] - mean);
    var /= n - 1;
    auto got_returns = to_vector(r.field(R4J_FIELD_RETURNS));
    auto got_white = to_vector(r.field(R4J_FIELD_ADVANTAGES_WHITENED));
    for (int64_t i = 0; i < B * R; ++i) {
      EXPECT_NEAR(got_returns[i], returns[i], 1e-5) << "token " << i;
      EXPECT_NEAR(got_white[i], mask[i] * (returns[i] - mean) / std::sqrt(var + 1e-8), 1e-4) << "token " << i;
    }
  }
}

TEST(AlgoMath, ZeroVarianceGroupsGiveZeroAdvantagesAndAFiniteLoss) {
  auto m = make(tiny_gpt2());
  auto r = [&] {
    at::NoGradGuard g;
    auto go = gen_options(6, 2);
    go.eos_token_id = 3;
    return generate(*m, random_tokens(8, 4, 48, 2).clamp_min(4), at::ones({8, 4}, at::kBool), go);
  }();
  r->field(R4J_FIELD_REF_LOGPROBS) = r->field(R4J_FIELD_OLD_LOGPROBS).clone();
  r->field(R4J_FIELD_SCORES) = at::full({8}, 1.0f);  // every group constant
  r->field(R4J_FIELD_GROUP_ID) = at::arange(8, at::kFloat).div(4, "floor");
  for (int32_t estimator : {R4J_ESTIMATOR_GRPO, R4J_ESTIMATOR_RLOO, R4J_ESTIMATOR_REINFORCE_PP_BASELINE}) {
    for (int32_t scale : {R4J_SCALE_GROUP, R4J_SCALE_BATCH}) {
      auto o = ppo_defaults();
      o.clip_ratio = 1;
      auto a = algo(estimator);
      a.scale_rewards = scale;
      a.kl_in = R4J_KL_IN_NONE;
      compute_rewards(*r, o, a, 0.1, 0, 1);
      r4j_group_stats gs{};
      auto st = compute_advantages(*r, o, a, &gs);
      EXPECT_EQ(st.non_finite, 0);
      EXPECT_EQ(gs.zero_variance_groups, 2);
      if (estimator != R4J_ESTIMATOR_REINFORCE_PP_BASELINE)
        EXPECT_EQ(r->field(R4J_FIELD_ADVANTAGES_WHITENED).abs().max().item<double>(), 0.0);
      auto ls = accumulate_loss(*m, nullptr, *r, at::arange(8, at::kLong), o, a, 0.0, nullptr);
      EXPECT_EQ(ls.non_finite, 0);
      EXPECT_TRUE(std::isfinite(ls.loss_total));
    }
  }
}

TEST(AlgoMath, K3PlusHasK3sValueAndK2sGradient) {
  auto logp = floats({-1.0f, -0.3f, -2.5f, -0.7f}, {1, 4}).to(at::kDouble);
  auto ref = floats({-1.4f, -0.1f, -2.0f, -0.7f}, {1, 4}).to(at::kDouble);
  auto value = [&](int32_t est, const at::Tensor& lp) { return kl_loss_tokens(lp, ref, est).sum().item<double>(); };
  // value: k3+ equals k3 token by token
  EXPECT_LT(max_abs_diff(kl_loss_tokens(logp, ref, R4J_KL_LOSS_K3_PLUS), kl_loss_tokens(logp, ref, R4J_KL_LOSS_K3)),
            1e-12);
  // gradient: autograd of k3+ equals central finite differences of k2, and differs from k3's
  auto x = logp.clone().requires_grad_(true);
  kl_loss_tokens(x, ref, R4J_KL_LOSS_K3_PLUS).sum().backward();
  const double h = 1e-6;
  for (int64_t t = 0; t < 4; ++t) {
    auto up = logp.clone(), down = logp.clone();
    up[0][t] += h;
    down[0][t] -= h;
    const double k2_fd = (value(R4J_KL_LOSS_K2, up) - value(R4J_KL_LOSS_K2, down)) / (2 * h);
    const double k3_fd = (value(R4J_KL_LOSS_K3, up) - value(R4J_KL_LOSS_K3, down)) / (2 * h);
    EXPECT_NEAR(x.grad()[0][t].item<double>(), k2_fd, 1e-6) << "token " << t;
    if (std::abs(logp[0][t].item<double>() - ref[0][t].item<double>()) > 0.1)
      EXPECT_GT(std::abs(k2_fd - k3_fd), 1e-3) << "token " << t;
  }
  // k1, k2 and k3 are the literature's formulas
  auto d = (logp - ref);
  EXPECT_LT(max_abs_diff(kl_loss_tokens(logp, ref, R4J_KL_LOSS_K1), d), 1e-12);
  EXPECT_LT(max_abs_diff(kl_loss_tokens(logp, ref, R4J_KL_LOSS_K2), 0.5 * d * d), 1e-12);
  EXPECT_LT(max_abs_diff(kl_loss_tokens(logp, ref, R4J_KL_LOSS_K3), at::exp(-d) + d - 1), 1e-12);
}

namespace {

std::vector<at::Tensor> grads(Model& m) {
  std::vector<at::Tensor> out;
  for (auto& [name, p] : m.named_parameters()) {
    out.push_back(p.grad().defined() ? p.grad().clone() : at::zeros_like(p));
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
  return out;
}

double max_diff(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, max_abs_diff(a[i], b[i]));
  return d;
}

double max_abs(const std::vector<at::Tensor>& a) {
  double d = 0;
  for (auto& t : a) d = std::max(d, t.abs().max().item<double>());
  return d;
}

std::unique_ptr<Rollout> grouped_sample(Model& m, int64_t B, uint64_t seed) {
  at::NoGradGuard g;
  auto prompts = random_tokens(B, 4, 48, seed).clamp_min(4);
  auto go = gen_options(8, seed);
  go.eos_token_id = 3;
  auto r = generate(m, prompts, at::ones({B, 4}, at::kBool), go);
  r->field(R4J_FIELD_REF_LOGPROBS) = r->field(R4J_FIELD_OLD_LOGPROBS) * 0.9;
  r->field(R4J_FIELD_SCORES) = at::linspace(-1, 1, B);
  r->field(R4J_FIELD_GROUP_ID) = at::arange(B, at::kFloat).div(4, "floor");
  return r;
}

}  // namespace

// One minibatch of 8 samples in 4 micro-batches of 2, each scaled by its share
// of the minibatch's tokens (token_mean) or samples (seq_mean_*), gives the
// gradient of the whole minibatch in one pass.
TEST(AlgoMath, MicroBatchesScaledByTheirShareEqualOneBatch) {
  auto m = make(tiny_gpt2());
  auto r = grouped_sample(*m, 8, 5);
  auto o = ppo_defaults();
  o.clip_ratio = 1;
  for (int32_t agg : {R4J_LOSS_TOKEN_MEAN, R4J_LOSS_SEQ_MEAN_TOKEN_MEAN, R4J_LOSS_SEQ_MEAN_TOKEN_SUM,
                      R4J_LOSS_SEQ_MEAN_TOKEN_SUM_NORM}) {
    auto a = algo(R4J_ESTIMATOR_GRPO);
    a.loss_agg = agg;
    a.max_new_tokens = 8;
    a.kl_in = R4J_KL_IN_LOSS;
    a.kl_loss_coef = 0.05;
    compute_rewards(*r, o, a, 0, 0, 1);
    compute_advantages(*r, o, a, nullptr);
    // Perturb the old log-probs so ratios differ from 1 and clipping takes part.
    auto saved = r->field(R4J_FIELD_OLD_LOGPROBS).clone();
    r->field(R4J_FIELD_OLD_LOGPROBS) = saved + 0.3 * at::sin(at::arange(saved.numel()).view(saved.sizes()));
    grads(*m);
    accumulate_loss(*m, nullptr, *r, at::arange(8, at::kLong), o, a, 1.0, nullptr);
    auto whole = grads(*m);

    auto lengths = r->response_mask.sum(1);
    const double total_tokens = lengths.sum().item<double>();
    for (int64_t k = 0; k < 4; ++k) {
      auto rows = longs({2 * k, 2 * k + 1}, {2});
      const double share = agg == R4J_LOSS_TOKEN_MEAN ? lengths.index_select(0, rows).sum().item<double>() / total_tokens
                                                      : 2.0 / 8.0;
      accumulate_loss(*m, nullptr, *r, rows, o, a, share, nullptr);
    }
    auto micro = grads(*m);
    r->field(R4J_FIELD_OLD_LOGPROBS) = saved;
    EXPECT_GT(max_abs(whole), 1e-4) << "mode " << agg;
    EXPECT_LT(max_diff(whole, micro), 1e-5 * std::max(1.0, max_abs(whole))) << "mode " << agg;
  }
}

TEST(AlgoMath, AggregationModesAreTheirFormulas) {
  auto losses = floats({1, 2, 3, 4, 5, 6}, {2, 3});
  auto mask = floats({1, 1, 1, 1, 0, 0}, {2, 3});
  EXPECT_NEAR(aggregate_loss(losses, mask, R4J_LOSS_TOKEN_MEAN, 0).item<double>(), 10.0 / 4, 1e-6);
  EXPECT_NEAR(aggregate_loss(losses, mask, R4J_LOSS_SEQ_MEAN_TOKEN_MEAN, 0).item<double>(), (2.0 + 4.0) / 2, 1e-6);
  EXPECT_NEAR(aggregate_loss(losses, mask, R4J_LOSS_SEQ_MEAN_TOKEN_SUM, 0).item<double>(), (6.0 + 4.0) / 2, 1e-6);
  EXPECT_NEAR(aggregate_loss(losses, mask, R4J_LOSS_SEQ_MEAN_TOKEN_SUM_NORM, 8).item<double>(), (6.0 + 4.0) / 2 / 8,
              1e-6);
  EXPECT_EQ(aggregate_loss(losses, at::zeros_like(mask), R4J_LOSS_TOKEN_MEAN, 0).item<double>(), 0.0);
}

// ratio [0.5, 0.9, 1.1, 1.5] against A = +1 and A = -1, cliprange 0.2 / 0.28, dual clip 3.
TEST(AlgoMath, AsymmetricAndDualClipAndSequenceRatio) {
  auto old_lp = at::zeros({2, 4});
  auto logp = at::log(floats({0.5f, 0.9f, 1.1f, 1.5f, 0.5f, 0.9f, 1.1f, 5.0f}, {2, 4}));
  auto adv = floats({1, 1, 1, 1, -1, -1, -1, -1}, {2, 4});
  auto mask = at::ones({2, 4});
  auto o = ppo_defaults();
  o.clip_ratio = 1;
  o.cliprange = 0.2;
  auto a = algo_defaults();
  a.cliprange_high = 0.28;
  auto pg = policy_loss_tokens(logp, old_lp, adv, mask, o, a);
  // A > 0: max(-r, -clip(r, 0.8, 1.28)) = -min(r, clip) -> [-0.5, -0.9, -1.1, -1.28]
  // A < 0: max(r, clip(r, 0.8, 1.28))                    -> [0.8, 0.9, 1.1, 5.0]
  auto expect = floats({-0.5f, -0.9f, -1.1f, -1.28f, 0.8f, 0.9f, 1.1f, 5.0f}, {2, 4});
  EXPECT_LT(max_abs_diff(pg.pg_losses, expect), 1e-6);
  a.dual_clip = 3;
  pg = policy_loss_tokens(logp, old_lp, adv, mask, o, a);
  // dual clip: A < 0 loses at most -A * 3 = 3
  expect = floats({-0.5f, -0.9f, -1.1f, -1.28f, 0.8f, 0.9f, 1.1f, 3.0f}, {2, 4});
  EXPECT_LT(max_abs_diff(pg.pg_losses, expect), 1e-6);
  EXPECT_NEAR(pg.dual_clipped.sum().item<double>(), 1.0, 1e-9);
  // GSPO: one ratio per sequence, exp of the mean log-ratio
  a = algo_defaults();
  a.importance_sampling = R4J_IS_SEQUENCE;
  o.clip_ratio = 0;
  pg = policy_loss_tokens(logp, old_lp, adv, mask, o, a);
  auto seq0 = std::exp((std::log(0.5) + std::log(0.9) + std::log(1.1) + std::log(1.5)) / 4);
  EXPECT_NEAR(pg.ratio[0][0].item<double>(), seq0, 1e-6);
  EXPECT_NEAR(pg.ratio[0][3].item<double>(), seq0, 1e-6);
}

// DAPO: soft overlong punishment on the score, truncated samples out of the loss.
TEST(AlgoMath, OverlongShapingAndTruncationMask) {
  Rollout r;
  r.query_tokens = longs({5, 5, 5}, {3, 1});
  r.query_mask = at::ones({3, 1}, at::kBool);
  r.response_tokens = at::full({3, 8}, 7, at::kLong);
  std::vector<int64_t> m;
  for (int64_t len : {4, 6, 8})
    for (int64_t t = 0; t < 8; ++t) m.push_back(t < len ? 1 : 0);
  r.response_mask = bools(m, {3, 8});
  r.ended = bools({1, 1, 0}, {3});
  r.field(R4J_FIELD_OLD_LOGPROBS) = at::full({3, 8}, -1.0f);
  r.field(R4J_FIELD_REF_LOGPROBS) = at::full({3, 8}, -1.0f);
  r.field(R4J_FIELD_SCORES) = floats({1, 1, 1}, {3});
  auto o = ppo_defaults();
  auto a = algo_defaults();
  a.max_new_tokens = 8;
  a.overlong_buffer_len = 4;
  a.overlong_penalty_factor = 1.0;
  a.mask_truncated = 1;
  compute_rewards(r, o, a, 0, 0, 1);
  // L_max - L_buf = 4: |y| = 4 -> 0; 6 -> -(2/4); 8 -> -(4/4)
  EXPECT_LT(max_abs_diff(r.field(R4J_FIELD_SCORES_SHAPED), floats({1.0f, 0.5f, 0.0f}, {3})), 1e-6);
  auto lm = r.field(R4J_FIELD_LOSS_MASK);
  EXPECT_EQ(lm.sum(1)[0].item<double>(), 4);
  EXPECT_EQ(lm.sum(1)[1].item<double>(), 6);
  EXPECT_EQ(lm.sum(1)[2].item<double>(), 0);
}

// With one optimizer step per rollout, the learner's first pass sees exactly
// the policy that sampled: ratio 1, nothing clipped, for every clip variant.
TEST(AlgoMath, OnPolicyRatioIsOneAndNothingIsClipped) {
  auto m = make(tiny_gpt2());
  auto r = grouped_sample(*m, 8, 9);
  auto o = ppo_defaults();
  o.clip_ratio = 1;
  for (int32_t is : {R4J_IS_TOKEN, R4J_IS_SEQUENCE}) {
    auto a = algo(R4J_ESTIMATOR_GRPO);
    a.importance_sampling = is;
    a.cliprange_low = 0.2;
    a.cliprange_high = 0.28;
    a.dual_clip = 3;
    compute_rewards(*r, o, a, 0, 0, 1);
    compute_advantages(*r, o, a, nullptr);
    r4j_algo_loss_stats as{};
    auto st = accumulate_loss(*m, nullptr, *r, at::arange(8, at::kLong), o, a, 1.0, &as);
    grads(*m);
    EXPECT_NEAR(st.ratio_mean, 1.0, 1e-6);
    EXPECT_LT(st.ratio_var, 1e-10);
    EXPECT_EQ(st.policy_clipfrac, 0.0);
    EXPECT_EQ(as.dual_clipfrac, 0.0);
    EXPECT_EQ(as.n_sequences, 8);
  }
}

// Dynamic sampling's batch assembly: rows picked from two rollouts of different
// prompt and response lengths keep their tokens, masks, flags and fields.
TEST(AlgoMath, GatherRowsKeepsEveryRowIntact) {
  auto m = make(tiny_gpt2());
  auto a = grouped_sample(*m, 4, 1);
  auto b = [&] {
    at::NoGradGuard g;
    auto go = gen_options(5, 2);
    go.eos_token_id = 3;
    return generate(*m, random_tokens(3, 7, 48, 2).clamp_min(4), at::ones({3, 7}, at::kBool), go);
  }();
  b->field(R4J_FIELD_REF_LOGPROBS) = b->field(R4J_FIELD_OLD_LOGPROBS) * 0.5;
  b->field(R4J_FIELD_SCORES) = floats({7, 8, 9}, {3});
  b->field(R4J_FIELD_GROUP_ID) = floats({5, 5, 5}, {3});
  auto g = gather_rows({a.get(), b.get()}, {1, 0, 1}, {2, 3, 0});
  ASSERT_EQ(g.batch(), 3);
  EXPECT_EQ(g.query_len(), 7);
  const std::vector<std::pair<const Rollout*, int64_t>> src = {{b.get(), 2}, {a.get(), 3}, {b.get(), 0}};
  for (int64_t i = 0; i < 3; ++i) {
    const Rollout& s = *src[i].first;
    const int64_t row = src[i].second, p = s.query_len(), r = s.response_len();
    EXPECT_TRUE(at::equal(g.query_tokens[i].narrow(0, 7 - p, p), s.query_tokens[row])) << "row " << i;
    EXPECT_TRUE(at::equal(g.query_mask[i].narrow(0, 7 - p, p), s.query_mask[row])) << "row " << i;
    EXPECT_FALSE(g.query_mask[i].narrow(0, 0, 7 - p).any().item<bool>()) << "row " << i;
    EXPECT_TRUE(at::equal(g.response_mask[i].narrow(0, 0, r), s.response_mask[row])) << "row " << i;
    EXPECT_TRUE(at::equal(g.response_tokens[i].narrow(0, 0, r), s.response_tokens[row])) << "row " << i;
    EXPECT_EQ(g.ended[i].item<bool>(), s.ended[row].item<bool>());
    for (int32_t f : {R4J_FIELD_OLD_LOGPROBS, R4J_FIELD_REF_LOGPROBS})
      EXPECT_TRUE(at::equal(g.floats.at(f)[i].narrow(0, 0, r), s.floats.at(f)[row])) << "field " << f;
    EXPECT_EQ(g.floats.at(R4J_FIELD_SCORES)[i].item<float>(), s.floats.at(R4J_FIELD_SCORES)[row].item<float>());
  }
  EXPECT_THROW(gather_rows({a.get()}, {0}, {4}), Error);
}
