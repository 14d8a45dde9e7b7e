// The rollout part of the C ABI: building and reading rollouts, generation,
// and the feedback passes (reference log-probs, values, reward scores).
#include <cmath>

#include "abi_handles.hpp"
#include "generate.hpp"
#include "rollout_scoring.hpp"
#include "scoring.hpp"

using r4j::fail;
using r4j::guarded;
using r4j::require;
using r4j::require_out;
using r4j::Use;

namespace r4j {
namespace {

// Packs rows of (data, lengths, stride) into a padded [B, L] int64 tensor and
// its bool mask; left-aligned real tokens go left or right of the padding.
std::pair<at::Tensor, at::Tensor> pack_rows(const int32_t* data, const int32_t* lengths, int64_t stride,
                                            int64_t batch, bool pad_left, int32_t pad, const Model& model,
                                            const std::string& what) {
  require(data != nullptr, what + " is NULL");
  require(lengths != nullptr, what + "_lengths is NULL");
  require(stride > 0, what + "_stride must be > 0");
  int64_t longest = 0;
  for (int64_t b = 0; b < batch; ++b) {
    require(lengths[b] >= 1 && lengths[b] <= stride,
            what + "_lengths[" + std::to_string(b) + "] = " + std::to_string(lengths[b]) + " is outside [1, " +
                std::to_string(stride) + "]");
    longest = std::max<int64_t>(longest, lengths[b]);
  }
  auto all = tokens_from(data, batch, stride, model, what.c_str()).to(at::kCPU);  // checks the vocabulary
  auto tokens = at::full({batch, longest}, pad, at::kLong);
  auto mask = at::zeros({batch, longest}, at::kBool);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t n = lengths[b], at = pad_left ? longest - n : 0;
    tokens[b].narrow(0, at, n).copy_(all[b].narrow(0, 0, n));
    mask[b].narrow(0, at, n).fill_(true);
  }
  return {tokens.to(model.device()), mask.to(model.device())};
}

void check_pad(int32_t pad, const Model& model) {
  require(pad >= 0 && pad < model.config().vocab_size,
          "pad_token_id " + std::to_string(pad) + " is outside the vocabulary [0, " +
              std::to_string(model.config().vocab_size) + ")");
}

void check_same_device(const Model& model, const Rollout& r, const char* what) {
  require(model.device() == r.device, std::string(what) + " lives on " + model.device().str() +
                                          " but the rollout on " + r.device.str());
}

}  // namespace

// The checks and the call behind r4j_generate and r4j_generate_seeded
// (row_seeds NULL: one generator for the batch, seeded by options->seed).
void generate_checked(r4j_model* model, const int32_t* prompts, const int32_t* prompt_lengths, int64_t prompt_stride,
                      int64_t batch, const r4j_generate_options* options, const uint64_t* row_seeds,
                      r4j_rollout** out_rollout) {
  Use<r4j_model> m(model, "model");
  require(options != nullptr, "options is NULL");
  require_out(out_rollout, "out_rollout");
  auto& net = *m->model;
  const auto& o = *options;
  const int64_t V = net.config().vocab_size;
  require(batch > 0, "empty batch (batch = " + std::to_string(batch) + ")");
  require(o.max_new_tokens >= 1, "max_new_tokens must be >= 1, got " + std::to_string(o.max_new_tokens));
  require(o.temperature >= 0 && std::isfinite(o.temperature), "temperature must be >= 0");
  require(o.top_k >= 0, "top_k must be >= 0 (0 = off)");
  require(o.top_p > 0 && o.top_p <= 1, "top_p must be in (0, 1]");
  require(o.eos_token_id < V, "eos_token_id " + std::to_string(o.eos_token_id) + " is outside the vocabulary");
  require(o.stop_token_id < V, "stop_token_id " + std::to_string(o.stop_token_id) + " is outside the vocabulary");
  check_pad(o.pad_token_id, net);
  require(!o.with_values || net.config().value_head, "with_values needs a model with a value head");
  auto [p, pmask] = pack_rows(prompts, prompt_lengths, prompt_stride, batch, true, o.pad_token_id, net, "prompts");
  require(p.size(1) + o.max_new_tokens <= net.config().n_positions,
          "prompt length " + std::to_string(p.size(1)) + " + max_new_tokens " + std::to_string(o.max_new_tokens) +
              " exceeds the context window n_positions = " + std::to_string(net.config().n_positions));
  at::NoGradGuard no_grad;
  auto handle = std::make_unique<r4j_rollout>();
  std::vector<uint64_t> seeds;
  if (row_seeds != nullptr) seeds.assign(row_seeds, row_seeds + batch);
  handle->rollout = generate(net, p, pmask, o, row_seeds != nullptr ? &seeds : nullptr);
  publish(std::move(handle), out_rollout);
}


}  // namespace r4j

