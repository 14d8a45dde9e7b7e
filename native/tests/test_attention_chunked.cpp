// Query-chunked attention against its whole-matrix twin, attention_reference:
// outputs and the gradients of q, k and v, with padded keys, a causal window
// at an offset, grouped-query heads, ragged and oversized chunks, bf16, and
// through whole models; the softmax kernels against ATen's formula.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>

#include <string>
#include <vector>

#include "attention.hpp"
#include "attention_softmax.hpp"
#include "linear.hpp"
#include "core_helpers.hpp"
#include "scoring.hpp"
#include "simd.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

struct Case {
  at::Tensor q, k, v, bias;  // q [B, nh, T, hd], k, v [B, nkv, S, hd], bias [B, 1, T, S]
  at::Tensor key_mask;       // [B, S]
  int64_t offset;
};

// T queries at positions offset .. offset + T - 1 over S = offset + T keys;
// sequence 1 has its first 3 keys padded, sequence 2 its first one.
Case make_case(int64_t nh, int64_t nkv, int64_t T, int64_t offset, at::ScalarType dtype) {
  const int64_t B = 3, hd = 8, S = offset + T;
  at::manual_seed(21);
  auto opts = at::TensorOptions().dtype(dtype);
  auto key_mask = at::ones({B, S}, at::kBool);
  key_mask[1].narrow(0, 0, 3).fill_(false);
  key_mask[2][0] = false;
  return {at::randn({B, nh, T, hd}, opts), at::randn({B, nkv, S, hd}, opts), at::randn({B, nkv, S, hd}, opts),
          attention_bias(key_mask, offset, T, dtype), key_mask, offset};
}

struct Run {
  at::Tensor out, dq, dk, dv;
};

// loss = sum(w * attention(q, k, v)) for fixed random w; chunk 0 = the reference.
Run run(const Case& c, int64_t chunk) {
  auto q = c.q.clone().requires_grad_(true);
  auto k = c.k.clone().requires_grad_(true);
  auto v = c.v.clone().requires_grad_(true);
  auto out = chunk ? attention_chunked(q, k, v, c.bias, chunk) : attention_reference(q, k, v, c.bias, 0.0);
  at::manual_seed(5);
  auto w = at::randn(out.sizes(), at::kDouble).to(out.scalar_type());  // the same w for every dtype
  (w * out).sum().backward();
  return {out.detach(), q.grad(), k.grad(), v.grad()};
}

// The output and the gradients of q, k and v of got within tol of want's.
void expect_runs_within(const Run& got, const Run& want, double tol, const std::string& where) {
  EXPECT_LT(max_abs_diff(got.out, want.out), tol) << where;
  EXPECT_LT(max_abs_diff(got.dq, want.dq), tol) << where << " dq";
  EXPECT_LT(max_abs_diff(got.dk, want.dk), tol) << where << " dk";
  EXPECT_LT(max_abs_diff(got.dv, want.dv), tol) << where << " dv";
}

double norm_relative_error(const at::Tensor& got, const at::Tensor& want) {
  auto g = got.to(at::kDouble), w = want.to(at::kDouble);
  return ((g - w).norm() / w.norm()).item<double>();
}

}  // namespace

TEST(ChunkedAttention, ValuesAndGradientsEqualTheReferenceInFloat64) {
  struct Shape {
    int64_t nh, nkv, T, offset;
  };
  // Plain heads over a causal window; grouped-query heads at an offset (a prompt before them).
  for (auto s : {Shape{4, 4, 11, 0}, Shape{4, 2, 9, 5}}) {
    auto c = make_case(s.nh, s.nkv, s.T, s.offset, at::kDouble);
    auto want = run(c, 0);
    for (int64_t chunk : std::vector<int64_t>{1, 4, s.T, 64}) {  // one row, a ragged last chunk, exactly T, more than T
      auto got = run(c, chunk);
      const std::string at_chunk = "nkv " + std::to_string(s.nkv) + " chunk " + std::to_string(chunk);
      expect_runs_within(got, want, 1e-10, at_chunk);
      EXPECT_EQ(got.dk.sizes(), c.k.sizes()) << at_chunk;
    }
  }
}

