// The feedback passes over a rollout in passes of similar lengths
// (rollout_scoring.hpp) against one pass padded to the longest row.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <set>
#include <string>

#include "core_helpers.hpp"
#include "generate.hpp"
#include "rollout_scoring.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

// 3 prompts of 2, 4 and 5 tokens (left-padded to 5) x 3 samples; EOS (token 2)
// ends the rows at different steps.
std::unique_ptr<Rollout> ragged_rollout(Model& m) {
  auto prompts = longs({0, 0, 0, 5, 3, 0, 1, 6, 4, 7, 1, 3, 4, 5, 6}, {3, 5});
  auto mask = bools({0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 5});
  auto group = at::arange(3, at::kLong).repeat_interleave(3);
  auto o = gen_options(12, 41);
  o.eos_token_id = 2;
  at::NoGradGuard g;
  return generate(m, prompts.index_select(0, group), mask.index_select(0, group), o);
}

}  // namespace

TEST(RolloutScoring, PassesCoverEveryRowOnceCroppedToItsRealTokens) {
  auto m = make(tiny_gpt2(8));
  auto ro = ragged_rollout(*m);
  auto rlen = ro->response_mask.sum(1), plen = ro->query_mask.sum(1);
  ASSERT_LT(rlen.min().item<int64_t>(), rlen.max().item<int64_t>()) << "rows must end at different steps";
  const int64_t P = ro->query_len(), R = ro->response_len();
  for (int64_t budget : {1, 24, 60, 100000}) {
    auto passes = scoring_passes(*ro, budget);
    std::set<int64_t> seen;
    int64_t padded = 0;
    for (const auto& pass : passes) {
      const int64_t g = pass.rows.size(0), width = pass.prompt + pass.response;
      EXPECT_TRUE(g == 1 || g * width <= budget) << "budget " << budget;
      padded += g * width;
      for (int64_t i = 0; i < g; ++i) {
        const int64_t b = pass.rows[i].item<int64_t>();
        EXPECT_TRUE(seen.insert(b).second) << "row " << b << " twice";
        EXPECT_GE(pass.prompt, plen[b].item<int64_t>());
        EXPECT_GE(pass.response, std::max<int64_t>(1, rlen[b].item<int64_t>()));
        // The crop drops only padding: the last p prompt columns, the first r response columns.
        EXPECT_TRUE(at::equal(pass.tokens[i], ro->tokens()[b].narrow(0, P - pass.prompt, width)));
        EXPECT_EQ(ro->mask()[b].sum().item<int64_t>(), pass.mask[i].sum().item<int64_t>());
        EXPECT_TRUE(at::equal(pass.only[i], ro->response_mask[b].narrow(0, 0, pass.response)));
      }
    }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), ro->batch()) << "budget " << budget;
    EXPECT_LE(padded, ro->batch() * (P + R)) << "never more positions than one padded pass";
    if (budget == 100000) EXPECT_EQ(passes.size(), 1u);
    if (budget == 24) EXPECT_LT(padded, ro->batch() * (P + R)) << "passes of similar rows crop their padding";
  }
  set_scoring_tokens(0);
  auto one = scoring_passes(*ro);
  set_scoring_tokens(kScoringTokens);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].prompt + one[0].response, P + R) << "the slow twin: one pass, uncropped";
}

TEST(RolloutScoring, PassesGiveTheValuesOfOnePaddedPass) {
  for (auto config : {tiny_gpt2(8), tiny_llama(8)}) {
    auto c = config;
    c.value_head = 1;
    auto policy = make(c);
    c.seed = 9;
    auto ref = make(c);
    c.value_head = 0;
    c.reward_head = 1;
    auto reward_model = make(c);
    auto base = ragged_rollout(*policy);
    auto fields = [&](int64_t budget) {
      set_scoring_tokens(budget);
      Rollout ro = *base;
      score_reference(*ref, policy.get(), ro, 0.7);
      ScoreRequest req;
      req.temperature = 0.7;
      req.values = true;
      score_old(*policy, ro, req);
      score_rewards(*reward_model, ro);
      set_scoring_tokens(kScoringTokens);
      return ro;
    };
    auto slow = fields(0);
    for (int64_t budget : {int64_t{1}, int64_t{24}, kScoringTokens}) {
      auto fast = fields(budget);
      const std::string where = "arch " + std::to_string(c.arch) + " budget " + std::to_string(budget);
      for (int32_t f : {R4J_FIELD_REF_LOGPROBS, R4J_FIELD_FULL_KL, R4J_FIELD_OLD_LOGPROBS, R4J_FIELD_OLD_VALUES,
                        R4J_FIELD_SCORES}) {
        ASSERT_TRUE(fast.has(f) && slow.has(f)) << where << " field " << f;
        EXPECT_EQ(fast.floats[f].sizes(), slow.floats[f].sizes()) << where << " field " << f;
        EXPECT_LT(max_abs_diff(fast.floats[f], slow.floats[f]), 1e-5) << where << " field " << f;
      }
      EXPECT_TRUE(at::equal(fast.floats[R4J_FIELD_SAMPLING_LOGPROBS], base->floats[R4J_FIELD_OLD_LOGPROBS]))
          << where << ": the decoding log-probs are kept";
      auto padding = ~fast.response_mask;
      EXPECT_EQ(fast.floats[R4J_FIELD_REF_LOGPROBS].masked_select(padding).abs().sum().item<double>(), 0.0) << where;
    }
  }
}

