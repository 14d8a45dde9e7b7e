// Misuse of the C ABI: every kind of bad input returns an error status with a
// message, never a crash.
#include <cstring>
#include <string>
#include <vector>

#include "test_helpers.hpp"

namespace {

r4j_model* create(r4j_model_config c) {
  r4j_model* m = nullptr;
  EXPECT_EQ(r4j_model_create(&c, "cpu", &m), R4J_OK) << r4j_last_error();
  return m;
}

r4j_rollout* rollout_of(r4j_model* m) {
  std::vector<int32_t> q = {1, 2, 3, 4}, ql = {2, 2}, resp = {5, 6, 7, 8}, rl = {2, 1};
  r4j_rollout* r = nullptr;
  EXPECT_EQ(r4j_rollout_create(m, q.data(), ql.data(), 2, resp.data(), rl.data(), 2, 2, 0, -1, &r), R4J_OK)
      << r4j_last_error();
  return r;
}

}  // namespace

TEST(AbiErrors, NullHandlesAreRejected) {
  int64_t n;
  float f[4];
  int32_t t[4] = {1, 2, 3, 4};
  uint8_t mask[4] = {1, 1, 1, 1};
  r4j_generate_options go;
  r4j_generate_options_defaults(&go);
  r4j_ppo_options po;
  r4j_ppo_options_defaults(&po);
  r4j_algo_options ppo;
  r4j_algo_options_defaults(&ppo);
  r4j_reward_stats rs;
  r4j_step_result sr;
  r4j_rollout* r = nullptr;
  EXPECT_FAILS(r4j_model_tensor_count(nullptr, &n), R4J_ERR_INVALID_HANDLE, "model is NULL");
  EXPECT_FAILS(r4j_model_logits(nullptr, t, mask, 1, 4, f, 4), R4J_ERR_INVALID_HANDLE, "NULL");
  EXPECT_FAILS(r4j_generate(nullptr, t, t, 4, 1, &go, &r), R4J_ERR_INVALID_HANDLE, "NULL");
  EXPECT_FAILS(r4j_rollout_shape(nullptr, &n, &n, &n), R4J_ERR_INVALID_HANDLE, "rollout is NULL");
  EXPECT_FAILS(r4j_ppo_rewards_ex(nullptr, &po, &ppo, 0.1, 0, 1, &rs), R4J_ERR_INVALID_HANDLE, "NULL");
  EXPECT_FAILS(r4j_optimizer_step(nullptr, 0.1, &sr), R4J_ERR_INVALID_HANDLE, "optimizer is NULL");
  EXPECT_EQ(r4j_model_destroy(nullptr), R4J_OK) << "destroying NULL is a no-op";
}

TEST(AbiErrors, DestroyedAndForeignHandlesAreRejected) {
  r4j_model* m = create(tiny_gpt2());
  r4j_rollout* r = rollout_of(m);
  int64_t n;
  // A rollout handle passed where a model is expected.
  EXPECT_FAILS(r4j_model_tensor_count(reinterpret_cast<r4j_model*>(r), &n), R4J_ERR_INVALID_HANDLE,
               "is a rollout handle, expected a model");
  ASSERT_OK(r4j_rollout_destroy(r));
  EXPECT_FAILS(r4j_rollout_shape(r, &n, &n, &n), R4J_ERR_INVALID_HANDLE, "destroyed already");
  EXPECT_FAILS(r4j_rollout_destroy(r), R4J_ERR_INVALID_HANDLE, "destroyed already");
  r4j_adamw_options ao;
  r4j_adamw_options_defaults(&ao);
  r4j_optimizer* opt = nullptr;
  ASSERT_OK(r4j_optimizer_create(m, &ao, &opt));
  ASSERT_OK(r4j_model_destroy(m));
  r4j_step_result sr;
  EXPECT_FAILS(r4j_optimizer_step(opt, 0.1, &sr), R4J_ERR_INVALID_HANDLE, "the optimizer's model");
  EXPECT_FAILS(r4j_model_tensor_count(m, &n), R4J_ERR_INVALID_HANDLE, "destroyed already");
  int stack_object = 0;
  EXPECT_FAILS(r4j_model_tensor_count(reinterpret_cast<r4j_model*>(&stack_object), &n), R4J_ERR_INVALID_HANDLE,
               "never created");
  ASSERT_OK(r4j_optimizer_destroy(opt));
}

