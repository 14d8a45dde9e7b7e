// KV-cached generation against full forwards, sampling filters, seeds and stopping.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <limits>

#include "attention.hpp"
#include "core_helpers.hpp"
#include "generate.hpp"
#include "sampling.hpp"
#include "scoring.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

// Three prompts of lengths 3, 7 and 5, left-padded with id 0.
std::pair<at::Tensor, at::Tensor> mixed_prompts() {
  auto prompts = random_tokens(3, 7, 48, 21).clamp_min(1);
  auto mask = at::ones({3, 7}, at::kBool);
  mask[0].narrow(0, 0, 4).fill_(false);
  mask[2].narrow(0, 0, 2).fill_(false);
  prompts.masked_fill_(mask.logical_not(), 0);
  return {prompts, mask};
}

}  // namespace

TEST(Generate, CachedLogprobsAndValuesEqualAFullForward) {
  for (auto c : {tiny_gpt2(), tiny_llama(), tiny_qwen3()}) {
    c.value_head = 1;
    auto m = make(c);
    auto [prompts, mask] = mixed_prompts();
    auto o = gen_options(12, 5);
    o.temperature = 0.8;
    o.top_k = 20;
    o.top_p = 0.95;
    o.eos_token_id = 2;
    o.with_values = 1;
    at::NoGradGuard g;
    auto r = generate(*m, prompts, mask, o);
    ScoreRequest req;
    req.temperature = 0.8;
    req.values = true;
    auto full = score_tokens(*m, r->tokens(), r->mask(), r->query_len(), r->response_len(), req);
    auto rmask = r->response_mask.to(at::kFloat);
    EXPECT_LT(max_abs_diff(r->field(R4J_FIELD_OLD_LOGPROBS), full.logprobs * rmask), 1e-5) << "arch " << c.arch;
    EXPECT_LT(max_abs_diff(r->field(R4J_FIELD_OLD_VALUES), full.values * rmask), 1e-5) << "arch " << c.arch;
  }
}

TEST(Generate, SeesWeightsChangedSinceTheLastGeneration) {
  // Generation packs the weights it reuses; the next generation must not see a stale copy.
  auto c = tiny_gpt2();
  c.value_head = 1;
  auto m = make(c);
  auto [prompts, mask] = mixed_prompts();
  auto o = gen_options(6, 3);
  o.with_values = 1;
  at::NoGradGuard g;
  generate(*m, prompts, mask, o);
  for (auto& [name, p] : m->named_parameters()) p.mul_(1.5);  // as an optimizer step would, in place
  auto r = generate(*m, prompts, mask, o);
  ScoreRequest req;
  req.values = true;
  auto full = score_tokens(*m, r->tokens(), r->mask(), r->query_len(), r->response_len(), req);
  auto rmask = r->response_mask.to(at::kFloat);
  EXPECT_LT(max_abs_diff(r->field(R4J_FIELD_OLD_LOGPROBS), full.logprobs * rmask), 1e-5);
  EXPECT_LT(max_abs_diff(r->field(R4J_FIELD_OLD_VALUES), full.values * rmask), 1e-5);
}

TEST(Generate, SameSeedSameTokensDifferentSeedDifferentTokens) {
  auto m = make(tiny_gpt2());
  auto [prompts, mask] = mixed_prompts();
  at::NoGradGuard g;
  auto a = generate(*m, prompts, mask, gen_options(10, 1));
  auto b = generate(*m, prompts, mask, gen_options(10, 1));
  auto c = generate(*m, prompts, mask, gen_options(10, 2));
  EXPECT_TRUE(at::equal(a->response_tokens, b->response_tokens));
  EXPECT_FALSE(at::equal(a->response_tokens, c->response_tokens));
}

