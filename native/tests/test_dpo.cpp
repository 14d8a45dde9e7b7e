// The DPO family: TRL's check value, every loss against a float64 formula
// written out by hand, gradients by finite differences, and the summed
// completion log-probs against the full-logits path (chunked = unchunked).
#include <ATen/ATen.h>

#include <cmath>
#include <functional>
#include <vector>

#include "core_helpers.hpp"
#include "dpo/dpo.hpp"
#include "scoring.hpp"

using namespace r4j;
using namespace r4j::test;

namespace {

r4j_dpo_options options_of(int32_t loss_type, double beta = 0.1) {
  r4j_dpo_options o;
  r4j_dpo_options_defaults(&o);
  o.loss_types[0] = loss_type;
  o.beta = beta;
  return o;
}

at::Tensor f64(std::vector<double> v) { return at::tensor(v, at::kDouble); }

PairLogps pairs(std::vector<double> pc, std::vector<double> pr, std::vector<double> rc, std::vector<double> rr,
                std::vector<double> lc, std::vector<double> lr) {
  return {f64(pc), f64(pr), f64(rc), f64(rr), f64(lc), f64(lr)};
}

double log_sigmoid(double x) { return -std::log1p(std::exp(-x)); }

// The formulas of rlhf4j.h, one pair at a time, in plain double arithmetic.
double reference_loss(int32_t type, double pc, double pr, double rc, double rr, double lc, double lr,
                      const r4j_dpo_options& o) {
  const double delta = (pc - rc) - (pr - rr);
  const double b = o.beta, eps = o.label_smoothing;
  switch (type) {
    case R4J_DPO_SIGMOID: return -(1 - eps) * log_sigmoid(b * delta) - eps * log_sigmoid(-b * delta);
    case R4J_DPO_ROBUST: return (-(1 - eps) * log_sigmoid(b * delta) + eps * log_sigmoid(-b * delta)) / (1 - 2 * eps);
    case R4J_DPO_IPO: {
      const double h = (pc - rc) / lc - (pr - rr) / lr - 1 / (2 * b);
      return h * h;
    }
    case R4J_DPO_HINGE: return std::max(0.0, 1 - b * delta);
    case R4J_DPO_SIMPO: return -log_sigmoid(b * (pc / lc - pr / lr) - o.simpo_gamma);
  }
  ADD_FAILURE() << "no reference for loss type " << type;
  return 0;
}

const std::vector<int32_t> kTypes = {R4J_DPO_SIGMOID, R4J_DPO_ROBUST, R4J_DPO_IPO, R4J_DPO_HINGE, R4J_DPO_SIMPO};

}  // namespace

// TRL's check value: Delta_c = 2, Delta_r = -1, beta 0.1.
TEST(Dpo, TrlCheckValue) {
  auto o = options_of(R4J_DPO_SIGMOID);
  auto out = dpo_objective(pairs({2}, {-1}, {0}, {0}, {3}, {4}), true, o);
  EXPECT_NEAR(out.stats.loss, std::log1p(std::exp(-0.3)), 1e-12);
  EXPECT_NEAR(out.stats.loss, 0.55436, 1e-5);
  EXPECT_NEAR(out.stats.chosen_rewards, 0.2, 1e-12);
  EXPECT_NEAR(out.stats.rejected_rewards, -0.1, 1e-12);
  EXPECT_NEAR(out.stats.margins, 0.3, 1e-12);
  EXPECT_EQ(out.stats.accuracies, 1.0);
  EXPECT_EQ(out.stats.pairs, 1);
}

TEST(Dpo, EveryLossMatchesItsFormula) {
  std::vector<double> pc = {-3.0, -10.5, -1.25}, pr = {-4.0, -9.0, -7.5}, rc = {-3.5, -10.0, -2.0},
                      rr = {-3.0, -9.5, -6.0}, lc = {2, 7, 1}, lr = {3, 5, 4};
  for (int32_t type : kTypes) {
    auto o = options_of(type, 0.3);
    o.label_smoothing = 0.2;
    o.simpo_gamma = 0.7;
    auto losses = dpo_loss_fn(type)(pairs(pc, pr, rc, rr, lc, lr), o);
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_NEAR(losses[i].item<double>(), reference_loss(type, pc[i], pr[i], rc[i], rr[i], lc[i], lr[i], o), 1e-12)
          << dpo_loss_name(type) << " pair " << i;
    }
  }
}

