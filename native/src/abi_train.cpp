// The learning part of the C ABI: PPO rewards, advantages and loss, the
// supervised losses, and the AdamW optimizer with its checkpointable state.
#include <cmath>

#include "abi_handles.hpp"
#include "ppo/ppo.hpp"
#include "supervised.hpp"

using r4j::fail;
using r4j::guarded;
using r4j::require;
using r4j::require_out;
using r4j::Use;

namespace r4j {
namespace {

void check_scale(double loss_scale) {
  require(std::isfinite(loss_scale), "loss_scale must be finite");
}

// The named state of an optimizer: its tensors, then "step" as a float64 [1].
std::vector<std::pair<std::string, at::Tensor>> optimizer_state(const AdamW& opt) {
  auto state = opt.state();
  state.emplace_back("step", at::full({1}, static_cast<double>(opt.steps()), at::kDouble));
  return state;
}

}  // namespace

}  // namespace r4j

extern "C" {

R4J_API r4j_status r4j_ppo_validate(const r4j_ppo_options* options, const r4j_algo_options* algo) {
  return guarded(__func__, [&] {
    require(options != nullptr, "options is NULL");
    require(algo != nullptr, "algo is NULL");
    r4j::validate(*options);
    r4j::validate(*algo);
  });
}

R4J_API r4j_status r4j_ppo_rewards_ex(r4j_rollout* rollout, const r4j_ppo_options* options,
                                      const r4j_algo_options* algo, double kl_coef, double score_shift,
                                      double score_scale, r4j_reward_stats* out_stats) {
  return guarded(__func__, [&] {
    Use<r4j_rollout> r(rollout, "rollout");
    require(options != nullptr, "options is NULL");
    require(algo != nullptr, "algo is NULL");
    require_out(out_stats, "out_stats");
    auto o = r4j::validate(*options);
    auto a = r4j::validate(*algo);
    at::NoGradGuard no_grad;
    *out_stats = r4j::compute_rewards(*r->rollout, o, a, kl_coef, score_shift, score_scale);
  });
}

R4J_API r4j_status r4j_ppo_advantages_ex(r4j_rollout* rollout, const r4j_ppo_options* options,
                                         const r4j_algo_options* algo, r4j_advantage_stats* out_stats,
                                         r4j_group_stats* out_group_stats) {
  return guarded(__func__, [&] {
    Use<r4j_rollout> r(rollout, "rollout");
    require(options != nullptr, "options is NULL");
    require(algo != nullptr, "algo is NULL");
    require_out(out_stats, "out_stats");
    auto o = r4j::validate(*options);
    auto a = r4j::validate(*algo);
    *out_stats = r4j::compute_advantages(*r->rollout, o, a, out_group_stats);
  });
}

namespace {

// indices[0..n) as the rollout's rows [n] int64, on its device.
at::Tensor micro_batch_rows(const r4j::Rollout& ro, const int64_t* indices, int64_t n) {
  require(indices != nullptr, "indices is NULL");
  require(n > 0, "empty micro-batch (n = " + std::to_string(n) + ")");
  for (int64_t i = 0; i < n; ++i)
    require(indices[i] >= 0 && indices[i] < ro.batch(),
            "indices[" + std::to_string(i) + "] = " + std::to_string(indices[i]) + " is outside the rollout [0, " +
                std::to_string(ro.batch()) + ")");
  return at::from_blob(const_cast<int64_t*>(indices), {n}, at::kLong).to(ro.device);
}

}  // namespace

R4J_API r4j_status r4j_ppo_micro_batch_positions(r4j_model* actor, r4j_rollout* rollout, const int64_t* indices,
                                                 int64_t n, int64_t* out_positions) {
  return guarded(__func__, [&] {
    Use<r4j_model> act(actor, "actor");
    Use<r4j_rollout> r(rollout, "rollout");
    require_out(out_positions, "out_positions");
    auto& ro = *r->rollout;
    *out_positions = r4j::micro_batch_positions(*act->model, ro, micro_batch_rows(ro, indices, n));
  });
}

R4J_API r4j_status r4j_ppo_accumulate_ex(r4j_model* actor, r4j_model* critic_or_null, r4j_rollout* rollout,
                                         const int64_t* indices, int64_t n, const r4j_ppo_options* options,
                                         const r4j_algo_options* algo, double loss_scale, r4j_ppo_stats* out_stats,
                                         r4j_algo_loss_stats* out_algo_stats) {
  return guarded(__func__, [&] {
    Use<r4j_model> act(actor, "actor");
    Use<r4j_rollout> r(rollout, "rollout");
    require(options != nullptr, "options is NULL");
    require(algo != nullptr, "algo is NULL");
    require_out(out_stats, "out_stats");
    auto& ro = *r->rollout;
    auto rows = micro_batch_rows(ro, indices, n);
    r4j::check_scale(loss_scale);
    auto o = r4j::validate(*options);
    auto a = r4j::validate(*algo);
    require(act->model->device() == ro.device, "actor and rollout live on different devices");
    r4j::Model* critic = nullptr;
    std::unique_ptr<Use<r4j_model>> c;
    if (!r4j::uses_critic(a)) {
      require(critic_or_null == nullptr, "critic-free estimators take no critic: pass NULL as critic_or_null");
    } else if (critic_or_null != nullptr) {
      c = std::make_unique<Use<r4j_model>>(critic_or_null, "critic_or_null");
      critic = (*c)->model.get();
      require(critic->config().value_head, "the critic model has no value head");
      require(critic->device() == ro.device, "critic and rollout live on different devices");
    } else {
      require(act->model->config().value_head,
              "the actor has no value head: pass a separate critic or create the actor with value_head = 1");
    }
    *out_stats = r4j::accumulate_loss(*act->model, critic, ro, rows, o, a, loss_scale, out_algo_stats);
  });
}

R4J_API r4j_status r4j_lm_loss(r4j_model* model, const int32_t* tokens, const uint8_t* attention_mask,
                               const uint8_t* loss_mask, int64_t batch, int64_t seq_len, double loss_scale,
                               int32_t backward, double* out_loss, int64_t* out_tokens) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    auto& net = *m->model;
    require_out(out_loss, "out_loss");
    require_out(out_tokens, "out_tokens");
    r4j::check_batch(batch, seq_len, net);
    r4j::check_scale(loss_scale);
    auto tok = r4j::tokens_from(tokens, batch, seq_len, net, "tokens");
    auto mask = r4j::mask_from(attention_mask, batch, seq_len, net.device(), "attention_mask");
    auto lmask = r4j::mask_from(loss_mask, batch, seq_len, net.device(), "loss_mask");
    std::unique_ptr<at::NoGradGuard> no_grad;
    if (!backward) no_grad = std::make_unique<at::NoGradGuard>();
    auto loss = r4j::lm_loss(net, tok, mask, lmask, backward ? loss_scale : 0.0);
    const double value = loss.item<double>();
    if (!std::isfinite(value)) fail(R4J_ERR_NON_FINITE, "the LM loss is " + std::to_string(value));
    if (backward) (loss * loss_scale).backward();
    *out_loss = value;
    *out_tokens = lmask.narrow(1, 1, seq_len - 1).logical_and(mask.narrow(1, 1, seq_len - 1)).sum().item<int64_t>();
  });
}