extern "C" {

R4J_API r4j_status r4j_rollout_create(const r4j_model* like, const int32_t* queries, const int32_t* query_lengths,
                                      int64_t query_stride, const int32_t* responses,
                                      const int32_t* response_lengths, int64_t response_stride, int64_t batch,
                                      int32_t pad_token_id, int32_t eos_token_id, r4j_rollout** out_rollout) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(like, "like");
    require_out(out_rollout, "out_rollout");
    const auto& net = *m->model;
    require(batch > 0, "empty batch (batch = " + std::to_string(batch) + ")");
    r4j::check_pad(pad_token_id, net);
    auto [q, qmask] = r4j::pack_rows(queries, query_lengths, query_stride, batch, true, pad_token_id, net, "queries");
    auto [r, rmask] =
        r4j::pack_rows(responses, response_lengths, response_stride, batch, false, pad_token_id, net, "responses");
    require(q.size(1) + r.size(1) <= net.config().n_positions,
            "query + response length " + std::to_string(q.size(1) + r.size(1)) +
                " exceeds the context window n_positions = " + std::to_string(net.config().n_positions));
    auto ro = std::make_unique<r4j::Rollout>();
    ro->device = net.device();
    ro->pad_token_id = pad_token_id;
    ro->query_tokens = q;
    ro->query_mask = qmask;
    ro->response_tokens = r;
    ro->response_mask = rmask;
    if (eos_token_id >= 0) {
      auto last = rmask.to(at::kLong).sum(1).sub(1).unsqueeze(1);  // [B, 1]
      ro->ended = r.gather(1, last).squeeze(1) == eos_token_id;
    } else {
      ro->ended = at::ones({batch}, qmask.options());
    }
    auto handle = std::make_unique<r4j_rollout>();
    handle->rollout = std::move(ro);
    r4j::publish(std::move(handle), out_rollout);
  });
}

R4J_API r4j_status r4j_rollout_gather(const r4j_rollout* const* parts, int32_t n_parts, const int64_t* part_of_row,
                                      const int64_t* row_in_part, int64_t n, r4j_rollout** out_rollout) {
  return guarded(__func__, [&] {
    require(parts != nullptr, "parts is NULL");
    require(n_parts > 0, "n_parts must be > 0");
    require(part_of_row != nullptr && row_in_part != nullptr, "part_of_row or row_in_part is NULL");
    require(n > 0, "no rows to gather (n = " + std::to_string(n) + ")");
    require_out(out_rollout, "out_rollout");
    std::vector<std::unique_ptr<Use<r4j_rollout>>> uses;
    std::vector<const r4j::Rollout*> rollouts;
    for (int32_t i = 0; i < n_parts; ++i) {
      for (int32_t j = 0; j < i; ++j)
        require(parts[j] != parts[i], "parts[" + std::to_string(i) + "] repeats parts[" + std::to_string(j) + "]");
      uses.push_back(std::make_unique<Use<r4j_rollout>>(parts[i], "parts[i]"));
      rollouts.push_back((*uses.back())->rollout.get());
    }
    auto handle = std::make_unique<r4j_rollout>();
    handle->rollout = std::make_unique<r4j::Rollout>(r4j::gather_rows(
        rollouts, std::vector<int64_t>(part_of_row, part_of_row + n), std::vector<int64_t>(row_in_part, row_in_part + n)));
    r4j::publish(std::move(handle), out_rollout);
  });
}

R4J_API r4j_status r4j_rollout_destroy(r4j_rollout* rollout) {
  return guarded(__func__, [&] { r4j::destroy(rollout, "rollout"); });
}

R4J_API r4j_status r4j_rollout_shape(const r4j_rollout* rollout, int64_t* out_batch, int64_t* out_query_len,
                                     int64_t* out_response_len) {
  return guarded(__func__, [&] {
    Use<r4j_rollout> r(rollout, "rollout");
    require_out(out_batch, "out_batch");
    require_out(out_query_len, "out_query_len");
    require_out(out_response_len, "out_response_len");
    *out_batch = r->rollout->batch();
    *out_query_len = r->rollout->query_len();
    *out_response_len = r->rollout->response_len();
  });
}

