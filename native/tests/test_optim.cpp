// AdamW against its update rule written out by hand, clipping, skipping
// non-finite steps, and float32 master weights for bf16 parameters.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "core_helpers.hpp"
#include "optim.hpp"
#include "simd.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

r4j_adamw_options adamw(double wd = 0, double clip = 0) {
  r4j_adamw_options o;
  r4j_adamw_options_defaults(&o);
  o.weight_decay = wd;
  o.max_grad_norm = clip;
  return o;
}

at::Tensor leaf(std::vector<float> v, std::vector<int64_t> shape) {
  return floats(v, shape).set_requires_grad(true);
}

}  // namespace

TEST(AdamW, TwoStepsFollowTheUpdateRule) {
  auto w = leaf({1.0f, -2.0f, 0.5f, 3.0f}, {2, 2});  // a matrix: decays
  auto b = leaf({0.25f}, {1});                       // a bias: does not decay
  AdamW opt({{"w", w}, {"b", b}}, adamw(/*wd=*/0.1));
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  std::vector<double> wv = {1.0, -2.0, 0.5, 3.0}, m(4, 0), v(4, 0);
  double bv = 0.25, bm = 0, bs = 0;
  std::vector<std::vector<double>> grads = {{0.1, -0.2, 0.3, 0.0}, {-0.5, 0.1, 0.2, 1.0}};
  for (int step = 1; step <= 2; ++step) {
    const auto& g = grads[step - 1];
    w.mutable_grad() = floats({(float)g[0], (float)g[1], (float)g[2], (float)g[3]}, {2, 2});
    b.mutable_grad() = floats({(float)(0.5 * step)}, {1});
    auto res = opt.step(lr);
    EXPECT_EQ(res.step, step);
    EXPECT_EQ(res.skipped, 0);
    for (int i = 0; i < 4; ++i) {
      wv[i] *= 1 - lr * 0.1;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const double mh = m[i] / (1 - std::pow(b1, step)), vh = v[i] / (1 - std::pow(b2, step));
      wv[i] -= lr * mh / (std::sqrt(vh) + eps);
    }
    const double gb = 0.5 * step;
    bm = b1 * bm + (1 - b1) * gb;
    bs = b2 * bs + (1 - b2) * gb * gb;
    bv -= lr * (bm / (1 - std::pow(b1, step))) / (std::sqrt(bs / (1 - std::pow(b2, step))) + eps);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(w.view({-1})[i].item<double>(), wv[i], 1e-6) << "step " << step;
    EXPECT_NEAR(b.item<double>(), bv, 1e-6);
    EXPECT_FALSE(w.grad().defined()) << "the step zeroes gradients";
  }
}

TEST(AdamW, ClipsTheGlobalGradientNorm) {
  auto a = leaf({0.0f, 0.0f}, {2});
  auto b = leaf({0.0f}, {1});
  AdamW clipped({{"a", a}, {"b", b}}, adamw(0, /*clip=*/1.0));
  a.mutable_grad() = floats({3.0f, 0.0f}, {2});
  b.mutable_grad() = floats({4.0f}, {1});
  auto res = clipped.step(0.1);
  EXPECT_NEAR(res.grad_norm, 5.0, 1e-6);  // reported before clipping
  // Clipped to norm 1: g = (0.6, 0, 0.8). Adam's first step moves each entry by lr * sign(g).
  auto exp_avg = clipped.state()[0].second;
  EXPECT_NEAR(exp_avg[0].item<double>(), 0.1 * 0.6, 1e-6);
}

TEST(AdamW, NonFiniteGradientsSkipTheStepAndLeaveWeightsAlone) {
  auto w = leaf({1.0f, 2.0f}, {2});
  AdamW opt({{"w", w}}, adamw());
  w.mutable_grad() = floats({std::numeric_limits<float>::quiet_NaN(), 1.0f}, {2});
  auto res = opt.step(0.1);
  EXPECT_EQ(res.skipped, 1);
  EXPECT_EQ(res.step, 0);
  EXPECT_TRUE(at::equal(w.detach(), floats({1.0f, 2.0f}, {2})));
  EXPECT_FALSE(w.grad().defined());
  w.mutable_grad() = floats({0.5f, 0.5f}, {2});
  EXPECT_EQ(opt.step(0.1).skipped, 0) << "the next finite step goes through";
}