TEST(Dpo, WeightedLossesAndRpoAddUp) {
  r4j_dpo_options o;
  r4j_dpo_options_defaults(&o);
  o.n_losses = 2;
  o.loss_types[0] = R4J_DPO_SIGMOID;
  o.loss_weights[0] = 0.75;
  o.loss_types[1] = R4J_DPO_HINGE;
  o.loss_weights[1] = 2.0;
  o.rpo_alpha = 0.5;
  auto p = pairs({-3, -6}, {-4, -2}, {-3.5, -5}, {-3, -2.5}, {2, 4}, {3, 1});
  auto out = dpo_objective(p, true, o);
  const double sig = (reference_loss(R4J_DPO_SIGMOID, -3, -4, -3.5, -3, 2, 3, o) +
                      reference_loss(R4J_DPO_SIGMOID, -6, -2, -5, -2.5, 4, 1, o)) / 2;
  const double hinge = (reference_loss(R4J_DPO_HINGE, -3, -4, -3.5, -3, 2, 3, o) +
                        reference_loss(R4J_DPO_HINGE, -6, -2, -5, -2.5, 4, 1, o)) / 2;
  const double nll = (3.0 + 6.0) / (2 + 4);  // per chosen token
  EXPECT_NEAR(out.stats.loss, 0.75 * sig + 2.0 * hinge + 0.5 * nll, 1e-12);
  EXPECT_NEAR(out.stats.nll, nll, 1e-12);
}

// d loss / d (pi_c, pi_r) of every loss against central differences.
TEST(Dpo, GradientsMatchFiniteDifferences) {
  for (int32_t type : kTypes) {
    auto o = options_of(type, 0.4);
    o.label_smoothing = 0.1;
    o.rpo_alpha = 0.3;
    auto pc = f64({-3.0, -8.0}).requires_grad_(), pr = f64({-2.5, -9.5}).requires_grad_();
    auto rc = f64({-3.2, -7.0}), rr = f64({-2.0, -9.0}), lc = f64({2, 5}), lr = f64({3, 6});
    auto loss_of = [&](const at::Tensor& c, const at::Tensor& r) {
      return dpo_objective({c, r, rc, rr, lc, lr}, true, o).loss;
    };
    loss_of(pc, pr).backward();
    const double h = 1e-6;
    for (int side = 0; side < 2; ++side) {
      for (int64_t i = 0; i < 2; ++i) {
        auto c = pc.detach().clone(), r = pr.detach().clone();
        auto& x = side == 0 ? c : r;
        x[i] += h;
        const double plus = loss_of(c, r).item<double>();
        x[i] -= 2 * h;
        const double minus = loss_of(c, r).item<double>();
        const double numeric = (plus - minus) / (2 * h);
        const double analytic = (side == 0 ? pc : pr).grad()[i].item<double>();
        EXPECT_NEAR(analytic, numeric, 1e-7) << dpo_loss_name(type) << (side == 0 ? " chosen " : " rejected ") << i;
      }
    }
  }
}

TEST(Dpo, UnknownLossTypeIsAnErrorNamingIt) {
  auto o = options_of(R4J_DPO_SIGMOID);
  o.loss_types[0] = 42;
  try {
    validate(o);
    FAIL() << "an unknown loss type was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("unknown DPO loss type 42"), std::string::npos) << e.what();
  }
}

namespace {

struct PairBatch {
  at::Tensor tokens, mask, loss_mask;  // [2B, T]
};

// Two pairs over a shared prompt of 3 tokens; completions of 2-4 tokens, right-padded.
PairBatch pair_batch(int64_t vocab) {
  auto tokens = random_tokens(4, 8, vocab, 11);
  auto mask = bools({1, 1, 1, 1, 1, 1, 0, 0,  1, 1, 1, 1, 1, 1, 1, 1,
                     1, 1, 1, 1, 1, 0, 0, 0,  1, 1, 1, 1, 1, 1, 1, 0}, {4, 8});
  auto loss_mask = bools({0, 0, 0, 1, 1, 1, 0, 0,  0, 0, 0, 1, 1, 1, 1, 1,
                          0, 0, 0, 1, 1, 0, 0, 0,  0, 0, 0, 1, 1, 1, 1, 0}, {4, 8});
  return {tokens, mask, loss_mask};
}

// The slow twin: full logits, log_softmax, gather, masked sum.
at::Tensor plain_sequence_logps(Model& m, const PairBatch& b) {
  const int64_t T = b.tokens.size(1);
  auto h = m.hidden(b.tokens, positions_from_mask(b.mask), b.mask, nullptr).narrow(1, 0, T - 1);
  auto logp = at::log_softmax(m.lm_logits(h), -1).gather(2, b.tokens.narrow(1, 1, T - 1).unsqueeze(2)).squeeze(2);
  auto w = b.loss_mask.narrow(1, 1, T - 1).logical_and(b.mask.narrow(1, 1, T - 1)).to(logp.scalar_type());
  return (logp * w).sum(1);
}

}  // namespace

