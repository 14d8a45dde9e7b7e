// Passes of like length inside a micro-batch (length_groups.hpp): the cut
// against every cut of the sorted rows, and the PPO loss over the passes
// against one pass padded to the micro-batch's longest row.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>
#include <random>
#include <set>
#include <string>

#include "chunked_logprobs.hpp"
#include "core_helpers.hpp"
#include "errors.hpp"
#include "generate.hpp"
#include "length_groups.hpp"
#include "dpo/dpo.hpp"
#include "ppo/ppo.hpp"
#include "scoring.hpp"
#include "supervised.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

int64_t groups_cost(const std::vector<LengthGroup>& groups, int64_t pass_positions) {
  int64_t cost = 0;
  for (const auto& g : groups) cost += g.positions() + pass_positions;
  return cost;
}

// The slow twin of the dynamic programme: every subset of the n - 1 cut points
// of the rows sorted longest first.
int64_t cheapest_by_enumeration(const std::vector<int64_t>& p, const std::vector<int64_t>& r, int64_t pass_positions) {
  const int64_t n = static_cast<int64_t>(p.size());
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[a] + r[a] > p[b] + r[b]; });
  int64_t best = std::numeric_limits<int64_t>::max();
  for (int64_t cuts = 0; cuts < (int64_t{1} << (n - 1)); ++cuts) {
    int64_t cost = 0, start = 0;
    for (int64_t i = 1; i <= n; ++i) {
      if (i < n && !(cuts >> (i - 1) & 1)) continue;
      int64_t mp = 0, mr = 0;
      for (int64_t k = start; k < i; ++k) {
        mp = std::max(mp, p[order[k]]);
        mr = std::max(mr, r[order[k]]);
      }
      cost += (i - start) * (mp + mr) + pass_positions;
      start = i;
    }
    best = std::min(best, cost);
  }
  return best;
}

// 6 samples of ragged prompts (left padding) and responses, with advantages.
std::unique_ptr<Rollout> ragged_for_loss(Model& m, const r4j_ppo_options& o, const r4j_algo_options& a) {
  at::NoGradGuard g;
  auto go = gen_options(12, 5);
  go.with_values = 1;
  auto r = generate(m, random_tokens(6, 6, 48, 8), at::ones({6, 6}, at::kBool), go);
  const int64_t prompt_pad[] = {0, 2, 0, 4, 1, 0}, response[] = {12, 3, 7, 12, 1, 5};
  for (int64_t i = 0; i < 6; ++i) {
    r->query_mask[i].narrow(0, 0, prompt_pad[i]).fill_(false);
    r->response_mask[i].narrow(0, response[i], 12 - response[i]).fill_(false);
  }
  auto rmask = r->response_mask.to(at::kFloat);
  for (int32_t f : {R4J_FIELD_OLD_LOGPROBS, R4J_FIELD_OLD_VALUES}) r->field(f) = r->field(f) * rmask;
  r->field(R4J_FIELD_REF_LOGPROBS) = r->field(R4J_FIELD_OLD_LOGPROBS) * 0.9;
  r->field(R4J_FIELD_SCORES) = at::randn({6}, at::TensorOptions().dtype(r->field(R4J_FIELD_OLD_LOGPROBS).dtype()));
  compute_rewards(*r, o, a, 0.1, 0.0, 1.0);
  compute_advantages(*r, o, a, nullptr);
  {  // ratios away from 1 so that clipping takes part
    auto& old = r->field(R4J_FIELD_OLD_LOGPROBS);
    old = (old + 0.3 * at::sin(at::arange(old.numel()).view(old.sizes()).to(old.dtype()))) * rmask;
  }
  return r;
}

std::vector<at::Tensor> all_grads(Model& m) {
  std::vector<at::Tensor> out;
  for (auto& [n, t] : m.named_parameters()) out.push_back(t.grad().defined() ? t.grad().clone() : at::Tensor());
  return out;
}

void clear_grads(Model& m) {
  for (auto& [n, t] : m.named_parameters()) t.mutable_grad() = at::Tensor();
}

}  // namespace