R4J_API r4j_status r4j_rm_loss(r4j_model* model, const int32_t* chosen, const uint8_t* chosen_mask,
                               const int32_t* rejected, const uint8_t* rejected_mask, int64_t batch,
                               int64_t seq_len, double loss_scale, int32_t backward, double* out_loss,
                               double* out_accuracy) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    auto& net = *m->model;
    require_out(out_loss, "out_loss");
    require_out(out_accuracy, "out_accuracy");
    r4j::check_batch(batch, seq_len, net);
    r4j::check_scale(loss_scale);
    require(net.config().reward_head, "the model has no reward head (config.reward_head = 0)");
    auto c = r4j::tokens_from(chosen, batch, seq_len, net, "chosen");
    auto cm = r4j::mask_from(chosen_mask, batch, seq_len, net.device(), "chosen_mask");
    auto rj = r4j::tokens_from(rejected, batch, seq_len, net, "rejected");
    auto rm = r4j::mask_from(rejected_mask, batch, seq_len, net.device(), "rejected_mask");
    std::unique_ptr<at::NoGradGuard> no_grad;
    if (!backward) no_grad = std::make_unique<at::NoGradGuard>();
    auto out = r4j::rm_loss(net, c, cm, rj, rm);
    const double value = out.loss.item<double>();
    if (!std::isfinite(value)) fail(R4J_ERR_NON_FINITE, "the reward-model loss is " + std::to_string(value));
    if (backward) (out.loss * loss_scale).backward();
    *out_loss = value;
    *out_accuracy = out.accuracy.item<double>();
  });
}

