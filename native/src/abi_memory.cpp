// The memory part of the C ABI: a model's logit and attention chunking, activation
// checkpointing, LoRA adapters, and reference scoring by the base alone.
#include <cmath>

#include "abi_handles.hpp"
#include "rollout_scoring.hpp"

using r4j::guarded;
using r4j::require;
using r4j::require_out;
using r4j::Use;

extern "C" {

R4J_API r4j_status r4j_memory_options_defaults(r4j_memory_options* out) {
  return guarded(__func__, [&] {
    require_out(out, "out");
    *out = r4j::default_memory_options();
  });
}

R4J_API r4j_status r4j_model_set_memory_options(r4j_model* model, const r4j_memory_options* options) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require(options != nullptr, "options is NULL");
    m->model->set_memory(*options);
  });
}

R4J_API r4j_status r4j_model_get_memory_options(const r4j_model* model, r4j_memory_options* out) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require_out(out, "out");
    *out = m->model->memory();
  });
}

R4J_API r4j_status r4j_model_set_attention_chunk(r4j_model* model, int64_t rows) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    m->model->set_attention_chunk(rows);
  });
}

R4J_API r4j_status r4j_model_get_attention_chunk(const r4j_model* model, int64_t* out) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require_out(out, "out");
    *out = m->model->attention_chunk();
  });
}

R4J_API r4j_status r4j_lora_options_defaults(r4j_lora_options* out) {
  return guarded(__func__, [&] {
    require_out(out, "out");
    *out = r4j::default_lora_options();
  });
}

R4J_API r4j_status r4j_model_add_lora(r4j_model* model, const r4j_lora_options* options) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require(options != nullptr, "options is NULL");
    m->model->add_lora(*options);
  });
}

R4J_API r4j_status r4j_model_get_lora(const r4j_model* model, int32_t* out_has, r4j_lora_options* out) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require_out(out_has, "out_has");
    require_out(out, "out");
    *out_has = m->model->has_lora() ? 1 : 0;
    if (m->model->has_lora()) *out = m->model->lora_options();
  });
}

R4J_API r4j_status r4j_model_set_adapters_enabled(r4j_model* model, int32_t enabled) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require(m->model->has_lora(), "the model has no LoRA adapters");
    m->model->set_adapters_enabled(enabled != 0);
  });
}

R4J_API r4j_status r4j_model_merge_lora(r4j_model* model) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    m->model->merge_lora();
  });
}

R4J_API r4j_status r4j_rollout_score_ref_base(r4j_model* policy, r4j_rollout* rollout, double temperature,
                                              int32_t full_kl) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(policy, "policy");
    Use<r4j_rollout> r(rollout, "rollout");
    auto& net = *m->model;
    auto& ro = *r->rollout;
    require(net.device() == ro.device,
            "policy lives on " + net.device().str() + " but the rollout on " + ro.device.str());
    require(net.has_lora(), "r4j_rollout_score_ref_base: the policy has no LoRA adapters (its base is itself)");
    require(temperature > 0 && std::isfinite(temperature), "temperature must be > 0");
    r4j::score_reference_base(net, ro, temperature, full_kl != 0);
  });
}

}  // extern "C"