TEST(Generate, StopsEachSequenceAfterEosAndPadsTheRest) {
  auto c = tiny_gpt2(4);  // 4 tokens: EOS comes soon
  auto m = make(c);
  auto prompts = longs({1, 3, 1, 3, 3, 1}, {3, 2});
  auto mask = at::ones({3, 2}, at::kBool);
  auto o = gen_options(20, 11);
  o.eos_token_id = 2;
  o.pad_token_id = 0;
  at::NoGradGuard g;
  auto r = generate(*m, prompts, mask, o);
  auto tokens = r->response_tokens, rmask = r->response_mask;
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t len = rmask[b].sum().item<int64_t>();
    const bool ended = r->ended[b].item<bool>();
    if (ended) {
      EXPECT_EQ(tokens[b][len - 1].item<int64_t>(), 2) << "an ended response's last token is EOS";
    } else {
      EXPECT_EQ(len, 20);
    }
    for (int64_t t = 0; t < len - 1; ++t) EXPECT_NE(tokens[b][t].item<int64_t>(), 2) << "nothing before the EOS";
    for (int64_t t = len; t < r->response_len(); ++t) {
      EXPECT_EQ(tokens[b][t].item<int64_t>(), 0) << "padding after EOS";
      EXPECT_EQ(r->field(R4J_FIELD_OLD_LOGPROBS)[b][t].item<float>(), 0.0f);
    }
  }
  EXPECT_TRUE(r->ended.any().item<bool>()) << "with 4 tokens and 20 steps some sequence must end";
}

