// The C ABI as a C caller uses it: only rlhf4j.h and the shared library.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "test_helpers.hpp"

namespace {

struct ModelPtr {
  r4j_model* p = nullptr;
  explicit ModelPtr(const r4j_model_config& c) { EXPECT_EQ(r4j_model_create(&c, "cpu", &p), R4J_OK) << r4j_last_error(); }
  ~ModelPtr() { r4j_model_destroy(p); }
};

struct RolloutPtr {
  r4j_rollout* p = nullptr;
  ~RolloutPtr() { r4j_rollout_destroy(p); }
};

}  // namespace

TEST(Abi, BuildInfoIsJsonWithTheDocumentedKeys) {
  size_t needed = 0;
  EXPECT_EQ(r4j_build_info(nullptr, 0, &needed), R4J_ERR_BUFFER_TOO_SMALL);
  ASSERT_GT(needed, 10u);
  std::string buf(needed, '\0');
  ASSERT_OK(r4j_build_info(buf.data(), buf.size(), &needed));
  std::string json(buf.c_str());
  for (const char* key : {"\"version\"", "\"libtorch\"", "\"blas\"", "\"cuda_archs\"", "\"devices\"", "\"threads\"",
                          "\"bf16_decode_kernel\"", "\"bf16_matmul\""})
    EXPECT_NE(json.find(key), std::string::npos) << key << " missing in " << json;
  EXPECT_NE(json.find("\"cpu\""), std::string::npos);
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
}

TEST(Abi, LibraryKernelsRunOnEveryThread) {
  ASSERT_OK(r4j_set_num_threads(2));
  size_t needed = 0;
  r4j_build_info(nullptr, 0, &needed);
  std::string buf(needed, '\0');
  ASSERT_OK(r4j_build_info(buf.data(), buf.size(), &needed));
  EXPECT_NE(std::string(buf.c_str()).find("\"kernel_threads\":2"), std::string::npos)
      << "built without OpenMP, the decoding kernels run on one thread: " << buf.c_str();
}

TEST(Abi, StructSizesMatchTheHeader) {
  size_t s = 0;
  ASSERT_OK(r4j_struct_size(R4J_STRUCT_MODEL_CONFIG, &s));
  EXPECT_EQ(s, sizeof(r4j_model_config));
  ASSERT_OK(r4j_struct_size(R4J_STRUCT_PPO_STATS, &s));
  EXPECT_EQ(s, sizeof(r4j_ppo_stats));
  int32_t abi = 0;
  ASSERT_OK(r4j_abi_version(&abi));
  EXPECT_EQ(abi, R4J_ABI_VERSION);
}

TEST(Abi, TensorsReadWriteRoundTripAndRejectNonFinite) {
  ModelPtr m(tiny_gpt2());
  int64_t count = 0;
  ASSERT_OK(r4j_model_tensor_count(m.p, &count));
  EXPECT_EQ(count, 2 + 2 * 12 + 2);
  char name[128];
  int32_t dtype = -1, ndim = 0;
  int64_t shape[8];
  ASSERT_OK(r4j_model_tensor_info(m.p, 0, name, sizeof name, &dtype, &ndim, shape, 8));
  EXPECT_STREQ(name, "transformer.wte.weight");
  EXPECT_EQ(dtype, R4J_DTYPE_F32);
  ASSERT_EQ(ndim, 2);
  EXPECT_EQ(shape[0], 48);
  EXPECT_EQ(shape[1], 16);

  std::vector<float> w(48 * 16);
  ASSERT_OK(r4j_model_read_tensor(m.p, name, R4J_DTYPE_F32, w.data(), w.size() * 4));
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.001f * static_cast<float>(i);
  ASSERT_OK(r4j_model_write_tensor(m.p, name, R4J_DTYPE_F32, w.data(), w.size() * 4));
  std::vector<float> back(w.size());
  ASSERT_OK(r4j_model_read_tensor(m.p, name, R4J_DTYPE_F32, back.data(), back.size() * 4));
  EXPECT_EQ(back, w);
  // As float64 the same values come back widened.
  std::vector<double> wide(w.size());
  ASSERT_OK(r4j_model_read_tensor(m.p, name, R4J_DTYPE_F64, wide.data(), wide.size() * 8));
  EXPECT_EQ(wide[17], static_cast<double>(w[17]));

  std::vector<float> bad = w;
  bad[5] = NAN;
  EXPECT_FAILS(r4j_model_write_tensor(m.p, name, R4J_DTYPE_F32, bad.data(), bad.size() * 4), R4J_ERR_NON_FINITE,
               "NaN or Inf");
  ASSERT_OK(r4j_model_read_tensor(m.p, name, R4J_DTYPE_F32, back.data(), back.size() * 4));
  EXPECT_EQ(back, w) << "a rejected write leaves the tensor unchanged";
}