TEST(ChunkedAttention, NoGradPassAndTheDispatcherEqualTheReference) {
  auto c = make_case(4, 2, 10, 3, at::kDouble);
  at::NoGradGuard g;
  auto want = attention_reference(c.q, c.k, c.v, c.bias, 0.0);
  EXPECT_LT(max_abs_diff(attention_chunked(c.q, c.k, c.v, c.bias, 3), want), 1e-10);
  EXPECT_LT(max_abs_diff(attention(c.q, c.k, c.v, c.bias, 0.0, 3), want), 1e-10);
}

// Dropout on the probabilities is the reference's: chunking never drops it silently.
TEST(ChunkedAttention, DropoutPassesTakeTheReference) {
  auto c = make_case(4, 4, 10, 0, at::kDouble);
  at::manual_seed(9);
  auto want = attention_reference(c.q, c.k, c.v, c.bias, 0.3);
  at::manual_seed(9);
  EXPECT_TRUE(at::equal(attention(c.q, c.k, c.v, c.bias, 0.3, 3), want));
}

// float32 on the CPU: the chunked path's products are oneDNN's batched matmul
// (matmul_f32) where the build has it, and a training pass then takes the chunked
// path even when its queries fit one chunk.
TEST(ChunkedAttention, Float32TrainingPassesMatchTheReference) {
  auto c = make_case(4, 2, 13, 4, at::kFloat);
  auto want = run(c, 0);
  for (int64_t chunk : {5, 13, 64}) {
    auto got = run(c, chunk);
    const std::string at_chunk = "chunk " + std::to_string(chunk);
    expect_runs_within(got, want, 1e-5, at_chunk);
  }
  auto q = c.q.clone().requires_grad_(true);
  auto out = attention(q, c.k, c.v, c.bias, 0.0, 128);  // 13 queries, chunks of 128
  if (onednn_products())
    EXPECT_NE(out.grad_fn()->name().find("ChunkedAttention"), std::string::npos) << out.grad_fn()->name();
  EXPECT_LT(max_abs_diff(out.detach(), want.out), 1e-5);
}

TEST(ChunkedAttention, Bf16WithinTheReferencesBoundOfTheFloat64Values) {
  auto c = make_case(4, 2, 13, 4, at::kBFloat16);
  auto f64 = [](const at::Tensor& t) { return t.to(at::kDouble); };
  Case wide{f64(c.q), f64(c.k), f64(c.v), attention_bias(c.key_mask, c.offset, 13, at::kDouble), c.key_mask,
            c.offset};
  auto exact = run(wide, 0);
  auto got = run(c, 5);
  auto ref = run(c, 0);
  EXPECT_EQ(got.out.scalar_type(), at::kBFloat16);
  EXPECT_EQ(got.dk.scalar_type(), at::kBFloat16);
  const std::vector<std::string> names = {"out", "dq", "dk", "dv"};
  const std::vector<at::Tensor> g = {got.out, got.dq, got.dk, got.dv}, r = {ref.out, ref.dq, ref.dk, ref.dv},
                                e = {exact.out, exact.dq, exact.dk, exact.dv};
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_LT(norm_relative_error(r[i], e[i]), 2e-2) << names[i] << " (the reference)";
    EXPECT_LT(norm_relative_error(g[i], e[i]), 2e-2) << names[i];
  }
}

// The model's setting reaches its blocks: log-probs and every parameter's gradient at
// attention_chunk 3 (ragged over 9 positions) equal the whole-matrix pass.
TEST(ChunkedAttention, ModelGradientsEqualTheWholeMatrixPass) {
  for (auto cfg : {tiny_gpt2(), tiny_llama()}) {
    auto m = make(cfg, R4J_DTYPE_F64);
    auto tokens = random_tokens(2, 9, 48, 2);
    auto mask = at::ones({2, 9}, at::kBool);
    mask[1].narrow(0, 0, 2).fill_(false);  // left padding
    auto pass = [&](int64_t rows) {
      m->set_attention_chunk(rows);
      for (auto& [n, t] : m->named_parameters()) t.mutable_grad() = at::Tensor();
      auto h = m->hidden(tokens, positions_from_mask(mask), mask, nullptr);
      auto logits = m->lm_logits(h);
      at::log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).sum().backward();
      std::vector<at::Tensor> out{logits.detach()};
      for (auto& [n, t] : m->named_parameters()) out.push_back(t.grad().clone());
      return out;
    };
    auto whole = pass(0), chunked = pass(3);
    ASSERT_EQ(whole.size(), chunked.size());
    for (size_t i = 0; i < whole.size(); ++i)
      EXPECT_LT(max_abs_diff(chunked[i], whole[i]), 1e-10) << "arch " << cfg.arch << " tensor " << i;
  }
}

