// y = x W + b for the few rows of a decoding step (one per sequence), where
// the product is bound by reading W from memory: W is reordered once into
// 16-column panels that stream through memory in order, and an AVX-512 kernel
// keeps all rows' accumulators in registers while prefetching ahead. About
// 1.4x oneDNN's rate at 16 rows once W no longer fits the caches.
#pragma once

#include <ATen/ATen.h>

namespace r4j {

constexpr int64_t kFewRowsMax = 16;  // rows the kernel handles in one pass

// Whether this CPU runs the kernel (AVX-512F).
bool few_rows_available();

// W [in, out] (w_is_out_by_in false) or [out, in] as panels [ceil(out/16), in, 16]
// float32, the last one zero-padded: panels[p][k][j] = W[k][16p + j].
at::Tensor pack_panels(const at::Tensor& w, bool w_is_out_by_in);

// What the kernel applies to x W + b before storing it.
struct Epilogue {
  bool gelu_tanh = false;  // GPT-2's GELU
  at::Tensor residual;     // [M, out] float32 contiguous, added last; undefined: none
};

// x [M, in] float32 contiguous with M <= kFewRowsMax, panels from pack_panels
// of a W with `out` columns, b [out] or undefined: x W + b as [M, out], then
// the epilogue.
at::Tensor few_rows_linear(const at::Tensor& x, const at::Tensor& panels, int64_t out, const at::Tensor& b,
                           const Epilogue& then = {});

}  // namespace r4j
