// The model part of the C ABI: creation, named tensors, scoring passes.
#include <ATen/detail/CUDAHooksInterface.h>

#include <cmath>
#include <cstring>

#include "abi_handles.hpp"
#include "chunked_logprobs.hpp"
#include "cpu_allocator.hpp"
#include "scoring.hpp"

using r4j::fail;
using r4j::guarded;
using r4j::require;
using r4j::require_out;
using r4j::Use;

namespace r4j {

at::Device parse_device(const char* device) {
  require(device != nullptr, "device is NULL");
  const std::string s(device);
  at::Device d(at::kCPU);
  try {
    d = at::Device(s);
  } catch (const std::exception&) {
    fail(R4J_ERR_DEVICE, "unknown device '" + s + "' (expected cpu, cuda or cuda:N)");
  }
  if (d.is_cpu()) {
    if (d.has_index() && d.index() != 0) fail(R4J_ERR_DEVICE, "device '" + s + "' does not exist (only cpu)");
    return at::Device(at::kCPU);
  }
  if (d.is_cuda()) {
    auto& hooks = at::detail::getCUDAHooks();
    if (!hooks.hasCUDA())
      fail(R4J_ERR_DEVICE, "device '" + s + "' is not available: this build or machine has no CUDA");
    const int n = hooks.getNumGPUs();
    const int index = d.has_index() ? d.index() : 0;
    if (index >= n)
      fail(R4J_ERR_DEVICE, "device '" + s + "' does not exist: " + std::to_string(n) + " CUDA device(s) seen");
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  fail(R4J_ERR_DEVICE, "unsupported device '" + s + "' (expected cpu, cuda or cuda:N)");
}

namespace {

void copy_name(const std::string& name, char* buf, size_t cap) {
  require(buf != nullptr, "name_buf is NULL");
  if (cap < name.size() + 1)
    fail(R4J_ERR_BUFFER_TOO_SMALL, "name_buf holds " + std::to_string(cap) + " bytes, the name '" + name +
                                       "' needs " + std::to_string(name.size() + 1));
  std::memcpy(buf, name.c_str(), name.size() + 1);
}

}  // namespace

void describe_tensor(const std::string& name, const at::Tensor& t, char* name_buf, size_t name_cap,
                     int32_t* out_dtype, int32_t* out_ndim, int64_t* shape, int32_t shape_cap) {
  require_out(out_dtype, "out_dtype");
  require_out(out_ndim, "out_ndim");
  require(shape != nullptr || t.dim() == 0, "shape is NULL");
  if (shape_cap < t.dim())
    fail(R4J_ERR_BUFFER_TOO_SMALL, "shape holds " + std::to_string(shape_cap) + " entries, tensor '" + name +
                                       "' has " + std::to_string(t.dim()) + " dims");
  copy_name(name, name_buf, name_cap);
  *out_dtype = r4j_dtype_of(t.scalar_type());
  *out_ndim = static_cast<int32_t>(t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) shape[i] = t.size(i);
}

void write_checked(at::Tensor& target, const std::string& name, int32_t dtype, const void* src,
                   size_t src_bytes) {
  require(dtype == R4J_DTYPE_F32 || dtype == R4J_DTYPE_F16 || dtype == R4J_DTYPE_BF16 || dtype == R4J_DTYPE_F64,
          "tensor '" + name + "': source dtype must be F32, F16, BF16 or F64");
  auto in = view_in(src, dtype, target.numel(), src_bytes, "tensor '" + name + "'");
  if (!at::isfinite(in).all().item<bool>())
    fail(R4J_ERR_NON_FINITE, "tensor '" + name + "' holds NaN or Inf values; not written");
  at::NoGradGuard no_grad;
  target.copy_(in.view(target.sizes()));
}

}  // namespace r4j

extern "C" {

R4J_API r4j_status r4j_model_create(const r4j_model_config* config, const char* device, r4j_model** out_model) {
  return guarded(__func__, [&] {
    require(config != nullptr, "config is NULL");
    require_out(out_model, "out_model");
    auto dev = r4j::parse_device(device);
    r4j::install_cpu_cache();
    auto handle = std::make_unique<r4j_model>();
    handle->model = r4j::make_model(*config, dev);
    r4j::publish(std::move(handle), out_model);
  });
}

R4J_API r4j_status r4j_model_destroy(r4j_model* model) {
  return guarded(__func__, [&] { r4j::destroy(model, "model"); });
}

R4J_API r4j_status r4j_model_get_config(const r4j_model* model, r4j_model_config* out) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require_out(out, "out");
    *out = m->model->config();
  });
}

