// One frozen base for two LoRA models (r4j_model_share_base): the shared
// tensors alias, outlive the model they came from, change no output, and
// models that differ are refused before anything is shared.
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core_helpers.hpp"
#include "cpu_allocator.hpp"
#include "errors.hpp"
#include "scoring.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

r4j_lora_options lora(uint64_t seed) {
  auto o = default_lora_options();
  o.r = 2;
  o.alpha = 4.0;
  o.seed = seed;
  return o;
}

// A policy and a critic from the same weights (the same config seed), each with its own adapters.
std::unique_ptr<Model> with_lora(r4j_model_config c, bool value_head, uint64_t lora_seed) {
  c.value_head = value_head ? 1 : 0;
  auto m = make(c);
  m->add_lora(lora(lora_seed));
  at::NoGradGuard g;
  at::manual_seed(lora_seed);
  for (auto& [name, t] : m->named_parameters())
    if (name.find("lora_B") != std::string::npos) t.normal_(0, 0.2);  // adapters that change the output
  return m;
}

at::Tensor values(Model& m, const at::Tensor& tokens) {
  at::NoGradGuard g;
  auto mask = at::ones(tokens.sizes(), at::kBool);
  return m.value(m.hidden(tokens, positions_from_mask(mask), mask, nullptr));
}

bool frozen_base(const std::string& name, const at::Tensor& t) {
  return !t.requires_grad() && name.rfind("base_model.model.", 0) != 0;
}

std::string error_of(r4j_status s) { return s == R4J_OK ? std::string("(ok)") : std::string(r4j_last_error()); }

}  // namespace

TEST(LoraShare, BaseTensorsAliasOutliveTheSourceAndChangeNoOutput) {
  for (auto c : {tiny_gpt2(), tiny_llama(), tiny_qwen3()}) {
    auto policy = with_lora(c, false, 5);
    auto critic = with_lora(c, true, 6);
    auto tokens = random_tokens(2, 7, 48, 1);
    auto before = values(*critic, tokens);
    int64_t base_bytes = 0;
    for (auto& [name, t] : critic->named_parameters())
      if (frozen_base(name, t)) base_bytes += static_cast<int64_t>(t.nbytes());

    EXPECT_EQ(critic->share_base(*policy), base_bytes);
    EXPECT_EQ(critic->shared_base_bytes(), base_bytes);
    for (auto& [name, t] : critic->named_parameters()) {
      auto theirs = policy->find(name);
      if (frozen_base(name, t)) {
        EXPECT_EQ(t.data_ptr(), theirs.data_ptr()) << name;
      } else if (theirs.defined()) {
        EXPECT_NE(t.data_ptr(), theirs.data_ptr()) << name;  // adapters stay the critic's own
      }
    }
    if (c.tie_word_embeddings) {  // the tied head followed the embedding
      const char* embedding = c.arch == R4J_ARCH_GPT2 ? "transformer.wte.weight" : "model.embed_tokens.weight";
      EXPECT_EQ(critic->lm_head_weight().data_ptr(), critic->find(embedding).data_ptr());
    }
    EXPECT_TRUE(at::equal(values(*critic, tokens), before));
    EXPECT_THROW(critic->merge_lora(), Error);  // it would change the policy's weights too
    EXPECT_THROW(policy->merge_lora(), Error);

    policy.reset();  // the source goes first: the critic keeps the storage
    EXPECT_TRUE(at::equal(values(*critic, tokens), before));
    EXPECT_NO_THROW(critic->merge_lora());  // the base is the critic's alone now
  }
}

TEST(LoraShare, FreedCopiesGoBackToTheSystemNotToTheBlockCache) {
  if (!install_cpu_cache()) GTEST_SKIP() << "cache off (RLHF4J_CPU_CACHE=0 or libtorch 2.x)";
  auto c = tiny_gpt2(/*vocab=*/20000);  // the embedding, 1.3 MB, is a cached block size
  auto policy = with_lora(c, false, 5);
  auto critic = with_lora(c, true, 6);
  critic->share_base(*policy);
  EXPECT_EQ(cpu_cache_stats().cached_bytes, size_t{0});
}