TEST(Generate, GroupFastPathsGiveTheTokensAndLogprobsOfTheirSlowTwins) {
  // A GRPO-like rollout: 2 prompts (one left-padded) x 3 samples in consecutive
  // rows, 8 tokens so that EOS ends rows at different steps. Shared prefill and
  // dropping finished rows, each off and both off, the decoding kernel off
  // (the shared prefix then copied before each row's own keys), and the KV
  // cache at its full length from the start (it grows from 8 positions to 16
  // here; with and without a shared prefix) give the same rollout: by row seeds
  // and by the batch generator, with and without filtering, for GPT-2, Llama
  // and a bf16 model.
  const std::vector<std::pair<r4j_model_config, int32_t>> models{
      {tiny_gpt2(8), R4J_DTYPE_F32}, {tiny_llama(8), R4J_DTYPE_F32}, {tiny_llama(8), R4J_DTYPE_BF16}};
  auto two = longs({0, 0, 5, 3, 1, 6, 4, 7, 1, 3}, {2, 5});
  auto two_mask = bools({0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, {2, 5});
  auto group = at::arange(2, at::kLong).repeat_interleave(3);
  auto prompts = two.index_select(0, group), mask = two_mask.index_select(0, group);
  std::vector<uint64_t> seeds{31, 32, 33, 34, 35, 36};
  using Switch = void (*)(bool);
  const std::vector<std::vector<Switch>> slow_twins{{set_shared_prefill}, {set_live_rows_only},
                                                    {set_shared_prefill, set_live_rows_only}, {set_fast_attention},
                                                    {set_growing_kv_cache}, {set_shared_prefill, set_growing_kv_cache}};
  at::NoGradGuard g;
  set_live_rows_only(true);
  for (const auto& [config, dtype] : models) {
    auto c = config;
    c.value_head = 1;
    auto m = make(c, dtype);
    for (bool by_row_seeds : {true, false}) {
      for (int64_t top_k : {0, 5}) {
        auto o = gen_options(16, 77);
        o.eos_token_id = 2;
        o.top_k = top_k;
        o.with_values = 1;
        auto fast = generate(*m, prompts, mask, o, by_row_seeds ? &seeds : nullptr);
        auto lengths = fast->response_mask.sum(1);
        EXPECT_TRUE(fast->ended.any().item<bool>() && lengths.min().item<int64_t>() < lengths.max().item<int64_t>())
            << "rows must end at different steps for the test to mean something";
        for (const auto& off : slow_twins) {
          for (auto s : off) s(false);
          auto slow = generate(*m, prompts, mask, o, by_row_seeds ? &seeds : nullptr);
          for (auto s : off) s(true);
          const std::string where = "arch " + std::to_string(c.arch) + " dtype " + std::to_string(dtype) +
                                    " row seeds " + std::to_string(by_row_seeds) + " top_k " +
                                    std::to_string(top_k) + " switches off " + std::to_string(off.size());
          EXPECT_TRUE(at::equal(fast->response_tokens, slow->response_tokens)) << where;
          EXPECT_TRUE(at::equal(fast->response_mask, slow->response_mask)) << where;
          EXPECT_TRUE(at::equal(fast->ended, slow->ended)) << where;
          EXPECT_LT(max_abs_diff(fast->field(R4J_FIELD_OLD_LOGPROBS), slow->field(R4J_FIELD_OLD_LOGPROBS)), 1e-5)
              << where;
          EXPECT_LT(max_abs_diff(fast->field(R4J_FIELD_OLD_VALUES), slow->field(R4J_FIELD_OLD_VALUES)), 1e-5)
              << where;
        }
      }
    }
  }
  set_live_rows_only(true);  // the default
}

TEST(Generate, DroppingFinishedRowsAboveTheFewRowKernelsBatchKeepsTheRollout) {
  // 3 prompts x 8 samples: 24 rows, above kFewRowsMax, where the batch shrinks
  // by quarters (oneDNN's layout per row count) and then row by row (panels).
  auto c = tiny_gpt2(8);
  c.value_head = 1;
  auto m = make(c);
  auto group = at::arange(3, at::kLong).repeat_interleave(8);
  auto prompts = longs({1, 3, 5, 4, 6, 0, 7, 7, 2}, {3, 3}).index_select(0, group);
  auto mask = at::ones({24, 3}, at::kBool);
  auto o = gen_options(20, 5);
  o.eos_token_id = 2;
  o.with_values = 1;
  at::NoGradGuard g;
  set_live_rows_only(true);
  auto fast = generate(*m, prompts, mask, o);
  EXPECT_LE(fast->response_mask.sum(1).min().item<int64_t>(), 12) << "a quarter of the rows must end early";
  set_live_rows_only(false);
  set_shared_prefill(false);
  auto slow = generate(*m, prompts, mask, o);
  set_shared_prefill(true);
  set_live_rows_only(true);  // the default
  EXPECT_TRUE(at::equal(fast->response_tokens, slow->response_tokens));
  EXPECT_TRUE(at::equal(fast->ended, slow->ended));
  EXPECT_LT(max_abs_diff(fast->field(R4J_FIELD_OLD_LOGPROBS), slow->field(R4J_FIELD_OLD_LOGPROBS)), 1e-5);
  EXPECT_LT(max_abs_diff(fast->field(R4J_FIELD_OLD_VALUES), slow->field(R4J_FIELD_OLD_VALUES)), 1e-5);
}

TEST(KVCache, RowsLeaveInPlaceWithTheirFilledPositionsAsIndexSelectKeepsThem) {
  // 5 rows of 2 layers, 6 positions filled of capacity 9, after a shared prefix
  // of 4; rows 1, 3 and 4 stay (moved down in place), then rows 0 and 2 of those.
  at::manual_seed(23);
  KVCache cache;
  for (int l = 0; l < 2; ++l) {
    cache.k.push_back(at::randn({5, 2, 9, 8}));
    cache.v.push_back(at::randn({5, 2, 9, 8}));
  }
  cache.prefix.row = at::tensor(std::vector<int64_t>{0, 0, 1, 1, 1});
  cache.prefix.length = 4;
  cache.length = 10;
  for (const auto& keep : {std::vector<int64_t>{1, 3, 4}, std::vector<int64_t>{0, 2}}) {
    auto rows = at::tensor(keep);
    std::vector<at::Tensor> want_k, want_v;
    for (int l = 0; l < 2; ++l) {
      want_k.push_back(cache.k[l].index_select(0, rows).narrow(2, 0, 6));
      want_v.push_back(cache.v[l].index_select(0, rows).narrow(2, 0, 6));
    }
    auto want_row = cache.prefix.row.index_select(0, rows);
    const void* storage = cache.k[0].data_ptr();
    cache.select_rows(rows);
    EXPECT_EQ(cache.k[0].data_ptr(), storage) << "rows leaving in order move within the cache";
    for (int l = 0; l < 2; ++l) {
      EXPECT_TRUE(at::equal(cache.k[l].narrow(2, 0, 6), want_k[l]));
      EXPECT_TRUE(at::equal(cache.v[l].narrow(2, 0, 6), want_v[l]));
    }
    EXPECT_TRUE(at::equal(cache.prefix.row, want_row));
  }
  // Rows out of order or repeated (a copied prefill) take index_select.
  auto before = cache.k[0].clone();
  cache.select_rows(at::tensor(std::vector<int64_t>{1, 1, 0}));
  EXPECT_TRUE(at::equal(cache.k[0], before.index_select(0, at::tensor(std::vector<int64_t>{1, 1, 0}))));
}

TEST(KVCache, GrowsByDoublingUpToItsMostKeepingTheFilledPositions) {
  // 3 rows, 2 layers, a shared prefix of 4, room for 2 own positions of at most
  // 9. Steps of 1, 2, 1 and 3 positions: the capacity goes 2, 4, 4, 8 and every
  // written position reads back, and attends, as in a cache of 9 from the start.
  at::manual_seed(29);
  KVCache grown, full;
  for (int l = 0; l < 2; ++l) {
    grown.k.push_back(at::empty({3, 2, 2, 8}));
    grown.v.push_back(at::empty({3, 2, 2, 8}));
    full.k.push_back(at::empty({3, 2, 9, 8}));
    full.v.push_back(at::empty({3, 2, 9, 8}));
  }
  grown.most = 9;
  for (auto* c : {&grown, &full}) {
    c->prefix.row = at::tensor(std::vector<int64_t>{0, 1, 1});
    c->prefix.length = 4;
    c->length = 4;
    for (int l = 0; l < 2; ++l) {
      c->prefix.k.push_back(at::randn({2, 2, 4, 8}));
      c->prefix.v.push_back(at::randn({2, 2, 4, 8}));
    }
  }
  full.prefix.k = grown.prefix.k;
  full.prefix.v = grown.prefix.v;
  int64_t own = 0;
  for (const auto& [T, capacity] : std::vector<std::pair<int64_t, int64_t>>{{1, 2}, {2, 4}, {1, 4}, {3, 8}}) {
    for (size_t l = 0; l < 2; ++l) {
      auto q = at::randn({3, 2, T, 8}), k = at::randn({3, 2, T, 8}), v = at::randn({3, 2, T, 8});
      auto bias = at::zeros({3, 1, T, 4 + own + T});
      auto a = grown.attend(l, q, k, v, bias, 0.0, 0), b = full.attend(l, q, k, v, bias, 0.0, 0);
      EXPECT_TRUE(at::equal(a, b)) << "step of " << T << " at " << own;
      EXPECT_EQ(grown.k[l].size(2), capacity);
      EXPECT_TRUE(at::equal(grown.k[l].narrow(2, 0, own + T), full.k[l].narrow(2, 0, own + T)));
      EXPECT_TRUE(at::equal(grown.v[l].narrow(2, 0, own + T), full.v[l].narrow(2, 0, own + T)));
    }
    own += T;
    grown.length += T;
    full.length += T;
  }
  // Past `most`: one line naming the positions, not an out-of-range read.
  auto q = at::randn({3, 2, 3, 8});
  try {
    grown.attend(0, q, q, q, at::zeros({3, 1, 3, 4 + own + 3}), 0.0, 0);
    ADD_FAILURE() << "no error past the cache's most";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("KV cache: 10 positions asked of a cache that holds 9"), std::string::npos)
        << e.what();
  }
}