R4J_API r4j_status r4j_model_tensor_count(const r4j_model* model, int64_t* out_count) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require_out(out_count, "out_count");
    *out_count = static_cast<int64_t>(m->model->named_parameters().size());
  });
}

R4J_API r4j_status r4j_model_tensor_info(const r4j_model* model, int64_t index, char* name_buf, size_t name_cap,
                                         int32_t* out_dtype, int32_t* out_ndim, int64_t* shape,
                                         int32_t shape_cap) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    const auto& params = m->model->named_parameters();
    require(index >= 0 && index < static_cast<int64_t>(params.size()),
            "tensor index " + std::to_string(index) + " out of range [0, " + std::to_string(params.size()) + ")");
    const auto& [name, t] = params[index];
    r4j::describe_tensor(name, t, name_buf, name_cap, out_dtype, out_ndim, shape, shape_cap);
  });
}

R4J_API r4j_status r4j_model_read_tensor(const r4j_model* model, const char* name, int32_t dtype, void* dst,
                                         size_t dst_bytes) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require(name != nullptr, "name is NULL");
    auto t = m->model->find(name);
    if (!t.defined()) fail(R4J_ERR_NOT_FOUND, std::string("the model has no tensor '") + name + "'");
    r4j::copy_out(t, dtype, dst, dst_bytes, std::string("tensor '") + name + "'");
  });
}

R4J_API r4j_status r4j_model_write_tensor(r4j_model* model, const char* name, int32_t dtype, const void* src,
                                          size_t src_bytes) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require(name != nullptr, "name is NULL");
    auto t = m->model->find(name);
    if (!t.defined()) fail(R4J_ERR_NOT_FOUND, std::string("the model has no tensor '") + name + "'");
    if (r4j::storage_shared(t)) {
      // A base shared with another model (r4j_model_share_base): the same values write nothing
      // (a resume loads the base once per model), different ones would change both models.
      auto in = r4j::view_in(src, dtype, t.numel(), src_bytes, std::string("tensor '") + name + "'");
      if (at::equal(in.view(t.sizes()).to(t.scalar_type()), t)) return;
      fail(R4J_ERR_INVALID_ARGUMENT, std::string("tensor '") + name + "' is a base weight shared with another "
                                     "model (r4j_model_share_base): writing different values would change both; not written");
    }
    r4j::write_checked(t, name, dtype, src, src_bytes);
  });
}

R4J_API r4j_status r4j_model_copy_weights(r4j_model* dst, const r4j_model* src) {
  return guarded(__func__, [&] {
    Use<r4j_model> d(dst, "dst");
    Use<r4j_model> s(src, "src");
    const auto& to = d->model->named_parameters();
    const auto& from = s->model->named_parameters();
    require(to.size() == from.size(), "copy_weights: the models have different tensor sets");
    for (size_t i = 0; i < to.size(); ++i)
      require(to[i].first == from[i].first && to[i].second.sizes() == from[i].second.sizes(),
              "copy_weights: tensor '" + to[i].first + "' differs in name or shape");
    for (size_t i = 0; i < to.size(); ++i)
      require(!r4j::storage_shared(to[i].second) || to[i].second.data_ptr() == from[i].second.data_ptr() ||
                  at::equal(to[i].second, from[i].second.to(to[i].second.scalar_type())),
              "copy_weights: tensor '" + to[i].first + "' is a base weight shared with another model "
              "(r4j_model_share_base): copying different values would change both; nothing copied");
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < to.size(); ++i) to[i].second.copy_(from[i].second);
  });
}

