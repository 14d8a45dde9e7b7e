#include "scoring.hpp"

#include <optional>

#include "chunked_logprobs.hpp"
#include "errors.hpp"

namespace r4j {

at::Tensor positions_from_mask(const at::Tensor& mask) {
  return mask.to(at::kLong).cumsum(1).sub(1).clamp_min(0);
}

ScoredPositions::ScoredPositions(const at::Tensor& only) {
  if (!only.defined()) return;
  B_ = only.size(0);
  n_ = only.size(1);
  index_ = only.reshape({-1}).nonzero().squeeze(1);
}

ScoredPositions::ScoredPositions(at::Tensor index, int64_t B, int64_t n) : B_(B), n_(n), index_(std::move(index)) {}

at::Tensor ScoredPositions::pick(const at::Tensor& t) const {
  return index_.defined() ? t.flatten(0, 1).index_select(0, index_) : t;
}

at::Tensor ScoredPositions::spread(const at::Tensor& values) const {
  if (!index_.defined() || !values.defined()) return values;
  return at::zeros({B_ * n_}, values.options()).index_copy(0, index_, values).view({B_, n_});
}

namespace {

// The heads over the picked states [k, d] and their targets [k], spread back on the grid.
TokenScores head_scores(Model& model, const at::Tensor& states, const at::Tensor& targets,
                        const ScoredPositions& scored, const ScoreRequest& request) {
  TokenScores out;
  if (request.logprobs || request.entropy) {
    HeadLoss loss;
    if (request.loss) loss = [&](const at::Tensor& logprobs, const at::Tensor& entropy) {
      return request.loss(TokenScores{scored.spread(logprobs), scored.spread(entropy), {}, {}});
    };
    auto head =
        head_logprobs(model, states, targets, request.temperature, request.entropy, request.entropy_grad, loss);
    out.logprobs = scored.spread(head.logprobs);
    out.entropy = scored.spread(head.entropy);
  }
  if (request.values) out.values = scored.spread(model.value(states));  // [B, n]
  if (request.mean_logits) {
    at::NoGradGuard no_grad;
    const auto dt = at::promote_types(states.scalar_type(), at::kFloat);
    auto w_mean = model.lm_head_weight().to(dt).mean(0);  // [d]
    out.mean_logits = scored.spread(states.detach().to(dt).matmul(w_mean));
  }
  return out;
}

// The first column of only [B, n] that any row scores (0 when none or undefined).
int64_t first_scored_column(const at::Tensor& only) {
  if (!only.defined() || only.numel() == 0) return 0;
  auto cols = only.any(0).nonzero();
  return cols.numel() > 0 ? cols.min().item<int64_t>() : 0;
}

// The states [B, n, d] that predict tokens [start, start + n) of tokens [B, T]:
// the state at t-1 predicts token t. The last block computes no other column,
// nor those before the first that only [B, n] scores (a prompt the loss masks):
// zeros stand there, which the scored positions never pick.
at::Tensor scored_states(Model& model, const at::Tensor& tokens, const at::Tensor& mask, int64_t start, int64_t n,
                         const at::Tensor& only) {
  const int64_t skip = first_scored_column(only);
  auto h = model.hidden(tokens, positions_from_mask(mask), mask, nullptr, start - 1 + skip).narrow(1, 0, n - skip);
  return skip == 0 ? h : at::constant_pad_nd(h, {0, 0, skip, 0});
}

}  // namespace

TokenScores score_tokens(Model& model, const at::Tensor& tokens, const at::Tensor& mask, int64_t start,
                         int64_t n, const ScoreRequest& request) {
  require(start >= 1 && start + n <= tokens.size(1), "score_tokens: scored window out of range");
  std::optional<Model::HeadInLoss> head;
  if (request.logprobs || request.entropy) head.emplace(model);
  // Only the scored states go through the heads (the LM head is the largest
  // matmul of the model).
  const ScoredPositions scored(request.only);
  auto states = scored.pick(scored_states(model, tokens, mask, start, n, request.only));  // [B, n, d], [k, d] with only
  auto targets = scored.pick(tokens.narrow(1, start, n));
  return head_scores(model, states, targets, scored, request);
}

TokenScores score_tokens(Model& model, const at::Tensor& tokens, const at::Tensor& mask, int64_t start,
                         int64_t n, const ScoreRequest& request, const std::vector<TokenPass>& passes) {
  if (passes.empty()) return score_tokens(model, tokens, mask, start, n, request);
  require(start >= 1 && start + n <= tokens.size(1), "score_tokens: scored window out of range");
  require(request.only.defined(), "score_tokens: passes need request.only");
  std::optional<Model::HeadInLoss> head;
  if (request.logprobs || request.entropy) head.emplace(model);
  std::vector<at::Tensor> states, targets, index;
  for (const auto& pass : passes) {
    require(pass.prompt >= 1 && pass.prompt <= start && pass.response >= 1 && pass.response <= n,
            "score_tokens: a pass's window is out of range");
    auto cols = [&](const at::Tensor& t) {
      return t.index_select(0, pass.rows).narrow(1, start - pass.prompt, pass.prompt + pass.response);
    };
    auto t = cols(tokens), m = cols(mask);                                        // [g, p + r]
    const auto only = request.only.index_select(0, pass.rows).narrow(1, 0, pass.response);
    const ScoredPositions here(only);
    states.push_back(here.pick(scored_states(model, t, m, pass.prompt, pass.response, only)));  // [k_j, d]
    targets.push_back(here.pick(t.narrow(1, pass.prompt, pass.response)));       // [k_j]
    auto grid = pass.rows.unsqueeze(1) * n + at::arange(pass.response, pass.rows.options()).unsqueeze(0);
    index.push_back(here.pick(grid));                                             // [k_j] on the [B, n] grid
  }
  const ScoredPositions scored(at::cat(index), tokens.size(0), n);
  return head_scores(model, at::cat(states), at::cat(targets), scored, request);
}

std::vector<LengthGroup> like_length_groups(const Model& model, const at::Tensor& prompt, const at::Tensor& response) {
  auto p = prompt.to(at::kCPU, at::kLong).contiguous(), r = response.to(at::kCPU, at::kLong).contiguous();
  const int64_t n = p.numel();
  return like_length_groups(std::vector<int64_t>(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + n),
                            std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + n),
                            pass_positions_at(model.config().n_embd));
}

