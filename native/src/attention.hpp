// Scaled dot-product attention over a causal window with padded keys.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // at::GradMode, at::NoGradGuard: ATen.h brings it in 1.13 only

namespace r4j {

// Additive attention bias [B, 1, T, S] for T queries at absolute positions
// offset .. offset+T-1 over S = offset + T keys: 0 where key j is real
// (key_mask [B, S]) and j <= offset + i, else the dtype's lowest value (not
// -inf, so a padding query whose every key is masked stays finite).
at::Tensor attention_bias(const at::Tensor& key_mask, int64_t offset, int64_t T,
                          at::ScalarType dtype);

// t's entries from index `from` on along dim: t itself when from is 0 (no narrow,
// whose backward would zero-fill a full-size gradient), else a narrowed view. The
// last block's query columns: q, the residual, the rotary tables, the bias's rows.
at::Tensor columns_from(const at::Tensor& t, int64_t dim, int64_t from);

// softmax(q k^T / sqrt(head_dim) + bias) v, with k/v heads shared by groups
// of query heads (grouped-query attention when k has fewer heads than q).
//   q: [B, n_head, T, hd]   k, v: [B, n_kv_head, S, hd]   bias: [B, 1, T, S]
// dropout_p > 0 drops attention probabilities (training only).
// Decoding steps (one query per sequence, float32 or bf16 CPU inference) take a
// one-pass kernel. With chunk > 0 and more than chunk queries (and no dropout),
// attention_chunked(); on libtorch 2.x CUDA the fused kernels come first.
// Everything else the ATen formula, attention_reference().
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& bias, double dropout_p, int64_t chunk = 0);

// Decoding attention (one query per sequence, no dropout) over a prefix that
// several sequences share and each sequence's own keys: sequence b attends over
// prefix_k[prefix_row[b]] then k[b].
//   q: [B, n_head, 1, hd]   prefix_k, prefix_v: [G, n_kv_head, P, hd] contiguous
//   prefix_row: [B] int64 on the CPU   k, v: [B, n_kv_head, S - P, hd]   bias: [B, 1, 1, S]
// Where the CPU kernel applies (shared_prefix_decode_applies), each prefix is read
// from memory once per head for all its sequences.
bool shared_prefix_decode_applies(const at::Tensor& q, const at::Tensor& prefix_k, const at::Tensor& k,
                                  const at::Tensor& v);
at::Tensor attention_decode_shared_prefix(const at::Tensor& q, const at::Tensor& prefix_k, const at::Tensor& prefix_v,
                                          const at::Tensor& prefix_row, const at::Tensor& k, const at::Tensor& v,
                                          const at::Tensor& bias);

// The same attention (no dropout) chunk query rows at a time, forward and
// backward: no [B, n_head, T, S] tensor larger than one chunk's [B, n_head,
// chunk, S] exists. A custom autograd function keeps q, k, v, bias, the
// output and each row's logsumexp (as max and sum, [B, n_head, T] each);
// backward recomputes a chunk's probabilities (FlashAttention's backward, Dao et al. 2022, at chunk
// granularity). bias must not require gradients.
at::Tensor attention_chunked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const at::Tensor& bias, int64_t chunk);

// The ATen formula: the slow, obvious twin (and the training path).
at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& bias, double dropout_p);

// Tests switch the decoding kernel off to compare it with the reference.
void set_fast_attention(bool on);

}  // namespace r4j
