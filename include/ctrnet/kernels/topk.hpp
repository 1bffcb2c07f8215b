// Exact top-K retrieval kernels: for each query row q_r, the K items with the largest scores
// s_ri = ⟨q_r, e_i⟩ over the item matrix E, skipping the query's excluded items.
//   queries: [Q, d], items: [N, d], out_rows: [Q, K] item rows (−1 past the last hit),
//   out_scores: [Q, K] (−∞ past the last hit).
// Order: score descending, ties broken by the LOWER item row (a strict total order, so the result
// is unique and independent of blocking and thread count). NaN and −∞ scores are never returned.
// Exclusions: query r skips item rows rows[offsets[r] .. offsets[r+1]) (sorted ascending).
// cpu_scalar: scores as the scalar GEMM computes them, then a partial sort (the reference).
// cpu_simd: kernels/simd/topk.hpp, fused blocked GEMM + threshold selection, oneTBB.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

/// \brief Per-query excluded item rows in CSR form (null offsets: nothing excluded).
struct ExclusionLists {
  const index_t* offsets = nullptr;  ///< [queries + 1]
  const index_t* rows = nullptr;     ///< sorted ascending within each query
  bool empty() const { return offsets == nullptr; }
  std::span<const index_t> of(index_t q) const {
    if (empty()) return {};
    return {rows + offsets[q], static_cast<std::size_t>(offsets[q + 1] - offsets[q])};
  }
  bool excluded(index_t q, index_t row) const {
    if (empty()) return false;
    const auto s = of(q);
    return std::binary_search(s.begin(), s.end(), row);
  }
};

namespace detail {
/// One candidate of a top-K list.
template <class T>
struct Scored {
  T score;
  index_t row;
};
/// a ranks before b: higher score, then lower row.
template <class T>
inline bool ranks_before(const Scored<T>& a, const Scored<T>& b) {
  return a.score > b.score || (a.score == b.score && a.row < b.row);
}
/// Writes a sorted list (at most k entries) into row q of the outputs, padding with −1 / −∞.
template <class T>
inline void write_topk(std::span<const Scored<T>> sorted, index_t q, index_t k, MatrixView<index_t> out_rows,
                       MatrixView<T> out_scores) {
  for (index_t j = 0; j < k; ++j) {
    const bool have = j < static_cast<index_t>(sorted.size());
    out_rows(q, j) = have ? sorted[static_cast<std::size_t>(j)].row : index_t(-1);
    out_scores(q, j) = have ? sorted[static_cast<std::size_t>(j)].score : -std::numeric_limits<T>::infinity();
  }
}
}  // namespace detail

/// Reference: every score (the scalar GEMM's loop: acc += q_p e_p for p = 0..d−1), then a sort.
template <class T>
void topk(const cpu_scalar& policy, ConstMatrixView<T> queries, ConstMatrixView<T> items, index_t k, ExclusionLists excl,
          MatrixView<index_t> out_rows, MatrixView<T> out_scores) {
  CTRNET_KERNEL_SCOPE(policy);
  std::vector<detail::Scored<T>> all;
  for (index_t q = 0; q < queries.rows; ++q) {
    all.clear();
    for (index_t i = 0; i < items.rows; ++i) {
      T acc = T(0);
      for (index_t p = 0; p < queries.cols; ++p) acc += queries(q, p) * items(i, p);
      if (std::isnan(acc) || acc == -std::numeric_limits<T>::infinity() || excl.excluded(q, i)) continue;
      all.push_back({acc, i});
    }
    const std::size_t m = std::min(all.size(), static_cast<std::size_t>(k));
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(m), all.end(), detail::ranks_before<T>);
    detail::write_topk<T>(std::span<const detail::Scored<T>>(all.data(), m), q, k, out_rows, out_scores);
  }
}

}  // namespace ctrnet::kernels

#include "ctrnet/kernels/simd/topk.hpp"
