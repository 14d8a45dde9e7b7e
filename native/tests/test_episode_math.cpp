// Multi-turn episodes: observation tokens inside a response (ACTION_MASK 0)
// must count as if they were not there. The slow twin is the same episode with
// its observation tokens cut out: every estimator must give the action tokens
// the same rewards, returns and advantages, and the observation tokens none.
#include <ATen/ATen.h>

#include <vector>

#include "core_helpers.hpp"
#include "errors.hpp"
#include "ppo/ppo.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

// Names unlike other test files': the sanitizer preset builds them as one unity translation unit.
constexpr int64_t kB = 3, kR = 8;

// Row 0: A A O O O A A _, row 1: A O A A A _ _ _, row 2: eight action tokens
// (A = action, O = observation, _ = padding).
const std::vector<int64_t> kResponse = {1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
const std::vector<float> kActions = {1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};

r4j_ppo_options episode_options() {
  r4j_ppo_options o;
  r4j_ppo_options_defaults(&o);
  o.gamma = 0.9;
  o.lam = 0.8;
  return o;
}

r4j_algo_options episode_algo(int32_t estimator) {
  auto a = algo_defaults();
  a.estimator = estimator;
  return a;
}

Rollout episode() {
  Rollout r;
  r.query_tokens = at::full({kB, 2}, 5, at::kLong);
  r.query_mask = at::ones({kB, 2}, at::kBool);
  r.response_tokens = at::full({kB, kR}, 7, at::kLong);
  r.response_mask = bools(kResponse, {kB, kR});
  r.ended = at::ones({kB}, at::kBool);
  at::manual_seed(5);
  auto mask = r.response_mask.to(at::kFloat);
  auto old_lp = -at::rand({kB, kR}) * 2 * mask;
  r.field(R4J_FIELD_OLD_LOGPROBS) = old_lp;
  r.field(R4J_FIELD_REF_LOGPROBS) = (old_lp + at::randn({kB, kR}) * 0.3) * mask;
  r.field(R4J_FIELD_OLD_VALUES) = at::randn({kB, kR}) * mask;
  r.field(R4J_FIELD_SCORES) = floats({0.5f, -1.0f, 2.0f}, {kB});
  r.field(R4J_FIELD_GROUP_ID) = at::zeros({kB});
  r.field(R4J_FIELD_ACTION_MASK) = floats(kActions, {kB, kR});
  // What observation tokens hold must not matter: garbage there.
  auto observation = mask * (1 - r.field(R4J_FIELD_ACTION_MASK));
  for (int32_t f : {R4J_FIELD_OLD_LOGPROBS, R4J_FIELD_REF_LOGPROBS, R4J_FIELD_OLD_VALUES})
    r.field(f) = r.field(f) + 50 * observation;
  return r;
}

// The episode with its observation tokens cut out: a plain single-turn rollout.
Rollout without_observations(const Rollout& e) {
  auto actions = e.floats.at(R4J_FIELD_ACTION_MASK) * e.response_mask.to(at::kFloat);
  Rollout r;
  r.query_tokens = e.query_tokens;
  r.query_mask = e.query_mask;
  r.response_tokens = at::full({kB, kR}, 7, at::kLong);
  r.response_mask = at::zeros({kB, kR}, at::kBool);
  r.ended = e.ended;
  for (int32_t f : {R4J_FIELD_OLD_LOGPROBS, R4J_FIELD_REF_LOGPROBS, R4J_FIELD_OLD_VALUES}) r.field(f);
  for (int64_t b = 0; b < kB; ++b) {
    int64_t k = 0;
    for (int64_t t = 0; t < kR; ++t) {
      if (actions[b][t].item<float>() == 0) continue;
      r.response_mask[b][k] = true;
      for (int32_t f : {R4J_FIELD_OLD_LOGPROBS, R4J_FIELD_REF_LOGPROBS, R4J_FIELD_OLD_VALUES})
        r.field(f)[b][k] = e.floats.at(f)[b][t];
      ++k;
    }
  }
  r.field(R4J_FIELD_SCORES) = e.floats.at(R4J_FIELD_SCORES).clone();
  r.field(R4J_FIELD_GROUP_ID) = e.floats.at(R4J_FIELD_GROUP_ID).clone();
  return r;
}

// Field f of the episode at its action tokens, in order, as the compact rollout lays them out.
at::Tensor compacted(const Rollout& e, int32_t f) {
  auto actions = e.floats.at(R4J_FIELD_ACTION_MASK) * e.response_mask.to(at::kFloat);
  auto out = at::zeros({kB, kR});
  for (int64_t b = 0; b < kB; ++b) {
    int64_t k = 0;
    for (int64_t t = 0; t < kR; ++t)
      if (actions[b][t].item<float>() != 0) out[b][k++] = e.floats.at(f)[b][t];
  }
  return out;
}

}  // namespace

