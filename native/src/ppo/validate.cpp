#include <cmath>
#include <string>

#include "../errors.hpp"
#include "ppo.hpp"

namespace r4j {

r4j_ppo_options validate(const r4j_ppo_options& o) {
  auto finite_nonneg = [](double v, const char* name) {
    require(std::isfinite(v) && v >= 0, std::string("ppo options: ") + name + " must be a finite number >= 0, got " +
                                             std::to_string(v));
  };
  require(o.kl_estimator == R4J_KL_K1 || o.kl_estimator == R4J_KL_K3 || o.kl_estimator == R4J_KL_FULL,
          "ppo options: kl_estimator must be R4J_KL_K1, R4J_KL_K3 or R4J_KL_FULL, got " +
              std::to_string(o.kl_estimator));
  finite_nonneg(o.score_clip, "score_clip");
  require(std::isfinite(o.missing_eos_penalty), "ppo options: missing_eos_penalty must be finite");
  require(o.gamma >= 0 && o.gamma <= 1, "ppo options: gamma must be in [0, 1], got " + std::to_string(o.gamma));
  require(o.lam >= 0 && o.lam <= 1, "ppo options: lam must be in [0, 1], got " + std::to_string(o.lam));
  require(!o.clip_ratio || (o.cliprange > 0 && std::isfinite(o.cliprange)),
          "ppo options: cliprange must be > 0 when clip_ratio is on");
  require(!o.clip_value || (o.cliprange_value > 0 && std::isfinite(o.cliprange_value)),
          "ppo options: cliprange_value must be > 0 when clip_value is on");
  finite_nonneg(o.vf_coef, "vf_coef");
  finite_nonneg(o.ent_coef, "ent_coef");
  require(o.temperature > 0 && std::isfinite(o.temperature), "ppo options: temperature must be > 0");
  return o;
}

r4j_algo_options algo_defaults() {
  r4j_algo_options a{};
  a.estimator = R4J_ESTIMATOR_GAE;
  a.scale_rewards = R4J_SCALE_GROUP;
  a.kl_in = R4J_KL_IN_REWARD;
  a.kl_loss_estimator = R4J_KL_LOSS_K3;
  a.kl_loss_coef = 0;
  a.loss_agg = R4J_LOSS_TOKEN_MEAN;
  a.max_new_tokens = 0;
  a.cliprange_low = 0;
  a.cliprange_high = 0;
  a.dual_clip = 0;
  a.importance_sampling = R4J_IS_TOKEN;
  a.mask_truncated = 0;
  a.overlong_buffer_len = 0;
  a.overlong_penalty_factor = 0;
  return a;
}

r4j_algo_options validate(const r4j_algo_options& a) {
  auto in_range = [](int32_t v, int32_t lo, int32_t hi, const char* name) {
    require(v >= lo && v <= hi, std::string("algo options: ") + name + " must be in [" + std::to_string(lo) + ", " +
                                    std::to_string(hi) + "], got " + std::to_string(v));
  };
  auto finite_nonneg = [](double v, const char* name) {
    require(std::isfinite(v) && v >= 0, std::string("algo options: ") + name + " must be a finite number >= 0, got " +
                                             std::to_string(v));
  };
  require_estimator(a.estimator);
  in_range(a.scale_rewards, R4J_SCALE_GROUP, R4J_SCALE_NONE, "scale_rewards");
  in_range(a.kl_in, R4J_KL_IN_REWARD, R4J_KL_IN_NONE, "kl_in");
  in_range(a.kl_loss_estimator, R4J_KL_LOSS_K1, R4J_KL_LOSS_K3_PLUS, "kl_loss_estimator");
  in_range(a.loss_agg, R4J_LOSS_TOKEN_MEAN, R4J_LOSS_SEQ_MEAN_TOKEN_SUM_NORM, "loss_agg");
  require_policy_loss(a.importance_sampling);
  finite_nonneg(a.kl_loss_coef, "kl_loss_coef");
  finite_nonneg(a.cliprange_low, "cliprange_low");
  finite_nonneg(a.cliprange_high, "cliprange_high");
  finite_nonneg(a.overlong_penalty_factor, "overlong_penalty_factor");
  require(a.cliprange_low < 1, "algo options: cliprange_low must be < 1, got " + std::to_string(a.cliprange_low));
  require(a.dual_clip == 0 || (std::isfinite(a.dual_clip) && a.dual_clip > 1),
          "algo options: dual_clip must be 0 (off) or > 1, got " + std::to_string(a.dual_clip));
  require(a.max_new_tokens >= 0, "algo options: max_new_tokens must be >= 0");
  require(a.loss_agg != R4J_LOSS_SEQ_MEAN_TOKEN_SUM_NORM || a.max_new_tokens > 0,
          "algo options: loss_agg SEQ_MEAN_TOKEN_SUM_NORM needs max_new_tokens > 0");
  require(a.overlong_buffer_len >= 0 && (a.overlong_buffer_len == 0 || a.overlong_buffer_len <= a.max_new_tokens),
          "algo options: overlong_buffer_len must be in [0, max_new_tokens], got " +
              std::to_string(a.overlong_buffer_len) + " with max_new_tokens " + std::to_string(a.max_new_tokens));
  return a;
}

}  // namespace r4j