TEST(AbiErrors, SmallBuffersAreReportedWithTheSizeNeeded) {
  r4j_model* m = create(tiny_gpt2());
  char small[4];
  size_t needed = 0;
  EXPECT_FAILS(r4j_build_info(small, sizeof small, &needed), R4J_ERR_BUFFER_TOO_SMALL, "needed");
  EXPECT_GT(needed, sizeof small);
  int32_t dtype, ndim;
  int64_t shape[8];
  EXPECT_FAILS(r4j_model_tensor_info(m, 0, small, sizeof small, &dtype, &ndim, shape, 8), R4J_ERR_BUFFER_TOO_SMALL,
               "transformer.wte.weight");
  char name[64];
  EXPECT_FAILS(r4j_model_tensor_info(m, 0, name, sizeof name, &dtype, &ndim, shape, 1), R4J_ERR_BUFFER_TOO_SMALL,
               "2 dims");
  float f[10];
  EXPECT_FAILS(r4j_model_read_tensor(m, "transformer.wte.weight", R4J_DTYPE_F32, f, sizeof f), R4J_ERR_BUFFER_TOO_SMALL,
               "3072 needed");
  EXPECT_FAILS(r4j_model_write_tensor(m, "transformer.wte.weight", R4J_DTYPE_F32, f, sizeof f),
               R4J_ERR_INVALID_ARGUMENT, "expected exactly 3072");
  int32_t t[4] = {1, 2, 3, 4};
  uint8_t mask[4] = {1, 1, 1, 1};
  EXPECT_FAILS(r4j_model_logits(m, t, mask, 1, 4, f, 10), R4J_ERR_BUFFER_TOO_SMALL, "needed");
  r4j_rollout* r = rollout_of(m);
  int32_t tokens[1];
  EXPECT_FAILS(r4j_rollout_read(r, R4J_FIELD_QUERY_TOKENS, tokens, 1), R4J_ERR_BUFFER_TOO_SMALL, "needed");
  EXPECT_FAILS(r4j_rollout_write(r, R4J_FIELD_SCORES, f, 3), R4J_ERR_INVALID_ARGUMENT, "expected exactly 8");
  EXPECT_FAILS(r4j_rollout_read(r, 99, tokens, 1), R4J_ERR_NOT_FOUND, "unknown rollout field");
  EXPECT_FAILS(r4j_model_read_tensor(m, "no.such.tensor", R4J_DTYPE_F32, f, sizeof f), R4J_ERR_NOT_FOUND,
               "no.such.tensor");
  r4j_rollout_destroy(r);
  r4j_model_destroy(m);
}

TEST(AbiErrors, TokensOutsideTheVocabularyAndContextAreRejected) {
  r4j_model* m = create(tiny_gpt2(48, 8));
  int32_t t[4] = {1, 2, 48, 3};
  uint8_t mask[16];
  std::memset(mask, 1, sizeof mask);
  float f[16 * 48];
  EXPECT_FAILS(r4j_model_logits(m, t, mask, 1, 4, f, 4 * 48), R4J_ERR_INVALID_ARGUMENT,
               "tokens[0][2] = 48 is outside the vocabulary");
  t[2] = -1;
  EXPECT_FAILS(r4j_model_logits(m, t, mask, 1, 4, f, 4 * 48), R4J_ERR_INVALID_ARGUMENT, "outside the vocabulary");
  int32_t long_seq[16] = {0};
  EXPECT_FAILS(r4j_model_logits(m, long_seq, mask, 1, 16, f, 16 * 48), R4J_ERR_INVALID_ARGUMENT,
               "exceeds the context window");
  r4j_generate_options go;
  r4j_generate_options_defaults(&go);
  go.max_new_tokens = 6;
  int32_t prompt[4] = {1, 2, 3, 4}, len[1] = {4};
  r4j_rollout* r = nullptr;
  EXPECT_FAILS(r4j_generate(m, prompt, len, 4, 1, &go, &r), R4J_ERR_INVALID_ARGUMENT, "exceeds the context window");
  prompt[1] = 99;
  go.max_new_tokens = 2;
  EXPECT_FAILS(r4j_generate(m, prompt, len, 4, 1, &go, &r), R4J_ERR_INVALID_ARGUMENT, "outside the vocabulary");
  EXPECT_EQ(r, nullptr) << "outputs are written only on success";
  r4j_model_destroy(m);
}