TEST(EpisodeMath, ObservationTokensCountAsIfCutOut) {
  for (int32_t estimator : {R4J_ESTIMATOR_GAE, R4J_ESTIMATOR_GRPO, R4J_ESTIMATOR_RLOO, R4J_ESTIMATOR_REINFORCE_PP,
                            R4J_ESTIMATOR_REINFORCE_PP_BASELINE}) {
    SCOPED_TRACE("estimator " + std::to_string(estimator));
    const auto o = episode_options();
    const auto a = episode_algo(estimator);
    Rollout e = episode();
    Rollout twin = without_observations(e);
    auto es = compute_rewards(e, o, a, 0.1, 0.0, 1.0);
    auto ts = compute_rewards(twin, o, a, 0.1, 0.0, 1.0);
    compute_advantages(e, o, a, nullptr);
    compute_advantages(twin, o, a, nullptr);
    for (int32_t f : {R4J_FIELD_KL, R4J_FIELD_REWARDS, R4J_FIELD_LOSS_MASK, R4J_FIELD_RETURNS, R4J_FIELD_ADVANTAGES,
                      R4J_FIELD_ADVANTAGES_WHITENED}) {
      SCOPED_TRACE("field " + std::to_string(f));
      EXPECT_LT(max_abs_diff(compacted(e, f), twin.field(f)), 1e-5);
      auto observation = e.response_mask.to(at::kFloat) * (1 - e.field(R4J_FIELD_ACTION_MASK));
      EXPECT_EQ((e.field(f) * observation).abs().sum().item<float>(), 0.0f);
    }
    EXPECT_NEAR(es.kl, ts.kl, 1e-5);
    EXPECT_NEAR(es.entropy, ts.entropy, 1e-5);
    EXPECT_NEAR(es.response_length, ts.response_length, 1e-9);
  }
}

TEST(EpisodeMath, AnActionMaskOfOnesChangesNoBit) {
  for (int32_t estimator : {R4J_ESTIMATOR_GAE, R4J_ESTIMATOR_GRPO, R4J_ESTIMATOR_REINFORCE_PP_BASELINE}) {
    const auto o = episode_options();
    const auto a = episode_algo(estimator);
    Rollout plain = episode();
    plain.floats.erase(R4J_FIELD_ACTION_MASK);
    Rollout ones = episode();
    ones.field(R4J_FIELD_ACTION_MASK) = ones.response_mask.to(at::kFloat);
    compute_rewards(plain, o, a, 0.1, 0.0, 1.0);
    compute_rewards(ones, o, a, 0.1, 0.0, 1.0);
    compute_advantages(plain, o, a, nullptr);
    compute_advantages(ones, o, a, nullptr);
    for (int32_t f : {R4J_FIELD_KL, R4J_FIELD_REWARDS, R4J_FIELD_LOSS_MASK, R4J_FIELD_RETURNS, R4J_FIELD_ADVANTAGES,
                      R4J_FIELD_ADVANTAGES_WHITENED})
      EXPECT_TRUE(at::equal(plain.field(f), ones.field(f))) << "estimator " << estimator << ", field " << f;
  }
}

TEST(EpisodeMath, TurnRewardsAddOnActionTokensOnly) {
  const auto o = episode_options();
  const auto a = episode_algo(R4J_ESTIMATOR_GAE);
  Rollout base = episode();
  Rollout turns = episode();
  auto turn_rewards = at::zeros({kB, kR});
  turn_rewards[0][1] = 0.25f;   // the end of row 0's first turn
  turn_rewards[0][3] = 100.0f;  // an observation token: dropped
  turn_rewards[1][0] = -0.5f;
  turns.field(R4J_FIELD_TURN_REWARDS) = turn_rewards;
  compute_rewards(base, o, a, 0.1, 0.0, 1.0);
  auto stats = compute_rewards(turns, o, a, 0.1, 0.0, 1.0);
  auto added = turns.field(R4J_FIELD_REWARDS) - base.field(R4J_FIELD_REWARDS);
  auto expected = at::zeros({kB, kR});
  expected[0][1] = 0.25f;
  expected[1][0] = -0.5f;
  EXPECT_LT(max_abs_diff(added, expected), 1e-6);
  EXPECT_NEAR(stats.rlhf_reward - stats.scores - stats.non_score_reward, (0.25 - 0.5) / kB, 1e-6);
}