TEST(Abi, GenerationRecordsWhatAFullForwardComputes) {
  auto c = tiny_gpt2();
  c.value_head = 1;
  ModelPtr m(c);
  std::vector<int32_t> prompts = {5, 6, 7, 0, 0, 9, 10, 11, 12, 13, 14, 0, 0, 0, 0};
  std::vector<int32_t> lengths = {3, 5, 1};
  auto o = gen_options(6, 42);
  o.with_values = 1;
  o.eos_token_id = 2;
  RolloutPtr r;
  ASSERT_OK(r4j_generate(m.p, prompts.data(), lengths.data(), 5, 3, &o, &r.p));
  int64_t B, P, R;
  ASSERT_OK(r4j_rollout_shape(r.p, &B, &P, &R));
  EXPECT_EQ(B, 3);
  EXPECT_EQ(P, 5);
  EXPECT_GE(R, 1);
  EXPECT_LE(R, 6);
  std::vector<int32_t> query(B * P);
  ASSERT_OK(r4j_rollout_read(r.p, R4J_FIELD_QUERY_TOKENS, query.data(), query.size()));
  EXPECT_EQ(std::vector<int32_t>(query.begin(), query.begin() + 5), (std::vector<int32_t>{0, 0, 5, 6, 7}))
      << "prompts are left-padded with pad_token_id";
  std::vector<float> recorded(B * R), values(B * R), rescored(B * R), revalued(B * R);
  ASSERT_OK(r4j_rollout_read(r.p, R4J_FIELD_OLD_LOGPROBS, recorded.data(), recorded.size()));
  ASSERT_OK(r4j_rollout_read(r.p, R4J_FIELD_OLD_VALUES, values.data(), values.size()));
  // The slow twin: a full forward over prompt + response.
  ASSERT_OK(r4j_rollout_score_policy(m.p, r.p, 1.0, R4J_SCORE_LOGPROBS | R4J_SCORE_VALUES));
  ASSERT_OK(r4j_rollout_read(r.p, R4J_FIELD_OLD_LOGPROBS, rescored.data(), rescored.size()));
  ASSERT_OK(r4j_rollout_read(r.p, R4J_FIELD_OLD_VALUES, revalued.data(), revalued.size()));
  for (size_t i = 0; i < recorded.size(); ++i) {
    EXPECT_NEAR(recorded[i], rescored[i], 1e-5) << i;
    EXPECT_NEAR(values[i], revalued[i], 1e-5) << i;
  }
}

TEST(Abi, SftStepsLowerTheLanguageModelLoss) {
  ModelPtr m(tiny_gpt2());
  r4j_adamw_options ao;
  r4j_adamw_options_defaults(&ao);
  r4j_optimizer* opt = nullptr;
  ASSERT_OK(r4j_optimizer_create(m.p, &ao, &opt));
  std::vector<int32_t> tokens = {1, 5, 9, 13, 17, 21, 2, 1, 6, 10, 14, 18, 22, 2};
  std::vector<uint8_t> mask(14, 1);
  double first = 0, loss = 0;
  int64_t n = 0;
  for (int step = 0; step < 40; ++step) {
    ASSERT_OK(r4j_lm_loss(m.p, tokens.data(), mask.data(), mask.data(), 2, 7, 1.0, 1, &loss, &n));
    if (step == 0) first = loss;
    r4j_step_result res;
    ASSERT_OK(r4j_optimizer_step(opt, 1e-2, &res));
    EXPECT_EQ(res.step, step + 1);
  }
  EXPECT_EQ(n, 12);
  EXPECT_LT(loss, 0.2 * first) << "40 AdamW steps on one batch memorise it";
  int64_t count = 0;
  ASSERT_OK(r4j_optimizer_tensor_count(opt, &count));
  EXPECT_EQ(count, 2 * 28 + 1);
  double steps = 0;
  ASSERT_OK(r4j_optimizer_read_tensor(opt, "step", R4J_DTYPE_F64, &steps, sizeof steps));
  EXPECT_EQ(steps, 40.0);
  std::vector<float> m1(48 * 16);
  ASSERT_OK(r4j_optimizer_read_tensor(opt, "transformer.wte.weight.exp_avg", R4J_DTYPE_F32, m1.data(), m1.size() * 4));
  ASSERT_OK(r4j_optimizer_destroy(opt));
}

