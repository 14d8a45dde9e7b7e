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

}  // namespace r4j