TEST(ChunkedAttention, ModelSettingDefaultsAndRejectsNegativeRows) {
  auto m = make(tiny_gpt2());
  EXPECT_EQ(m->attention_chunk(), kDefaultAttentionChunk);
  EXPECT_THROW(m->set_attention_chunk(-1), std::exception);
  EXPECT_EQ(m->attention_chunk(), kDefaultAttentionChunk);
  m->set_attention_chunk(0);
  EXPECT_EQ(m->attention_chunk(), 0);
}

// ATen's formula for a chunk's softmax, the kernels' slow twin in attention.cpp.
struct AtenSoftmax {
  at::Tensor p, m, z;
};
AtenSoftmax aten_softmax(const at::Tensor& raw, const at::Tensor& bias, double scale) {
  auto s = raw.clone().mul_(scale).add_(bias);
  auto m = std::get<0>(s.max(-1, /*keepdim=*/true));
  auto p = s.sub_(m).exp_();
  auto z = p.sum(-1, /*keepdim=*/true);
  return {p.div_(z), m, z};
}

// Scores of 37 keys (a tail after every vector width) under a padded, causal mask at an
// offset: query rows narrowed from a longer bias, a bias that broadcasts over queries,
// and rows whose every key is masked (uniform, as the formula gives them).
TEST(AttentionSoftmax, EveryKernelMatchesAtensFormulaAndRecomputesItsOwnProbabilities) {
  const int64_t B = 3, nh = 4, T = 12, S = 37;
  auto key_mask = at::ones({B, S}, at::kBool);
  key_mask[1].narrow(0, 0, 30).fill_(false);  // sequence 1's first queries see only padding
  key_mask[2][3] = false;
  auto full = attention_bias(key_mask, S - T, T, at::kFloat);  // [B, 1, T, S]
  at::manual_seed(3);
  auto raw = at::randn({B, nh, 5, S}) * 4;
  const double scale = 0.3;
  for (const auto& bias : {full.narrow(2, 6, 5), full.narrow(2, 0, 1)}) {
    auto want = aten_softmax(raw, bias, scale);
    for (const char* isa : elementwise_isas_here()) {
      simd::pin_elementwise_isa(isa);
      auto p = raw.clone();
      auto st = attention_softmax_(p, bias, scale);
      EXPECT_LT(max_abs_diff(p, want.p), 1e-6) << isa;
      EXPECT_LT(max_abs_diff(st.max, want.m), 1e-5) << isa;
      EXPECT_LT(((st.sum - want.z).abs() / want.z).max().item<double>(), 1e-5) << isa;
      EXPECT_TRUE(at::allclose(p.sum(-1), at::ones({B, nh, 5}), 0, 1e-5)) << isa;
      auto again = raw.clone();
      attention_probs_(again, bias, scale, st.max, st.sum);
      EXPECT_TRUE(at::equal(again, p)) << isa << ": backward's probabilities are not forward's";
    }
    simd::pin_elementwise_isa(nullptr);
  }
  auto rows = full.narrow(2, 0, 5);  // sequence 1's rows 0-4: every key masked
  auto p = raw.clone();
  attention_softmax_(p, rows, scale);
  EXPECT_TRUE(at::allclose(p[1], at::full({nh, 5, S}, 1.0 / S), 0, 1e-7));
}

// The chunked pass with the kernels and with ATen's formula: outputs and the
// gradients of q, k and v agree to float32 rounding.
TEST(AttentionSoftmax, ChunkedPassesWithTheKernelsEqualAtensFormula) {
  auto c = make_case(4, 2, 13, 4, at::kFloat);
  for (int64_t chunk : {5, 64}) {
    set_fast_attention_softmax(false);
    auto want = run(c, chunk);
    set_fast_attention_softmax(true);
    auto got = run(c, chunk);
    const std::string at_chunk = "chunk " + std::to_string(chunk);
    expect_runs_within(got, want, 2e-6, at_chunk);
    EXPECT_FALSE(at::equal(got.out, want.out)) << at_chunk << ": the kernel did not run";
  }
}
