// The transformer against slow, obvious references written here from the papers,
// plus the properties generation and PPO rely on: causality, padding invariance,
// Hugging Face names.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>
#ifdef RLHF4J_WITH_DNNL
#include <dnnl.hpp>
#endif

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "core_helpers.hpp"
#include "attention.hpp"
#include "gelu.hpp"
#include "gemm_few_rows.hpp"
#include "generate.hpp"
#include "linear.hpp"
#include "scoring.hpp"
#include "simd.hpp"
#include "supervised.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

// Logits [T, V] of one unpadded sequence from the model's forward.
at::Tensor model_logits(Model& m, const at::Tensor& tokens) {
  at::NoGradGuard g;
  auto t = tokens.unsqueeze(0);
  auto mask = at::ones_like(t, at::kBool);
  return m.lm_logits(m.hidden(t, positions_from_mask(mask), mask, nullptr)).squeeze(0);
}

at::Tensor param(const Model& m, const std::string& name) {
  auto t = m.find(name);
  EXPECT_TRUE(t.defined()) << "no parameter " << name;
  return t.detach().to(at::kDouble);
}

// Dot-product attention of query position t over keys 0..t, one head at a time.
at::Tensor attend(const std::vector<at::Tensor>& q, const std::vector<at::Tensor>& k,
                  const std::vector<at::Tensor>& v, int64_t t) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q[t].size(0)));
  std::vector<double> scores;
  double top = -1e300;
  for (int64_t j = 0; j <= t; ++j) {
    scores.push_back((q[t] * k[j]).sum().item<double>() * scale);
    top = std::max(top, scores.back());
  }
  double z = 0;
  for (double& s : scores) z += (s = std::exp(s - top));
  auto out = at::zeros_like(v[0]);
  for (int64_t j = 0; j <= t; ++j) out += v[j] * (scores[j] / z);
  return out;
}

at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double eps) {
  auto mean = x.mean();
  auto var = (x - mean).pow(2).mean();
  return (x - mean) / at::sqrt(var + eps) * w + b;
}

at::Tensor gelu_tanh(const at::Tensor& u) {
  return 0.5 * u * (1 + at::tanh(std::sqrt(2.0 / M_PI) * (u + 0.044715 * u.pow(3))));
}

// GPT-2 by the book, position by position, in float64.
at::Tensor reference_gpt2(const Model& m, const at::Tensor& tokens) {
  const auto& c = m.config();
  const int64_t T = tokens.size(0), d = c.n_embd, nh = c.n_head, hd = d / nh;
  std::vector<at::Tensor> x;
  for (int64_t t = 0; t < T; ++t)
    x.push_back(param(m, "transformer.wte.weight")[tokens[t].item<int64_t>()] + param(m, "transformer.wpe.weight")[t]);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "transformer.h." + std::to_string(l) + ".";
    std::vector<std::vector<at::Tensor>> q(nh), k(nh), v(nh);
    for (int64_t t = 0; t < T; ++t) {
      auto h = layer_norm(x[t], param(m, p + "ln_1.weight"), param(m, p + "ln_1.bias"), c.norm_eps);
      auto qkv = at::matmul(h, param(m, p + "attn.c_attn.weight")) + param(m, p + "attn.c_attn.bias");
      for (int64_t i = 0; i < nh; ++i) {
        q[i].push_back(qkv.narrow(0, i * hd, hd));
        k[i].push_back(qkv.narrow(0, d + i * hd, hd));
        v[i].push_back(qkv.narrow(0, 2 * d + i * hd, hd));
      }
    }
    for (int64_t t = 0; t < T; ++t) {
      std::vector<at::Tensor> heads;
      for (int64_t i = 0; i < nh; ++i) heads.push_back(attend(q[i], k[i], v[i], t));
      auto y = at::matmul(at::cat(heads), param(m, p + "attn.c_proj.weight")) + param(m, p + "attn.c_proj.bias");
      x[t] = x[t] + y;
      auto h = layer_norm(x[t], param(m, p + "ln_2.weight"), param(m, p + "ln_2.bias"), c.norm_eps);
      auto u = gelu_tanh(at::matmul(h, param(m, p + "mlp.c_fc.weight")) + param(m, p + "mlp.c_fc.bias"));
      x[t] = x[t] + at::matmul(u, param(m, p + "mlp.c_proj.weight")) + param(m, p + "mlp.c_proj.bias");
    }
  }
  std::vector<at::Tensor> logits;
  for (int64_t t = 0; t < T; ++t) {
    auto h = layer_norm(x[t], param(m, "transformer.ln_f.weight"), param(m, "transformer.ln_f.bias"), c.norm_eps);
    logits.push_back(at::matmul(param(m, "transformer.wte.weight"), h));
  }
  return at::stack(logits);
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
  return x / at::sqrt(x.pow(2).mean() + eps) * w;
}

