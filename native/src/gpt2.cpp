// GPT-2 (Radford et al. 2019) exactly as Hugging Face's GPT2LMHeadModel:
// learned position embeddings, pre-LayerNorm blocks, GELU (tanh), fused QKV,
// Conv1D weights stored [in, out], LM head tied to the token embedding.
#include <cmath>
#include <string>

#include <ATen/CPUGeneratorImpl.h>

#include "architectures.hpp"
#include "attention.hpp"
#include "errors.hpp"
#include "gelu.hpp"
#include "layer_norm.hpp"
#include "linear.hpp"

namespace r4j {
namespace {

struct Block {
  at::Tensor ln_1_w, ln_1_b;
  at::Tensor c_attn_w, c_attn_b;   // [d, 3d], [3d]
  at::Tensor attn_proj_w, attn_proj_b;  // [d, d], [d]
  at::Tensor ln_2_w, ln_2_b;
  at::Tensor c_fc_w, c_fc_b;       // [d, n_inner], [n_inner]
  at::Tensor mlp_proj_w, mlp_proj_b;  // [n_inner, d], [d]
  std::string prefix;                 // transformer.h.<i>.
  const LoraAdapter* c_attn_lora = nullptr;
  const LoraAdapter* attn_proj_lora = nullptr;
  const LoraAdapter* c_fc_lora = nullptr;
  const LoraAdapter* mlp_proj_lora = nullptr;
};

// Conv1D: x @ W + b with W stored [in, out].
at::Tensor conv1d(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return linear(x, w, b, /*w_is_out_by_in=*/false);
}

class Gpt2 final : public Model {
 public:
  Gpt2(const r4j_model_config& c, at::Device device) : Model(c, device) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(c.seed);
    const int64_t d = c.n_embd;
    const double std = c.initializer_range;
    // Residual projections scaled by 1/sqrt(2 * n_layer), as GPT-2 does.
    const double proj_std = std / std::sqrt(2.0 * static_cast<double>(c.n_layer));
    wte_ = add("transformer.wte.weight", normal({c.vocab_size, d}, std, gen));
    wpe_ = add("transformer.wpe.weight", normal({c.n_positions, d}, std, gen));
    for (int64_t i = 0; i < c.n_layer; ++i) {
      const std::string p = "transformer.h." + std::to_string(i) + ".";
      Block b;
      b.prefix = p;
      b.ln_1_w = add(p + "ln_1.weight", ones({d}));
      b.ln_1_b = add(p + "ln_1.bias", zeros({d}));
      b.c_attn_w = add(p + "attn.c_attn.weight", normal({d, 3 * d}, std, gen));
      b.c_attn_b = add(p + "attn.c_attn.bias", zeros({3 * d}));
      b.attn_proj_w = add(p + "attn.c_proj.weight", normal({d, d}, proj_std, gen));
      b.attn_proj_b = add(p + "attn.c_proj.bias", zeros({d}));
      b.ln_2_w = add(p + "ln_2.weight", ones({d}));
      b.ln_2_b = add(p + "ln_2.bias", zeros({d}));
      b.c_fc_w = add(p + "mlp.c_fc.weight", normal({d, c.n_inner}, std, gen));
      b.c_fc_b = add(p + "mlp.c_fc.bias", zeros({c.n_inner}));
      b.mlp_proj_w = add(p + "mlp.c_proj.weight", normal({c.n_inner, d}, proj_std, gen));
      b.mlp_proj_b = add(p + "mlp.c_proj.bias", zeros({d}));
      blocks_.push_back(b);
    }
    ln_f_w_ = add("transformer.ln_f.weight", ones({d}));
    ln_f_b_ = add("transformer.ln_f.bias", zeros({d}));
    lm_head_ = wte_;  // tied
    add_heads(gen);
  }