TEST(Abi, RewardModelLearnsAPreference) {
  auto c = tiny_gpt2();
  c.reward_head = 1;
  ModelPtr m(c);
  r4j_adamw_options ao;
  r4j_adamw_options_defaults(&ao);
  r4j_optimizer* opt = nullptr;
  ASSERT_OK(r4j_optimizer_create(m.p, &ao, &opt));
  // chosen responses end in token 7, rejected in token 8.
  std::vector<int32_t> chosen = {1, 4, 7, 1, 5, 7, 1, 6, 7}, rejected = {1, 4, 8, 1, 5, 8, 1, 6, 8};
  std::vector<uint8_t> mask(9, 1);
  double loss = 0, acc = 0, first = 0;
  for (int step = 0; step < 30; ++step) {
    ASSERT_OK(r4j_rm_loss(m.p, chosen.data(), mask.data(), rejected.data(), mask.data(), 3, 3, 1.0, 1, &loss, &acc));
    if (step == 0) first = loss;
    r4j_step_result res;
    ASSERT_OK(r4j_optimizer_step(opt, 1e-2, &res));
  }
  EXPECT_LT(loss, 0.5 * first);
  EXPECT_EQ(acc, 1.0);
  float scores[2];
  std::vector<int32_t> pair = {1, 4, 7, 1, 4, 8};
  ASSERT_OK(r4j_model_reward(m.p, pair.data(), mask.data(), 2, 3, scores, 2));
  EXPECT_GT(scores[0], scores[1]);
  ASSERT_OK(r4j_optimizer_destroy(opt));
}

TEST(Abi, OnePpoIterationEndToEnd) {
  auto c = tiny_gpt2();
  c.value_head = 1;
  ModelPtr policy(c), ref(c);
  auto rc = tiny_gpt2();
  rc.reward_head = 1;
  ModelPtr rm(rc);
  ASSERT_OK(r4j_model_copy_weights(ref.p, policy.p));
  std::vector<int32_t> prompts = {3, 4, 5, 6, 7, 8, 9, 10};
  std::vector<int32_t> lengths = {2, 2, 2, 2};
  auto o = gen_options(5, 1);
  o.with_values = 1;
  RolloutPtr r;
  ASSERT_OK(r4j_generate(policy.p, prompts.data(), lengths.data(), 2, 4, &o, &r.p));
  ASSERT_OK(r4j_rollout_score_ref(ref.p, policy.p, r.p, 1.0));
  ASSERT_OK(r4j_rollout_score_reward(rm.p, r.p));
  r4j_ppo_options po;
  ASSERT_OK(r4j_ppo_options_defaults(&po));
  r4j_algo_options ppo;
  ASSERT_OK(r4j_algo_options_defaults(&ppo));
  r4j_reward_stats rs;
  ASSERT_OK(r4j_ppo_rewards_ex(r.p, &po, &ppo, 0.1, 0.0, 1.0, &rs));
  EXPECT_NEAR(rs.kl, 0.0, 1e-5) << "reference == policy: k1 KL is zero";
  po.kl_estimator = R4J_KL_FULL;
  ASSERT_OK(r4j_ppo_rewards_ex(r.p, &po, &ppo, 0.1, 0.0, 1.0, &rs));
  EXPECT_NEAR(rs.kl, 0.0, 1e-5) << "and so is the full KL";
  r4j_advantage_stats as;
  ASSERT_OK(r4j_ppo_advantages_ex(r.p, &po, &ppo, &as, nullptr));
  EXPECT_EQ(as.non_finite, 0);
  r4j_adamw_options ao;
  r4j_adamw_options_defaults(&ao);
  r4j_optimizer* opt = nullptr;
  ASSERT_OK(r4j_optimizer_create(policy.p, &ao, &opt));
  int64_t idx[2] = {0, 2};
  r4j_ppo_stats ps;
  ASSERT_OK(r4j_ppo_accumulate_ex(policy.p, nullptr, r.p, idx, 2, &po, &ppo, 1.0, &ps, nullptr));
  EXPECT_NEAR(ps.ratio_mean, 1.0, 1e-6);
  EXPECT_GT(ps.n_tokens, 0);
  r4j_step_result sr;
  ASSERT_OK(r4j_optimizer_step(opt, 1e-3, &sr));
  EXPECT_EQ(sr.skipped, 0);
  ASSERT_OK(r4j_ppo_accumulate_ex(policy.p, nullptr, r.p, idx, 2, &po, &ppo, 1.0, &ps, nullptr));
  EXPECT_GT(std::abs(ps.ratio_mean - 1.0) + ps.ratio_var, 0.0) << "after a step the policy moved";
  ASSERT_OK(r4j_optimizer_destroy(opt));
}

