// bf16 models: each bf16 fast path against its slow twin with a relative error
// bound, what stays float32, training, and the rollout's log-probs against the
// learning phase's.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "attention.hpp"
#include "chunked_logprobs.hpp"
#include "bf16_convert.hpp"
#include "core_helpers.hpp"
#include "cpu_allocator.hpp"
#include "gemm_few_rows.hpp"
#include "gelu.hpp"
#include "generate.hpp"
#include "layer_norm.hpp"
#include "linear.hpp"
#include "optim.hpp"
#include "sampling.hpp"
#include "scoring.hpp"
#include "simd.hpp"
#include "softmax_rows.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

// max |got - want| / max |want|: one bound for outputs of any scale.
double relative_error(const at::Tensor& got, const at::Tensor& want) {
  return max_abs_diff(got, want) / want.to(at::kDouble).abs().max().item<double>();
}

at::Tensor bf16_randn(std::vector<int64_t> shape) { return at::randn(shape).to(at::kBFloat16); }

// The kernels this CPU can run, best first; the best is what generation uses.
std::vector<const char*> kernels_here() {
  std::vector<const char*> all = {"avx512bf16", "avx2", "plain"}, here;
  for (const char* k : all) {
    try {
      set_few_rows_bf16_kernel(k);
      here.push_back(k);
    } catch (const std::exception&) {
    }
  }
  set_few_rows_bf16_kernel(nullptr);
  return here;
}

// A tiny bf16 GPT-2, and 37 rows of bf16 states for its head with their targets.
struct Bf16HeadCase {
  std::unique_ptr<Model> m;
  at::Tensor h0, targets;
};
Bf16HeadCase bf16_head_case(uint64_t seed) {
  auto c = tiny_gpt2();
  c.dtype = R4J_DTYPE_BF16;
  auto m = make_model(c, at::kCPU);
  at::manual_seed(seed);
  auto h0 = bf16_randn({37, c.n_embd});
  return {std::move(m), h0, at::randint(0, c.vocab_size, {37}, at::kLong)};
}

r4j_model_config tiny(bool value_head = false) {
  auto c = tiny_gpt2();
  c.value_head = value_head;
  return c;
}

}  // namespace

// bf16 rounding of the output (2^-9 relative) bounds the error; the float64
// product of the same bf16 values is the twin.
TEST(Bf16Kernels, FewRowsProductMatchesTheWideProductOnEveryKernelOfThisCpu) {
  std::cout << "[ bf16 ] few-row kernel on this CPU: " << few_rows_bf16_kernel() << " (tested here:";
  for (const char* k : kernels_here()) std::cout << " " << k;
  std::cout << ")" << std::endl;
  at::NoGradGuard g;
  at::manual_seed(31);
  for (const char* kernel : kernels_here()) {
    set_few_rows_bf16_kernel(kernel);
    for (int64_t M : {1, 7, 16}) {
      for (int64_t K : {48, 37, 601}) {  // an odd K: a zero-padded last pair; 601: two k-blocks of the AVX2 kernel
        for (int64_t N : {16, 41}) {  // whole panels and a zero-padded last one
          for (bool out_by_in : {false, true}) {
            const std::string where = std::string(kernel) + " M " + std::to_string(M) + " K " + std::to_string(K) +
                                      " N " + std::to_string(N) + " out_by_in " + std::to_string(out_by_in);
            auto x = bf16_randn({M, K});
            auto w = out_by_in ? bf16_randn({N, K}) : bf16_randn({K, N});
            auto b = bf16_randn({N}), residual = bf16_randn({M, N});
            auto wide = at::mm(x.to(at::kDouble), (out_by_in ? w.t() : w).to(at::kDouble)) + b.to(at::kDouble);
            auto panels = pack_panels_bf16(w, out_by_in);
            auto y = few_rows_linear_bf16(x, panels, N, b);
            EXPECT_EQ(y.scalar_type(), at::kBFloat16) << where;
            EXPECT_LT(relative_error(y, wide), 8e-3) << where;
            EXPECT_LT(relative_error(few_rows_linear_bf16(x, panels, N, b, {true, {}}), at::gelu(wide, "tanh")), 8e-3)
                << where;
            EXPECT_LT(relative_error(few_rows_linear_bf16(x, panels, N, b, {false, residual}),
                                     wide + residual.to(at::kDouble)), 8e-3)
                << where;
          }
        }
      }
    }
  }
  set_few_rows_bf16_kernel(nullptr);
}