TEST(RolloutScoring, HeadsOnRealTokensOnlyGiveTheMaskedScoresAndGradients) {
  // score_tokens with request.only (the learning phase's micro-batches) against every position.
  auto c = tiny_gpt2(8);
  c.value_head = 1;
  auto m = make(c);
  auto ro = ragged_rollout(*m);
  auto real = ro->response_mask;
  auto rmask = real.to(at::kFloat);
  auto run = [&](bool only) {
    for (auto& p : m->parameters()) p.mutable_grad() = at::Tensor();
    ScoreRequest req;
    req.entropy = true;
    req.entropy_grad = true;
    req.values = true;
    if (only) req.only = real;
    auto s = score_tokens(*m, ro->tokens(), ro->mask(), ro->query_len(), ro->response_len(), req);
    ((s.logprobs + 0.3 * s.entropy + 0.5 * s.values) * rmask).sum().backward();
    std::vector<at::Tensor> out{s.logprobs.detach(), s.entropy.detach(), s.values.detach()};
    for (auto& p : m->parameters()) out.push_back(p.grad().clone());
    return out;
  };
  auto fast = run(true), slow = run(false);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_LT(max_abs_diff(fast[i], slow[i] * rmask), 1e-5) << "output " << i;
    EXPECT_EQ(fast[i].masked_select(~real).abs().sum().item<double>(), 0.0) << "output " << i << " reads 0 at padding";
  }
  for (size_t i = 3; i < fast.size(); ++i) EXPECT_LT(max_abs_diff(fast[i], slow[i]), 1e-5) << "gradient " << i - 3;
}

TEST(RolloutScoring, LoraBaseReferenceIsThePolicyWithoutItsAdapters) {
  auto m = make(tiny_gpt2(8));
  auto lora = default_lora_options();
  lora.r = 2;
  lora.seed = 3;
  m->add_lora(lora);
  {
    at::NoGradGuard g;
    for (auto& [name, t] : m->named_parameters())
      if (name.find("lora_B") != std::string::npos) t.normal_(0, 0.2);  // adapters that change the output
  }
  auto ro = ragged_rollout(*m);
  m->set_adapters_enabled(false);
  Rollout base = *ro;
  ScoreRequest req;
  req.temperature = 0.7;
  score_old(*m, base, req);  // the base's own log-probs
  m->set_adapters_enabled(true);
  std::vector<Rollout> scored;
  for (int64_t budget : {int64_t{0}, int64_t{24}}) {
    set_scoring_tokens(budget);
    Rollout r = *ro;
    score_reference_base(*m, r, 0.7, /*full_kl=*/true);
    set_scoring_tokens(kScoringTokens);
    EXPECT_TRUE(m->adapters_enabled()) << "adapters back on";
    EXPECT_LT(max_abs_diff(r.floats[R4J_FIELD_REF_LOGPROBS], base.floats[R4J_FIELD_OLD_LOGPROBS]), 1e-5) << budget;
    auto kl = r.floats[R4J_FIELD_FULL_KL];
    EXPECT_GE(kl.min().item<double>(), -1e-6) << budget;
    EXPECT_GT(kl.max().item<double>(), 1e-4) << budget << ": the adapters move the policy";
    scored.push_back(r);
  }
  EXPECT_LT(max_abs_diff(scored[0].floats[R4J_FIELD_FULL_KL], scored[1].floats[R4J_FIELD_FULL_KL]), 1e-5);
}
