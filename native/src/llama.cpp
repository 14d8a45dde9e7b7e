// The Llama family (Llama 2/3, Qwen2, Qwen3, Mistral) as Hugging Face's
// LlamaForCausalLM: RMSNorm, rotary position embeddings (with linear or
// llama3 frequency scaling), SwiGLU MLP, grouped-query attention, optional
// q/k/v biases (Qwen2), optional per-head RMSNorm of q and k before the
// rotation and a head size of its own (Qwen3), LM head tied or untied.
// nn.Linear weights are [out, in].
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <string>

#include "architectures.hpp"
#include "attention.hpp"
#include "errors.hpp"
#include "linear.hpp"

namespace r4j {
namespace {

struct Layer {
  at::Tensor input_norm;                  // [d]
  at::Tensor q_w, q_b, k_w, k_b, v_w, v_b;  // [nh*hd, d], [nkv*hd, d]; biases optional
  at::Tensor q_norm, k_norm;              // [hd] each, Qwen3 (qk_norm); else undefined
  at::Tensor o_w;                         // [d, nh*hd]
  at::Tensor post_norm;                   // [d]
  at::Tensor gate_w, up_w, down_w;        // [n_inner, d], [n_inner, d], [d, n_inner]
  std::string prefix;                     // model.layers.<i>.
  const LoraAdapter *q_lora = nullptr, *k_lora = nullptr, *v_lora = nullptr, *o_lora = nullptr;
  const LoraAdapter *gate_lora = nullptr, *up_lora = nullptr, *down_lora = nullptr;
};

// x * rsqrt(mean(x^2) + eps) * weight, computed in float32 (at least) as Hugging Face does.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  auto xf = x.to(at::promote_types(x.scalar_type(), at::kFloat));
  auto normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(x.scalar_type());
}

// nn.Linear: x W^T (+ b), W [out, in].
at::Tensor dense(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = {}) {
  return linear(x, w, b, /*w_is_out_by_in=*/true);
}

// cat(-x2, x1) for halves x1, x2 of the last dimension.
at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)}, -1);
}

// Inverse frequencies theta^(-2i/hd), adjusted by the config's rope scaling.
at::Tensor inverse_frequencies(const r4j_model_config& c, int64_t hd) {
  auto i = at::arange(0, hd, 2, at::TensorOptions().dtype(at::kDouble));
  auto inv_freq = at::pow(c.rope_theta, -i / static_cast<double>(hd));  // [hd/2]
  if (c.rope_scaling == R4J_ROPE_LINEAR) return inv_freq / c.rope_factor;
  if (c.rope_scaling == R4J_ROPE_LLAMA3) {
    const double old_len = static_cast<double>(c.rope_original_max_positions);
    const double low_wavelen = old_len / c.rope_low_freq_factor;
    const double high_wavelen = old_len / c.rope_high_freq_factor;
    auto wavelen = 2 * M_PI / inv_freq;
    auto scaled = at::where(wavelen > low_wavelen, inv_freq / c.rope_factor, inv_freq);
    auto smooth = (old_len / wavelen - c.rope_low_freq_factor) /
                  (c.rope_high_freq_factor - c.rope_low_freq_factor);
    auto smoothed = (1 - smooth) * scaled / c.rope_factor + smooth * scaled;
    auto medium = wavelen.ge(high_wavelen).logical_and(wavelen.le(low_wavelen));
    return at::where(medium, smoothed, scaled);
  }
  return inv_freq;
}