TEST(Dpo, SequenceLogpsMatchTheFullLogitsPathChunkedOrNot) {
  auto m = make(tiny_gpt2(), R4J_DTYPE_F64);
  auto b = pair_batch(48);
  auto expected = plain_sequence_logps(*m, b);
  for (int64_t chunk : {int64_t{0}, int64_t{1}, int64_t{5}, int64_t{256}}) {
    auto mem = m->memory();
    mem.logits_chunk = chunk;
    m->set_memory(mem);
    auto s = sequence_logps(*m, b.tokens, b.mask, b.loss_mask);
    EXPECT_LT(max_abs_diff(s.logps, expected), 1e-10) << "chunk " << chunk;
    EXPECT_TRUE(at::equal(s.tokens, longs({3, 5, 2, 4}, {4})));
  }
  // TRL's logits/*: the mean logit over the vocabulary, summed over completion tokens.
  const int64_t T = 8;
  auto h = m->hidden(b.tokens, positions_from_mask(b.mask), b.mask, nullptr).narrow(1, 0, T - 1);
  auto w = b.loss_mask.narrow(1, 1, T - 1).logical_and(b.mask.narrow(1, 1, T - 1)).to(at::kDouble);
  auto logit_sums = (m->lm_logits(h).mean(-1) * w).sum(1);
  EXPECT_LT(max_abs_diff(sequence_logps(*m, b.tokens, b.mask, b.loss_mask).logit_sums, logit_sums), 1e-10);
}

// At step 0 the policy is its reference: every implicit reward is 0 and the sigmoid loss ln 2.
TEST(Dpo, PolicyEqualToReferenceGivesLn2AndZeroRewards) {
  auto m = make(tiny_gpt2(), R4J_DTYPE_F64);
  auto b = pair_batch(48);
  at::Tensor ref;
  {
    at::NoGradGuard g;
    ref = sequence_logps(*m, b.tokens, b.mask, b.loss_mask).logps;
  }
  auto out = dpo_loss(*m, b.tokens, b.mask, b.loss_mask, ref, options_of(R4J_DPO_SIGMOID));
  EXPECT_NEAR(out.stats.loss, std::log(2.0), 1e-12);
  EXPECT_NEAR(out.stats.chosen_rewards, 0, 1e-12);
  EXPECT_NEAR(out.stats.rejected_rewards, 0, 1e-12);
  EXPECT_EQ(out.stats.accuracies, 0);
  EXPECT_EQ(out.stats.tokens_chosen, 3 + 5);
  EXPECT_EQ(out.stats.tokens_rejected, 2 + 4);
  EXPECT_EQ(out.stats.num_tokens, 6 + 8 + 5 + 7);
}

// The gradient through the model (chunked head and all) against finite differences, every loss type.
TEST(Dpo, ModelGradientMatchesFiniteDifferences) {
  auto m = make(tiny_gpt2(), R4J_DTYPE_F64);
  auto mem = m->memory();
  mem.logits_chunk = 3;
  m->set_memory(mem);
  auto b = pair_batch(48);
  auto ref = f64({-14.0, -20.0, -9.0, -15.0});
  for (int32_t type : kTypes) {
    auto o = options_of(type, 0.5);
    o.label_smoothing = 0.1;
    o.rpo_alpha = 0.2;
    for (auto& [n, t] : m->named_parameters())
      if (t.grad().defined()) t.mutable_grad() = at::Tensor();
    dpo_loss(*m, b.tokens, b.mask, b.loss_mask, ref, o).loss.backward();
    for (const char* name : {"transformer.h.0.attn.c_attn.weight", "transformer.wte.weight"}) {
      auto p = m->find(name);
      ASSERT_TRUE(p.grad().defined()) << name;
      auto grad = p.grad().view({-1}).clone();
      auto flat = p.view({-1});
      for (int64_t i : {int64_t{1}, flat.numel() / 2}) {
        at::NoGradGuard g;
        const double v = flat[i].item<double>(), h = 1e-6;
        flat[i] = v + h;
        const double plus = dpo_loss(*m, b.tokens, b.mask, b.loss_mask, ref, o).stats.loss;
        flat[i] = v - h;
        const double minus = dpo_loss(*m, b.tokens, b.mask, b.loss_mask, ref, o).stats.loss;
        flat[i] = v;
        const double numeric = (plus - minus) / (2 * h);
        EXPECT_NEAR(grad[i].item<double>(), numeric, 1e-7 + 1e-5 * std::abs(numeric))
            << dpo_loss_name(type) << " " << name << "[" << i << "]";
      }
    }
  }
}

TEST(Dpo, ReferenceFreeOnlyForSimpo) {
  auto m = make(tiny_gpt2(), R4J_DTYPE_F64);
  auto b = pair_batch(48);
  EXPECT_NO_THROW(dpo_loss(*m, b.tokens, b.mask, b.loss_mask, at::Tensor(), options_of(R4J_DPO_SIMPO)));
  EXPECT_THROW(dpo_loss(*m, b.tokens, b.mask, b.loss_mask, at::Tensor(), options_of(R4J_DPO_SIGMOID)),
               std::exception);
  auto empty = b.loss_mask.clone();
  empty[2].fill_(false);
  EXPECT_THROW(dpo_loss(*m, b.tokens, b.mask, empty, at::Tensor(), options_of(R4J_DPO_SIMPO)), std::exception);
}