TEST(Generate, StopTokenEndsTheResponseLikeEos) {
  auto m = make(tiny_gpt2(4));
  auto o = gen_options(20, 3);
  o.stop_token_id = 1;
  at::NoGradGuard g;
  auto r = generate(*m, longs({3, 3, 2, 2}, {2, 2}), at::ones({2, 2}, at::kBool), o);
  for (int64_t b = 0; b < 2; ++b) {
    const int64_t len = r->response_mask[b].sum().item<int64_t>();
    if (r->ended[b].item<bool>()) EXPECT_EQ(r->response_tokens[b][len - 1].item<int64_t>(), 1);
  }
}

TEST(Generate, TopKOneIsGreedy) {
  auto m = make(tiny_gpt2());
  auto [prompts, mask] = mixed_prompts();
  auto greedy = gen_options(8, 1);
  greedy.temperature = 0;
  auto top1 = gen_options(8, 99);
  top1.top_k = 1;
  at::NoGradGuard g;
  EXPECT_TRUE(at::equal(generate(*m, prompts, mask, greedy)->response_tokens,
                        generate(*m, prompts, mask, top1)->response_tokens));
}

TEST(Sampling, TopKKeepsTheKLargest) {
  auto logits = floats({1, 5, 3, 4, 2}, {1, 5});
  auto kept = top_k_filter(logits, 2);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(at::equal(kept, floats({-inf, 5, -inf, 4, -inf}, {1, 5})));
}