TEST(Abi, WithoutAProcessGroupTheCollectivesAreLocal) {
  int32_t rank = -1, world = -1;
  ASSERT_OK(r4j_dist_info(&rank, &world));
  EXPECT_EQ(rank, 0);
  EXPECT_EQ(world, 1);
  double sums[2] = {1.5, -2.0};
  ASSERT_OK(r4j_dist_all_reduce(R4J_DTYPE_F64, sums, 2, R4J_REDUCE_SUM));
  EXPECT_EQ(sums[0], 1.5);
  EXPECT_EQ(sums[1], -2.0);
  EXPECT_EQ(r4j_dist_all_reduce(R4J_DTYPE_F32, sums, 2, R4J_REDUCE_SUM), R4J_ERR_INVALID_ARGUMENT);
  ASSERT_OK(r4j_dist_barrier());
  ASSERT_OK(r4j_dist_shutdown());
  size_t s = 0;
  ASSERT_OK(r4j_struct_size(R4J_STRUCT_DIST_OPTIONS, &s));
  EXPECT_EQ(s, sizeof(r4j_dist_options));
  r4j_dist_options o;
  ASSERT_OK(r4j_dist_options_defaults(&o));
  o.rank = 2;  // outside a world of 2: refused before any socket is opened
  o.world_size = 2;
  EXPECT_EQ(r4j_dist_init("127.0.0.1", &o), R4J_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(r4j_last_error()).find("rank 2 is outside"), std::string::npos) << r4j_last_error();

  ModelPtr a(tiny_gpt2()), b(tiny_gpt2());
  int64_t ca = 0, cb = 0;
  ASSERT_OK(r4j_model_checksum(a.p, &ca));
  ASSERT_OK(r4j_model_checksum(b.p, &cb));
  EXPECT_EQ(ca, cb) << "same config and seed: the same weights";
  ASSERT_OK(r4j_dist_broadcast_model(a.p, 0));  // the identity in one process
  ASSERT_OK(r4j_model_checksum(a.p, &cb));
  EXPECT_EQ(ca, cb);
}

TEST(Abi, SeededGenerationNeedsItsRowSeeds) {
  ModelPtr m(tiny_gpt2());
  int32_t prompts[4] = {1, 2, 3, 4};
  int32_t lengths[2] = {2, 2};
  r4j_generate_options o = gen_options(3, 1);
  r4j_rollout* r = nullptr;
  EXPECT_EQ(r4j_generate_seeded(m.p, prompts, lengths, 2, 2, &o, nullptr, &r), R4J_ERR_INVALID_ARGUMENT);
  uint64_t seeds[2] = {7, 8};
  ASSERT_OK(r4j_generate_seeded(m.p, prompts, lengths, 2, 2, &o, seeds, &r));
  ASSERT_OK(r4j_rollout_destroy(r));
}

// The GEMM reference rate names the path that produced it and every path it timed.
TEST(Abi, GemmRateNamesItsBestPath) {
  for (int32_t dtype : {R4J_DTYPE_F32, R4J_DTYPE_BF16}) {
    double gflops = 0;
    char buf[4096];
    size_t needed = 0;
    ASSERT_OK(r4j_gemm_rate("cpu", dtype, 128, 2, &gflops, buf, sizeof buf, &needed));
    EXPECT_GT(gflops, 0) << "dtype " << dtype;
    const std::string json = buf;
    EXPECT_EQ(needed, json.size() + 1);
    EXPECT_NE(json.find("\"paths\":[{\"name\":\"aten"), std::string::npos) << json;  // ATen's: in every build
    // The rate is the best path's, named: {"gflops":G,"best":"B",...,{"name":"B","gflops":G,...
    const auto g0 = json.find(':') + 1, b0 = json.find("\"best\":\"") + 8;
    const std::string g = json.substr(g0, json.find(',') - g0), best = json.substr(b0, json.find('"', b0) - b0);
    EXPECT_NE(json.find("{\"name\":\"" + best + "\",\"gflops\":" + g + ","), std::string::npos) << json;
    const auto r0 = json.find("\"read_gbps\":") + 12;
    EXPECT_GT(std::stod(json.substr(r0)), 0.0) << "the memory read rate is measured: " << json;
  }
  double gflops = 0;
  size_t needed = 0;
  EXPECT_FAILS(r4j_gemm_rate("cpu", R4J_DTYPE_I32, 128, 1, &gflops, nullptr, 0, &needed), R4J_ERR_INVALID_ARGUMENT,
               "dtype");
}