// Under RLHF4J_CPU_ISA=avx2 (ctest's rlhf4j_cpu_isa_avx2 runs this file's kernel
// suites so) every choice takes the AVX2 machine's path, and AVX-512 cannot be
// pinned back; elsewhere the choices are this CPU's own.
TEST(CpuIsa, TheAvx2CapTakesTheAvx2PathsEverywhere) {
  const char* cap = std::getenv("RLHF4J_CPU_ISA");
  if (cap == nullptr || std::string(cap) != "avx2") {
    EXPECT_TRUE(simd::avx512_allowed());
    EXPECT_EQ(std::string(few_rows_kernel()) == "avx512", static_cast<bool>(__builtin_cpu_supports("avx512f")));
    return;
  }
  EXPECT_FALSE(simd::avx512_allowed());
  EXPECT_STREQ(few_rows_kernel(), "avx2");
  EXPECT_STREQ(few_rows_bf16_kernel(), "avx2");
  EXPECT_EQ(simd::elementwise_isa(), simd::Isa::avx2);
  EXPECT_FALSE(cpu_bf16_matmul_native());
  EXPECT_ANY_THROW(simd::pin_elementwise_isa("avx512"));
  EXPECT_ANY_THROW(set_few_rows_bf16_kernel("avx512bf16"));
  EXPECT_ANY_THROW(set_few_rows_kernel("avx512"));
}

// The value and reward heads of a bf16 model on a CPU without bf16 products run
// on float32 copies, as every other product: ATen's bf16 GEMM there is its own
// loops (~6 GFLOP/s on the Zen 4 against ~170 in float32) and rounds differently.
TEST(CpuIsa, ScalarHeadsOfABf16ModelRunOnFloat32CopiesWithoutBf16Products) {
  at::NoGradGuard g;
  auto c = tiny(/*value_head=*/true);
  c.reward_head = 1;
  c.dtype = R4J_DTYPE_BF16;
  auto m = make_model(c, at::kCPU);
  at::manual_seed(36);
  auto h = bf16_randn({300, c.n_embd});  // above ATen's size for handing bf16 products to oneDNN
  const auto w = m->find("v_head.summary.weight"), b = m->find("v_head.summary.bias"), s = m->find("score.weight");
  auto f = [](const at::Tensor& t) { return t.to(at::kFloat); };
  const auto value = at::linear(f(h), f(w), f(b)).squeeze(-1), reward = at::linear(f(h), f(s)).squeeze(-1);
  if (!cpu_bf16_matmul_native()) {
    EXPECT_TRUE(at::equal(m->value(h), value));
    EXPECT_TRUE(at::equal(m->reward(h), reward));
  } else {
    EXPECT_LT(relative_error(m->value(h), value), 8e-3);
    EXPECT_LT(relative_error(m->reward(h), reward), 8e-3);
  }
}

// A bf16 model's products that record gradients, on a CPU without bf16 products:
// the values and gradients, bitwise, of the float32 copies composed by autograd
// (x.to(float), the float32 product, .to(bf16): the twin), while autograd holds no
// float32 copy of the weight from forward to backward (the twin holds one, which shows
// the allocator's count sees it). And the chunked head, which widens its weight once a
// pass: the log-probs of each chunk's logits from linear(), bitwise.
TEST(CpuIsa, Bf16ProductsOnFloat32CopiesKeepTheComposedValuesWithoutHoldingCopies) {
  if (cpu_bf16_matmul_native()) {
    std::cout << "[ bf16 ] this CPU multiplies bf16: ctest's rlhf4j_cpu_isa_avx2 runs this test" << std::endl;
    return;
  }
  const bool counted = install_cpu_cache();  // off under RLHF4J_CPU_CACHE=0: no count to read
  at::manual_seed(37);
  for (bool out_by_in : {true, false}) {
    // w is 1 MiB in bf16: a block the CPU cache counts in live_bytes, as its float32 copy.
    auto x0 = bf16_randn({64, 512}), w0 = out_by_in ? bf16_randn({1024, 512}) : bf16_randn({512, 1024});
    auto b0 = bf16_randn({1024}), g = bf16_randn({64, 1024});
    auto leaf = [](const at::Tensor& t) { return t.clone().requires_grad_(true); };
    auto f = [](const at::Tensor& t) { return t.to(at::kFloat); };
    auto x = leaf(x0), w = leaf(w0), b = leaf(b0), x2 = leaf(x0), w2 = leaf(w0), b2 = leaf(b0);
    const auto live = [] { return static_cast<int64_t>(cpu_cache_stats().live_bytes); };
    const int64_t before = live();
    auto y = linear(x, w, b, out_by_in);
    const int64_t held = live() - before;
    auto y2 = linear(f(x2), f(w2), f(b2), out_by_in).to(at::kBFloat16);
    const int64_t twin_held = live() - before - held;
    const std::string where = "out_by_in " + std::to_string(out_by_in);
    if (counted) {
      EXPECT_LT(held, w0.nbytes()) << where;
      EXPECT_GE(twin_held, 2 * w0.nbytes()) << where << ": the twin's float32 copy of w";
    }
    ASSERT_EQ(y.scalar_type(), at::kBFloat16);
    EXPECT_TRUE(at::equal(y, y2)) << where;
    y.backward(g);
    y2.backward(g);
    EXPECT_TRUE(at::equal(x.grad(), x2.grad())) << where;
    EXPECT_TRUE(at::equal(w.grad(), w2.grad())) << where;
    EXPECT_TRUE(at::equal(b.grad(), b2.grad())) << where;
  }
  at::NoGradGuard no_grad;
  auto c = tiny_gpt2();
  c.dtype = R4J_DTYPE_BF16;
  auto m = make_model(c, at::kCPU);
  auto h = bf16_randn({37, c.n_embd});
  auto targets = at::randint(0, c.vocab_size, {37}, at::kLong);
  const auto w32 = float32_copy_for_products(m->lm_head_weight());
  ASSERT_TRUE(w32.defined());
  const auto logits = linear(h, m->lm_head_weight(), {}, true).to(at::kFloat);
  EXPECT_TRUE(at::equal(linear_with_float32_copy(h, w32, true), logits)) << "rounded through bf16 in place";
  const auto logprobs = head_logprobs(*m, h, targets, 1.0, false, false, /*chunk=*/8).logprobs;
  const auto ref = ref_scores(*m, h, nullptr, {}, targets, 1.0).ref_logprobs;
  for (int64_t s = 0; s < 37; s += 8) {
    const int64_t n = std::min<int64_t>(8, 37 - s);
    auto z = linear(h.narrow(0, s, n), m->lm_head_weight(), {}, true).to(at::kFloat);
    auto want = at::log_softmax(z, -1).gather(1, targets.narrow(0, s, n).unsqueeze(1)).squeeze(1);
    EXPECT_LT(max_abs_diff(logprobs.narrow(0, s, n), want), 1e-5) << "rows " << s;
    EXPECT_LT(max_abs_diff(ref.narrow(0, s, n), want), 1e-5) << "rows " << s;
  }
}