// Rotates pairs (i, i + hd/2) of one head's vector by angle position * theta^(-2i/hd).
at::Tensor rope(const at::Tensor& x, int64_t position, double theta) {
  const int64_t hd = x.size(0), half = hd / 2;
  auto out = x.clone();
  for (int64_t i = 0; i < half; ++i) {
    const double angle = position * std::pow(theta, -2.0 * i / hd);
    const double a = x[i].item<double>(), b = x[i + half].item<double>();
    out[i] = a * std::cos(angle) - b * std::sin(angle);
    out[i + half] = b * std::cos(angle) + a * std::sin(angle);
  }
  return out;
}

// Llama by the book: RMSNorm, RoPE, grouped-query attention, SwiGLU; with
// qk_norm (Qwen3) each head of q and k RMS-normalised before its rotation.
at::Tensor reference_llama(const Model& m, const at::Tensor& tokens) {
  const auto& c = m.config();
  const int64_t T = tokens.size(0), nh = c.n_head, nkv = c.n_kv_head;
  const int64_t hd = c.head_dim ? c.head_dim : c.n_embd / nh;
  std::vector<at::Tensor> x;
  for (int64_t t = 0; t < T; ++t) x.push_back(param(m, "model.embed_tokens.weight")[tokens[t].item<int64_t>()]);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto proj = [&](const std::string& name, const at::Tensor& h) {
      auto y = at::matmul(param(m, p + name + ".weight"), h);
      return c.attention_bias && name != "self_attn.o_proj" ? y + param(m, p + name + ".bias") : y;
    };
    std::vector<std::vector<at::Tensor>> q(nh), k(nkv), v(nkv);
    for (int64_t t = 0; t < T; ++t) {
      auto h = rms_norm(x[t], param(m, p + "input_layernorm.weight"), c.norm_eps);
      auto qa = proj("self_attn.q_proj", h), ka = proj("self_attn.k_proj", h), va = proj("self_attn.v_proj", h);
      auto head_norm = [&](const at::Tensor& x, const char* which) {
        return c.qk_norm ? rms_norm(x, param(m, p + "self_attn." + which + ".weight"), c.norm_eps) : x;
      };
      for (int64_t i = 0; i < nh; ++i)
        q[i].push_back(rope(head_norm(qa.narrow(0, i * hd, hd), "q_norm"), t, c.rope_theta));
      for (int64_t i = 0; i < nkv; ++i) {
        k[i].push_back(rope(head_norm(ka.narrow(0, i * hd, hd), "k_norm"), t, c.rope_theta));
        v[i].push_back(va.narrow(0, i * hd, hd));
      }
    }
    for (int64_t t = 0; t < T; ++t) {
      std::vector<at::Tensor> heads;
      for (int64_t i = 0; i < nh; ++i) heads.push_back(attend(q[i], k[i / (nh / nkv)], v[i / (nh / nkv)], t));
      x[t] = x[t] + at::matmul(param(m, p + "self_attn.o_proj.weight"), at::cat(heads));
      auto h = rms_norm(x[t], param(m, p + "post_attention_layernorm.weight"), c.norm_eps);
      auto g = at::matmul(param(m, p + "mlp.gate_proj.weight"), h);
      auto u = at::matmul(param(m, p + "mlp.up_proj.weight"), h);
      x[t] = x[t] + at::matmul(param(m, p + "mlp.down_proj.weight"), g * at::sigmoid(g) * u);
    }
  }
  auto head = c.tie_word_embeddings ? param(m, "model.embed_tokens.weight") : param(m, "lm_head.weight");
  std::vector<at::Tensor> logits;
  for (int64_t t = 0; t < T; ++t)
    logits.push_back(at::matmul(head, rms_norm(x[t], param(m, "model.norm.weight"), c.norm_eps)));
  return at::stack(logits);
}

// Weights away from their init (unit gains, zero biases), so every term of the forward matters.
void perturb(Model& m, uint64_t seed) {
  at::NoGradGuard g;
  at::manual_seed(seed);
  for (auto& [name, t] : m.named_parameters()) t.add_(at::randn_like(t) * 0.1);
}

}  // namespace

TEST(Model, Gpt2MatchesTheSlowReference) {
  auto m = make(tiny_gpt2());
  perturb(*m, 1);
  auto tokens = random_tokens(1, 7, 48, 2).squeeze(0);
  EXPECT_LT(max_abs_diff(model_logits(*m, tokens), reference_gpt2(*m, tokens)), 1e-5);
}

TEST(Model, LlamaMatchesTheSlowReference) {
  auto m = make(tiny_llama());
  perturb(*m, 3);
  auto tokens = random_tokens(1, 7, 48, 4).squeeze(0);
  EXPECT_LT(max_abs_diff(model_logits(*m, tokens), reference_llama(*m, tokens)), 1e-5);
}

TEST(Model, LlamaTiedHeadWithoutBiasesMatchesTheSlowReference) {
  auto c = tiny_llama();
  c.tie_word_embeddings = 1;
  c.attention_bias = 0;
  c.n_kv_head = 1;
  auto m = make(c);
  perturb(*m, 5);
  EXPECT_FALSE(m->find("lm_head.weight").defined());
  EXPECT_FALSE(m->find("model.layers.0.self_attn.q_proj.bias").defined());
  auto tokens = random_tokens(1, 6, 48, 6).squeeze(0);
  EXPECT_LT(max_abs_diff(model_logits(*m, tokens), reference_llama(*m, tokens)), 1e-5);
}