class Llama final : public Model {
 public:
  Llama(const r4j_model_config& c, at::Device device) : Model(c, device) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(c.seed);
    const int64_t d = c.n_embd, hd = head_dim();
    const double std = c.initializer_range;
    embed_ = add("model.embed_tokens.weight", normal({c.vocab_size, d}, std, gen));
    for (int64_t i = 0; i < c.n_layer; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      Layer L;
      L.prefix = p;
      L.input_norm = add(p + "input_layernorm.weight", ones({d}));
      L.q_w = add(p + "self_attn.q_proj.weight", normal({c.n_head * hd, d}, std, gen));
      if (c.attention_bias) L.q_b = add(p + "self_attn.q_proj.bias", zeros({c.n_head * hd}));
      L.k_w = add(p + "self_attn.k_proj.weight", normal({c.n_kv_head * hd, d}, std, gen));
      if (c.attention_bias) L.k_b = add(p + "self_attn.k_proj.bias", zeros({c.n_kv_head * hd}));
      L.v_w = add(p + "self_attn.v_proj.weight", normal({c.n_kv_head * hd, d}, std, gen));
      if (c.attention_bias) L.v_b = add(p + "self_attn.v_proj.bias", zeros({c.n_kv_head * hd}));
      L.o_w = add(p + "self_attn.o_proj.weight", normal({d, c.n_head * hd}, std, gen));
      if (c.qk_norm) {
        L.q_norm = add(p + "self_attn.q_norm.weight", ones({hd}));
        L.k_norm = add(p + "self_attn.k_norm.weight", ones({hd}));
      }
      L.post_norm = add(p + "post_attention_layernorm.weight", ones({d}));
      L.gate_w = add(p + "mlp.gate_proj.weight", normal({c.n_inner, d}, std, gen));
      L.up_w = add(p + "mlp.up_proj.weight", normal({c.n_inner, d}, std, gen));
      L.down_w = add(p + "mlp.down_proj.weight", normal({d, c.n_inner}, std, gen));
      layers_.push_back(L);
    }
    norm_ = add("model.norm.weight", ones({d}));
    lm_head_ = c.tie_word_embeddings ? embed_ : add("lm_head.weight", normal({c.vocab_size, d}, std, gen));
    add_heads(gen);
    inv_freq_ = inverse_frequencies(c, hd).to(device, at::promote_types(scalar_type_of(c.dtype), at::kFloat));
  }

  at::Tensor hidden_from(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& key_mask,
                         KVCache* cache, int64_t first) override {
    const auto& c = config_;
    const int64_t B = tokens.size(0), T = tokens.size(1);
    const int64_t offset = cache ? cache->length : 0;
    const int64_t nh = c.n_head, nkv = c.n_kv_head, hd = head_dim();
    const auto dtype = embed_.scalar_type();
    auto bias = attention_bias(key_mask, offset, T, dtype);  // [B, 1, T, S]

    // Rotary tables for these positions: [B, 1, T, hd], shared by all layers.
    auto freqs = positions.to(inv_freq_.scalar_type()).unsqueeze(-1) * inv_freq_;  // [B, T, hd/2]
    auto emb = at::cat({freqs, freqs}, -1).unsqueeze(1);
    auto cos = emb.cos().to(dtype), sin = emb.sin().to(dtype);

    auto x = embed(embed_, tokens);  // [B, T, d]
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& L = layers_[l];
      const int64_t from = l + 1 == layers_.size() ? first : 0;  // the last block's first query column
      // Captures by value: under checkpointing it runs again in backward.
      auto block = [this, &L, l, cache, bias, cos, sin, B, T, nh, nkv, hd, from](const at::Tensor& x) {
        const auto& c = config_;
        const int64_t n = T - from;  // query columns
        auto h = rms_norm(x, L.input_norm, c.norm_eps);
        auto q = proj(columns_from(h, 1, from), L.q_w, L.q_b, L.q_lora).view({B, n, nh, hd}).transpose(1, 2);  // [B, nh, n, hd]
        auto k = proj(h, L.k_w, L.k_b, L.k_lora).view({B, T, nkv, hd}).transpose(1, 2);  // [B, nkv, T, hd]
        auto v = proj(h, L.v_w, L.v_b, L.v_lora).view({B, T, nkv, hd}).transpose(1, 2);
        if (c.qk_norm) {  // Qwen3: each head normalised over its hd values, then rotated
          q = rms_norm(q, L.q_norm, c.norm_eps);
          k = rms_norm(k, L.k_norm, c.norm_eps);
        }
        q = q * columns_from(cos, 2, from) + rotate_half(q) * columns_from(sin, 2, from);
        k = k * cos + rotate_half(k) * sin;
        const double p = training_ ? c.dropout : 0.0;
        auto y = cache ? cache->attend(l, q, k, v, bias, p, attention_chunk_)  // [B, nh, n, hd]
                       : attention(q, k, v, columns_from(bias, 2, from).contiguous(), p, attention_chunk_);
        auto out = columns_from(x, 1, from) + proj(y.transpose(1, 2).reshape({B, n, nh * hd}), L.o_w, {}, L.o_lora);
        // SwiGLU: down(silu(gate(h)) * up(h))
        h = rms_norm(out, L.post_norm, c.norm_eps);
        auto gated = at::silu(proj(h, L.gate_w, {}, L.gate_lora)) * proj(h, L.up_w, {}, L.up_lora);
        return out + proj(gated, L.down_w, {}, L.down_lora);
      };
      x = run_block(block, x, cache != nullptr);
    }
    if (cache) cache->length = offset + T;
    return rms_norm(x, norm_, c.norm_eps);
  }

 private:
  // A projection with its adapter: dense(x) + scale * B A dropout(x).
  at::Tensor proj(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const LoraAdapter* lora) const {
    return plus_lora(dense(x, w, b), lora, x);
  }

  std::vector<LoraTarget> lora_targets() override {
    std::vector<LoraTarget> t;
    for (auto& L : layers_) {
      t.push_back({L.prefix + "self_attn.q_proj", R4J_LORA_Q_PROJ, L.q_w, true, &L.q_lora});
      t.push_back({L.prefix + "self_attn.k_proj", R4J_LORA_K_PROJ, L.k_w, true, &L.k_lora});
      t.push_back({L.prefix + "self_attn.v_proj", R4J_LORA_V_PROJ, L.v_w, true, &L.v_lora});
      t.push_back({L.prefix + "self_attn.o_proj", R4J_LORA_O_PROJ, L.o_w, true, &L.o_lora});
      t.push_back({L.prefix + "mlp.gate_proj", R4J_LORA_GATE_PROJ, L.gate_w, true, &L.gate_lora});
      t.push_back({L.prefix + "mlp.up_proj", R4J_LORA_UP_PROJ, L.up_w, true, &L.up_lora});
      t.push_back({L.prefix + "mlp.down_proj", R4J_LORA_DOWN_PROJ, L.down_w, true, &L.down_lora});
    }
    return t;
  }

  at::Tensor embed_, norm_, inv_freq_;
  std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_llama(const r4j_model_config& config, at::Device device) {
  return std::make_unique<Llama>(config, device);
}

}  // namespace r4j