// The epilogue runs on each thread's columns and reads b and the residual as
// bf16; the twin is the same product with a float32 x (same sums: x's values
// are bf16 already) and float32 bias and residual, rounded once at the end.
TEST(Bf16Kernels, FusedEpilogueIsBitwiseTheFloat32EpilogueRoundedOnce) {
  at::NoGradGuard g;
  at::manual_seed(35);
  for (const char* kernel : kernels_here()) {
    set_few_rows_bf16_kernel(kernel);
    for (int64_t M : {1, 16}) {
      for (int64_t K : {48, 37}) {  // even K reads x's pairs in place, odd K pads the last
        const int64_t N = 1000;  // both threads' column ranges, and a zero-padded last panel
        const std::string where = std::string(kernel) + " M " + std::to_string(M) + " K " + std::to_string(K);
        auto x = bf16_randn({M, K}), b = bf16_randn({N}), residual = bf16_randn({M, N});
        auto panels = pack_panels_bf16(bf16_randn({K, N}), false);
        const auto xf = x.to(at::kFloat), bf = b.to(at::kFloat), rf = residual.to(at::kFloat);
        for (bool gelu : {false, true}) {
          for (bool with_residual : {false, true}) {
            const Epilogue bf16_then{gelu, with_residual ? residual : at::Tensor()};
            const Epilogue f32_then{gelu, with_residual ? rf : at::Tensor()};
            auto want = few_rows_linear_bf16(xf, panels, N, bf, f32_then);
            ASSERT_EQ(want.scalar_type(), at::kFloat);
            auto got = few_rows_linear_bf16(x, panels, N, b, bf16_then);
            EXPECT_TRUE(at::equal(got, want.to(at::kBFloat16)))
                << where << " gelu " << gelu << " residual " << with_residual;
          }
        }
      }
    }
  }
  set_few_rows_bf16_kernel(nullptr);
}

TEST(Bf16Kernels, LinearTakesTheBf16PanelsForReusedWeightsAndStaysNearAten) {
  at::NoGradGuard g;
  at::manual_seed(32);
  auto x = bf16_randn({5, 64}), w = bf16_randn({64, 96}), b = bf16_randn({96}), residual = bf16_randn({5, 96});
  auto y = linear_reference(x.to(at::kDouble), w.to(at::kDouble), b.to(at::kDouble), false);
  PackedWeights scope;
  for (int use = 0; use < 3; ++use) {  // the second use of a weight with a shape packs it
    EXPECT_EQ(linear(x, w, b, false).scalar_type(), at::kBFloat16);
    EXPECT_LT(relative_error(linear(x, w, b, false), y), 8e-3) << "use " << use;
    EXPECT_LT(relative_error(linear_gelu_tanh(x, w, b, false), at::gelu(y, "tanh")), 8e-3) << "use " << use;
    EXPECT_LT(relative_error(linear_add(x, w, b, false, residual), y + residual.to(at::kDouble)), 8e-3) << "use " << use;
  }
}