TEST(Model, Qwen3QkNormAndOwnHeadSizeMatchTheSlowReference) {
  auto m = make(tiny_qwen3());
  perturb(*m, 7);
  EXPECT_EQ(m->find("model.layers.1.self_attn.k_norm.weight").sizes(), at::IntArrayRef({8}));
  EXPECT_EQ(m->find("model.layers.0.self_attn.q_proj.weight").sizes(), at::IntArrayRef({32, 16}));
  EXPECT_EQ(m->find("model.layers.0.self_attn.o_proj.weight").sizes(), at::IntArrayRef({16, 32}));
  auto tokens = random_tokens(1, 7, 48, 8).squeeze(0);
  EXPECT_LT(max_abs_diff(model_logits(*m, tokens), reference_llama(*m, tokens)), 1e-5);
  // The norms take part: other q_norm gains, other logits.
  at::Tensor before = model_logits(*m, tokens);
  {
    at::NoGradGuard g;
    m->find("model.layers.0.self_attn.q_norm.weight").mul_(1.5);
  }
  EXPECT_GT(max_abs_diff(model_logits(*m, tokens), before), 1e-3);
  EXPECT_LT(max_abs_diff(model_logits(*m, tokens), reference_llama(*m, tokens)), 1e-5);
}

TEST(Model, LaterTokensNeverChangeEarlierLogits) {
  for (auto c : {tiny_gpt2(), tiny_llama(), tiny_qwen3()}) {
    auto m = make(c);
    perturb(*m, 7);
    auto a = random_tokens(1, 10, 48, 8).squeeze(0);
    auto b = a.clone();
    b[6] = (b[6].item<int64_t>() + 1) % 48;
    b[9] = (b[9].item<int64_t>() + 5) % 48;
    auto la = model_logits(*m, a), lb = model_logits(*m, b);
    EXPECT_EQ(max_abs_diff(la.narrow(0, 0, 6), lb.narrow(0, 0, 6)), 0.0) << "arch " << c.arch;
    EXPECT_GT(max_abs_diff(la.narrow(0, 6, 4), lb.narrow(0, 6, 4)), 1e-4) << "the change must matter later";
  }
}

// hidden(..., first) runs the last block's queries, projections and MLP for the
// columns from `first` on only: its states and every parameter's gradient are the
// full pass's, narrowed (the slow twin), with left padding and with checkpointing.
TEST(Model, StatesFromALaterColumnAreTheFullPassNarrowed) {
  for (auto c : {tiny_gpt2(), tiny_llama(), tiny_qwen3()}) {
    for (bool checkpointing : {false, true}) {
      auto m = make(c);
      perturb(*m, 13);
      auto o = m->memory();
      o.gradient_checkpointing = checkpointing ? 1 : 0;
      m->set_memory(o);
      const int64_t T = 9;
      auto tokens = random_tokens(2, T, 48, 14);
      auto mask = at::ones_like(tokens, at::kBool);
      mask[0].narrow(0, 0, 3).fill_(false);  // row 0 left-padded
      const auto positions = positions_from_mask(mask);
      for (int64_t first : {int64_t{4}, T - 1}) {
        at::manual_seed(15);
        const auto weights = at::randn({2, T - first, c.n_embd});
        auto run = [&](bool from_first) {
          for (auto& [n, t] : m->named_parameters()) t.mutable_grad() = at::Tensor();
          auto h = from_first ? m->hidden(tokens, positions, mask, nullptr, first)
                              : m->hidden(tokens, positions, mask, nullptr).narrow(1, first, T - first);
          (h * weights).sum().backward();
          std::vector<at::Tensor> out{h.detach()};
          for (auto& [n, t] : m->named_parameters()) out.push_back(t.grad());
          return out;
        };
        const auto fast = run(true), slow = run(false);
        const std::string where = "arch " + std::to_string(c.arch) + (checkpointing ? ", checkpointing" : "") +
                                  ", first " + std::to_string(first);
        EXPECT_EQ(fast[0].sizes(), slow[0].sizes()) << where;
        EXPECT_LT(max_abs_diff(fast[0], slow[0]), 1e-5) << where;
        for (size_t i = 1; i < fast.size(); ++i) {
          ASSERT_EQ(fast[i].defined(), slow[i].defined()) << where << ", " << m->named_parameters()[i - 1].first;
          if (!slow[i].defined()) continue;  // a head the states do not reach
          EXPECT_LT(max_abs_diff(fast[i], slow[i]), 1e-4 * (1 + slow[i].abs().max().item<double>()))
              << where << ", " << m->named_parameters()[i - 1].first;
        }
      }
      EXPECT_THROW(m->hidden(tokens, positions, mask, nullptr, T), std::exception) << "no column left";
      auto cache = m->new_cache(2, T);
      EXPECT_THROW(m->hidden(tokens, positions, mask, &cache, 1), std::exception) << "a cache takes every column";
    }
  }
}