  at::Tensor hidden_from(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& key_mask,
                         KVCache* cache, int64_t first) override {
    const auto& c = config_;
    const int64_t B = tokens.size(0), T = tokens.size(1);
    const int64_t offset = cache ? cache->length : 0;
    const int64_t nh = c.n_head, hd = head_dim(), d = c.n_embd;
    auto bias = attention_bias(key_mask, offset, T, wte_.scalar_type());  // [B, 1, T, S]

    auto x = dropout(embed(wte_, tokens) + at::embedding(wpe_, positions));  // [B, T, d]
    for (size_t l = 0; l < blocks_.size(); ++l) {
      const Block& b = blocks_[l];
      const int64_t from = l + 1 == blocks_.size() ? first : 0;  // the last block's first query column
      // Captures by value: under checkpointing it runs again in backward.
      auto block = [this, &b, l, cache, bias, B, T, nh, hd, d, from](const at::Tensor& x) {
        const auto& c = config_;
        // Attention: y = c_proj(softmax(q k^T / sqrt(hd) + bias) v)
        auto h = r4j::layer_norm(x, b.ln_1_w, b.ln_1_b, c.norm_eps);
        // One contiguous [3, B, nh, T, hd] copy, then unbind: batched matmuls on
        // contiguous heads, and one backward node instead of three zero-filled selects.
        auto qkv = plus_lora(conv1d(h, b.c_attn_w, b.c_attn_b), b.c_attn_lora, h)
                       .view({B, T, 3, nh, hd})
                       .permute({2, 0, 3, 1, 4})
                       .contiguous();
        auto heads = qkv.unbind(0);
        auto q = heads[0], k = heads[1], v = heads[2];  // [B, nh, T, hd]
        const double p = training_ ? c.dropout : 0.0;
        const int64_t n = T - from;  // query columns
        auto y = cache ? cache->attend(l, q, k, v, bias, p, attention_chunk_)  // [B, nh, n, hd]
                       : attention(columns_from(q, 2, from), k, v, columns_from(bias, 2, from).contiguous(), p,
                                   attention_chunk_);
        y = y.transpose(1, 2).reshape({B, n, d});
        auto out = add_projection(columns_from(x, 1, from), y, b.attn_proj_w, b.attn_proj_b, b.attn_proj_lora);
        // MLP: c_proj(gelu_tanh(c_fc(x)))
        h = r4j::layer_norm(out, b.ln_2_w, b.ln_2_b, c.norm_eps);
        h = lora_active(b.c_fc_lora) ? gelu_tanh(plus_lora(conv1d(h, b.c_fc_w, b.c_fc_b), b.c_fc_lora, h))
                                     : linear_gelu_tanh(h, b.c_fc_w, b.c_fc_b, /*w_is_out_by_in=*/false);
        return add_projection(out, h, b.mlp_proj_w, b.mlp_proj_b, b.mlp_proj_lora);
      };
      x = run_block(block, x, cache != nullptr);
    }
    if (cache) cache->length = offset + T;
    return r4j::layer_norm(x, ln_f_w_, ln_f_b_, c.norm_eps);
  }

 private:
  // x + dropout(c_proj(y)): one fused pass when dropout and adapters are off.
  at::Tensor add_projection(const at::Tensor& x, const at::Tensor& y, const at::Tensor& w, const at::Tensor& b,
                            const LoraAdapter* lora) const {
    if (dropout_active() || lora_active(lora)) return x + dropout(plus_lora(conv1d(y, w, b), lora, y));
    return linear_add(y, w, b, /*w_is_out_by_in=*/false, x);
  }

  std::vector<LoraTarget> lora_targets() override {
    std::vector<LoraTarget> t;
    for (auto& b : blocks_) {
      t.push_back({b.prefix + "attn.c_attn", R4J_LORA_C_ATTN, b.c_attn_w, false, &b.c_attn_lora});
      t.push_back({b.prefix + "attn.c_proj", R4J_LORA_ATTN_C_PROJ, b.attn_proj_w, false, &b.attn_proj_lora});
      t.push_back({b.prefix + "mlp.c_fc", R4J_LORA_C_FC, b.c_fc_w, false, &b.c_fc_lora});
      t.push_back({b.prefix + "mlp.c_proj", R4J_LORA_MLP_C_PROJ, b.mlp_proj_w, false, &b.mlp_proj_lora});
    }
    return t;
  }

  at::Tensor wte_, wpe_, ln_f_w_, ln_f_b_;
  std::vector<Block> blocks_;
};

}  // namespace

std::unique_ptr<Model> make_gpt2(const r4j_model_config& config, at::Device device) {
  return std::make_unique<Gpt2>(config, device);
}

}  // namespace r4j
