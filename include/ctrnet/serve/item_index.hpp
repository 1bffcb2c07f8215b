// ItemIndex: the candidate vectors of a whole catalogue, computed once from a two-tower model's
// candidate tower, and exact top-K search over them (serve/topk.hpp):
//   auto index = ItemIndex<>::from_model(cpu_simd{}, model, catalogue.view());
//   model.encode_queries(cpu_simd{}, users, q.view(), cache);      // serving vectors
//   TopK<> r = index.search(cpu_simd{}, q.cview(), 10, seen.view());
//   TopK<> similar = index.similar_items(cpu_simd{}, item_rows, 10);  // item-to-item
// Scores are the model's similarity: the index stores encode_candidates() vectors and queries
// come from encode_queries() (DotSimilarity: q / τ and c; CosineSimilarity: q̂ / τ and ĉ).
// Rows are item ids 0..N−1 of the catalogue batch; ties go to the lower id.
#pragma once
#include <algorithm>
#include <span>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/data/staging.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/policy/execution.hpp"
#include "ctrnet/serve/topk.hpp"

namespace ctrnet {

/// \brief Catalogue item vectors [N, d] and exact top-K search.
template <class T = float>
class ItemIndex {
 public:
  ItemIndex() = default;
  /// Takes item vectors directly: row i is item i.
  explicit ItemIndex(Matrix<T> vectors) : vectors_(std::move(vectors)) {}

  /// Runs `model`'s candidate tower over every row of `catalogue` (blocks of `block` rows).
  template <class P, class Model>
  static ItemIndex from_model(const P& policy, const Model& model, const BatchView& catalogue, index_t block = 4096) {
    CTRNET_CHECK(block > 0, "ItemIndex: block must be positive, got ", block);
    const PolicyScope scope(policy);  // the vectors live where the policy's kernels read them
    Matrix<T> v(catalogue.size, model.dim());
    typename Model::CandidateCache cache;
    StagedBatch staging;
    const BatchView& staged = staging.stage(policy, catalogue, model.schema());
    BatchView part;
    for (index_t b = 0; b < catalogue.size; b += block) {
      const index_t n = std::min(block, catalogue.size - b);
      staged.rows(b, n, part);
      model.encode_candidates(policy, part, v.view().row_block(b, n), cache);
    }
    return ItemIndex(std::move(v));
  }

  index_t size() const { return vectors_.rows(); }
  index_t dim() const { return vectors_.cols(); }
  ConstMatrixView<T> vectors() const { return vectors_.cview(); }

  /// Top-K items for each query vector; `seen` lists item rows to skip per query (or empty).
  template <class P>
  TopK<T> search(const P& policy, ConstMatrixView<T> queries, index_t k, kernels::ExclusionLists seen = {}) const {
    CTRNET_CHECK(queries.cols == dim(), "ItemIndex: queries have ", queries.cols, " dimensions, the index has ", dim());
    return exact_topk(policy, queries, vectors_.cview(), k, seen);
  }
  template <class P>
  void search(const P& policy, ConstMatrixView<T> queries, index_t k, TopK<T>& out,
              kernels::ExclusionLists seen = {}) const {
    CTRNET_CHECK(queries.cols == dim(), "ItemIndex: queries have ", queries.cols, " dimensions, the index has ", dim());
    exact_topk(policy, queries, vectors_.cview(), k, out, seen);
  }

  /// Item-to-item: the K items most similar to each item of `items` (by ⟨e_i, e_j⟩), the item
  /// itself excluded ("viewed together" lists).
  template <class P>
  TopK<T> similar_items(const P& policy, std::span<const index_t> items, index_t k) const {
    const PolicyScope scope(policy);
    Matrix<T> q(static_cast<index_t>(items.size()), dim());
    Exclusions self;
    for (std::size_t r = 0; r < items.size(); ++r) {  // host: ids are checked, each row copied by a kernel
      const index_t i = items[r];
      CTRNET_CHECK(i >= 0 && i < size(), "ItemIndex: item ", i, " is outside [0, ", size(), ")");
      kernels::copy(policy, vectors_.cview().row_block(i, 1), q.view().row_block(static_cast<index_t>(r), 1));
      self.add(std::span<const index_t>(&items[r], 1));
    }
    return exact_topk(policy, q.cview(), vectors_.cview(), k, self.view());
  }

 private:
  Matrix<T> vectors_;
};

}  // namespace ctrnet
