#include "rollout.hpp"

#include <string>

#include "errors.hpp"

namespace r4j {

bool is_float_field(int32_t which) {
  return (which >= R4J_FIELD_OLD_LOGPROBS && which <= R4J_FIELD_FULL_KL) ||
         (which >= R4J_FIELD_GROUP_ID && which <= R4J_FIELD_SCORES_SHAPED);
}

bool is_per_sample_field(int32_t which) {
  return which == R4J_FIELD_SCORES || which == R4J_FIELD_RESPONSE_LENGTH || which == R4J_FIELD_ENDED ||
         which == R4J_FIELD_GROUP_ID || which == R4J_FIELD_SCORES_SHAPED;
}

at::Tensor& Rollout::field(int32_t which) {
  require(is_float_field(which), "rollout field " + std::to_string(which) + " is not a float field");
  auto it = floats.find(which);
  if (it != floats.end()) return it->second;
  std::vector<int64_t> shape = is_per_sample_field(which) ? std::vector<int64_t>{batch()}
                                                          : std::vector<int64_t>{batch(), response_len()};
  return floats[which] = at::zeros(shape, at::TensorOptions().device(device).dtype(at::kFloat));
}

}  // namespace r4j