TEST(AdamW, Bf16ParametersStepTheirFloat32Masters) {
  auto w = floats({1.0f, 1.0f}, {2}).to(at::kBFloat16).set_requires_grad(true);
  AdamW opt({{"w", w}}, adamw());
  // 1000 tiny steps of 1e-4: bf16 alone (8 bits of mantissa) could not move away from 1.0.
  for (int i = 0; i < 1000; ++i) {
    w.mutable_grad() = at::ones({2}, at::kBFloat16);
    opt.step(1e-4);
  }
  auto state = opt.state();
  ASSERT_EQ(state.back().first, "w.master");
  EXPECT_NEAR(state.back().second[0].item<double>(), 0.9, 1e-3);
  EXPECT_NEAR(w[0].item<double>(), 0.9, 4e-3);
}

// The one pass on every kernel this CPU runs (the plain loop and the AVX2 one).
TEST(AdamW, TheOnePassUpdateMatchesItsAtenTwin) {
  for (const char* isa : elementwise_isas_here()) {
    simd::pin_elementwise_isa(isa);
    at::manual_seed(3);
    auto a = at::randn({64, 33}).set_requires_grad(true), b = a.detach().clone().set_requires_grad(true);
    auto ab = at::randn({33}).set_requires_grad(true), bb = ab.detach().clone().set_requires_grad(true);
    AdamW fast({{"w", a}, {"b", ab}}, adamw(/*wd=*/0.05, /*clip=*/0.5));
    AdamW slow({{"w", b}, {"b", bb}}, adamw(0.05, 0.5));
    slow.set_fused(false);
    for (int step = 0; step < 5; ++step) {
      auto g = at::randn({64, 33}), gb = at::randn({33});
      a.mutable_grad() = g.clone();
      ab.mutable_grad() = gb.clone();
      b.mutable_grad() = g.clone();
      bb.mutable_grad() = gb.clone();
      fast.step(0.01);
      slow.step(0.01);
    }
    EXPECT_LT(test::max_abs_diff(a, b), 1e-6) << isa;
    EXPECT_LT(test::max_abs_diff(ab, bb), 1e-6) << isa;
    EXPECT_LT(test::max_abs_diff(fast.state()[1].second, slow.state()[1].second), 1e-6) << isa;
  }
  simd::pin_elementwise_isa(nullptr);
}

// bf16 parameters: the one pass widens the bf16 gradient and writes the parameter
// from its master as it goes; the ATen twin steps the master and copies it.
TEST(AdamW, TheOnePassUpdateOfBf16ParametersMatchesItsAtenTwin) {
  for (const char* isa : elementwise_isas_here()) {
    simd::pin_elementwise_isa(isa);
    at::manual_seed(5);
    auto init = at::randn({70001});  // parallel chunks and a ragged tail
    auto a = init.to(at::kBFloat16).set_requires_grad(true), b = init.to(at::kBFloat16).set_requires_grad(true);
    AdamW fast({{"w", a}}, adamw(/*wd=*/0.05, /*clip=*/0.5));
    AdamW slow({{"w", b}}, adamw(0.05, 0.5));
    slow.set_fused(false);
    for (int step = 0; step < 5; ++step) {
      auto g = at::randn({70001}).to(at::kBFloat16);
      a.mutable_grad() = g.clone();
      b.mutable_grad() = g.clone();
      fast.step(0.01);
      slow.step(0.01);
    }
    auto fs = fast.state(), ss = slow.state();
    for (size_t i = 0; i + 1 < fs.size(); ++i)
      EXPECT_LT(test::max_abs_diff(fs[i].second, ss[i].second), 1e-6) << isa << " " << fs[i].first;
    ASSERT_EQ(fs.back().first, "w.master");
    EXPECT_TRUE(at::equal(a, fs.back().second.to(at::kBFloat16))) << isa << ": the parameter is its master, rounded";
    EXPECT_LT(test::max_abs_diff(a, b), 1e-2) << isa;
  }
  simd::pin_elementwise_isa(nullptr);
}