TEST(LengthGroups, TheCutIsTheCheapestOfEveryCutOfTheSortedRows) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t n = 1 + static_cast<int64_t>(rng() % 9);
    std::vector<int64_t> p(n), r(n);
    for (int64_t i = 0; i < n; ++i) {
      p[i] = 1 + static_cast<int64_t>(rng() % 20);
      r[i] = 1 + static_cast<int64_t>(rng() % 60);
    }
    const int64_t pass_positions = static_cast<int64_t>(rng() % 80);
    auto groups = like_length_groups(p, r, pass_positions);
    std::set<int64_t> seen;
    for (const auto& g : groups) {
      EXPECT_TRUE(std::is_sorted(g.rows.begin(), g.rows.end()));
      for (int64_t i : g.rows) {
        EXPECT_TRUE(seen.insert(i).second) << "row " << i << " twice";
        EXPECT_GE(g.prompt, p[i]);
        EXPECT_GE(g.response, r[i]);
      }
    }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), n);
    EXPECT_EQ(groups_cost(groups, pass_positions), cheapest_by_enumeration(p, r, pass_positions)) << "trial " << trial;
  }
}

TEST(LengthGroups, OnePassWhenNoCutPaysOrWhenTold) {
  const std::vector<int64_t> p{3, 5, 2, 4}, r{40, 2, 9, 1};
  for (int64_t pass_positions : {int64_t{-1}, int64_t{1000}}) {
    auto groups = like_length_groups(p, r, pass_positions);
    ASSERT_EQ(groups.size(), 1u) << pass_positions;
    EXPECT_EQ(groups[0].rows, (std::vector<int64_t>{0, 1, 2, 3})) << "every row, in order";
    EXPECT_EQ(groups[0].positions(), 4 * (5 + 40));
  }
  auto cut = like_length_groups(p, r, 0);
  EXPECT_GT(cut.size(), 1u);
  EXPECT_EQ(cut[0].rows, (std::vector<int64_t>{0})) << "the longest row first";
  EXPECT_THROW(like_length_groups({3, 0}, {1, 1}, 0), Error) << "a row without a prompt token";
  // A pass's cost scales with (512 / width)^2: fixed launches against a position's d^2 products.
  EXPECT_EQ(pass_positions_at(512), kPassPositions);
  EXPECT_EQ(pass_positions_at(128), 16 * kPassPositions);
  EXPECT_EQ(pass_positions_at(1024), kPassPositions / 4);
  set_pass_positions(-1);
  EXPECT_EQ(pass_positions_at(128), -1) << "the twin: one pass at every width";
  set_pass_positions(0);
  EXPECT_EQ(pass_positions_at(128), 0);
  set_pass_positions(kPassPositions);
}

