// Dense layers: y = x W (+ b). Inference on the CPU in float32 takes fast
// paths: oneDNN's matmul when the build has it (about twice OpenBLAS's rate at
// the few-row shapes of token-by-token decoding) and, for weights reused inside
// a PackedWeights scope at up to 16 rows, the panel kernel of gemm_few_rows.hpp
// (bf16 weights too: bf16 panels, float32 accumulation; other bf16 shapes go
// through ATen).
// Passes that record gradients take oneDNN for float32 CPU products too (forward
// and backward), ATen elsewhere. Tests compare the paths.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // at::GradMode, at::NoGradGuard: ATen.h brings it in 1.13 only

#include <memory>

namespace r4j {

// x [..., in] times w, plus b (undefined = no bias):
//   w_is_out_by_in = false: w [in, out]   (GPT-2's Conv1D)
//   w_is_out_by_in = true:  w [out, in]   (nn.Linear, tied LM heads)
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in);

// gelu_tanh(x W + b) (GPT-2's MLP) and residual + x W + b (a block's
// projection back onto the residual stream): one pass on the few-row fast
// path, linear() followed by the ATen op elsewhere.
at::Tensor linear_gelu_tanh(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in);
at::Tensor linear_add(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in,
                      const at::Tensor& residual);

// Whether ATen multiplies bf16 matrices on this CPU with oneDNN's bf16
// kernels (AVX-512 BW/VL/DQ, as ATen itself checks; AMX and AVX512_BF16 come
// with them). Without them ATen's bf16 matmul is a scalar loop ~15x slower
// than float32's: there, bf16 products are computed in float32 from the bf16
// values (exact products, float32 sums, as oneDNN's bf16 kernels do) and
// rounded back to bf16.
bool cpu_bf16_matmul_native();
// t is a bf16 CPU tensor on such a CPU: its products run on float32 copies.
bool bf16_on_float32_copies(const at::Tensor& t);

// A weight multiplied many times in one pass (the LM head, chunk by chunk) is widened
// once: float32_copy_for_products(w) is w's float32 copy where linear() would
// multiply float32 copies of it (bf16_on_float32_copies), else undefined; then
// linear_with_float32_copy(x, w32, w_is_out_by_in) gives the values of
// linear(x, w, {}, w_is_out_by_in).to(float), bitwise, in a pass without gradients: the
// float32 product rounded through bf16 in place, without the bf16 result and its widening.
at::Tensor float32_copy_for_products(const at::Tensor& w);
at::Tensor linear_with_float32_copy(const at::Tensor& x, const at::Tensor& w32, bool w_is_out_by_in);

// a [m, k] b [k, n], or a [..., m, k] b [..., k, n] over the same batch dims,
// without gradients; float32 on the CPU through oneDNN when linear()'s fast
// paths are on (any operand may be a transposed view), else at::matmul.
at::Tensor matmul_f32(const at::Tensor& a, const at::Tensor& b);

// Whether matmul_bf16_into runs here: bf16 CPU operands, oneDNN built in with
// native bf16 products (cpu_bf16_matmul_native) and the fast paths on.
bool matmul_bf16_into_applies(const at::Tensor& a, const at::Tensor& b);
// c [m, n] float32 = a [m, k] b [k, n], plus c's own values when accumulate:
// bf16 operands with any positive strides, one oneDNN product into a float32
// destination. A sum of products over chunks then rounds to bf16 once, at its
// end, without each bf16 product widened and added (a.matmul(b) and add_, the
// twin). Requires matmul_bf16_into_applies.
void matmul_bf16_into(const at::Tensor& a, const at::Tensor& b, const at::Tensor& c, bool accumulate);

// The ATen path only: the slow, obvious twin of linear().
at::Tensor linear_reference(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in);

// While one of these lives on a thread, linear()'s fast path keeps a copy of
// each weight it multiplies a second time with the same shape, reordered for
// that shape (the panels of gemm_few_rows.hpp at up to 16 rows, which serve
// every row count from then on, else oneDNN's blocked layout, which serves every
// row count whose layout it is, and of which a weight keeps one), and multiplies
// with it from then on. The copies are freed
// with the scope; weights must not change while it lives. Generation opens one
// per call: its decoding steps reuse every weight.
class PackedWeights {
 public:
  PackedWeights();
  ~PackedWeights();
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;
  // Weights reordered into oneDNN's blocked layout in this scope so far.
  int64_t packings() const;
  struct Cache;

 private:
  std::unique_ptr<Cache> cache_;
};

// Whether linear() may take the oneDNN path (on by default when built with
// oneDNN; tests switch it off to compare).
bool fast_linear_available();
void set_fast_linear(bool on);
// Whether float32 CPU products run on oneDNN (matmul_f32, linear() in passes
// that record gradients): built with it (libtorch 1.x builds; 2.x carries its
// own) and the fast paths on.
bool onednn_products();

}  // namespace r4j