// Products of many rows (prefill, scoring, training): oneDNN's bf16 kernels
// through ATen where the CPU has them, else float32 products of the bf16 values;
// either way near ATen's own bf16 matmul, gradients included.
TEST(Bf16Kernels, ProductsOfManyRowsAndTheirGradientsMatchAtensBf16Matmul) {
  std::cout << "[ bf16 ] matrix products of many rows: "
            << (cpu_bf16_matmul_native() ? "ATen's (oneDNN bf16 kernels)" : "float32 copies of the bf16 values")
            << std::endl;
  at::manual_seed(34);
  auto x = bf16_randn({100, 48}), w = bf16_randn({80, 48}).set_requires_grad(true), b = bf16_randn({80});
  auto w2 = w.detach().clone().set_requires_grad(true);
  auto fast = linear(x, w, b, true), slow = linear_reference(x, w2, b, true);
  EXPECT_EQ(fast.scalar_type(), at::kBFloat16);
  EXPECT_LT(relative_error(fast, slow), 8e-3);
  fast.square().sum().backward();
  slow.square().sum().backward();
  EXPECT_EQ(w.grad().scalar_type(), at::kBFloat16);
  EXPECT_LT(relative_error(w.grad(), w2.grad()), 2e-2);
}

// Where the CPU multiplies bf16, linear() runs oneDNN's bf16 product itself (forward,
// dx, dW) rather than through ATen's autograd: each result one rounding of the float32
// accumulation, as ATen's bf16 addmm and mm (the twin, with linear()'s fast paths off).
// Every element within a bf16 rounding of the twin's; on the AMD EPYC Zen 4 they are equal.
TEST(Bf16Kernels, RecordedBf16ProductsRoundTheAccumulationOnceAsAtens) {
  if (!cpu_bf16_matmul_native()) GTEST_SKIP() << "bf16 products run on float32 copies on this CPU";
  if (!onednn_products()) GTEST_SKIP() << "this build's bf16 products are ATen's, the twin itself";
  auto within_a_rounding = [](const at::Tensor& got, const at::Tensor& want) {
    auto g = got.to(at::kDouble), w = want.to(at::kDouble);
    const double floor = 1e-3 * w.abs().max().item<double>();
    return ((g - w).abs() <= w.abs() * std::ldexp(1.0, -7) + floor).all().item<bool>();
  };
  at::manual_seed(35);
  for (int64_t rows : {100, 300}) {
    const int64_t k = rows == 100 ? 48 : 256, n = rows == 100 ? 80 : 384;
    for (bool out_by_in : {true, false}) {
      for (bool bias : {true, false}) {
        for (bool frozen : {false, true}) {
          auto x0 = bf16_randn({rows, k}), w0 = bf16_randn(out_by_in ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n});
          auto b0 = bias ? bf16_randn({n}) : at::Tensor();
          auto g = bf16_randn({rows, n});
          struct Out {
            at::Tensor y, dx, dw, db, y_no_grad;
          };
          auto run = [&] {
            auto x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(!frozen);
            auto b = bias ? b0.clone().requires_grad_(true) : at::Tensor();
            auto y = linear(x, w, b, out_by_in);
            y.backward(g);
            at::NoGradGuard no_grad;
            return Out{y.detach(), x.grad(), frozen ? at::Tensor() : w.grad(), bias ? b.grad() : at::Tensor(),
                       linear(x0, w0, b0, out_by_in)};
          };
          auto fast = run();
          set_fast_linear(false);
          auto twin = run();
          set_fast_linear(true);
          const std::string where = "rows " + std::to_string(rows) + " out_by_in " + std::to_string(out_by_in) +
                                    " bias " + std::to_string(bias) + " frozen " + std::to_string(frozen);
          EXPECT_EQ(fast.y.scalar_type(), at::kBFloat16) << where;
          EXPECT_TRUE(within_a_rounding(fast.y, twin.y)) << where;
          EXPECT_TRUE(within_a_rounding(fast.y_no_grad, twin.y_no_grad)) << where;
          EXPECT_TRUE(within_a_rounding(fast.dx, twin.dx)) << where;
          if (!frozen) EXPECT_TRUE(within_a_rounding(fast.dw, twin.dw)) << where;
          if (bias) EXPECT_TRUE(at::equal(fast.db, twin.db)) << where;
        }
      }
    }
  }
}

// Keys and values stay bf16 in the cache and are widened as they are read;
// scores, softmax and the weighted sum are float32, the output bf16.
TEST(Bf16Kernels, DecodingAttentionOverABf16CacheMatchesTheWideFormula) {
  at::NoGradGuard g;
  at::manual_seed(33);
  for (int64_t hd : {16, 64, 12}) {  // the AVX2 kernel (multiples of 8, of 32) and the plain one
    auto cache_k = bf16_randn({3, 2, 12, hd}), cache_v = bf16_randn({3, 2, 12, hd});
    auto k = cache_k.narrow(2, 0, 9), v = cache_v.narrow(2, 0, 9);
    auto q = bf16_randn({3, 4, 1, hd});
    auto key_mask = at::ones({3, 9}, at::kBool);
    key_mask[1].narrow(0, 0, 3).fill_(false);
    auto bias = attention_bias(key_mask, 8, 1, at::kBFloat16);
    auto fast = attention(q, k, v, bias, 0.0);
    auto wide = attention_reference(q.to(at::kDouble), k.to(at::kDouble), v.to(at::kDouble),
                                    attention_bias(key_mask, 8, 1, at::kDouble), 0.0);
    EXPECT_EQ(fast.scalar_type(), at::kBFloat16);
    EXPECT_LT(relative_error(fast, wide), 8e-3) << "head size " << hd;
    set_fast_attention(false);
    EXPECT_LT(relative_error(attention(q, k, v, bias, 0.0), wide), 2e-2) << "the ATen twin, head size " << hd;
    set_fast_attention(true);
  }
}