// The loss and gradients of PPO's micro-batch (actor with a value head, or a separate
// critic; with the KL term and the entropy bonus) over passes of like length equal
// those of one padded pass, and the head still forms its gradients in forward once.
TEST(LengthGroups, LearningPassesGiveTheLossAndGradientsOfOnePaddedPass) {
  for (bool separate_critic : {false, true}) {
    auto c = tiny_gpt2();
    c.value_head = separate_critic ? 0 : 1;
    auto m = make(c, R4J_DTYPE_F64);
    c.value_head = 1;
    c.seed = 4;
    auto critic = make(c, R4J_DTYPE_F64);
    r4j_ppo_options o;
    r4j_ppo_options_defaults(&o);
    o.clip_ratio = 1;
    o.clip_value = 1;
    o.ent_coef = 0.05;
    o.temperature = 0.8;
    auto a = algo_defaults();
    a.kl_in = R4J_KL_IN_LOSS;
    a.kl_loss_coef = 0.1;
    a.kl_loss_estimator = R4J_KL_LOSS_K3;
    auto r = ragged_for_loss(*critic, o, a);
    const auto rows = at::tensor(std::vector<int64_t>{5, 0, 3, 1, 4, 2}, at::kLong);
    auto run = [&](int64_t pass_positions) {
      set_pass_positions(pass_positions);
      clear_grads(*m);
      clear_grads(*critic);
      const int64_t before = head_gradients_from_forward();
      const int64_t positions = micro_batch_positions(*m, *r, rows);
      auto st = accumulate_loss(*m, separate_critic ? critic.get() : nullptr, *r, rows, o, a, 0.7, nullptr);
      set_pass_positions(kPassPositions);
      auto g = all_grads(*m);
      for (auto& t : all_grads(*critic)) g.push_back(t);
      return std::make_tuple(st, g, positions, head_gradients_from_forward() - before);
    };
    const std::string where = separate_critic ? "separate critic" : "value head";
    auto [slow, g_slow, pos_slow, fwd_slow] = run(-1);
    auto [fast, g_fast, pos_fast, fwd_fast] = run(0);
    EXPECT_EQ(pos_slow, 6 * (6 + 12)) << where << ": one pass pads every row to the longest";
    EXPECT_LT(pos_fast, pos_slow) << where;
    EXPECT_EQ(fwd_slow, 1) << where;
    EXPECT_EQ(fwd_fast, 1) << where << ": one head call over every pass";
    EXPECT_NEAR(fast.loss_total, slow.loss_total, 1e-10) << where;
    EXPECT_NEAR(fast.loss_policy, slow.loss_policy, 1e-10) << where;
    EXPECT_NEAR(fast.loss_value, slow.loss_value, 1e-10) << where;
    EXPECT_NEAR(fast.entropy, slow.entropy, 1e-10) << where;
    EXPECT_NEAR(fast.policy_clipfrac, slow.policy_clipfrac, 1e-12) << where;
    EXPECT_GT(slow.policy_clipfrac, 0.0) << where << ": clipping takes part";
    EXPECT_EQ(fast.n_tokens, slow.n_tokens) << where;
    ASSERT_EQ(g_fast.size(), g_slow.size());
    for (size_t i = 0; i < g_fast.size(); ++i) {
      ASSERT_EQ(g_fast[i].defined(), g_slow[i].defined()) << where << " parameter " << i;
      if (g_fast[i].defined()) EXPECT_LT(max_abs_diff(g_fast[i], g_slow[i]), 1e-10) << where << " parameter " << i;
    }
  }
}

namespace {

// 6 sequences of 14 columns: right padding of ragged lengths, one row left-padded, and loss
// masks that start after a prompt; row 3's targets end at column 7 while its tokens go on.
struct RaggedSequences {
  at::Tensor tokens, mask, loss_mask;  // [6, 14]
};

RaggedSequences ragged_sequences() {
  RaggedSequences r;
  r.tokens = random_tokens(6, 14, 48, 12);
  r.mask = at::zeros({6, 14}, at::kBool);
  r.loss_mask = at::zeros({6, 14}, at::kBool);
  const int64_t first[] = {0, 0, 2, 0, 0, 0}, end[] = {14, 3, 14, 14, 2, 6}, target_end[] = {14, 3, 14, 8, 2, 6};
  for (int64_t b = 0; b < 6; ++b) {
    r.mask[b].narrow(0, first[b], end[b] - first[b]).fill_(true);
    r.loss_mask[b].narrow(0, first[b] + 1, target_end[b] - first[b] - 1).fill_(true);
  }
  return r;
}

// -mean of log p(token | prefix) over the predicted positions, from every position's full logits.
at::Tensor plain_lm_loss(Model& m, const RaggedSequences& r) {
  auto h = m.hidden(r.tokens, positions_from_mask(r.mask), r.mask, nullptr);
  auto logp = at::log_softmax(m.lm_logits(h.narrow(1, 0, 13)).to(at::kDouble), -1)
                  .gather(2, r.tokens.narrow(1, 1, 13).unsqueeze(2)).squeeze(2);  // [6, 13]
  auto w = r.loss_mask.narrow(1, 1, 13).logical_and(r.mask.narrow(1, 1, 13)).to(at::kDouble);
  return -(logp * w).sum() / w.sum();
}

}  // namespace