TEST(Sampling, TopPKeepsTheSmallestSetReachingP) {
  // probabilities 0.5, 0.3, 0.2
  auto logits = at::log(floats({0.2f, 0.5f, 0.3f}, {1, 3}));
  auto keep = [&](double p) { return top_p_filter(logits, p).isfinite(); };
  EXPECT_TRUE(at::equal(keep(0.5), bools({0, 1, 0}, {1, 3})));
  EXPECT_TRUE(at::equal(keep(0.6), bools({0, 1, 1}, {1, 3})));
  EXPECT_TRUE(at::equal(keep(0.95), bools({1, 1, 1}, {1, 3})));
}

TEST(Sampling, DrawsFollowTheDistribution) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  auto logits = at::log(floats({0.1f, 0.0f, 0.6f, 0.3f}, {1, 4})).expand({20000, 4}).contiguous();
  auto draws = sample_from_logits(logits, gen);
  auto counts = at::bincount(draws, {}, 4).to(at::kDouble) / 20000.0;
  EXPECT_NEAR(counts[0].item<double>(), 0.1, 0.01);
  EXPECT_EQ(counts[1].item<double>(), 0.0) << "a zero-probability token is never drawn";
  EXPECT_NEAR(counts[2].item<double>(), 0.6, 0.015);
  EXPECT_NEAR(counts[3].item<double>(), 0.3, 0.015);
}

TEST(Sampling, FusedDrawMatchesTheAtenFormula) {
  at::manual_seed(31);
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t V : {5003, 64, 7}) {  // odd widths exercise every vector tail
    auto logits = at::randn({40, V}) * 3.0;
    logits[1].narrow(0, 0, V / 2).fill_(-inf);  // filtered-out tokens
    auto u = 1.0 - at::rand({40, 1});
    u[2][0] = 1.0f;    // the very end of the CDF
    u[3][0] = 1e-9f;   // its very start
    for (double temperature : {1.0, 0.7}) {
      auto fast = draw_tokens(logits, temperature, u);
      auto slow = draw_tokens_reference(logits, temperature, u);
      // Both invert a float32 CDF: where u falls within rounding of the boundary
      // between two tokens they may pick neighbours. Anywhere else, the same token.
      auto cdf = at::softmax(logits.to(at::kDouble) / temperature, -1).cumsum(-1);  // [40, V]
      int64_t differ = 0;
      for (int64_t b = 0; b < 40; ++b) {
        const int64_t tf = fast.token[b].item<int64_t>(), ts = slow.token[b].item<int64_t>();
        if (tf == ts) {
          EXPECT_NEAR(fast.logprob[b].item<float>(), slow.logprob[b].item<float>(), 1e-5) << "V " << V << " row " << b;
          continue;
        }
        ++differ;
        const double boundary = cdf[b][std::min(tf, ts)].item<double>();
        EXPECT_NEAR(boundary, u[b][0].item<double>(), 1e-5) << "V " << V << " row " << b << ": " << tf << " vs " << ts;
      }
      EXPECT_LE(differ, 1) << "V " << V << " T " << temperature;
      EXPECT_TRUE(fast.logprob.isfinite().all().item<bool>()) << "a drawn token has probability > 0";
    }
  }
  expect_generation_unchanged_without(set_fast_sampling);
}

