// LayerNorm over the last dimension. bf16 CPU tensors run ATen's float32
// kernel on float32 copies and round once (ATen 1.13's bf16 kernel, which also
// computes in float32, took ~3 ms a call on config B's 1024 x 512 activations,
// the float32 one ~0.2); set_fast_layer_norm(false) calls ATen on bf16 directly,
// the twin the tests compare with.
#pragma once

#include <ATen/ATen.h>

namespace r4j {

at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps);
void set_fast_layer_norm(bool on);

}  // namespace r4j