// SFT's loss, DPO's summed log-probs and the reward model's scores over passes of like
// length (the heads on the loss's positions only) against one pass and the plain formula.
TEST(LengthGroups, SupervisedPassesGiveTheLossesAndGradientsOfOnePaddedPass) {
  const auto r = ragged_sequences();
  auto c = tiny_gpt2();
  auto m = make(c, R4J_DTYPE_F64);
  c.reward_head = 1;
  auto rm = make(c, R4J_DTYPE_F64);
  set_pass_positions(0);
  EXPECT_GT(sequence_passes(*m, r.mask).size(), 1u) << "ragged rows cut at no cost per pass";
  set_pass_positions(kPassPositions);
  struct Out {
    double lm, lm_told;
    std::vector<at::Tensor> lm_grads;
    SequenceLogps dpo;
    std::vector<at::Tensor> dpo_grads;
    at::Tensor rewards;
    std::vector<at::Tensor> rm_grads;
  };
  auto run = [&](int64_t pass_positions) {
    set_pass_positions(pass_positions);
    Out o;
    clear_grads(*m);
    auto l = lm_loss(*m, r.tokens, r.mask, r.loss_mask);
    l.backward();
    o.lm = l.item<double>();
    o.lm_grads = all_grads(*m);
    clear_grads(*m);
    const int64_t before = head_gradients_from_forward();
    auto told = lm_loss(*m, r.tokens, r.mask, r.loss_mask, 0.5);
    (told * 0.5).backward();
    EXPECT_EQ(head_gradients_from_forward() - before, 1) << pass_positions << ": gradients formed in forward";
    o.lm_told = told.item<double>();
    for (size_t i = 0; i < o.lm_grads.size(); ++i)
      if (o.lm_grads[i].defined())
        EXPECT_LT(max_abs_diff(all_grads(*m)[i], 0.5 * o.lm_grads[i]), 1e-10) << pass_positions << " parameter " << i;
    clear_grads(*m);
    o.dpo = sequence_logps(*m, r.tokens, r.mask, r.loss_mask);
    (o.dpo.logps * at::arange(1, 7, o.dpo.logps.options())).sum().backward();
    o.dpo_grads = all_grads(*m);
    clear_grads(*rm);
    o.rewards = reward_scores(*rm, r.tokens, r.mask);
    (o.rewards * at::arange(1, 7, o.rewards.options())).sum().backward();
    o.rm_grads = all_grads(*rm);
    set_pass_positions(kPassPositions);
    return o;
  };
  const Out slow = run(-1), fast = run(0);
  EXPECT_NEAR(slow.lm, plain_lm_loss(*m, r).item<double>(), 1e-10) << "one pass against the full logits";
  EXPECT_NEAR(fast.lm, slow.lm, 1e-10);
  EXPECT_NEAR(fast.lm_told, slow.lm, 1e-10);
  EXPECT_LT(max_abs_diff(fast.dpo.logps, slow.dpo.logps), 1e-10);
  EXPECT_TRUE(at::equal(fast.dpo.tokens, slow.dpo.tokens));
  EXPECT_LT(max_abs_diff(fast.dpo.logit_sums, slow.dpo.logit_sums), 1e-10);
  {  // the logit sums by their definition: h . mean_v(W_v) over the completion's positions
    at::NoGradGuard g;
    auto h = m->hidden(r.tokens, positions_from_mask(r.mask), r.mask, nullptr).narrow(1, 0, 13);
    auto w = r.loss_mask.narrow(1, 1, 13).logical_and(r.mask.narrow(1, 1, 13)).to(at::kDouble);
    auto sums = (m->lm_logits(h).to(at::kDouble).mean(-1) * w).sum(1);
    EXPECT_LT(max_abs_diff(slow.dpo.logit_sums, sums), 1e-10);
  }
  EXPECT_LT(max_abs_diff(fast.rewards, slow.rewards), 1e-10);
  for (auto [a, b, what] : {std::make_tuple(&fast.lm_grads, &slow.lm_grads, "sft"),
                            std::make_tuple(&fast.dpo_grads, &slow.dpo_grads, "dpo"),
                            std::make_tuple(&fast.rm_grads, &slow.rm_grads, "rm")}) {
    ASSERT_EQ(a->size(), b->size()) << what;
    for (size_t i = 0; i < a->size(); ++i) {
      ASSERT_EQ((*a)[i].defined(), (*b)[i].defined()) << what << " parameter " << i;
      if ((*a)[i].defined()) EXPECT_LT(max_abs_diff((*a)[i], (*b)[i]), 1e-10) << what << " parameter " << i;
    }
  }
}