TEST(AbiErrors, EmptyBatchesAndBadOptionsAreRejected) {
  r4j_model* m = create(tiny_gpt2());
  int32_t t[4] = {1, 2, 3, 4};
  uint8_t mask[4] = {1, 1, 1, 1};
  float f[4];
  EXPECT_FAILS(r4j_model_logits(m, t, mask, 0, 4, f, 4), R4J_ERR_INVALID_ARGUMENT, "empty batch");
  r4j_generate_options go;
  r4j_generate_options_defaults(&go);
  r4j_rollout* r = nullptr;
  EXPECT_FAILS(r4j_generate(m, t, t, 4, 0, &go, &r), R4J_ERR_INVALID_ARGUMENT, "empty batch");
  int32_t zero_len[1] = {0};
  EXPECT_FAILS(r4j_generate(m, t, zero_len, 4, 1, &go, &r), R4J_ERR_INVALID_ARGUMENT, "prompts_lengths[0] = 0");
  int32_t len[1] = {2};
  go.top_p = 0;
  EXPECT_FAILS(r4j_generate(m, t, len, 4, 1, &go, &r), R4J_ERR_INVALID_ARGUMENT, "top_p");
  go.top_p = 1;
  go.temperature = -1;
  EXPECT_FAILS(r4j_generate(m, t, len, 4, 1, &go, &r), R4J_ERR_INVALID_ARGUMENT, "temperature");
  go.temperature = 1;
  go.with_values = 1;
  EXPECT_FAILS(r4j_generate(m, t, len, 4, 1, &go, &r), R4J_ERR_INVALID_ARGUMENT, "value head");

  r = rollout_of(m);
  r4j_ppo_options po;
  r4j_ppo_options_defaults(&po);
  r4j_algo_options ppo;
  r4j_algo_options_defaults(&ppo);
  r4j_advantage_stats as;
  EXPECT_FAILS(r4j_ppo_advantages_ex(r, &po, &ppo, &as, nullptr), R4J_ERR_INVALID_ARGUMENT,
               "call r4j_ppo_rewards_ex first");
  po.gamma = 2;
  r4j_reward_stats rs;
  EXPECT_FAILS(r4j_ppo_rewards_ex(r, &po, &ppo, 0.1, 0, 1, &rs), R4J_ERR_INVALID_ARGUMENT, "gamma");
  r4j_ppo_options_defaults(&po);
  EXPECT_FAILS(r4j_ppo_rewards_ex(r, &po, &ppo, 0.1, 0, 0, &rs), R4J_ERR_INVALID_ARGUMENT, "score_scale");
  po.kl_estimator = R4J_KL_FULL;
  EXPECT_FAILS(r4j_ppo_rewards_ex(r, &po, &ppo, 0.1, 0, 1, &rs), R4J_ERR_INVALID_ARGUMENT, "FULL_KL");
  r4j_ppo_options_defaults(&po);
  ASSERT_OK(r4j_ppo_rewards_ex(r, &po, &ppo, 0.1, 0, 1, &rs));
  ASSERT_OK(r4j_ppo_advantages_ex(r, &po, &ppo, &as, nullptr));
  r4j_ppo_stats ps;
  int64_t idx[2] = {0, 5};
  EXPECT_FAILS(r4j_ppo_accumulate_ex(m, nullptr, r, idx, 0, &po, &ppo, 1, &ps, nullptr), R4J_ERR_INVALID_ARGUMENT, "empty micro-batch");
  EXPECT_FAILS(r4j_ppo_accumulate_ex(m, nullptr, r, idx, 2, &po, &ppo, 1, &ps, nullptr), R4J_ERR_INVALID_ARGUMENT,
               "indices[1] = 5 is outside the rollout");
  EXPECT_FAILS(r4j_ppo_accumulate_ex(m, nullptr, r, idx, 1, &po, &ppo, 1, &ps, nullptr), R4J_ERR_INVALID_ARGUMENT, "no value head");
  int64_t positions = -1;
  EXPECT_FAILS(r4j_ppo_micro_batch_positions(m, r, idx, 2, &positions), R4J_ERR_INVALID_ARGUMENT,
               "indices[1] = 5 is outside the rollout");
  EXPECT_FAILS(r4j_ppo_micro_batch_positions(m, r, nullptr, 2, &positions), R4J_ERR_INVALID_ARGUMENT, "indices is NULL");
  EXPECT_FAILS(r4j_ppo_micro_batch_positions(m, r, idx, 1, nullptr), R4J_ERR_INVALID_ARGUMENT, "out_positions");
  EXPECT_EQ(positions, -1) << "a failed call writes nothing";
  ASSERT_OK(r4j_ppo_micro_batch_positions(m, r, idx, 1, &positions));
  EXPECT_EQ(positions, 2 + 2) << "row 0: two prompt and two response tokens";

  // The algorithm switches: bad values, unknown table keys, group estimators without GROUP_ID, a critic for GRPO.
  r4j_algo_options ao;
  ASSERT_OK(r4j_algo_options_defaults(&ao));
  ao.estimator = 99;
  EXPECT_FAILS(r4j_ppo_advantages_ex(r, &po, &ao, &as, nullptr), R4J_ERR_INVALID_ARGUMENT,
               "unknown advantage estimator 99");
  ao.estimator = R4J_ESTIMATOR_GAE;
  ao.importance_sampling = 7;
  EXPECT_FAILS(r4j_ppo_accumulate_ex(m, nullptr, r, idx, 1, &po, &ao, 1, &ps, nullptr), R4J_ERR_INVALID_ARGUMENT,
               "unknown importance_sampling 7");
  ao.importance_sampling = R4J_IS_TOKEN;
  ao.dual_clip = 0.5;
  EXPECT_FAILS(r4j_ppo_rewards_ex(r, &po, &ao, 0.1, 0, 1, &rs), R4J_ERR_INVALID_ARGUMENT, "dual_clip");
  EXPECT_FAILS(r4j_ppo_validate(&po, &ao), R4J_ERR_INVALID_ARGUMENT, "dual_clip must be 0 (off) or > 1");
  EXPECT_FAILS(r4j_ppo_validate(&po, nullptr), R4J_ERR_INVALID_ARGUMENT, "algo is NULL");
  ASSERT_OK(r4j_ppo_validate(&po, &ppo));
  ao.dual_clip = 0;
  ao.loss_agg = R4J_LOSS_SEQ_MEAN_TOKEN_SUM_NORM;
  EXPECT_FAILS(r4j_ppo_rewards_ex(r, &po, &ao, 0.1, 0, 1, &rs), R4J_ERR_INVALID_ARGUMENT, "max_new_tokens");
  ao.loss_agg = R4J_LOSS_TOKEN_MEAN;
  ao.estimator = R4J_ESTIMATOR_GRPO;
  ASSERT_OK(r4j_ppo_rewards_ex(r, &po, &ao, 0.1, 0, 1, &rs));
  r4j_group_stats gs;
  EXPECT_FAILS(r4j_ppo_advantages_ex(r, &po, &ao, &as, &gs), R4J_ERR_INVALID_ARGUMENT, "need GROUP_ID");
  const float groups[2] = {0, 0};
  ASSERT_OK(r4j_rollout_write(r, R4J_FIELD_GROUP_ID, groups, 2));
  ASSERT_OK(r4j_ppo_advantages_ex(r, &po, &ao, &as, &gs));
  EXPECT_EQ(gs.groups, 1);
  EXPECT_FAILS(r4j_ppo_accumulate_ex(m, m, r, idx, 1, &po, &ao, 1, &ps, nullptr), R4J_ERR_INVALID_ARGUMENT,
               "take no critic");
  ASSERT_OK(r4j_ppo_accumulate_ex(m, nullptr, r, idx, 1, &po, &ao, 1, &ps, nullptr));
  r4j_rollout* g = nullptr;
  const r4j_rollout* parts[2] = {r, r};
  int64_t part_of_row[1] = {0}, row_in_part[1] = {0};
  EXPECT_FAILS(r4j_rollout_gather(parts, 2, part_of_row, row_in_part, 1, &g), R4J_ERR_INVALID_ARGUMENT, "repeats");
  ASSERT_OK(r4j_rollout_gather(parts, 1, part_of_row, row_in_part, 1, &g));
  r4j_rollout_destroy(g);
  r4j_rollout_destroy(r);
  r4j_model_destroy(m);
}

