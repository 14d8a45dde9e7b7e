// Float32 matrix products of the learning phase on oneDNN's matmul: at the
// shapes a training step multiplies, OpenBLAS (ATen's CPU BLAS) reaches
// 111-207 GFLOP/s on the 2-core Zen 4 against oneDNN's 174-221, the widest gap
// at the LM head's weight gradient [V, n] x [n, d]. Any strides with a unit
// one; the output may be a row block of a larger matrix. Builds without oneDNN
// (and other dtypes or devices) run ATen's mm/addmm: the slow twin tests compare.
#pragma once

#include <ATen/ATen.h>

namespace r4j {

// Whether matmul_dnnl multiplies a [m, k] and b [k, n] itself (oneDNN in the
// build, float32 CPU matrices, each with a unit stride) instead of ATen.
bool matmul_dnnl_applies(const at::Tensor& a, const at::Tensor& b);

// a [m, k] b [k, n] (+ bias [n]): [m, n] contiguous.
at::Tensor matmul_dnnl(const at::Tensor& a, const at::Tensor& b, const at::Tensor& bias = {});

// out [m, n] (unit column stride) = a b, or += a b with accumulate.
void matmul_dnnl_out(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b, bool accumulate);

}  // namespace r4j
