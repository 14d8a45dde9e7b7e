// The transformer core: a decoder-only language model with Hugging Face's
// parameter names and layouts, an optional critic (value) head and reward
// head, and an incremental key/value cache for generation.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // at::GradMode, at::NoGradGuard: ATen.h brings it in 1.13 only

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kv_cache.hpp"
#include "rlhf4j.h"

namespace r4j {

// One LoRA adapter (Hu et al. 2021): y += scale * B A dropout(x).
struct LoraAdapter {
  at::Tensor A, B;  // [r, in], [out, r]
  double scale = 1.0;
};

// What r4j_memory_options_defaults writes: 256-row logit chunks, no checkpointing.
r4j_memory_options default_memory_options();

// Query rows per attention chunk a new model starts with (r4j_model_set_attention_chunk):
// as fast as the whole matrix, within the noise of a shared 2-core AMD EPYC at T = 512 (README, Memory).
constexpr int64_t kDefaultAttentionChunk = 128;

class Model {
 public:
  Model(const r4j_model_config& config, at::Device device);
  virtual ~Model() = default;

  // Final hidden states (after the last norm) of columns first .. T-1: [B, T - first, n_embd].
  //   tokens, positions: [B, T] int64.
  //   key_mask: [B, S] bool, real (non-padding) keys; S = cache->length + T
  //   with a cache, else T. With a cache, the new keys/values are written at
  //   [cache->length, cache->length + T) and cache->length advances.
  //   first: the first column the caller reads (0 with a cache). The last block
  //   runs its queries, attention output and MLP for the columns from there
  //   only; every column's keys and values still enter, so the states are those
  //   of first = 0 narrowed, up to rounding. A pass that scores a response, or a
  //   reward model that reads the last token, skips most of the last block for
  //   the prompt.
  at::Tensor hidden(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& key_mask,
                    KVCache* cache, int64_t first = 0);

  // The token embedding rows of ids [B, T] under the table w [vocab, n_embd]: [B, T, n_embd].
  // Inside a HeadInLoss scope a table tied to the LM head, in training, gets a sparse
  // gradient (the looked-up rows), which autograd adds into the head's dense one in
  // place: no second [vocab, n_embd] gradient per backward. Elsewhere (a reward model's
  // loss, a critic's) the gradient is dense, as .grad must be.
  at::Tensor embed(const at::Tensor& w, const at::Tensor& ids) const;
  // Declares, while it lives, that the loss built from this model's forward passes goes
  // through its LM head.
  class HeadInLoss {
   public:
    explicit HeadInLoss(const Model& m) : m_(m), was_(m.head_in_loss_) { m.head_in_loss_ = true; }
    ~HeadInLoss() { m_.head_in_loss_ = was_; }
    HeadInLoss(const HeadInLoss&) = delete;
    HeadInLoss& operator=(const HeadInLoss&) = delete;

   private:
    const Model& m_;
    bool was_;
  };
  at::Tensor lm_logits(const at::Tensor& h) const;  // [..., vocab] float32
  const at::Tensor& lm_head_weight() const { return lm_head_; }  // [vocab, n_embd]
  at::Tensor value(const at::Tensor& h) const;      // [...] float32, the critic
  at::Tensor reward(const at::Tensor& h) const;     // [...] float32, the reward head

  KVCache new_cache(int64_t batch, int64_t capacity) const;

  const r4j_model_config& config() const { return config_; }
  at::Device device() const { return device_; }
  bool training() const { return training_; }
  void set_training(bool on) { training_ = on; }
  // Memory habits of scoring and training passes: logits in row chunks,
  // per-block activation checkpointing.
  const r4j_memory_options& memory() const { return memory_; }
  void set_memory(const r4j_memory_options& options);
  // Query rows per chunk of attention in passes over more query rows than that
  // (attention_chunked, forward and backward); 0 = the whole [B, nh, T, S] at once.
  int64_t attention_chunk() const { return attention_chunk_; }
  void set_attention_chunk(int64_t rows);
  int64_t head_dim() const { return config_.head_dim; }  // resolved: never 0

