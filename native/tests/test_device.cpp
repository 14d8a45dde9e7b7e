// The model on RLHF4J_TEST_DEVICE (scripts/device-check sets cuda:0) against the
// same model on the CPU: scoring, generation, bf16 and an optimizer step. Skipped
// when the test device is the CPU itself (every other test runs there).
#include <ATen/ATen.h>

#include <cstdlib>
#include <string>

#include "core_helpers.hpp"
#include "generate.hpp"
#include "optim.hpp"
#include "scoring.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

at::Device test_device() {
  const char* d = std::getenv("RLHF4J_TEST_DEVICE");
  return at::Device(d && *d ? d : "cpu");
}

#define SKIP_ON_CPU()                                                                  \
  if (test_device().is_cpu()) GTEST_SKIP() << "set RLHF4J_TEST_DEVICE (e.g. cuda:0) to run on a device"

std::unique_ptr<Model> on(r4j_model_config c, at::Device dev, int32_t dtype = R4J_DTYPE_F32) {
  c.dtype = dtype;
  c.value_head = 1;
  return make_model(c, dev);  // initialised from a CPU generator: the same weights on every device
}

at::Tensor logprobs_of(Model& m, const at::Tensor& tokens) {
  at::NoGradGuard g;
  auto dev = m.device();
  auto mask = at::ones(tokens.sizes(), at::kBool);
  return score_tokens(m, tokens.to(dev), mask.to(dev), 1, tokens.size(1) - 1, {}).logprobs.cpu();
}

}  // namespace

TEST(Device, ScoringMatchesTheCpu) {
  SKIP_ON_CPU();
  for (auto c : {tiny_gpt2(), tiny_llama()}) {
    auto cpu = on(c, at::kCPU), dev = on(c, test_device());
    auto tokens = random_tokens(3, 12, 48, 5);
    EXPECT_LT(max_abs_diff(logprobs_of(*dev, tokens), logprobs_of(*cpu, tokens)), 1e-4) << "arch " << c.arch;
  }
}

TEST(Device, GeneratedLogprobsAreTheCpusScoresOfTheSameTokens) {
  SKIP_ON_CPU();
  auto dev = on(tiny_gpt2(), test_device()), cpu = on(tiny_gpt2(), at::kCPU);
  auto prompts = random_tokens(4, 5, 48, 9);
  at::NoGradGuard g;
  auto o = gen_options(10, 4);
  auto r = generate(*dev, prompts.to(test_device()), at::ones({4, 5}, at::kBool).to(test_device()), o);
  auto tokens = r->tokens().cpu();
  auto full = logprobs_of(*cpu, tokens).narrow(1, 4, r->response_len());
  EXPECT_LT(max_abs_diff(r->field(R4J_FIELD_OLD_LOGPROBS).cpu(), full), 1e-4);
}

TEST(Device, Bf16LogprobsStayNearFloat32s) {
  SKIP_ON_CPU();
  auto f32 = on(tiny_gpt2(), test_device()), bf16 = on(tiny_gpt2(), test_device(), R4J_DTYPE_BF16);
  auto tokens = random_tokens(3, 12, 48, 6);
  EXPECT_LT(max_abs_diff(logprobs_of(*bf16, tokens), logprobs_of(*f32, tokens)), 2e-2);
}

TEST(Device, AdamWStepsLowerTheLossOnTheDevice) {
  SKIP_ON_CPU();
  for (int32_t dtype : {R4J_DTYPE_F32, R4J_DTYPE_BF16}) {
    auto m = on(tiny_gpt2(), test_device(), dtype);
    m->set_training(true);
    r4j_adamw_options o;
    r4j_adamw_options_defaults(&o);
    AdamW opt(m->named_parameters(), o);
    auto tokens = random_tokens(2, 10, 48, 7).to(test_device());
    auto mask = at::ones(tokens.sizes(), at::kBool).to(test_device());
    double first = 0, last = 0;
    for (int step = 0; step < 8; ++step) {
      auto loss = -score_tokens(*m, tokens, mask, 1, 9, {}).logprobs.mean();
      loss.backward();
      opt.step(1e-2);
      (step == 0 ? first : last) = loss.item<double>();
    }
    EXPECT_LT(last, first - 0.1) << "dtype " << dtype;
  }
}