namespace {

// Greedy decoding of a bf16 model with every bf16 fast path on and off: the same tokens.
void expect_fast_paths_off_give_the_same_greedy_tokens(Model& m, const at::Tensor& prompts) {
  auto o = gen_options(8, 0);
  o.temperature = 0;
  at::NoGradGuard g;
  auto mask = at::ones(prompts.sizes(), at::kBool);
  auto fast = generate(m, prompts, mask, o);
  set_fast_linear(false);
  set_fast_attention(false);
  auto slow = generate(m, prompts, mask, o);
  set_fast_linear(true);
  set_fast_attention(true);
  EXPECT_TRUE(at::equal(fast->response_tokens, slow->response_tokens));
}

}  // namespace

// bf16 products summed into a float32 destination: the widened values' float32
// product (exact products, float32 sums), plus the destination's values when accumulating.
TEST(Bf16Kernels, ProductsIntoFloat32EqualTheWidenedProducts) {
  at::manual_seed(37);
  auto a = bf16_randn({70, 300}), b = bf16_randn({70, 40});
  if (!matmul_bf16_into_applies(a, b)) GTEST_SKIP() << "no oneDNN bf16 products on this CPU or build";
  auto want = at::matmul(a.t().to(at::kFloat), b.to(at::kFloat));  // [300, 40]
  auto c = at::full({300, 40}, std::numeric_limits<float>::quiet_NaN());
  matmul_bf16_into(a.t(), b, c, /*accumulate=*/false);  // a transposed view; c's NaNs overwritten
  EXPECT_LT(relative_error(c, want), 1e-5);
  matmul_bf16_into(a.t(), b, c, /*accumulate=*/true);
  EXPECT_LT(relative_error(c, 2 * want), 1e-5);
  EXPECT_THROW(matmul_bf16_into(a.t(), b, at::zeros({300, 40}, at::kBFloat16), false), std::exception);
}

// The chunked head of a bf16 model sums its weight gradient over chunks in float32:
// the same gradient as each chunk's bf16 product widened and added (the twin, with
// linear()'s fast paths off).
TEST(Bf16Kernels, ChunkedHeadGradientSumsIntoFloat32) {
  const auto head = bf16_head_case(41);
  Model& m = *head.m;
  const at::Tensor &h0 = head.h0, &targets = head.targets;
  auto head_grad = [&] {
    auto w = m.lm_head_weight();
    w.mutable_grad() = at::Tensor();
    auto h = h0.clone().requires_grad_(true);
    head_logprobs(m, h, targets, 1.0, false, false, /*chunk=*/8).logprobs.sum().backward();
    return std::make_pair(w.grad().clone(), h.grad().clone());
  };
  auto [fast_w, fast_h] = head_grad();
  set_fast_linear(false);
  auto [slow_w, slow_h] = head_grad();
  set_fast_linear(true);
  EXPECT_EQ(fast_w.scalar_type(), at::kBFloat16);
  EXPECT_LT(relative_error(fast_w, slow_w), 2e-2);
  EXPECT_LT(relative_error(fast_h, slow_h), 2e-2);
}

// A bf16 head's logits at temperature 1 go to the row kernels as bf16; widening each
// chunk first (the twin) gives the same bits: log-probs, entropy and both gradients,
// with the gradients formed in forward (a loss) and recomputed in backward (none),
// and the reference's log-probs.
TEST(Bf16Kernels, ChunkedHeadOnBf16LogitsGivesTheWidenedChunksBits) {
  const auto head = bf16_head_case(43);
  Model& m = *head.m;
  const at::Tensor &h0 = head.h0, &targets = head.targets;
  auto a = at::randn({37});
  const HeadLoss weighted = [&](const at::Tensor& lp, const at::Tensor&) { return (a * lp).sum(); };
  struct Run {
    at::Tensor logprobs, entropy, grad_h, grad_w, ref;
  };
  auto run = [&](bool with_loss) {
    auto w = m.lm_head_weight();
    w.mutable_grad() = at::Tensor();
    auto h = h0.clone().requires_grad_(true);
    auto s = head_logprobs(m, h, targets, 1.0, true, false, /*chunk=*/8, with_loss ? weighted : HeadLoss());
    (a * s.logprobs).sum().backward();
    auto ref = ref_scores(m, h0, nullptr, {}, targets, 1.0).ref_logprobs;
    return Run{s.logprobs.detach(), s.entropy.detach(), h.grad().clone(), w.grad().clone(), ref};
  };
  for (bool with_loss : {false, true}) {
    auto fast = run(with_loss);
    set_bf16_softmax_rows(false);
    auto twin = run(with_loss);
    set_bf16_softmax_rows(true);
    const std::string where = with_loss ? "gradients formed in forward" : "gradients recomputed in backward";
    EXPECT_TRUE(at::equal(fast.logprobs, twin.logprobs)) << where;
    EXPECT_TRUE(at::equal(fast.entropy, twin.entropy)) << where;
    EXPECT_TRUE(at::equal(fast.grad_h, twin.grad_h)) << where;
    EXPECT_TRUE(at::equal(fast.grad_w, twin.grad_w)) << where;
    EXPECT_TRUE(at::equal(fast.ref, twin.ref)) << where;
  }
}