R4J_API r4j_status r4j_rollout_read(const r4j_rollout* rollout, int32_t field, void* dst, size_t cap) {
  return guarded(__func__, [&] {
    Use<r4j_rollout> r(rollout, "rollout");
    auto& ro = *r->rollout;
    const std::string what = "rollout field " + std::to_string(field);
    switch (field) {
      case R4J_FIELD_QUERY_TOKENS: r4j::copy_out(ro.query_tokens, R4J_DTYPE_I32, dst, cap * 4, what); break;
      case R4J_FIELD_QUERY_MASK: r4j::copy_out(ro.query_mask, R4J_DTYPE_U8, dst, cap, what); break;
      case R4J_FIELD_RESPONSE_TOKENS: r4j::copy_out(ro.response_tokens, R4J_DTYPE_I32, dst, cap * 4, what); break;
      case R4J_FIELD_RESPONSE_MASK: r4j::copy_out(ro.response_mask, R4J_DTYPE_U8, dst, cap, what); break;
      case R4J_FIELD_RESPONSE_LENGTH:
        r4j::copy_out(ro.response_mask.sum(1), R4J_DTYPE_I32, dst, cap * 4, what);
        break;
      case R4J_FIELD_ENDED: r4j::copy_out(ro.ended, R4J_DTYPE_U8, dst, cap, what); break;
      default:
        if (!r4j::is_float_field(field)) fail(R4J_ERR_NOT_FOUND, "unknown rollout field " + std::to_string(field));
        r4j::copy_out(ro.read(field), R4J_DTYPE_F32, dst, cap * 4, what);
    }
  });
}

R4J_API r4j_status r4j_rollout_write(r4j_rollout* rollout, int32_t field, const float* src, size_t n) {
  return guarded(__func__, [&] {
    Use<r4j_rollout> r(rollout, "rollout");
    if (!r4j::is_float_field(field))
      fail(R4J_ERR_INVALID_ARGUMENT, "rollout field " + std::to_string(field) + " is not a writable float field");
    auto& t = r->rollout->field(field);
    auto in = r4j::view_in(src, R4J_DTYPE_F32, t.numel(), n * sizeof(float),
                           "rollout field " + std::to_string(field));
    t.copy_(in.view(t.sizes()));
  });
}

R4J_API r4j_status r4j_generate(r4j_model* model, const int32_t* prompts, const int32_t* prompt_lengths,
                                int64_t prompt_stride, int64_t batch, const r4j_generate_options* options,
                                r4j_rollout** out_rollout) {
  return guarded(__func__, [&] {
    r4j::generate_checked(model, prompts, prompt_lengths, prompt_stride, batch, options, nullptr, out_rollout);
  });
}

R4J_API r4j_status r4j_generate_seeded(r4j_model* model, const int32_t* prompts, const int32_t* prompt_lengths,
                                       int64_t prompt_stride, int64_t batch, const r4j_generate_options* options,
                                       const uint64_t* row_seeds, r4j_rollout** out_rollout) {
  return guarded(__func__, [&] {
    require(row_seeds != nullptr, "row_seeds is NULL");
    r4j::generate_checked(model, prompts, prompt_lengths, prompt_stride, batch, options, row_seeds, out_rollout);
  });
}

R4J_API r4j_status r4j_rollout_score_policy(r4j_model* model, r4j_rollout* rollout, double temperature,
                                            int32_t flags) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    Use<r4j_rollout> r(rollout, "rollout");
    auto& net = *m->model;
    auto& ro = *r->rollout;
    r4j::check_same_device(net, ro, "model");
    require(temperature > 0 && std::isfinite(temperature), "temperature must be > 0");
    require(flags != 0 && (flags & ~(R4J_SCORE_LOGPROBS | R4J_SCORE_VALUES)) == 0,
            "flags must combine R4J_SCORE_LOGPROBS and R4J_SCORE_VALUES");
    r4j::ScoreRequest req;
    req.temperature = temperature;
    req.logprobs = flags & R4J_SCORE_LOGPROBS;
    req.values = flags & R4J_SCORE_VALUES;
    require(!req.values || net.config().value_head, "R4J_SCORE_VALUES needs a model with a value head");
    r4j::score_old(net, ro, req);
  });
}

R4J_API r4j_status r4j_rollout_score_ref(r4j_model* ref, r4j_model* policy_or_null, r4j_rollout* rollout,
                                         double temperature) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(ref, "ref");
    Use<r4j_rollout> r(rollout, "rollout");
    auto& ro = *r->rollout;
    auto& net = *m->model;
    r4j::check_same_device(net, ro, "ref");
    require(temperature > 0 && std::isfinite(temperature), "temperature must be > 0");
    r4j::Model* policy = nullptr;
    std::unique_ptr<Use<r4j_model>> pol;
    if (policy_or_null != nullptr) {
      pol = std::make_unique<Use<r4j_model>>(policy_or_null, "policy_or_null");
      policy = (*pol)->model.get();
      r4j::check_same_device(*policy, ro, "policy");
    }
    r4j::score_reference(net, policy, ro, temperature);
  });
}

R4J_API r4j_status r4j_rollout_score_reward(r4j_model* reward_model, r4j_rollout* rollout) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(reward_model, "reward_model");
    Use<r4j_rollout> r(rollout, "rollout");
    auto& ro = *r->rollout;
    r4j::check_same_device(*m->model, ro, "reward_model");
    r4j::score_rewards(*m->model, ro);
  });
}

}  // extern "C"