TEST(EpisodeMath, TheScoreLandsOnTheLastActionToken) {
  Rollout e = episode();
  auto mask = e.response_mask.to(at::kFloat) * e.field(R4J_FIELD_ACTION_MASK);
  mask[1][4] = 0;  // row 1 now ends in an observation token: A O A A O
  e.field(R4J_FIELD_ACTION_MASK) = mask;
  compute_rewards(e, episode_options(), episode_algo(R4J_ESTIMATOR_GAE), 0.0, 0.0, 1.0);
  auto rewards = e.field(R4J_FIELD_REWARDS);
  EXPECT_FLOAT_EQ(rewards[0][6].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(rewards[1][3].item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(rewards[2][7].item<float>(), 2.0f);
  EXPECT_EQ(rewards.abs().sum().item<float>(), 3.5f);
}

TEST(EpisodeMath, ABadActionMaskIsAnError) {
  const auto o = episode_options();
  const auto a = episode_algo(R4J_ESTIMATOR_GAE);
  Rollout half = episode();
  half.field(R4J_FIELD_ACTION_MASK)[0][0] = 0.5f;
  EXPECT_THROW(compute_rewards(half, o, a, 0.1, 0.0, 1.0), Error);
  Rollout none = episode();
  none.field(R4J_FIELD_ACTION_MASK)[1].zero_();
  EXPECT_THROW(compute_rewards(none, o, a, 0.1, 0.0, 1.0), Error);
}

TEST(EpisodeMath, ReadingAnUnwrittenActionMaskGivesTheResponseMaskAndCreatesNothing) {
  Rollout r = episode();
  r.floats.erase(R4J_FIELD_ACTION_MASK);
  EXPECT_TRUE(at::equal(r.read(R4J_FIELD_ACTION_MASK), r.response_mask.to(at::kFloat)));
  EXPECT_FALSE(r.has(R4J_FIELD_ACTION_MASK));
  EXPECT_EQ(r.read(R4J_FIELD_TURN_REWARDS).abs().sum().item<float>(), 0.0f);
  EXPECT_FALSE(r.has(R4J_FIELD_TURN_REWARDS));
}

TEST(EpisodeMath, OutcomeEstimatorsSeeTurnRewardsInTheSequenceReward) {
  // GRPO and RLOO read r_i = sum_t rewards[i, t]: a turn reward counts as if it were part of the score.
  for (int32_t estimator : {R4J_ESTIMATOR_GRPO, R4J_ESTIMATOR_RLOO}) {
    const auto o = episode_options();
    const auto a = episode_algo(estimator);
    Rollout turns = episode();
    auto turn_rewards = at::zeros({kB, kR});
    turn_rewards[0][1] = 0.75f;
    turn_rewards[2][3] = -0.25f;
    turns.field(R4J_FIELD_TURN_REWARDS) = turn_rewards;
    Rollout in_score = episode();
    in_score.field(R4J_FIELD_SCORES) = in_score.field(R4J_FIELD_SCORES) + floats({0.75f, 0.0f, -0.25f}, {kB});
    compute_rewards(turns, o, a, 0.1, 0.0, 1.0);
    compute_rewards(in_score, o, a, 0.1, 0.0, 1.0);
    compute_advantages(turns, o, a, nullptr);
    compute_advantages(in_score, o, a, nullptr);
    EXPECT_LT(max_abs_diff(turns.field(R4J_FIELD_ADVANTAGES), in_score.field(R4J_FIELD_ADVANTAGES)), 1e-5)
        << "estimator " << estimator;
    EXPECT_GT(turns.field(R4J_FIELD_ADVANTAGES).abs().sum().item<float>(), 0.0f);
  }
}

TEST(EpisodeMath, ObservationTokensGetZeroGradient) {
  // d loss / d logprob[t] through the policy loss, the KL-in-loss term and their aggregation:
  // zero on every observation token, non-zero on action tokens.
  for (int32_t agg : {R4J_LOSS_TOKEN_MEAN, R4J_LOSS_SEQ_MEAN_TOKEN_MEAN, R4J_LOSS_SEQ_MEAN_TOKEN_SUM_NORM}) {
    const auto o = episode_options();
    auto a = episode_algo(R4J_ESTIMATOR_GRPO);
    a.kl_in = R4J_KL_IN_LOSS;
    a.loss_agg = agg;
    a.max_new_tokens = kR;
    Rollout e = episode();
    compute_rewards(e, o, a, 0.0, 0.0, 1.0);
    compute_advantages(e, o, a, nullptr);
    auto mask = loss_mask(e, a);
    auto logprobs = (e.field(R4J_FIELD_OLD_LOGPROBS) + 0.1 * at::randn({kB, kR})).detach().requires_grad_(true);
    auto pg = policy_loss_tokens(logprobs, e.field(R4J_FIELD_OLD_LOGPROBS), e.field(R4J_FIELD_ADVANTAGES_WHITENED),
                                 mask, o, a);
    auto kl = kl_loss_tokens(logprobs, e.field(R4J_FIELD_REF_LOGPROBS), R4J_KL_LOSS_K3) * mask;
    auto loss = aggregate_loss(pg.pg_losses, mask, agg, kR) + 0.1 * aggregate_loss(kl, mask, agg, kR);
    loss.backward();
    auto grad = logprobs.grad();
    auto actions = e.response_mask.to(at::kFloat) * e.field(R4J_FIELD_ACTION_MASK);
    auto observation = e.response_mask.to(at::kFloat) * (1 - e.field(R4J_FIELD_ACTION_MASK));
    EXPECT_EQ((grad * observation).abs().sum().item<float>(), 0.0f) << "loss_agg " << agg;
    EXPECT_EQ(((grad.ne(0)).to(at::kFloat) * actions).sum().item<float>(), actions.sum().item<float>())
        << "every action token has a gradient, loss_agg " << agg;
  }
}
