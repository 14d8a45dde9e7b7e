// The library-wide part of the C ABI: version, build info, threads, seeds,
// struct sizes and option defaults.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "abi_handles.hpp"
#include "ppo/ppo.hpp"
#include "build_info.hpp"
#include "cpu_allocator.hpp"

using r4j::guarded;
using r4j::require_out;

extern "C" {

R4J_API r4j_status r4j_abi_version(int32_t* out_version) {
  return guarded(__func__, [&] {
    require_out(out_version, "out_version");
    *out_version = R4J_ABI_VERSION;
  });
}

R4J_API r4j_status r4j_build_info(char* buf, size_t cap, size_t* out_needed) {
  return guarded(__func__, [&] {
    require_out(out_needed, "out_needed");
    const std::string json = r4j::build_info_json();
    *out_needed = json.size() + 1;
    if (buf == nullptr || cap < json.size() + 1)
      r4j::fail(R4J_ERR_BUFFER_TOO_SMALL, "buffer holds " + std::to_string(cap) + " bytes, " +
                                              std::to_string(json.size() + 1) + " needed");
    std::memcpy(buf, json.c_str(), json.size() + 1);
  });
}

R4J_API r4j_status r4j_set_num_threads(int32_t n) {
  return guarded(__func__, [&] {
    r4j::require(n >= 0, "thread count must be >= 0, got " + std::to_string(n));
    const unsigned cores = std::thread::hardware_concurrency();
    at::set_num_threads(n == 0 ? static_cast<int>(cores == 0 ? 1 : cores) : n);
  });
}

R4J_API r4j_status r4j_release_cached_memory(void) {
  return guarded(__func__, [] { r4j::release_cpu_cache(); });
}

R4J_API r4j_status r4j_manual_seed(uint64_t seed) {
  return guarded(__func__, [&] { at::manual_seed(seed); });
}

R4J_API r4j_status r4j_gemm_gflops(const char* device, int64_t n, int32_t iterations, double* out_gflops) {
  return guarded(__func__, [&] {
    require_out(out_gflops, "out_gflops");
    r4j::require(n >= 1 && n <= 16384, "n must be in [1, 16384], got " + std::to_string(n));
    r4j::require(iterations >= 1, "iterations must be >= 1");
    auto dev = r4j::parse_device(device);
    r4j::install_cpu_cache();
    at::NoGradGuard no_grad;
    auto a = at::randn({n, n}, at::TensorOptions().device(dev));
    auto b = at::randn({n, n}, at::TensorOptions().device(dev));
    auto c = at::mm(a, b);  // warm-up: thread pools, caches
    double best = 0;
    for (int32_t i = 0; i < iterations; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      at::mm_out(c, a, b);
      c.sum().item<float>();  // waits for asynchronous devices
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, 2.0 * n * n * n / s / 1e9);
    }
    *out_gflops = best;
  });
}

R4J_API r4j_status r4j_struct_size(int32_t which, size_t* out_size) {
  return guarded(__func__, [&] {
    require_out(out_size, "out_size");
    switch (which) {
      case R4J_STRUCT_MODEL_CONFIG: *out_size = sizeof(r4j_model_config); break;
      case R4J_STRUCT_GENERATE_OPTIONS: *out_size = sizeof(r4j_generate_options); break;
      case R4J_STRUCT_ADAMW_OPTIONS: *out_size = sizeof(r4j_adamw_options); break;
      case R4J_STRUCT_STEP_RESULT: *out_size = sizeof(r4j_step_result); break;
      case R4J_STRUCT_PPO_OPTIONS: *out_size = sizeof(r4j_ppo_options); break;
      case R4J_STRUCT_PPO_STATS: *out_size = sizeof(r4j_ppo_stats); break;
      case R4J_STRUCT_REWARD_STATS: *out_size = sizeof(r4j_reward_stats); break;
      case R4J_STRUCT_ADVANTAGE_STATS: *out_size = sizeof(r4j_advantage_stats); break;
      case R4J_STRUCT_ALGO_OPTIONS: *out_size = sizeof(r4j_algo_options); break;
      case R4J_STRUCT_ALGO_LOSS_STATS: *out_size = sizeof(r4j_algo_loss_stats); break;
      case R4J_STRUCT_GROUP_STATS: *out_size = sizeof(r4j_group_stats); break;
      case R4J_STRUCT_DIST_OPTIONS: *out_size = sizeof(r4j_dist_options); break;
      case R4J_STRUCT_DIST_COUNTERS: *out_size = sizeof(r4j_dist_counters); break;
      case R4J_STRUCT_MEMORY_OPTIONS: *out_size = sizeof(r4j_memory_options); break;
      case R4J_STRUCT_LORA_OPTIONS: *out_size = sizeof(r4j_lora_options); break;
      case R4J_STRUCT_DPO_OPTIONS: *out_size = sizeof(r4j_dpo_options); break;
      case R4J_STRUCT_DPO_STATS: *out_size = sizeof(r4j_dpo_stats); break;
      default: r4j::fail(R4J_ERR_INVALID_ARGUMENT, "unknown struct code " + std::to_string(which));
    }
  });
}