  // LoRA (lora.cpp): adapters on the projections of options.target_modules,
  // base weights frozen; merge folds them into the base and removes them.
  void add_lora(const r4j_lora_options& options);
  void merge_lora();
  bool has_lora() const { return !lora_.empty(); }
  const r4j_lora_options& lora_options() const { return lora_options_; }
  void set_adapters_enabled(bool on) { adapters_enabled_ = on; }
  bool adapters_enabled() const { return adapters_enabled_; }
  // Uses from's tensor for every base parameter frozen in both models and
  // equal in name, shape, dtype, device and value, dropping this model's copy
  // (the storage is reference-counted); checks everything before sharing
  // anything. Returns the bytes now held by from's tensors.
  int64_t share_base(const Model& from);
  int64_t shared_base_bytes() const { return shared_base_bytes_; }

  // Named parameters in a stable order (Hugging Face names).
  const std::vector<std::pair<std::string, at::Tensor>>& named_parameters() const { return params_; }
  at::Tensor find(const std::string& name) const;  // undefined tensor when absent
  std::vector<at::Tensor> parameters() const;

 protected:
  // hidden() of an architecture, its arguments checked.
  virtual at::Tensor hidden_from(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& key_mask,
                                 KVCache* cache, int64_t first) = 0;
  at::Tensor add(const std::string& name, at::Tensor value);
  bool dropout_active() const { return training_ && config_.dropout > 0; }
  at::Tensor dropout(const at::Tensor& x) const;  // x itself unless dropout_active()
  at::Tensor normal(std::vector<int64_t> shape, double std, at::Generator& gen) const;
  at::Tensor ones(std::vector<int64_t> shape) const;
  at::Tensor zeros(std::vector<int64_t> shape) const;
  void add_heads(at::Generator& gen);
  // block(x) for one transformer block: recomputed in backward instead of
  // keeping its activations when gradient checkpointing is on and this pass
  // records gradients (never with a KV cache).
  at::Tensor run_block(const std::function<at::Tensor(const at::Tensor&)>& block, const at::Tensor& x,
                       bool has_cache) const;

  // A projection LoRA may adapt, as the architecture lists it.
  struct LoraTarget {
    std::string module;        // Hugging Face module path, e.g. transformer.h.0.attn.c_attn
    int32_t kind;              // R4J_LORA_*
    at::Tensor weight;         // the base weight
    bool out_by_in;            // [out, in] (nn.Linear) or [in, out] (GPT-2's Conv1D)
    const LoraAdapter** slot;  // where the forward pass looks for the adapter
  };
  virtual std::vector<LoraTarget> lora_targets() = 0;
  // y + scale * B A dropout(x) when a is an adapter and adapters are on, else y.
  at::Tensor plus_lora(const at::Tensor& y, const LoraAdapter* a, const at::Tensor& x) const;
  bool lora_active(const LoraAdapter* a) const { return a != nullptr && adapters_enabled_; }

  r4j_model_config config_;
  at::Device device_;
  bool training_ = false;
  r4j_memory_options memory_ = default_memory_options();
  int64_t attention_chunk_ = kDefaultAttentionChunk;
  at::Tensor lm_head_;  // [vocab, n_embd]: the token embedding when tied
  at::Tensor v_head_w_, v_head_b_, score_w_;

 private:
  std::vector<std::pair<std::string, at::Tensor>> params_;
  std::vector<std::unique_ptr<LoraAdapter>> lora_;
  r4j_lora_options lora_options_{};
  bool adapters_enabled_ = true;
  int64_t shared_base_bytes_ = 0;
  mutable bool head_in_loss_ = false;  // a HeadInLoss scope is open
};

// Whether t's storage is held by another tensor as well: a base that
// share_base gave to a second model (or took from one).
bool storage_shared(const at::Tensor& t);

r4j_lora_options default_lora_options();

// Validates config (filling defaults such as n_kv_head and n_inner) and
// builds the model of config.arch with its random initialisation.
std::unique_ptr<Model> make_model(r4j_model_config config, at::Device device);

// Fills the derived fields of a config and checks its ranges; throws with a
// message naming the bad field.
r4j_model_config resolve_config(r4j_model_config config);

at::ScalarType scalar_type_of(int32_t r4j_dtype);  // throws on an unknown code

}  // namespace r4j