// bf16 LayerNorm on float32 copies, rounded once, against ATen's bf16 kernel (the
// twin) and the float64 formula on the same bf16 values: values and gradients
// within a bf16 rounding of the formula, and no further from it than the twin.
TEST(Bf16Kernels, LayerNormOnFloat32CopiesStaysWithinARoundingOfTheFormula) {
  at::manual_seed(43);
  auto x0 = (bf16_randn({33, 96}) * 4 + 1).to(at::kBFloat16), g = bf16_randn({33, 96});
  auto w0 = (bf16_randn({96}) * 0.1 + 1).to(at::kBFloat16), b0 = bf16_randn({96});
  auto run = [&](at::ScalarType type, bool fast) {
    set_fast_layer_norm(fast);
    auto leaf = [&](const at::Tensor& t) { return t.to(type).clone().requires_grad_(true); };  // a fresh leaf per run
    auto x = leaf(x0), w = leaf(w0), b = leaf(b0);
    auto y = r4j::layer_norm(x, w, b, 1e-5);
    y.backward(g.to(type));
    set_fast_layer_norm(true);
    return std::vector<at::Tensor>{y.detach(), x.grad(), w.grad(), b.grad()};
  };
  auto exact = run(at::kDouble, true), fast = run(at::kBFloat16, true), slow = run(at::kBFloat16, false);
  const char* names[] = {"y", "dx", "dw", "db"};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(fast[i].scalar_type(), at::kBFloat16) << names[i];
    EXPECT_LT(relative_error(fast[i], exact[i]), 1.0 / 128) << names[i];
    EXPECT_LE(relative_error(fast[i], exact[i]), relative_error(slow[i], exact[i]) + 1e-6) << names[i];
  }
}

// Every kernel rounds as c10::BFloat16 does, bit for bit: ties to even, NaN quiet,
// infinities, overflow to infinity, subnormals; widening is exact.
TEST(Bf16Convert, EveryKernelRoundsAndWidensAsC10) {
  at::manual_seed(29);
  std::vector<float> x;
  auto r = (at::randn({4099}) * 1e3).contiguous();
  x.assign(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
  for (uint32_t bits : {0x3f808000u, 0x3f818000u, 0x3f80c000u, 0x7f7fffffu, 0x00000001u, 0x80008000u, 0x7fc00000u,
                        0xffffffffu, 0x7f800000u, 0xff800000u, 0x80000000u, 0x7fffffffu}) {
    float f;
    std::memcpy(&f, &bits, 4);
    x.push_back(f);
  }
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<c10::BFloat16> want(n), got(n);
  for (int64_t i = 0; i < n; ++i) want[i] = c10::BFloat16(x[i]);
  for (const char* isa : elementwise_isas_here()) {
    simd::pin_elementwise_isa(isa);
    round_to_bf16(x.data(), got.data(), n);
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; ++i) wrong += got[i].x != want[i].x;
    EXPECT_EQ(wrong, 0) << isa;
    std::vector<float> back(n);
    widen_bf16(want.data(), back.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const float w = static_cast<float>(want[i]);
      EXPECT_TRUE(std::memcmp(&back[i], &w, 4) == 0) << isa << " at " << i;
    }
    std::vector<float> through = x;  // in place, blocks of 1024: 4111 values end in a partial one
    round_through_bf16(through.data(), n);
    EXPECT_EQ(std::memcmp(through.data(), back.data(), n * sizeof(float)), 0) << isa;
  }
  simd::pin_elementwise_isa(nullptr);
}

