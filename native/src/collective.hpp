// Sums over every data-parallel rank. A decision one process makes from the
// whole batch (advantage whitening, group or batch statistics, token-mean
// denominators, ...) takes its statistics through here, so every rank makes it
// from all ranks' data and makes it the same way. In a single process (no
// process group) the sum is the local value.
#pragma once

#include <ATen/ATen.h>

namespace r4j {

// The element-wise sum of t over all ranks; t itself in a single process.
at::Tensor all_ranks_sum(const at::Tensor& t);

}  // namespace r4j
