#include "model.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "architectures.hpp"
#include "checkpointing.hpp"
#include "errors.hpp"
#include "linear.hpp"

namespace r4j {

at::ScalarType scalar_type_of(int32_t dtype) {
  switch (dtype) {
    case R4J_DTYPE_F32: return at::kFloat;
    case R4J_DTYPE_F16: return at::kHalf;
    case R4J_DTYPE_BF16: return at::kBFloat16;
    case R4J_DTYPE_F64: return at::kDouble;
    case R4J_DTYPE_I32: return at::kInt;
    case R4J_DTYPE_I64: return at::kLong;
    case R4J_DTYPE_U8: return at::kByte;
  }
  fail(R4J_ERR_INVALID_ARGUMENT, "unknown dtype code " + std::to_string(dtype));
}

r4j_model_config resolve_config(r4j_model_config c) {
  auto positive = [](int64_t v, const char* name) {
    require(v > 0, std::string("model config: ") + name + " must be > 0, got " + std::to_string(v));
  };
  require(c.arch == R4J_ARCH_GPT2 || c.arch == R4J_ARCH_LLAMA,
          "model config: arch must be R4J_ARCH_GPT2 or R4J_ARCH_LLAMA, got " + std::to_string(c.arch));
  require(c.dtype == R4J_DTYPE_F32 || c.dtype == R4J_DTYPE_F16 || c.dtype == R4J_DTYPE_BF16 ||
              c.dtype == R4J_DTYPE_F64,
          "model config: dtype must be F32, F16, BF16 or F64, got " + std::to_string(c.dtype));
  positive(c.vocab_size, "vocab_size");
  positive(c.n_positions, "n_positions");
  positive(c.n_embd, "n_embd");
  positive(c.n_layer, "n_layer");
  positive(c.n_head, "n_head");
  require(c.head_dim >= 0, "model config: head_dim must be >= 0 (0 = n_embd / n_head), got " +
                              std::to_string(c.head_dim));
  if (c.head_dim == 0) {
    require(c.n_embd % c.n_head == 0, "model config: n_embd (" + std::to_string(c.n_embd) +
                                          ") must be a multiple of n_head (" + std::to_string(c.n_head) + ")");
    c.head_dim = c.n_embd / c.n_head;
  }
  require(c.qk_norm == 0 || c.qk_norm == 1, "model config: qk_norm must be 0 or 1, got " + std::to_string(c.qk_norm));
  if (c.n_kv_head == 0) c.n_kv_head = c.n_head;
  require(c.n_kv_head > 0 && c.n_head % c.n_kv_head == 0,
          "model config: n_head (" + std::to_string(c.n_head) + ") must be a multiple of n_kv_head (" +
              std::to_string(c.n_kv_head) + ")");
  if (c.arch == R4J_ARCH_GPT2) {
    require(c.n_kv_head == c.n_head, "model config: GPT-2 has no grouped-query attention (n_kv_head must equal n_head)");
    require(c.head_dim * c.n_head == c.n_embd, "model config: GPT-2's head_dim must be n_embd / n_head (" +
                                                   std::to_string(c.n_embd / c.n_head) + "), got " +
                                                   std::to_string(c.head_dim));
    require(c.qk_norm == 0, "model config: GPT-2 has no q/k norms (qk_norm must be 0)");
    if (c.n_inner == 0) c.n_inner = 4 * c.n_embd;
  }
  positive(c.n_inner, "n_inner");
  require(c.norm_eps > 0 && std::isfinite(c.norm_eps), "model config: norm_eps must be > 0");
  require(c.dropout >= 0 && c.dropout < 1, "model config: dropout must be in [0, 1)");
  require(c.initializer_range > 0 && std::isfinite(c.initializer_range),
          "model config: initializer_range must be > 0");
  if (c.arch == R4J_ARCH_LLAMA) {
    require(c.head_dim % 2 == 0, "model config: rotary embeddings need an even head size, got " +
                                     std::to_string(c.head_dim));
    require(c.rope_theta > 0, "model config: rope_theta must be > 0");
    require(c.rope_scaling == R4J_ROPE_NONE || c.rope_factor > 0, "model config: rope_factor must be > 0");
  }
  return c;
}

std::unique_ptr<Model> make_model(r4j_model_config config, at::Device device) {
  config = resolve_config(config);
  if (config.arch == R4J_ARCH_LLAMA) return make_llama(config, device);
  return make_gpt2(config, device);
}

Model::Model(const r4j_model_config& config, at::Device device) : config_(config), device_(device) {}

r4j_memory_options default_memory_options() {
  r4j_memory_options o{};
  o.logits_chunk = 256;
  o.gradient_checkpointing = 0;
  return o;
}

void Model::set_memory(const r4j_memory_options& o) {
  require(o.logits_chunk >= 0, "memory options: logits_chunk must be >= 0 (0 = unchunked), got " +
                                   std::to_string(o.logits_chunk));
  require(o.gradient_checkpointing == 0 || o.gradient_checkpointing == 1,
          "memory options: gradient_checkpointing must be 0 or 1, got " + std::to_string(o.gradient_checkpointing));
  memory_ = o;
}

void Model::set_attention_chunk(int64_t rows) {
  require(rows >= 0, "attention_chunk must be >= 0 (query rows per chunk, 0 = unchunked), got " +
                         std::to_string(rows));
  attention_chunk_ = rows;
}

at::Tensor Model::hidden(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& key_mask,
                         KVCache* cache, int64_t first) {
  require(first >= 0 && first < std::max<int64_t>(tokens.size(1), 1) && (first == 0 || cache == nullptr),
          "model: hidden states from column " + std::to_string(first) + " of " + std::to_string(tokens.size(1)) +
              (cache ? " with a cache (only 0)" : ""));
  return hidden_from(tokens, positions, key_mask, cache, first);
}

at::Tensor Model::run_block(const std::function<at::Tensor(const at::Tensor&)>& block, const at::Tensor& x,
                            bool has_cache) const {
  if (!memory_.gradient_checkpointing || has_cache || !at::GradMode::is_enabled()) return block(x);
  return checkpointed(block, x);
}

at::Tensor Model::add(const std::string& name, at::Tensor value) {
  value.set_requires_grad(true);
  params_.emplace_back(name, value);
  return value;
}

at::Tensor Model::find(const std::string& name) const {
  for (const auto& [n, t] : params_)
    if (n == name) return t;
  return {};
}

std::vector<at::Tensor> Model::parameters() const {
  std::vector<at::Tensor> out;
  out.reserve(params_.size());
  for (const auto& p : params_) out.push_back(p.second);
  return out;
}

at::Tensor Model::normal(std::vector<int64_t> shape, double std, at::Generator& gen) const {
  // Drawn on the CPU from a seeded generator, so every device gets the same init.
  auto t = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
  t.normal_(0.0, std, gen);
  return t.to(device_, scalar_type_of(config_.dtype));
}

at::Tensor Model::ones(std::vector<int64_t> shape) const {
  return at::ones(shape, at::TensorOptions().device(device_).dtype(scalar_type_of(config_.dtype)));
}

at::Tensor Model::zeros(std::vector<int64_t> shape) const {
  return at::zeros(shape, at::TensorOptions().device(device_).dtype(scalar_type_of(config_.dtype)));
}

void Model::add_heads(at::Generator& gen) {
  const int64_t d = config_.n_embd;
  if (config_.value_head) {
    // TRL's AutoModelForCausalLMWithValueHead names: v_head.summary.{weight,bias}.
    v_head_w_ = add("v_head.summary.weight", normal({1, d}, config_.initializer_range, gen));
    v_head_b_ = add("v_head.summary.bias", zeros({1}));
  }
  if (config_.reward_head) {
    // Hugging Face's *ForSequenceClassification head with num_labels = 1, no bias.
    score_w_ = add("score.weight", normal({1, d}, config_.initializer_range, gen));
  }
}

at::Tensor Model::dropout(const at::Tensor& x) const {
  if (!dropout_active()) return x;
  return at::dropout(x, config_.dropout, /*train=*/true);
}

// Head outputs in float32 at least (float64 models, used by gradient checks, keep float64).
static at::Tensor widen(const at::Tensor& x) { return x.to(at::promote_types(x.scalar_type(), at::kFloat)); }

at::Tensor Model::embed(const at::Tensor& w, const at::Tensor& ids) const {
  const bool tied = w.unsafeGetTensorImpl() == lm_head_.unsafeGetTensorImpl();
  const bool sparse = tied && head_in_loss_ && at::GradMode::is_enabled() && w.requires_grad();
  return at::embedding(w, ids, /*padding_idx=*/-1, /*scale_grad_by_freq=*/false, sparse);
}

at::Tensor Model::lm_logits(const at::Tensor& h) const {
  return widen(linear(h, lm_head_, {}, /*w_is_out_by_in=*/true));
}

// A scalar head's product, h [..., d] by w [1, d]: on a CPU without bf16 products,
// on float32 copies as linear() does (ATen's own bf16 loops otherwise).
static at::Tensor scalar_head(const at::Tensor& h, const at::Tensor& w, const at::Tensor& b) {
  if (bf16_on_float32_copies(h)) {
    auto f = [](const at::Tensor& t) { return t.defined() ? t.to(at::kFloat) : t; };
    return at::linear(f(h), f(w), f(b));
  }
  return at::linear(h, w, b);
}

at::Tensor Model::value(const at::Tensor& h) const {
  if (!v_head_w_.defined()) fail(R4J_ERR_INVALID_ARGUMENT, "the model has no value head (config.value_head = 0)");
  return widen(scalar_head(h, v_head_w_, v_head_b_).squeeze(-1));
}

at::Tensor Model::reward(const at::Tensor& h) const {
  if (!score_w_.defined()) fail(R4J_ERR_INVALID_ARGUMENT, "the model has no reward head (config.reward_head = 0)");
  return widen(scalar_head(h, score_w_, {}).squeeze(-1));
}

KVCache Model::new_cache(int64_t batch, int64_t capacity) const {
  KVCache cache;
  auto opts = at::TensorOptions().device(device_).dtype(scalar_type_of(config_.dtype));
  for (int64_t l = 0; l < config_.n_layer; ++l) {
    cache.k.push_back(at::empty({batch, config_.n_kv_head, capacity, head_dim()}, opts));
    cache.v.push_back(at::empty({batch, config_.n_kv_head, capacity, head_dim()}, opts));
  }
  return cache;
}

}  // namespace r4j