std::vector<TokenPass> like_length_passes(const Model& model, const at::Tensor& prompt, const at::Tensor& response) {
  const auto groups = like_length_groups(model, prompt, response);
  std::vector<TokenPass> passes;
  if (groups.size() == 1) return passes;
  for (const auto& g : groups)
    passes.push_back(TokenPass{at::tensor(g.rows, prompt.options().dtype(at::kLong)), g.prompt, g.response});
  return passes;
}

std::vector<TokenPass> sequence_passes(const Model& model, const at::Tensor& keep) {
  if (keep.size(1) < 2) return {};
  // Column c of the window starting at 1 is response index c - 1: keeping up to the
  // last set column L needs L response columns (at least one), and column 0 before.
  auto idx = at::arange(keep.size(1), keep.options().dtype(at::kLong)).unsqueeze(0).expand(keep.sizes());
  auto last = at::where(keep, idx, at::zeros_like(idx)).amax(1).clamp_min(1);  // [B]
  return like_length_passes(model, at::ones_like(last), last);
}

namespace {

at::Tensor reward_scores_one_pass(Model& model, const at::Tensor& tokens, const at::Tensor& mask) {
  // Index of the last real token of each row, wherever the padding sits.
  auto idx = at::arange(tokens.size(1), tokens.options()).unsqueeze(0).expand_as(tokens);
  auto last = at::where(mask, idx, at::zeros_like(idx)).amax(1);  // [B]
  // The last block computes no column before the earliest of them.
  const int64_t first = tokens.size(0) > 0 ? last.min().item<int64_t>() : 0;
  auto h = model.hidden(tokens, positions_from_mask(mask), mask, nullptr, first);  // [B, T - first, d]
  auto at_last = (last - first).view({-1, 1, 1}).expand({h.size(0), 1, h.size(2)});
  return model.reward(h.gather(1, at_last).squeeze(1));                    // [B]
}

}  // namespace

at::Tensor reward_scores(Model& model, const at::Tensor& tokens, const at::Tensor& mask) {
  const auto passes = sequence_passes(model, mask);
  if (passes.empty()) return reward_scores_one_pass(model, tokens, mask);
  std::vector<at::Tensor> scores, rows;
  for (const auto& pass : passes) {
    const int64_t width = 1 + pass.response;  // columns [0, last]
    scores.push_back(reward_scores_one_pass(model, tokens.index_select(0, pass.rows).narrow(1, 0, width),
                                            mask.index_select(0, pass.rows).narrow(1, 0, width)));
    rows.push_back(pass.rows);
  }
  auto s = at::cat(scores);
  return at::zeros({tokens.size(0)}, s.options()).index_copy(0, at::cat(rows), s);  // [B] in row order
}

}  // namespace r4j
