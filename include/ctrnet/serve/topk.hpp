// Exact top-K retrieval for a batch of queries against a matrix of item vectors:
//   TopK r = exact_topk(policy, queries [Q, d], items [N, d], K, exclusions);
//   r.rows(q, j) / r.scores(q, j): the j-th best item of query q, j < K, with score ⟨q, e_i⟩.
// Order: score descending, ties to the lower item row; −1 / −∞ past the last item when fewer
// than K are left after the exclusions. cpu_simd runs a fused GEMM + SIMD selection on oneTBB
// threads (kernels/simd/topk.hpp); cpu_scalar is the reference (kernels/topk.hpp). Both return
// exactly what a full sort of every score would. The exclusions are host lists (ItemLists);
// exact_topk copies them into the policy's memory for the kernel when that is not the host's.
#pragma once
#include <algorithm>
#include <span>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/memory.hpp"
#include "ctrnet/policy/execution.hpp"
#include "ctrnet/kernels/topk.hpp"

namespace ctrnet {

/// \brief Owning per-query lists of item rows in CSR form, each sorted and unique: the items a
/// user has seen (exclusions of a search) or the relevant items of an evaluation.
class ItemLists {
 public:
  ItemLists() = default;
  /// From one list per query (any order, duplicates allowed).
  explicit ItemLists(const std::vector<std::vector<index_t>>& lists) {
    offsets_.assign(1, 0);
    for (const auto& l : lists) add(l);
  }
  /// Appends the list of the next query.
  void add(std::span<const index_t> list) {
    if (offsets_.empty()) offsets_.assign(1, 0);
    const std::size_t b = rows_.size();
    rows_.insert(rows_.end(), list.begin(), list.end());
    std::sort(rows_.begin() + static_cast<std::ptrdiff_t>(b), rows_.end());
    rows_.erase(std::unique(rows_.begin() + static_cast<std::ptrdiff_t>(b), rows_.end()), rows_.end());
    offsets_.push_back(static_cast<index_t>(rows_.size()));
  }
  void clear() {
    offsets_.assign(1, 0);
    rows_.clear();
  }
  index_t queries() const { return offsets_.empty() ? 0 : static_cast<index_t>(offsets_.size()) - 1; }
  kernels::ExclusionLists view() const {
    if (offsets_.empty()) return {};
    return {offsets_.data(), rows_.data()};
  }
  std::span<const index_t> of(index_t q) const { return view().of(q); }
  /// Total number of entries.
  index_t entries() const { return static_cast<index_t>(rows_.size()); }

 private:
  std::vector<index_t> offsets_;
  std::vector<index_t> rows_;
};
/// Items to skip per query in a search.
using Exclusions = ItemLists;

namespace detail {
/// Host exclusion lists of `queries` queries, where the kernels of policy `p` can read them: the
/// lists themselves on host memory, else copies in the policy's memory (kept until the next stage).
class StagedExclusions {
 public:
  template <class P>
  kernels::ExclusionLists stage(const P& p, kernels::ExclusionLists host, index_t queries) {
    MemorySpace& space = memory_of(p);
    if (host.empty() || space.host_accessible()) return host;
    offsets_.bind(space);
    rows_.bind(space);
    offsets_.upload(host.offsets, queries + 1);
    rows_.upload(host.rows, host.offsets[queries]);
    return {offsets_.data(), rows_.data()};
  }

 private:
  Buffer<index_t> offsets_, rows_;
};
}  // namespace detail

/// \brief K best items per query: item rows (−1: none) and scores (−∞: none), [queries, K].
template <class T = float>
struct TopK {
  index_t k = 0;
  Matrix<index_t> rows;
  Matrix<T> scores;
  index_t queries() const { return rows.rows(); }
};

/// Exact top-K of every query row against every item row (see the header comment).
template <class P, class T>
void exact_topk(const P& policy, ConstMatrixView<T> queries, ConstMatrixView<T> items, index_t k, TopK<T>& out,
                kernels::ExclusionLists excl = {}) {
  CTRNET_CHECK(k > 0, "top-K: K must be positive, got ", k);
  CTRNET_CHECK(queries.cols == items.cols, "top-K: queries have ", queries.cols, " dimensions but items have ",
               items.cols);
  out.k = k;
  out.rows.resize(queries.rows, k);
  out.scores.resize(queries.rows, k);
  detail::StagedExclusions staged;
  kernels::topk(policy, queries, items, k, staged.stage(policy, excl, queries.rows), out.rows.view(), out.scores.view());
}
template <class P, class T>
TopK<T> exact_topk(const P& policy, ConstMatrixView<T> queries, ConstMatrixView<T> items, index_t k,
                   kernels::ExclusionLists excl = {}) {
  TopK<T> out;
  exact_topk(policy, queries, items, k, out, excl);
  return out;
}

}  // namespace ctrnet