// A loss that masks the prompt (SFT on completions, DPO) scores from a later column:
// the last block then skips the columns before the first scored one. Log-probs and
// every parameter's gradient equal those of scoring every column with the same loss
// (the slow twin), in one pass and in passes of like length.
TEST(Model, MaskedPromptsScoreAsTheWholeGridMasked) {
  for (auto c : {tiny_gpt2(), tiny_llama()}) {
    auto m = make(c);
    perturb(*m, 17);
    const int64_t T = 10, n = T - 1;
    auto tokens = random_tokens(3, T, 48, 18);
    auto mask = at::ones_like(tokens, at::kBool);
    auto only = at::zeros({3, n}, at::kBool);
    only[0].narrow(0, 4, 5).fill_(true);
    only[1].narrow(0, 5, 4).fill_(true);
    only[2].narrow(0, 4, 3).fill_(true);  // a shorter completion
    at::manual_seed(19);
    const auto w = at::randn({3, n}) * only.to(at::kFloat);
    const std::vector<TokenPass> passes{{longs({0, 1}, {2}), 1, n}, {longs({2}, {1}), 1, 7}};
    for (bool in_passes : {false, true}) {
      auto run = [&](const at::Tensor& scored) {
        for (auto& [name, t] : m->named_parameters()) t.mutable_grad() = at::Tensor();
        ScoreRequest r;
        r.only = scored;
        auto s = in_passes ? score_tokens(*m, tokens, mask, 1, n, r, passes) : score_tokens(*m, tokens, mask, 1, n, r);
        (s.logprobs * w).sum().backward();
        std::vector<at::Tensor> out{(s.logprobs * only.to(at::kFloat)).detach()};
        for (auto& [name, t] : m->named_parameters()) out.push_back(t.grad());
        return out;
      };
      const auto fast = run(only), slow = run(in_passes ? at::ones_like(only) : at::Tensor());
      const std::string where = "arch " + std::to_string(c.arch) + (in_passes ? ", passes" : ", one pass");
      EXPECT_LT(max_abs_diff(fast[0], slow[0]), 1e-5) << where;
      for (size_t i = 1; i < fast.size(); ++i) {
        ASSERT_EQ(fast[i].defined(), slow[i].defined()) << where << ", " << m->named_parameters()[i - 1].first;
        if (!slow[i].defined()) continue;
        EXPECT_LT(max_abs_diff(fast[i], slow[i]), 1e-4 * (1 + slow[i].abs().max().item<double>()))
            << where << ", " << m->named_parameters()[i - 1].first;
      }
    }
  }
}

TEST(Model, LeftPaddingNeverChangesLogprobs) {
  for (auto c : {tiny_gpt2(), tiny_llama(), tiny_qwen3()}) {
    auto m = make(c);
    perturb(*m, 9);
    at::NoGradGuard g;
    auto seq = random_tokens(1, 6, 48, 10);
    auto alone = score_tokens(*m, seq, at::ones_like(seq, at::kBool), 1, 5, ScoreRequest{}).logprobs;
    // The same sequence behind 4 pad tokens (pad id 0) in a batch with a longer neighbour.
    auto padded = at::cat({at::zeros({1, 4}, at::kLong), seq}, 1);
    auto batch = at::cat({padded, random_tokens(1, 10, 48, 11)}, 0);
    auto mask = at::ones_like(batch, at::kBool);
    mask[0].narrow(0, 0, 4).fill_(false);
    auto in_batch = score_tokens(*m, batch, mask, 5, 5, ScoreRequest{}).logprobs.narrow(0, 0, 1);
    EXPECT_LT(max_abs_diff(alone, in_batch), 1e-5) << "arch " << c.arch;
  }
}

// bfloat16 weights and activations, logits widened to float32: close to the float32
// model holding the same (bf16-rounded) weights. The causal mask must use bf16's own
// lowest value: -FLT_MAX does not fit in bf16.
TEST(Model, Bf16ModelsStayCloseToTheirFloat32Twin) {
  for (auto c : {tiny_gpt2(), tiny_llama(), tiny_qwen3()}) {
    auto f32 = make(c);
    perturb(*f32, 13);
    auto bf16 = make(c, R4J_DTYPE_BF16);
    {
      at::NoGradGuard g;
      for (auto& [name, t] : f32->named_parameters()) {
        t.copy_(t.to(at::kBFloat16));
        bf16->find(name).copy_(t);
      }
    }
    auto tokens = random_tokens(1, 7, 48, 14).squeeze(0);
    auto expected = model_logits(*f32, tokens), got = model_logits(*bf16, tokens);
    EXPECT_EQ(got.scalar_type(), at::kFloat) << "arch " << c.arch;
    EXPECT_LT(max_abs_diff(got, expected), 0.05 * expected.abs().max().item<double>()) << "arch " << c.arch;
  }
}