// bf16 GELU computes in float32 and rounds once, as ATen's: within a bf16 rounding
// step of it, values and gradients, on every kernel.
TEST(Bf16Kernels, GeluOnEveryKernelStaysWithinARoundingOfAtens) {
  at::manual_seed(31);
  auto u0 = (at::randn({20011}) * 3).to(at::kBFloat16);
  auto g = at::randn(u0.sizes()).to(at::kBFloat16);
  auto ref = u0.clone().requires_grad_(true);
  auto want = at::gelu(ref, "tanh");
  want.backward(g);
  for (const char* isa : elementwise_isas_here()) {
    simd::pin_elementwise_isa(isa);
    auto u = u0.clone().requires_grad_(true);
    auto y = r4j::gelu_tanh(u);
    y.backward(g);
    EXPECT_EQ(y.scalar_type(), at::kBFloat16);
    EXPECT_EQ(u.grad().scalar_type(), at::kBFloat16);
    EXPECT_LT(relative_error(y, want), 1e-2) << isa;
    EXPECT_LT(relative_error(u.grad(), ref.grad()), 1e-2) << isa;
    // Against the float32 formula on the same inputs, rounded: one bf16 step at most.
    auto exact = at::gelu(u0.to(at::kFloat), "tanh");
    EXPECT_LE(max_abs_diff(y.to(at::kFloat), exact) / exact.abs().max().item<double>(), 1.0 / 128) << isa;
  }
  simd::pin_elementwise_isa(nullptr);
}

TEST(Bf16Generation, FastPathsOffGiveTheSameGreedyTokens) {
  auto m = make(tiny(true), R4J_DTYPE_BF16);
  expect_fast_paths_off_give_the_same_greedy_tokens(*m, random_tokens(3, 5, 48, 23));
}

// More rows than the few-row kernel takes (a decoding step of 20 sequences): the product
// runs on float32 copies of the bf16 weights, temporaries whose recycled addresses must not
// key the packed-weight cache that generation opens (it served one weight another's values).
TEST(Bf16Generation, ManyRowsFastPathsOffGiveTheSameGreedyTokens) {
  auto c = tiny_gpt2(202);  // the demo's shape: weights big enough for the allocator to recycle
  c.n_embd = 128;
  c.n_head = 4;
  c.n_layer = 4;
  auto m = make(c, R4J_DTYPE_BF16);
  expect_fast_paths_off_give_the_same_greedy_tokens(*m, random_tokens(20, 5, 202, 29));
}

// What stays float32 in a bf16 model: the heads' outputs (logits, values,
// rewards), so sampling (the fused draw), log-softmax and log-probs, every
// rollout field the PPO math reads and writes (rewards, advantages, losses),
// and the optimizer's master weights and moments.
TEST(Bf16, LogitsLogprobsRolloutFieldsAndOptimizerStateAreFloat32) {
  auto c = tiny(true);
  c.reward_head = 1;
  auto m = make(c, R4J_DTYPE_BF16);
  EXPECT_EQ(m->find("transformer.h.0.attn.c_attn.weight").scalar_type(), at::kBFloat16);
  at::NoGradGuard g;
  auto tokens = random_tokens(2, 9, 48, 3);
  auto mask = at::ones({2, 9}, at::kBool);
  ScoreRequest req;
  req.values = req.entropy = true;
  auto s = score_tokens(*m, tokens, mask, 1, 8, req);
  EXPECT_EQ(s.logprobs.scalar_type(), at::kFloat);
  EXPECT_EQ(s.entropy.scalar_type(), at::kFloat);
  EXPECT_EQ(s.values.scalar_type(), at::kFloat);
  EXPECT_EQ(reward_scores(*m, tokens, mask).scalar_type(), at::kFloat);
  auto h = m->hidden(tokens, positions_from_mask(mask), mask, nullptr);
  EXPECT_EQ(h.scalar_type(), at::kBFloat16) << "activations are bf16";
  EXPECT_EQ(m->lm_logits(h).scalar_type(), at::kFloat);
  auto o = gen_options(4, 1);
  o.with_values = 1;
  auto r = generate(*m, tokens.narrow(1, 0, 5), mask.narrow(1, 0, 5), o);
  EXPECT_EQ(r->field(R4J_FIELD_OLD_LOGPROBS).scalar_type(), at::kFloat);
  EXPECT_EQ(r->field(R4J_FIELD_OLD_VALUES).scalar_type(), at::kFloat);
  r4j_adamw_options ao;
  r4j_adamw_options_defaults(&ao);
  AdamW opt(m->named_parameters(), ao);
  int masters = 0;
  for (const auto& [name, t] : opt.state()) {
    EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
    masters += name.size() > 7 && name.compare(name.size() - 7, 7, ".master") == 0;
  }
  EXPECT_EQ(masters, static_cast<int>(m->named_parameters().size())) << "a float32 master per bf16 parameter";
}