TEST(LoraShare, MismatchedModelsAreRefusedNamingTheTensorAndNothingIsShared) {
  auto critic = with_lora(tiny_gpt2(), true, 6);
  auto expect_refused = [&](Model& from, const std::string& part) {
    std::vector<void*> ptrs;
    for (auto& [name, t] : critic->named_parameters()) ptrs.push_back(t.data_ptr());
    try {
      critic->share_base(from);
      ADD_FAILURE() << "shared with a model that differs (" << part << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
    size_t i = 0;
    for (auto& [name, t] : critic->named_parameters()) EXPECT_EQ(t.data_ptr(), ptrs[i++]) << name;
    EXPECT_EQ(critic->shared_base_bytes(), 0);
  };
  auto other_seed = tiny_gpt2();
  other_seed.seed = 4;
  expect_refused(*with_lora(other_seed, false, 5), "'transformer.wte.weight' holds different values");
  auto wider = tiny_gpt2(/*vocab=*/50);
  expect_refused(*with_lora(wider, false, 5), "'transformer.wte.weight' is [48, 16] here but [50, 16]");
  expect_refused(*make(tiny_gpt2()), "'transformer.wte.weight' is trainable in the source model");
  expect_refused(*make(tiny_llama()), "different architectures");
  expect_refused(*critic, "the same model");
  auto plain = make(tiny_gpt2());
  EXPECT_THROW(plain->share_base(*with_lora(tiny_gpt2(), false, 5)), Error);  // no frozen base of its own
}

// Through the C ABI, as Java calls it: the source destroyed first, writes that would
// change both models refused (equal values accepted), merging refused.
TEST(LoraShare, AbiSharesAndGuardsTheSharedTensors) {
  auto c = tiny_gpt2();
  r4j_model *policy = nullptr, *critic = nullptr;
  ASSERT_EQ(r4j_model_create(&c, "cpu", &policy), R4J_OK);
  c.value_head = 1;
  ASSERT_EQ(r4j_model_create(&c, "cpu", &critic), R4J_OK);
  auto o = lora(5);
  ASSERT_EQ(r4j_model_add_lora(policy, &o), R4J_OK);
  ASSERT_EQ(r4j_model_add_lora(critic, &o), R4J_OK);
  int64_t bytes = -1, reported = -1;
  ASSERT_EQ(r4j_model_shared_base_bytes(critic, &reported), R4J_OK);
  EXPECT_EQ(reported, 0);
  EXPECT_NE(r4j_model_share_base(critic, critic, &bytes), R4J_OK);
  ASSERT_EQ(r4j_model_share_base(critic, policy, &bytes), R4J_OK) << r4j_last_error();
  ASSERT_EQ(r4j_model_shared_base_bytes(critic, &reported), R4J_OK);
  EXPECT_GT(bytes, 0);
  EXPECT_EQ(reported, bytes);

  const char* name = "transformer.h.0.ln_1.weight";  // [16], ones at init
  std::vector<float> w(16);
  ASSERT_EQ(r4j_model_read_tensor(critic, name, R4J_DTYPE_F32, w.data(), w.size() * 4), R4J_OK);
  EXPECT_EQ(r4j_model_write_tensor(policy, name, R4J_DTYPE_F32, w.data(), w.size() * 4), R4J_OK);  // same values
  auto changed = w;
  changed[0] += 1;
  auto s = r4j_model_write_tensor(policy, name, R4J_DTYPE_F32, changed.data(), changed.size() * 4);
  EXPECT_NE(error_of(s).find(std::string("'") + name + "' is a base weight shared"), std::string::npos) << error_of(s);
  EXPECT_NE(r4j_model_merge_lora(policy), R4J_OK);
  EXPECT_NE(std::string(r4j_last_error()).find("shared with another model"), std::string::npos);

  ASSERT_EQ(r4j_model_destroy(policy), R4J_OK);
  std::vector<float> after(16);
  ASSERT_EQ(r4j_model_read_tensor(critic, name, R4J_DTYPE_F32, after.data(), after.size() * 4), R4J_OK);
  EXPECT_EQ(after, w);
  ASSERT_EQ(r4j_model_destroy(critic), R4J_OK);
}
