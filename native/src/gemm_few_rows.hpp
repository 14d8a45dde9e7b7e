// y = x W + b for the few rows of a decoding step (one per sequence), where
// the product is bound by reading W from memory: W is reordered once into
// 16-column panels that stream through memory in order, and an AVX-512 kernel
// keeps all rows' accumulators in registers while prefetching ahead (about
// 1.4x oneDNN's rate at 16 rows once W no longer fits the caches); on CPUs
// with AVX2 + FMA only, a kernel of 8-wide halves takes six rows at a time
// over blocks of a panel held in L1. bf16
// weights have panels of their own, with an AVX512_BF16 and an AVX2 kernel.
#pragma once

#include <ATen/ATen.h>

namespace r4j {

constexpr int64_t kFewRowsMax = 16;  // rows the kernel handles in one pass

// Which float32 kernel few_rows_linear runs: "avx512" (AVX-512F), "avx2"
// (AVX2 + FMA), or nullptr where the CPU has neither.
const char* few_rows_kernel();
bool few_rows_available();  // few_rows_kernel() != nullptr

// Tests pin the float32 kernel ("avx512", "avx2"; nullptr: this CPU's best)
// to compare each with linear_reference; a kernel the CPU lacks is refused.
void set_few_rows_kernel(const char* name);

// W [in, out] (w_is_out_by_in false) or [out, in] as panels [ceil(out/16), in, 16]
// float32, the last one zero-padded: panels[p][k][j] = W[k][16p + j].
at::Tensor pack_panels(const at::Tensor& w, bool w_is_out_by_in);

// The packing loop of both layouts, panels in parallel: with k in groups of
// Group (1 for float32, 2 for bf16 pairs) and K = ceil(in / Group),
//   dst[((p K + kg) 16 + j) Group + t] = W[Group kg + t][16 p + j], 0 past W,
// where W is src [in, out], or src [out, in] transposed when w_is_out_by_in.
template <int64_t Group, typename T>
void pack_column_panels(const T* src, int64_t in, int64_t out, bool w_is_out_by_in, T* dst);
// The same element by element, one thread: the twin the tests compare bitwise.
template <int64_t Group, typename T>
void pack_column_panels_reference(const T* src, int64_t in, int64_t out, bool w_is_out_by_in, T* dst);

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

// The bf16 twin, for bf16 models: W's bf16 values in 16-column panels with k
// in pairs, [ceil(out/16), ceil(in/2), 16, 2] bf16, zero-padded:
//   panels[p][k/2][j][k%2] = W[k][16p + j],
// the layout AVX512_BF16's dot product of pairs (vdpbf16ps) reads, and AVX2
// widens by shifting (a bf16 is a float32's upper half). Half the bytes a
// decoding step reads, which is what bounds it.
at::Tensor pack_panels_bf16(const at::Tensor& w, bool w_is_out_by_in);

// Which kernel few_rows_linear_bf16 runs on this CPU: "avx512bf16" (dot
// products of bf16 pairs: x is rounded to bf16 as oneDNN's bf16 matmul does),
// "avx2" (x stays float32, W widened) or "plain" (no AVX2: scalar loops).
const char* few_rows_bf16_kernel();

// x [M, in] (bf16 or float32) with M <= kFewRowsMax, panels from
// pack_panels_bf16, b [out] or undefined, the epilogue's residual [M, out] (b
// and the residual bf16 or float32, read as they are): x W + b, then the
// epilogue, accumulated in float32 and returned in x's dtype.
at::Tensor few_rows_linear_bf16(const at::Tensor& x, const at::Tensor& panels, int64_t out, const at::Tensor& b,
                                const Epilogue& then = {});

// Tests pin the kernel ("avx512bf16", "avx2", "plain"; nullptr: this CPU's
// best) to compare each with the plain loops; a kernel the CPU lacks is refused.
void set_few_rows_bf16_kernel(const char* name);

}  // namespace r4j