TEST(Bf16, TrainingStaysFiniteLossFallsAndMastersStayFloat32) {
  auto m = make(tiny(), R4J_DTYPE_BF16);
  m->set_training(true);
  r4j_adamw_options o;
  r4j_adamw_options_defaults(&o);
  AdamW opt(m->named_parameters(), o);
  auto tokens = random_tokens(4, 12, 48, 8);
  auto mask = at::ones({4, 12}, at::kBool);
  std::vector<double> losses;
  for (int step = 0; step < 20; ++step) {
    auto loss = -score_tokens(*m, tokens, mask, 1, 11, {}).logprobs.mean();  // the causal LM loss
    EXPECT_EQ(loss.scalar_type(), at::kFloat);
    loss.backward();
    auto res = opt.step(3e-3);
    EXPECT_EQ(res.skipped, 0) << "step " << step;
    losses.push_back(loss.item<double>());
    ASSERT_TRUE(std::isfinite(losses.back())) << "step " << step;
  }
  EXPECT_LT(losses.back(), 0.8 * losses.front());
  for (const auto& [name, t] : opt.state()) {
    EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
    EXPECT_TRUE(at::isfinite(t).all().item<bool>()) << name;
  }
  for (const auto& [name, p] : m->named_parameters()) EXPECT_EQ(p.scalar_type(), at::kBFloat16) << name;
}

TEST(Bf16, LogprobsStayWithin2e2OfFloat32s) {
  for (auto c : {tiny_gpt2(), tiny_llama()}) {
    auto f32 = make(c), bf16 = make(c, R4J_DTYPE_BF16);  // the same seeded draw, rounded to bf16
    auto tokens = random_tokens(3, 12, 48, 9);
    auto mask = at::ones({3, 12}, at::kBool);
    at::NoGradGuard g;
    auto a = score_tokens(*f32, tokens, mask, 1, 11, {}).logprobs, b = score_tokens(*bf16, tokens, mask, 1, 11, {}).logprobs;
    EXPECT_LT(max_abs_diff(a, b), 2e-2) << "arch " << c.arch;
  }
}

// The learning phase's first minibatch (a subset of rows, gradients on) sees
// the rollout's old log-probs again: ratio = exp(logprobs - old_logprobs) = 1.
TEST(Bf16, FirstMinibatchRatioIsOne) {
  for (auto c : {tiny(true), tiny_llama()}) {
    c.value_head = 1;
    auto m = make(c, R4J_DTYPE_BF16);
    m->set_training(true);  // dropout 0: training mode changes nothing but the grad mode
    auto prompts = random_tokens(4, 6, 48, 12);
    auto pmask = at::ones({4, 6}, at::kBool);
    pmask[1].narrow(0, 0, 2).fill_(false);  // left padding
    auto o = gen_options(10, 5);
    o.temperature = 0.9;
    o.with_values = 1;
    std::unique_ptr<Rollout> r;
    {
      at::NoGradGuard g;
      r = generate(*m, prompts, pmask, o);
    }
    auto rows = longs({2, 1}, {2});
    ScoreRequest req;
    req.temperature = 0.9;
    auto now = score_tokens(*m, r->tokens().index_select(0, rows), r->mask().index_select(0, rows), r->query_len(),
                            r->response_len(), req);
    ASSERT_TRUE(now.logprobs.requires_grad());
    auto rmask = r->response_mask.index_select(0, rows);
    auto ratio = (now.logprobs.detach() - r->field(R4J_FIELD_OLD_LOGPROBS).index_select(0, rows)).exp();
    EXPECT_LT((ratio - 1).abs().masked_select(rmask).max().item<double>(), 1e-3) << "arch " << c.arch;
  }
}

// keep_decoding_logprobs (verl's bypass mode): the same tokens, and the
// log-probs and values decoding recorded, which the default run keeps in
// SAMPLING_LOGPROBS before its rescoring pass replaces OLD_LOGPROBS.
TEST(Bf16, KeepDecodingLogprobsSkipsTheRescoringPass) {
  for (auto c : {tiny(true), tiny_llama()}) {
    c.value_head = 1;
    auto m = make(c, R4J_DTYPE_BF16);
    at::NoGradGuard g;
    auto prompts = random_tokens(3, 6, 48, 14);
    auto pmask = at::ones({3, 6}, at::kBool);
    pmask[2].narrow(0, 0, 3).fill_(false);
    auto o = gen_options(9, 6);
    o.with_values = 1;
    auto rescored = generate(*m, prompts, pmask, o);
    o.keep_decoding_logprobs = 1;
    auto kept = generate(*m, prompts, pmask, o);
    EXPECT_TRUE(at::equal(kept->response_tokens, rescored->response_tokens)) << "arch " << c.arch;
    EXPECT_TRUE(at::equal(kept->field(R4J_FIELD_OLD_LOGPROBS), rescored->field(R4J_FIELD_SAMPLING_LOGPROBS)))
        << "arch " << c.arch;
    EXPECT_FALSE(kept->has(R4J_FIELD_SAMPLING_LOGPROBS)) << "arch " << c.arch;
    auto rmask = kept->response_mask;
    auto gap = (kept->field(R4J_FIELD_OLD_LOGPROBS) - rescored->field(R4J_FIELD_OLD_LOGPROBS)).abs().masked_select(rmask);
    EXPECT_GT(gap.max().item<double>(), 0) << "bf16 decoding rounds otherwise than the full pass; arch " << c.arch;
    EXPECT_LT(gap.max().item<double>(), 5e-2) << "arch " << c.arch;
  }
}