TEST(Model, Gpt2TensorsCarryHuggingFaceNamesAndLayouts) {
  auto c = tiny_gpt2();
  c.value_head = 1;
  c.reward_head = 1;
  auto m = make(c);
  std::vector<std::string> expected = {"transformer.wte.weight", "transformer.wpe.weight"};
  for (int l = 0; l < 2; ++l) {
    const std::string p = "transformer.h." + std::to_string(l) + ".";
    for (const char* n : {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                          "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                          "mlp.c_proj.weight", "mlp.c_proj.bias"})
      expected.push_back(p + n);
  }
  for (const char* n : {"transformer.ln_f.weight", "transformer.ln_f.bias", "v_head.summary.weight",
                        "v_head.summary.bias", "score.weight"})
    expected.push_back(n);
  std::vector<std::string> names;
  for (const auto& [n, t] : m->named_parameters()) names.push_back(n);
  EXPECT_EQ(names, expected);
  // Conv1D keeps [in, out]: c_attn maps n_embd -> 3 * n_embd, c_fc n_embd -> 4 * n_embd.
  EXPECT_EQ(m->find("transformer.h.0.attn.c_attn.weight").sizes(), at::IntArrayRef({16, 48}));
  EXPECT_EQ(m->find("transformer.h.0.mlp.c_fc.weight").sizes(), at::IntArrayRef({16, 64}));
  EXPECT_EQ(m->find("transformer.h.0.mlp.c_proj.weight").sizes(), at::IntArrayRef({64, 16}));
  EXPECT_EQ(m->find("v_head.summary.weight").sizes(), at::IntArrayRef({1, 16}));
}

TEST(Model, SameSeedSameWeights) {
  auto a = make(tiny_gpt2()), b = make(tiny_gpt2());
  auto c = tiny_gpt2();
  c.seed = 4;
  auto d = make(c);
  const auto& wa = a->find("transformer.h.1.mlp.c_fc.weight");
  EXPECT_TRUE(at::equal(wa, b->find("transformer.h.1.mlp.c_fc.weight")));
  EXPECT_FALSE(at::equal(wa, d->find("transformer.h.1.mlp.c_fc.weight")));
}

TEST(Linear, FastPathMatchesTheAtenReference) {
  if (!fast_linear_available()) GTEST_SKIP() << "built without oneDNN";
  at::NoGradGuard g;
  at::manual_seed(12);
  for (int64_t M : {1, 16, 100}) {
    for (bool out_by_in : {false, true}) {
      auto x = at::randn({M, 48});
      auto w = out_by_in ? at::randn({80, 48}) : at::randn({48, 80});
      for (auto b : {at::randn({80}), at::Tensor()}) {
        auto fast = linear(x, w, b, out_by_in), slow = linear_reference(x, w, b, out_by_in);
        EXPECT_LT(max_abs_diff(fast, slow), 1e-4) << "M " << M << " out_by_in " << out_by_in;
      }
    }
  }
  // A whole model: logits with and without the fast path.
  auto m = make(tiny_llama());
  auto tokens = random_tokens(1, 9, 48, 13).squeeze(0);
  auto fast = model_logits(*m, tokens);
  set_fast_linear(false);
  auto slow = model_logits(*m, tokens);
  set_fast_linear(true);
  EXPECT_LT(max_abs_diff(fast, slow), 1e-5);
}

#ifdef RLHF4J_WITH_DNNL
// The blocked layout oneDNN chooses for w [k, n] (stored transposed) at m rows.
dnnl::memory::desc blocked_layout(int64_t m, int64_t k, int64_t n) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::matmul::desc d({{m, k}, dt::f32, tag::ab}, {{k, n}, dt::f32, tag::any}, {{m, n}, dt::f32, tag::ab});
  return dnnl::matmul::primitive_desc(d, engine).weights_desc();
}

// A decoding batch that shrinks row by row past the panel kernel's 16 rows: a weight
// reordered once serves every later row count whose layout is the same, and each
// product stays the plain one's.
TEST(Linear, OneBlockedCopyOfAWeightServesEveryRowCountOfItsLayout) {
  if (!fast_linear_available()) GTEST_SKIP() << "built without oneDNN";
  at::NoGradGuard g;
  at::manual_seed(14);
  auto w = at::randn({96, 64}), b = at::randn({96});  // [out, in], as a tied LM head
  const std::vector<int64_t> rows = {40, 40, 33, 17, 64};  // the second use of a shape packs it
  int64_t expected = 1;
  for (size_t i = 2; i < rows.size(); ++i)
    if (!(blocked_layout(rows[i], 64, 96) == blocked_layout(rows[i - 1], 64, 96))) ++expected;
  PackedWeights scope;
  for (int64_t m : rows) {
    auto x = at::randn({m, 64});
    EXPECT_LT(max_abs_diff(linear(x, w, b, true), linear_reference(x, w, b, true)), 1e-4) << "rows " << m;
  }
  EXPECT_EQ(scope.packings(), expected);
  std::cout << "[ linear ] reorderings of one weight over row counts 40, 33, 17, 64: " << scope.packings()
            << std::endl;
}
#endif

namespace {

// A GPT-2's training loss: every parameter's gradient with a fast path on and off.
void expect_gpt2_gradients_unchanged_without(void (*set_fast)(bool)) {
  auto m = make(tiny_gpt2());
  for (auto& p : m->parameters()) p.requires_grad_(true);
  auto tokens = random_tokens(2, 9, 48, 16);
  auto mask = at::ones({2, 9}, at::kBool);
  auto grads = [&] {
    for (auto& p : m->parameters()) p.mutable_grad() = at::Tensor();
    lm_loss(*m, tokens, mask, mask).backward();
    std::vector<at::Tensor> out;
    for (auto& p : m->parameters()) out.push_back(p.grad().clone());
    return out;
  };
  auto fast = grads();
  set_fast(false);
  auto slow = grads();
  set_fast(true);
  for (size_t i = 0; i < fast.size(); ++i)
    EXPECT_LT(max_abs_diff(fast[i], slow[i]), 1e-5) << m->named_parameters()[i].first;
}

}  // namespace

// Passes that record gradients: forward and every gradient through oneDNN against ATen's autograd.
TEST(Linear, ProductsThatRecordGradientsMatchTheAtenReference) {
  at::manual_seed(15);
  struct Run {
    at::Tensor y, dx, dw, db;
  };
  auto run = [](auto&& f, const at::Tensor& x0, const at::Tensor& w0, const at::Tensor& b0, bool w_grad,
                const at::Tensor& r) {
    auto x = x0.clone().requires_grad_(true);
    auto w = w0.clone().requires_grad_(w_grad);
    auto b = b0.defined() ? b0.clone().requires_grad_(true) : at::Tensor();
    auto y = f(x, w, b);
    (y * r).sum().backward();
    return Run{y.detach(), x.grad(), w.grad(), b.defined() ? b.grad() : at::Tensor()};
  };
  for (bool out_by_in : {false, true}) {
    for (bool bias : {true, false}) {
      for (bool w_grad : {true, false}) {  // a frozen base weight (LoRA) takes no gradient
        for (bool strided : {false, true}) {
          const std::string where = "out_by_in " + std::to_string(out_by_in) + " bias " + std::to_string(bias) +
                                    " w_grad " + std::to_string(w_grad) + " strided " + std::to_string(strided);
          // x [3, 7, 19], or a transposed (non-contiguous) [21, 19]
          auto x = strided ? at::randn({19, 21}).t() : at::randn({3, 7, 19});
          auto w = out_by_in ? at::randn({45, 19}) : at::randn({19, 45});
          auto b = bias ? at::randn({45}) : at::Tensor();
          auto r = at::randn(strided ? std::vector<int64_t>{21, 45} : std::vector<int64_t>{3, 7, 45});
          auto fast = run([&](auto& x1, auto& w1, auto& b1) { return linear(x1, w1, b1, out_by_in); }, x, w, b, w_grad, r);
          auto slow = run([&](auto& x1, auto& w1, auto& b1) { return linear_reference(x1, w1, b1, out_by_in); }, x, w,
                          b, w_grad, r);
          EXPECT_LT(max_abs_diff(fast.y, slow.y), 1e-4) << where;
          EXPECT_LT(max_abs_diff(fast.dx, slow.dx), 1e-4) << where;
          EXPECT_EQ(fast.dw.defined(), w_grad) << where;
          if (w_grad) EXPECT_LT(max_abs_diff(fast.dw, slow.dw), 1e-4) << where;
          if (bias) EXPECT_LT(max_abs_diff(fast.db, slow.db), 1e-4) << where;
        }
      }
    }
  }
  // Batched products without gradients, on transposed and narrowed views, as attention takes them.
  {
    at::NoGradGuard no_grad;
    auto q = at::randn({3, 7, 4, 8}).transpose(1, 2);  // [B, nh, T, hd] from [B, T, nh, hd]
    auto k = at::randn({3, 4, 9, 8});
    EXPECT_LT(max_abs_diff(matmul_f32(q, k.transpose(-2, -1)), at::matmul(q, k.transpose(-2, -1))), 1e-5);
    auto qc = q.narrow(2, 2, 3);
    EXPECT_LT(max_abs_diff(matmul_f32(qc, k.transpose(-2, -1)), at::matmul(qc, k.transpose(-2, -1))), 1e-5);
    auto p = at::randn({3, 4, 9, 7});
    EXPECT_LT(max_abs_diff(matmul_f32(p.transpose(-2, -1), k), at::matmul(p.transpose(-2, -1), k)), 1e-5);
    auto a = at::randn({19, 21}).t(), b = at::randn({19, 6});
    EXPECT_LT(max_abs_diff(matmul_f32(a, b), at::mm(a, b)), 1e-5);
  }
  // With oneDNN the product is its own autograd node, not ATen's addmm.
  if (onednn_products()) {
    auto x = at::randn({5, 19}).requires_grad_(true);
    auto y = linear(x, at::randn({19, 45}), at::randn({45}), false);
    const auto node = y.grad_fn()->next_edge(0).function->name();  // under the view to x's shape
    EXPECT_NE(node.find("RecordedLinear"), std::string::npos) << node;
  }
  expect_gpt2_gradients_unchanged_without(set_fast_linear);
}

// GPT-2's GELU on every instruction set this CPU runs against ATen's, values and
// gradient: far tails (tanh saturating), zero, tiny arguments, and a length that
// leaves a tail for the plain loop.
TEST(Gelu, EveryKernelGivesAtensValuesAndGradient) {
  const auto isas = elementwise_isas_here();
  at::manual_seed(23);
  auto u0 = at::cat({at::randn({70013}) * 3, at::tensor({-30.f, -9.f, -1e-4f, 0.f, 1e-4f, 9.f, 30.f})});
  auto g = at::randn(u0.sizes());
  auto ref = u0.clone().requires_grad_(true);
  auto want = at::gelu(ref, "tanh");
  want.backward(g);
  for (const char* isa : isas) {
    simd::pin_elementwise_isa(isa);
    auto u = u0.clone().requires_grad_(true);
    auto y = r4j::gelu_tanh(u);
    y.backward(g);
    EXPECT_LT(max_abs_diff(y, want), 1e-5) << isa;
    EXPECT_LT(max_abs_diff(u.grad(), ref.grad()), 1e-5) << isa;
    at::NoGradGuard no_grad;
    EXPECT_LT(max_abs_diff(r4j::gelu_tanh(u0), want), 1e-5) << isa;
  }
  simd::pin_elementwise_isa(nullptr);
  EXPECT_THROW(simd::pin_elementwise_isa("sse"), std::exception);
  expect_gpt2_gradients_unchanged_without(set_fast_gelu);
}

// The panels a generation packs every weight into: whole panels take the
// vectorised loops, the zero-padded last panel and odd k (bf16 pairs) the
// element-by-element one; all of it bitwise the definition, in both layouts.
TEST(Linear, PanelPackingIsBitwiseTheElementByElementDefinition) {
  for (int64_t in : {1, 7, 48, 300}) {
    for (int64_t out : {1, 16, 40, 129}) {
      for (bool out_by_in : {false, true}) {
        const std::string where =
            "in " + std::to_string(in) + " out " + std::to_string(out) + " out_by_in " + std::to_string(out_by_in);
        const int64_t np = (out + 15) / 16;
        auto w = out_by_in ? at::randn({out, in}) : at::randn({in, out});
        auto fast = at::full({np * in * 16}, std::nanf("")), slow = at::full({np * in * 16}, std::nanf(""));
        pack_column_panels<1>(w.data_ptr<float>(), in, out, out_by_in, fast.data_ptr<float>());
        pack_column_panels_reference<1>(w.data_ptr<float>(), in, out, out_by_in, slow.data_ptr<float>());
        EXPECT_TRUE(at::equal(fast, slow)) << "float32 " << where;
        EXPECT_FALSE(slow.isnan().any().item<bool>()) << "every value written " << where;
        auto wb = w.to(at::kBFloat16).view(at::kShort);
        const int64_t pairs = (in + 1) / 2;
        auto bfast = at::full({np * pairs * 32}, -1, at::kShort), bslow = at::full({np * pairs * 32}, -1, at::kShort);
        auto u16 = [](const at::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<int16_t>()); };
        pack_column_panels<2>(u16(wb), in, out, out_by_in, u16(bfast));
        pack_column_panels_reference<2>(u16(wb), in, out, out_by_in, u16(bslow));
        EXPECT_TRUE(at::equal(bfast, bslow)) << "bf16 " << where;
        EXPECT_FALSE(bslow.eq(-1).any().item<bool>()) << "every value written " << where;
      }
    }
  }
}