R4J_API r4j_status r4j_model_config_defaults(r4j_model_config* out) {
  return guarded(__func__, [&] {
    require_out(out, "out");
    r4j_model_config c{};
    c.arch = R4J_ARCH_GPT2;
    c.dtype = R4J_DTYPE_F32;
    c.vocab_size = 50257;
    c.n_positions = 1024;
    c.n_embd = 768;
    c.n_layer = 12;
    c.n_head = 12;
    c.n_kv_head = 0;
    c.n_inner = 0;
    c.norm_eps = 1e-5;
    c.rope_theta = 10000.0;
    c.rope_scaling = R4J_ROPE_NONE;
    c.rope_factor = 1.0;
    c.rope_low_freq_factor = 1.0;
    c.rope_high_freq_factor = 4.0;
    c.rope_original_max_positions = 8192;
    c.tie_word_embeddings = 1;
    c.attention_bias = 0;
    c.value_head = 0;
    c.reward_head = 0;
    c.dropout = 0.0;
    c.initializer_range = 0.02;
    c.seed = 0;
    c.head_dim = 0;
    c.qk_norm = 0;
    *out = c;
  });
}

R4J_API r4j_status r4j_generate_options_defaults(r4j_generate_options* out) {
  return guarded(__func__, [&] {
    require_out(out, "out");
    r4j_generate_options o{};
    o.max_new_tokens = 64;
    o.temperature = 1.0;
    o.top_k = 0;
    o.top_p = 1.0;
    o.eos_token_id = -1;
    o.stop_token_id = -1;
    o.pad_token_id = 0;
    o.seed = 0;
    o.with_values = 0;
    o.keep_decoding_logprobs = 0;
    *out = o;
  });
}

R4J_API r4j_status r4j_adamw_options_defaults(r4j_adamw_options* out) {
  return guarded(__func__, [&] {
    require_out(out, "out");
    *out = r4j_adamw_options{0.9, 0.999, 1e-8, 0.0, 0.0};
  });
}

R4J_API r4j_status r4j_ppo_options_defaults(r4j_ppo_options* out) {
  return guarded(__func__, [&] {
    require_out(out, "out");
    r4j_ppo_options o{};
    o.kl_estimator = R4J_KL_K1;
    o.score_clip = 0;
    o.missing_eos_penalty_on = 0;
    o.missing_eos_penalty = 0;
    o.gamma = 1.0;
    o.lam = 1.0;
    o.whiten_advantages = 0;
    o.clip_ratio = 0;
    o.cliprange = 0.2;
    o.clip_value = 0;
    o.cliprange_value = 0.2;
    o.vf_coef = 0.1;
    o.ent_coef = 0.0;
    o.temperature = 1.0;
    *out = o;
  });
}

R4J_API r4j_status r4j_algo_options_defaults(r4j_algo_options* out) {
  return guarded(__func__, [&] {
    require_out(out, "out");
    *out = r4j::algo_defaults();
  });
}

}  // extern "C"