TEST(AbiErrors, BadConfigsAndDevicesAreRejected) {
  r4j_model* m = nullptr;
  auto c = tiny_gpt2();
  c.n_head = 3;
  EXPECT_FAILS(r4j_model_create(&c, "cpu", &m), R4J_ERR_INVALID_ARGUMENT, "must be a multiple of n_head");
  c = tiny_gpt2();
  c.vocab_size = 0;
  EXPECT_FAILS(r4j_model_create(&c, "cpu", &m), R4J_ERR_INVALID_ARGUMENT, "vocab_size must be > 0");
  c = tiny_gpt2();
  c.arch = 7;
  EXPECT_FAILS(r4j_model_create(&c, "cpu", &m), R4J_ERR_INVALID_ARGUMENT, "arch");
  c = tiny_gpt2();
  c.head_dim = 4;
  EXPECT_FAILS(r4j_model_create(&c, "cpu", &m), R4J_ERR_INVALID_ARGUMENT, "GPT-2's head_dim must be n_embd / n_head");
  c = tiny_gpt2();
  c.qk_norm = 1;
  EXPECT_FAILS(r4j_model_create(&c, "cpu", &m), R4J_ERR_INVALID_ARGUMENT, "GPT-2 has no q/k norms");
  c = tiny_qwen3();
  c.head_dim = -8;
  EXPECT_FAILS(r4j_model_create(&c, "cpu", &m), R4J_ERR_INVALID_ARGUMENT, "head_dim must be >= 0");
  c = tiny_qwen3();
  c.head_dim = 7;
  EXPECT_FAILS(r4j_model_create(&c, "cpu", &m), R4J_ERR_INVALID_ARGUMENT, "even head size, got 7");
  c = tiny_qwen3();
  c.n_embd = 18;  // n_head 4 need not divide n_embd when head_dim is given
  ASSERT_OK(r4j_model_create(&c, "cpu", &m));
  ASSERT_OK(r4j_model_destroy(m));
  m = nullptr;
  c = tiny_gpt2();
  EXPECT_FAILS(r4j_model_create(&c, "cuda:0", &m), R4J_ERR_DEVICE, "cuda:0");
  EXPECT_FAILS(r4j_model_create(&c, "cuda:7", &m), R4J_ERR_DEVICE, "cuda:7");
  EXPECT_FAILS(r4j_model_create(&c, "tpu", &m), R4J_ERR_DEVICE, "unknown device 'tpu'");
  EXPECT_FAILS(r4j_model_create(&c, "cpu:3", &m), R4J_ERR_DEVICE, "does not exist");
  EXPECT_FAILS(r4j_model_create(&c, nullptr, &m), R4J_ERR_INVALID_ARGUMENT, "device is NULL");
  EXPECT_EQ(m, nullptr);
  EXPECT_FAILS(r4j_set_num_threads(-1), R4J_ERR_INVALID_ARGUMENT, "thread count");
  size_t s;
  EXPECT_FAILS(r4j_struct_size(42, &s), R4J_ERR_INVALID_ARGUMENT, "unknown struct");
}

TEST(AbiErrors, AttentionChunkRoundTripsAndRejectsNegativeRows) {
  r4j_model* m = create(tiny_gpt2());
  int64_t rows = -1;
  ASSERT_OK(r4j_model_get_attention_chunk(m, &rows));
  EXPECT_EQ(rows, 128) << "a new model's default";
  ASSERT_OK(r4j_model_set_attention_chunk(m, 3));
  EXPECT_FAILS(r4j_model_set_attention_chunk(m, -1), R4J_ERR_INVALID_ARGUMENT, "attention_chunk must be >= 0");
  ASSERT_OK(r4j_model_get_attention_chunk(m, &rows));
  EXPECT_EQ(rows, 3) << "a rejected value leaves the setting as it was";
  EXPECT_FAILS(r4j_model_get_attention_chunk(m, nullptr), R4J_ERR_INVALID_ARGUMENT, "out");
  EXPECT_FAILS(r4j_model_set_attention_chunk(nullptr, 8), R4J_ERR_INVALID_HANDLE, "model is NULL");
  ASSERT_OK(r4j_model_destroy(m));
}
