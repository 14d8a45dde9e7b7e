#include "kv_cache.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "attention.hpp"
#include "errors.hpp"

namespace r4j {

namespace {

// Whether rows [n] keeps some rows of a batch of `batch`, each at most once and
// in their order: then row i comes from rows[i] >= i, and copying them to 0, 1,
// ... in turn never overwrites a row still to copy.
bool keeps_in_order(const int64_t* rows, int64_t n, int64_t batch) {
  for (int64_t i = 0; i < n; ++i)
    if (rows[i] < (i > 0 ? rows[i - 1] + 1 : 0) || rows[i] >= batch) return false;
  return true;
}

}  // namespace

void KVCache::select_rows(const at::Tensor& rows) {
  auto r = rows.to(at::kCPU).to(at::kLong).contiguous();
  const int64_t* idx = r.data_ptr<int64_t>();
  const int64_t n = r.numel();
  bool in_place = !k.empty() && k[0].is_cpu() && keeps_in_order(idx, n, k[0].size(0));
  for (const auto* layers : {&k, &v})
    for (const auto& t : *layers) in_place = in_place && t.is_contiguous();
  if (in_place) {
    // Finished rows leaving the decoding batch: the kept rows move down in
    // place, only their filled positions, and the batch narrows. No new
    // cache (a fresh one page-faults its memory in every time rows finish).
    const int64_t filled = length - prefix.length;
    for (auto* layers : {&k, &v}) {
      for (auto& t : *layers) {
        const int64_t es = t.element_size();
        char* base = static_cast<char*>(t.data_ptr());
        const int64_t row = t.stride(0) * es, head = t.stride(1) * es, used = filled * t.stride(2) * es;
        for (int64_t i = 0; i < n; ++i) {
          if (idx[i] == i) continue;
          for (int64_t h = 0; h < t.size(1); ++h)
            std::memmove(base + i * row + h * head, base + idx[i] * row + h * head, used);
        }
        t = t.narrow(0, 0, n);
      }
    }
  } else {
    for (auto& t : k) t = t.index_select(0, rows);
    for (auto& t : v) t = t.index_select(0, rows);
  }
  if (prefix.length > 0) prefix.row = prefix.row.index_select(0, r);
}

void KVCache::grow(size_t l, int64_t need) {
  const int64_t capacity = k[l].size(2);
  require(need <= most, "KV cache: " + std::to_string(need) + " positions asked of a cache that holds " +
                            std::to_string(std::max(capacity, most)));
  const int64_t filled = length - prefix.length, wider = std::min(most, std::max(need, 2 * capacity));
  for (auto* layers : {&k, &v}) {
    auto& t = (*layers)[l];
    auto sizes = t.sizes().vec();
    sizes[2] = wider;
    auto grown = at::empty(sizes, t.options());  // [B, n_kv_head, wider, hd]
    grown.narrow(2, 0, filled).copy_(t.narrow(2, 0, filled));
    t = grown;
  }
}

at::Tensor KVCache::attend(size_t l, const at::Tensor& q, const at::Tensor& k_new, const at::Tensor& v_new,
                           const at::Tensor& bias, double dropout_p, int64_t chunk) {
  const int64_t T = q.size(2), own = length - prefix.length;  // own: the rows' positions after the prefix
  if (own + T > k[l].size(2)) grow(l, own + T);
  k[l].narrow(2, own, T).copy_(k_new);
  v[l].narrow(2, own, T).copy_(v_new);
  auto keys = k[l].narrow(2, 0, own + T), values = v[l].narrow(2, 0, own + T);  // [B, n_kv_head, own + T, hd]
  if (prefix.length == 0) return attention(q, keys, values, bias, dropout_p, chunk);
  if (dropout_p == 0 && shared_prefix_decode_applies(q, prefix.k[l], keys, values))
    return attention_decode_shared_prefix(q, prefix.k[l], prefix.v[l], prefix.row, keys, values, bias);
  // The slow, obvious twin (and the path off the CPU kernel): each row's prefix copied before its own positions.
  auto rows = prefix.row.to(q.device());
  return attention(q, at::cat({prefix.k[l].index_select(0, rows), keys}, 2),
                   at::cat({prefix.v[l].index_select(0, rows), values}, 2), bias, dropout_p, chunk);
}

}  // namespace r4j