R4J_API r4j_status r4j_model_set_training(r4j_model* model, int32_t training) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    m->model->set_training(training != 0);
  });
}

R4J_API r4j_status r4j_model_logits(r4j_model* model, const int32_t* tokens, const uint8_t* attention_mask,
                                    int64_t batch, int64_t seq_len, float* out, size_t out_cap) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    auto& net = *m->model;
    r4j::check_batch(batch, seq_len, net);
    auto tok = r4j::tokens_from(tokens, batch, seq_len, net, "tokens");
    auto mask = r4j::mask_from(attention_mask, batch, seq_len, net.device(), "attention_mask");
    at::NoGradGuard no_grad;
    auto h = net.hidden(tok, r4j::positions_from_mask(mask), mask, nullptr);
    r4j::copy_out(net.lm_logits(h), R4J_DTYPE_F32, out, out_cap * sizeof(float), "out (logits)");
  });
}

R4J_API r4j_status r4j_model_score(r4j_model* model, const int32_t* tokens, const uint8_t* attention_mask,
                                   int64_t batch, int64_t seq_len, double temperature, float* out_logprobs,
                                   float* out_entropy, float* out_values, size_t cap) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    auto& net = *m->model;
    r4j::check_batch(batch, seq_len, net);
    require(temperature > 0 && std::isfinite(temperature), "temperature must be > 0");
    require(out_logprobs != nullptr, "out_logprobs is NULL");
    auto tok = r4j::tokens_from(tokens, batch, seq_len, net, "tokens");
    auto mask = r4j::mask_from(attention_mask, batch, seq_len, net.device(), "attention_mask");
    at::NoGradGuard no_grad;
    auto h = net.hidden(tok, r4j::positions_from_mask(mask), mask, nullptr);  // [B, T, d]
    auto fmask = mask.to(at::kFloat);
    auto zeros = at::zeros({batch, 1}, fmask.options());
    at::Tensor logprobs = at::zeros({batch, seq_len}, fmask.options()), entropy = logprobs;
    if (seq_len > 1) {
      // The state at t-1 predicts token t.
      auto head = r4j::head_logprobs(net, h.narrow(1, 0, seq_len - 1), tok.narrow(1, 1, seq_len - 1), temperature,
                                     out_entropy != nullptr, false);
      auto lp = head.logprobs, ent = head.entropy;
      logprobs = at::cat({zeros, lp}, 1) * fmask;
      if (out_entropy) entropy = at::cat({zeros, ent}, 1) * fmask;
    }
    const size_t bytes = cap * sizeof(float);
    r4j::copy_out(logprobs, R4J_DTYPE_F32, out_logprobs, bytes, "out_logprobs");
    if (out_entropy) r4j::copy_out(entropy, R4J_DTYPE_F32, out_entropy, bytes, "out_entropy");
    if (out_values) r4j::copy_out(net.value(h) * fmask, R4J_DTYPE_F32, out_values, bytes, "out_values");
  });
}

R4J_API r4j_status r4j_model_reward(r4j_model* model, const int32_t* tokens, const uint8_t* attention_mask,
                                    int64_t batch, int64_t seq_len, float* out_scores, size_t cap) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    auto& net = *m->model;
    r4j::check_batch(batch, seq_len, net);
    auto tok = r4j::tokens_from(tokens, batch, seq_len, net, "tokens");
    auto mask = r4j::mask_from(attention_mask, batch, seq_len, net.device(), "attention_mask");
    require(mask.any(1).all().item<bool>(), "every sequence needs at least one real token");
    at::NoGradGuard no_grad;
    r4j::copy_out(r4j::reward_scores(net, tok, mask), R4J_DTYPE_F32, out_scores, cap * sizeof(float),
                  "out_scores");
  });
}

}  // extern "C"
