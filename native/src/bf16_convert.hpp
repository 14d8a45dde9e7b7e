// bf16 <-> float32 over arrays, vectorized (simd::elementwise_isa() picks the
// kernel): a bf16 is a float32's upper half, and rounding is to nearest even
// with NaN kept quiet, as c10::BFloat16's constructor (the plain twin). For
// kernels that compute in float32 on blocks of a bf16 tensor.
#pragma once

#include <c10/util/BFloat16.h>

#include <cstdint>

namespace r4j {

void widen_bf16(const c10::BFloat16* src, float* dst, int64_t n);
void round_to_bf16(const float* src, c10::BFloat16* dst, int64_t n);
// x[i] = float(bf16(x[i])) in place: a float32 tensor's .to(bf16).to(float) values without
// either copy. Blocks of the array in parallel.
void round_through_bf16(float* x, int64_t n);

}  // namespace r4j