TEST(Linear, FewRowsKernelMatchesTheAtenReference) {
  std::vector<const char*> kernels;
  if (R4J_CPU_SUPPORTS_AVX512("avx512f")) kernels.push_back("avx512");
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) kernels.push_back("avx2");
  if (kernels.empty()) GTEST_SKIP() << "neither AVX-512F nor AVX2/FMA on this CPU";
  std::cout << "[ linear ] few-row kernel on this CPU: " << few_rows_kernel() << "\n";
  at::NoGradGuard g;
  at::manual_seed(14);
  for (const char* kernel : kernels) {
    set_few_rows_kernel(kernel);
    for (int64_t M : {1, 5, 7, 16}) {  // one row group, a partial one, 6 + 1, 6 + 6 + 4
      for (int64_t N : {16, 40, 129}) {  // whole panels and a zero-padded last one
        for (int64_t K : {48, 300}) {   // one k-block of the AVX2 kernel, and two
          for (bool out_by_in : {false, true}) {
            const std::string where = std::string(kernel) + " M " + std::to_string(M) + " N " + std::to_string(N) +
                                      " K " + std::to_string(K) + " out_by_in " + std::to_string(out_by_in);
            auto x = at::randn({M, K});
            auto w = out_by_in ? at::randn({N, K}) : at::randn({K, N});
            auto b = at::randn({N});
            auto residual = at::randn({M, N});
            auto y = linear_reference(x, w, b, out_by_in);
            auto panels = pack_panels(w, out_by_in);
            EXPECT_LT(max_abs_diff(few_rows_linear(x, panels, N, b), y), 1e-4) << where;
            EXPECT_LT(max_abs_diff(few_rows_linear(x, panels, N, b, {true, {}}), at::gelu(y, "tanh")), 1e-4) << where;
            EXPECT_LT(max_abs_diff(few_rows_linear(x, panels, N, {}, {false, residual}),
                                   linear_reference(x, w, {}, out_by_in) + residual), 1e-4) << where;
            // Through linear(): the second use of a weight with a shape in a scope takes the kernel.
            PackedWeights scope;
            for (int use = 0; use < 2; ++use) {
              EXPECT_LT(max_abs_diff(linear(x, w, b, out_by_in), y), 1e-4) << where << " use " << use;
              EXPECT_LT(max_abs_diff(linear(x, w, {}, out_by_in), linear_reference(x, w, {}, out_by_in)), 1e-4) << where;
              EXPECT_LT(max_abs_diff(linear_gelu_tanh(x, w, b, out_by_in), at::gelu(y, "tanh")), 1e-4) << where;
              EXPECT_LT(max_abs_diff(linear_add(x, w, b, out_by_in, residual), y + residual), 1e-4) << where;
            }
          }
        }
      }
    }
    // Generation (a PackedWeights scope) with every fast path of linear() on and off.
    expect_generation_unchanged_without(set_fast_linear);
  }
  set_few_rows_kernel(nullptr);
  EXPECT_THROW(set_few_rows_kernel("sse"), std::exception);
}

