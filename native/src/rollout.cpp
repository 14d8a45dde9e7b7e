#include "rollout.hpp"

#include <string>

#include "errors.hpp"

namespace r4j {

bool is_float_field(int32_t which) {
  return (which >= R4J_FIELD_OLD_LOGPROBS && which <= R4J_FIELD_FULL_KL) ||
         (which >= R4J_FIELD_GROUP_ID && which <= R4J_FIELD_TURN_REWARDS);
}

bool is_per_sample_field(int32_t which) {
  return which == R4J_FIELD_SCORES || which == R4J_FIELD_RESPONSE_LENGTH || which == R4J_FIELD_ENDED ||
         which == R4J_FIELD_GROUP_ID || which == R4J_FIELD_SCORES_SHAPED;
}

Rollout gather_rows(const std::vector<const Rollout*>& parts, const std::vector<int64_t>& part_of_row,
                    const std::vector<int64_t>& row_in_part) {
  require(!parts.empty(), "no rollouts to gather from");
  require(!part_of_row.empty() && part_of_row.size() == row_in_part.size(), "gather: no rows, or rows and parts differ");
  const Rollout& first = *parts[0];
  int64_t P = 0, R = 0;
  for (const Rollout* p : parts) {
    require(p->device == first.device, "gather: the rollouts live on different devices");
    require(p->pad_token_id == first.pad_token_id, "gather: the rollouts have different pad ids");
    P = std::max(P, p->query_len());
    R = std::max(R, p->response_len());
  }
  const int64_t B = static_cast<int64_t>(part_of_row.size());
  auto opts_long = first.query_tokens.options();
  Rollout out;
  out.device = first.device;
  out.pad_token_id = first.pad_token_id;
  out.query_tokens = at::full({B, P}, first.pad_token_id, opts_long);
  out.query_mask = at::zeros({B, P}, first.query_mask.options());
  out.response_tokens = at::full({B, R}, first.pad_token_id, opts_long);
  out.response_mask = at::zeros({B, R}, first.response_mask.options());
  out.ended = at::zeros({B}, first.ended.options());
  std::vector<int32_t> fields;
  for (auto& [f, t] : first.floats) {
    bool everywhere = true;
    for (const Rollout* p : parts) everywhere = everywhere && p->has(f);
    if (everywhere) fields.push_back(f);
  }
  for (int32_t f : fields) out.floats[f] = at::zeros(is_per_sample_field(f) ? std::vector<int64_t>{B}
                                                                           : std::vector<int64_t>{B, R},
                                                     first.floats.at(f).options());
  for (int64_t i = 0; i < B; ++i) {
    require(part_of_row[i] >= 0 && part_of_row[i] < static_cast<int64_t>(parts.size()),
            "gather: part_of_row[" + std::to_string(i) + "] is outside the parts");
    const Rollout& src = *parts[part_of_row[i]];
    const int64_t b = row_in_part[i];
    require(b >= 0 && b < src.batch(), "gather: row_in_part[" + std::to_string(i) + "] = " + std::to_string(b) +
                                           " is outside its rollout [0, " + std::to_string(src.batch()) + ")");
    const int64_t p = src.query_len(), r = src.response_len();
    out.query_tokens[i].narrow(0, P - p, p).copy_(src.query_tokens[b]);
    out.query_mask[i].narrow(0, P - p, p).copy_(src.query_mask[b]);
    out.response_tokens[i].narrow(0, 0, r).copy_(src.response_tokens[b]);
    out.response_mask[i].narrow(0, 0, r).copy_(src.response_mask[b]);
    out.ended[i].copy_(src.ended[b]);
    for (int32_t f : fields) {
      if (is_per_sample_field(f)) out.floats[f][i].copy_(src.floats.at(f)[b]);
      else out.floats[f][i].narrow(0, 0, r).copy_(src.floats.at(f)[b]);
    }
  }
  return out;
}

namespace {

at::Tensor zeros_for(const Rollout& r, int32_t which) {
  std::vector<int64_t> shape = is_per_sample_field(which) ? std::vector<int64_t>{r.batch()}
                                                          : std::vector<int64_t>{r.batch(), r.response_len()};
  return at::zeros(shape, at::TensorOptions().device(r.device).dtype(at::kFloat));
}

}  // namespace

at::Tensor& Rollout::field(int32_t which) {
  require(is_float_field(which), "rollout field " + std::to_string(which) + " is not a float field");
  auto it = floats.find(which);
  if (it != floats.end()) return it->second;
  return floats[which] = zeros_for(*this, which);
}

at::Tensor Rollout::read(int32_t which) const {
  require(is_float_field(which), "rollout field " + std::to_string(which) + " is not a float field");
  auto it = floats.find(which);
  if (it != floats.end()) return it->second;
  if (which == R4J_FIELD_ACTION_MASK) return response_mask.to(at::kFloat);
  return zeros_for(*this, which);
}

}  // namespace r4j
