// The keys and values a decoding pass keeps, and attention over them.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace r4j {

// Keys and values of every layer for incremental decoding. A decoding step
// writes in place (no concatenation). The capacity may start short of the
// final length and double when a step needs more, up to `most`: once past
// their first capacity, rows reserve at most twice what the longest row has
// written, not every position up to the longest possible response (ragged RL
// rollouts leave most of that unwritten, and pages the CPU cache hands out
// are resident whether written or not).
// Rows that share a prompt (a group's n samples) may keep its keys and values
// once, in a shared prefix: row b's positions [0, prefix.length) are then
// prefix.k[l][prefix.row[b]], and k, v hold its positions from prefix.length on.
struct KVCache {
  std::vector<at::Tensor> k, v;  // per layer: [B, n_kv_head, capacity, head_dim]
  int64_t length = 0;            // positions filled so far, the prefix's included
  int64_t most = 0;              // the capacity k and v may grow to; 0: fixed at their size
  struct Prefix {
    std::vector<at::Tensor> k, v;  // per layer: [G, n_kv_head, length, head_dim]
    at::Tensor row;                // [B] int64 on the CPU: row b's prefix, in 0..G-1
    int64_t length = 0;            // 0: no shared prefix
  } prefix;

  // Keeps the rows `rows` ([L] int64) of the batch, in that order (a shared
  // prefix stays where it is: only the rows' indices into it move).
  void select_rows(const at::Tensor& rows);

  // Writes layer l's new keys and values k_new, v_new [B, n_kv_head, T, hd] at
  // position `length` and returns the attention of q [B, n_head, T, hd] over
  // every cached position and the new ones (bias [B, 1, T, length + T]).
  // The caller advances `length` once every layer has written.
  at::Tensor attend(size_t l, const at::Tensor& q, const at::Tensor& k_new, const at::Tensor& v_new,
                    const at::Tensor& bias, double dropout_p, int64_t chunk);

 private:
  // Layer l's keys and values moved to a capacity that holds `need` positions:
  // twice the old one, at most `most`. Layer by layer, so a growth holds one
  // layer's old copy at a time.
  void grow(size_t l, int64_t need);
};

}  // namespace r4j
