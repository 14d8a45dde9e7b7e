#include "collective.hpp"

namespace r4j {

at::Tensor all_ranks_sum(const at::Tensor& t) { return t; }

}  // namespace r4j