R4J_API r4j_status r4j_optimizer_create(r4j_model* model, const r4j_adamw_options* options,
                                        r4j_optimizer** out_optimizer) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require(options != nullptr, "options is NULL");
    require_out(out_optimizer, "out_optimizer");
    auto handle = std::make_unique<r4j_optimizer>();
    // Only what trains: frozen weights (a LoRA base) get no optimizer state.
    std::vector<std::pair<std::string, at::Tensor>> trainable;
    for (const auto& p : m->model->named_parameters())
      if (p.second.requires_grad()) trainable.push_back(p);
    handle->optimizer = std::make_unique<r4j::AdamW>(trainable, *options);
    handle->model = model;
    r4j::publish(std::move(handle), out_optimizer);
  });
}

R4J_API r4j_status r4j_optimizer_destroy(r4j_optimizer* optimizer) {
  return guarded(__func__, [&] { r4j::destroy(optimizer, "optimizer"); });
}

R4J_API r4j_status r4j_optimizer_step(r4j_optimizer* optimizer, double lr, r4j_step_result* out_result) {
  return guarded(__func__, [&] {
    Use<r4j_optimizer> o(optimizer, "optimizer");
    require_out(out_result, "out_result");
    Use<r4j_model> m(o->model, "the optimizer's model");  // destroyed models are caught here
    *out_result = o->optimizer->step(lr);
  });
}

R4J_API r4j_status r4j_optimizer_zero_grad(r4j_optimizer* optimizer) {
  return guarded(__func__, [&] {
    Use<r4j_optimizer> o(optimizer, "optimizer");
    Use<r4j_model> m(o->model, "the optimizer's model");
    o->optimizer->zero_grad();
  });
}

R4J_API r4j_status r4j_optimizer_tensor_count(const r4j_optimizer* optimizer, int64_t* out_count) {
  return guarded(__func__, [&] {
    Use<r4j_optimizer> o(optimizer, "optimizer");
    require_out(out_count, "out_count");
    *out_count = static_cast<int64_t>(r4j::optimizer_state(*o->optimizer).size());
  });
}

R4J_API r4j_status r4j_optimizer_tensor_info(const r4j_optimizer* optimizer, int64_t index, char* name_buf,
                                             size_t name_cap, int32_t* out_dtype, int32_t* out_ndim, int64_t* shape,
                                             int32_t shape_cap) {
  return guarded(__func__, [&] {
    Use<r4j_optimizer> o(optimizer, "optimizer");
    auto state = r4j::optimizer_state(*o->optimizer);
    require(index >= 0 && index < static_cast<int64_t>(state.size()),
            "tensor index " + std::to_string(index) + " out of range [0, " + std::to_string(state.size()) + ")");
    r4j::describe_tensor(state[index].first, state[index].second, name_buf, name_cap, out_dtype, out_ndim, shape,
                         shape_cap);
  });
}

R4J_API r4j_status r4j_optimizer_read_tensor(const r4j_optimizer* optimizer, const char* name, int32_t dtype,
                                             void* dst, size_t dst_bytes) {
  return guarded(__func__, [&] {
    Use<r4j_optimizer> o(optimizer, "optimizer");
    require(name != nullptr, "name is NULL");
    for (const auto& [n, t] : r4j::optimizer_state(*o->optimizer))
      if (n == name) return r4j::copy_out(t, dtype, dst, dst_bytes, "optimizer tensor '" + n + "'");
    fail(R4J_ERR_NOT_FOUND, std::string("the optimizer has no tensor '") + name + "'");
  });
}

R4J_API r4j_status r4j_optimizer_write_tensor(r4j_optimizer* optimizer, const char* name, int32_t dtype,
                                              const void* src, size_t src_bytes) {
  return guarded(__func__, [&] {
    Use<r4j_optimizer> o(optimizer, "optimizer");
    require(name != nullptr, "name is NULL");
    auto& opt = *o->optimizer;
    if (std::string(name) == "step") {
      auto in = r4j::view_in(src, dtype, 1, src_bytes, "optimizer tensor 'step'").to(at::kDouble);
      const double steps = in.item<double>();
      require(steps >= 0 && steps == std::floor(steps) && steps < 9e15, "optimizer step count must be a whole number >= 0");
      opt.set_steps(static_cast<int64_t>(steps));
      return;
    }
    for (auto& [n, t] : opt.state())
      if (n == name) return r4j::write_checked(t, n, dtype, src, src_bytes);
    fail(R4J_ERR_NOT_FOUND, std::string("the optimizer has no tensor '") + name + "'");
  });
}

}  // extern "C"

