// Shared by the native tests: status assertions and tiny model configs.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "rlhf4j.h"

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    r4j_status st_ = (expr);                                                   \
    ASSERT_EQ(st_, R4J_OK) << #expr << " failed: " << r4j_last_error();        \
  } while (0)

// The call fails with status code and a message containing fragment.
#define EXPECT_FAILS(expr, code, fragment)                                     \
  do {                                                                         \
    r4j_status st_ = (expr);                                                   \
    EXPECT_EQ(st_, code) << #expr << ": " << r4j_last_error();                 \
    EXPECT_NE(std::string(r4j_last_error()).find(fragment), std::string::npos) \
        << #expr << ": message '" << r4j_last_error() << "' lacks '" << fragment << "'"; \
  } while (0)

// A GPT-2 small enough to run in milliseconds.
inline r4j_model_config tiny_gpt2(int64_t vocab = 48, int64_t positions = 32) {
  r4j_model_config c;
  r4j_model_config_defaults(&c);
  c.vocab_size = vocab;
  c.n_positions = positions;
  c.n_embd = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.seed = 3;
  return c;
}

// A Llama-kind model with grouped-query attention and q/k/v biases (Qwen2-like).
inline r4j_model_config tiny_llama(int64_t vocab = 48, int64_t positions = 32) {
  r4j_model_config c = tiny_gpt2(vocab, positions);
  c.arch = R4J_ARCH_LLAMA;
  c.n_head = 4;
  c.n_kv_head = 2;
  c.n_inner = 24;
  c.norm_eps = 1e-6;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = 0;
  c.attention_bias = 1;
  return c;
}

// Qwen3-like: per-head q/k RMSNorm, a head size of its own (4 x 8 = 32 query
// dims over n_embd 16), no biases, tied head.
inline r4j_model_config tiny_qwen3(int64_t vocab = 48, int64_t positions = 32) {
  r4j_model_config c = tiny_llama(vocab, positions);
  c.head_dim = 8;
  c.qk_norm = 1;
  c.attention_bias = 0;
  c.tie_word_embeddings = 1;
  return c;
}

// Generation options at their defaults but for the length and the seed.
inline r4j_generate_options gen_options(int64_t max_new_tokens, uint64_t seed) {
  r4j_generate_options o;
  r4j_generate_options_defaults(&o);
  o.max_new_tokens = max_new_tokens;
  o.seed = seed;
  return o;
}