TEST(Attention, DecodingKernelMatchesTheAtenFormula) {
  at::NoGradGuard g;
  at::manual_seed(21);
  // A cache of capacity 12 holding 9 keys, 4 query heads over 2 kv heads, left
  // padding; head sizes for the vector kernel (a multiple of 8, and of 32) and the plain one.
  for (int64_t hd : {16, 64, 12}) {
    auto cache_k = at::randn({3, 2, 12, hd}), cache_v = at::randn({3, 2, 12, hd});
    auto k = cache_k.narrow(2, 0, 9), v = cache_v.narrow(2, 0, 9);
    auto q = at::randn({3, 4, 1, hd});
    auto key_mask = at::ones({3, 9}, at::kBool);
    key_mask[1].narrow(0, 0, 3).fill_(false);
    auto bias = attention_bias(key_mask, 8, 1, at::kFloat);
    auto fast = attention(q, k, v, bias, 0.0);
    auto slow = attention_reference(q, k, v, bias, 0.0);
    EXPECT_LT(max_abs_diff(fast, slow), 1e-5) << "head size " << hd;
  }
  // And a whole model's decoding steps, with the kernel on and off.
  expect_generation_unchanged_without(set_fast_attention);
}

TEST(Attention, SharedPrefixKernelIsTheKernelOverEachRowsCopyOfItsPrefix) {
  at::NoGradGuard g;
  at::manual_seed(22);
  // 4 sequences over 2 prefixes of 5 positions (not a multiple of the kernel's 4
  // keys), in no particular order, the first prefix left-padded; each sequence
  // has 3 positions of its own in a cache of capacity 6; 4 query heads over 2 kv heads.
  auto row = at::tensor(std::vector<int64_t>{1, 0, 1, 1});
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    for (int64_t hd : {16, 64, 12}) {
      auto prefix_k = at::randn({2, 2, 5, hd}).to(dtype), prefix_v = at::randn({2, 2, 5, hd}).to(dtype);
      auto k = at::randn({4, 2, 6, hd}).to(dtype).narrow(2, 0, 3);
      auto v = at::randn({4, 2, 6, hd}).to(dtype).narrow(2, 0, 3);
      auto q = at::randn({4, 4, 1, hd}).to(dtype);
      auto key_mask = at::ones({4, 8}, at::kBool);
      key_mask[1].narrow(0, 0, 2).fill_(false);
      auto bias = attention_bias(key_mask, 7, 1, dtype);
      auto copied_k = at::cat({prefix_k.index_select(0, row), k}, 2);
      auto copied_v = at::cat({prefix_v.index_select(0, row), v}, 2);
      ASSERT_TRUE(shared_prefix_decode_applies(q, prefix_k, k, v));
      auto shared = attention_decode_shared_prefix(q, prefix_k, prefix_v, row, k, v, bias);
      const std::string where = std::string(c10::toString(dtype)) + " head size " + std::to_string(hd);
      // The same sums in the same order as the kernel over copies: a group's samples decode
      // bitwise as if each had prefilled its prompt.
      EXPECT_TRUE(at::equal(shared, attention(q, copied_k, copied_v, bias, 0.0))) << where;
      auto reference = attention_reference(q, copied_k, copied_v, bias, 0.0).to(at::kFloat);
      EXPECT_LT(max_abs_diff(shared.to(at::kFloat), reference), dtype == at::kFloat ? 1e-5 : 2e-2) << where;
    }
  }
}