TEST(Sampling, FusedDrawsFollowTheDistribution) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(8);
  auto logits = at::log(floats({0.1f, 0.0f, 0.6f, 0.3f}, {1, 4})).expand({20000, 4}).contiguous();
  auto draws = draw_tokens(logits, 1.0, uniforms(20000, gen, at::kCPU)).token;
  auto counts = at::bincount(draws, {}, 4).to(at::kDouble) / 20000.0;
  EXPECT_NEAR(counts[0].item<double>(), 0.1, 0.01);
  EXPECT_EQ(counts[1].item<double>(), 0.0) << "a zero-probability token is never drawn";
  EXPECT_NEAR(counts[2].item<double>(), 0.6, 0.015);
  EXPECT_NEAR(counts[3].item<double>(), 0.3, 0.015);
}

TEST(Generate, RowSeedsMakeASampleIndependentOfItsBatch) {
  // Data parallelism: a sample keyed by its own seed is the same whether it is
  // drawn in a batch of four or with a different neighbour, by the fused draw
  // or its ATen twin, with or without top-k.
  auto m = make(tiny_gpt2());
  auto prompts = random_tokens(4, 5, 48, 8).clamp_min(1);
  auto mask = at::ones({4, 5}, at::kBool);
  std::vector<uint64_t> seeds{11, 12, 13, 14};
  at::NoGradGuard g;
  for (int64_t top_k : {0, 30}) {
    auto o = gen_options(10, 999);
    o.top_k = top_k;
    auto all = generate(*m, prompts, mask, o, &seeds);
    std::vector<uint64_t> pair{seeds[3], seeds[1]};
    auto rows = longs({3, 1}, {2});
    for (bool fast : {true, false}) {
      set_fast_sampling(fast);
      auto two = generate(*m, prompts.index_select(0, rows), mask.index_select(0, rows), o, &pair);
      set_fast_sampling(true);
      EXPECT_TRUE(two->response_tokens.equal(all->response_tokens.index_select(0, rows)))
          << "top_k " << top_k << " fast " << fast;
      EXPECT_LT(max_abs_diff(two->field(R4J_FIELD_OLD_LOGPROBS),
                             all->field(R4J_FIELD_OLD_LOGPROBS).index_select(0, rows)), 1e-6);
    }
    std::vector<uint64_t> other{21, 22, 23, 24};
    auto changed = generate(*m, prompts, mask, o, &other);
    EXPECT_FALSE(changed->response_tokens.equal(all->response_tokens)) << "the seeds must matter";
  }
}

TEST(Sampling, RowUniformsDependOnTheRowSeedAndStepOnly) {
  auto a = row_uniforms({5, 6, 7}, 3, at::kCPU);
  auto b = row_uniforms({9, 6}, 3, at::kCPU);
  EXPECT_EQ(a[1].item<float>(), b[1].item<float>());
  EXPECT_NE(a[1].item<float>(), row_uniforms({6}, 4, at::kCPU)[0].item<float>());
  auto many = row_uniforms(std::vector<uint64_t>(20000, 0), 0, at::kCPU);
  std::vector<uint64_t> seeds(20000);
  for (size_t i = 0; i < seeds.size(); ++i) seeds[i] = i;
  auto u = row_uniforms(seeds, 0, at::kCPU);
  EXPECT_GT(u.min().item<float>(), 0.0f);
  EXPECT_LE(u.max().item<float>(), 1.0f);
  EXPECT_NEAR(u.mean().item<double>(), 0.5, 0.01);
  EXPECT_NEAR(u.var().item<double>(), 1.0 / 12, 0.005);
  EXPECT_EQ(many.min().item<float>(), many.max().item<float>());
}
