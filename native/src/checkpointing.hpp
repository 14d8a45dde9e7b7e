// Activation checkpointing (Chen et al. 2016): a block's forward keeps only
// its input; backward runs the block again, under the random-number state of
// the first run so dropout draws the same masks, and differentiates that.
#pragma once

#include <ATen/ATen.h>

#include <functional>

namespace r4j {

// block(x), its activations recomputed in backward. block must be a pure
// function of x, the parameters it captures and the dropout generator; it may
// outlive this call (until backward), so it captures by value.
at::Tensor checkpointed(const std::function<at::Tensor(const at::Tensor&)>& block, const at::Tensor& x);

}  // namespace r4j
