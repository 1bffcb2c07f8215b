// Ranking metrics of retrieval, per query with relevant set G (|G| > 0) and ranked list
// r_1..r_K (full ranking over every item, minus the excluded ones), averaged over the queries
// that have relevant items (RecBole's definitions, so numbers compare with published ones):
//   Recall@K   = |{j ≤ K : r_j ∈ G}| / |G|
//   NDCG@K     = DCG / IDCG,  DCG = Σ_{j ≤ K, r_j ∈ G} 1 / log2(j + 1),
//                IDCG = Σ_{j ≤ min(|G|, K)} 1 / log2(j + 1)
//   HitRate@K  = [∃ j ≤ K : r_j ∈ G]
//   MRR@K      = 1 / (rank of the first relevant item) if it is within the top K, else 0
//   coverage@K = |∪_queries {r_1..r_K}| / N   (share of the catalogue recommended to anyone)
// evaluate_full_ranking() scores every item for every query through an ItemIndex.
#pragma once
#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/serve/item_index.hpp"
#include "ctrnet/serve/topk.hpp"

namespace ctrnet {

/// Averages of the metrics over the evaluated queries.
struct RankingResult {
  index_t k = 0;
  double recall = 0.0;
  double ndcg = 0.0;
  double hit_rate = 0.0;
  double mrr = 0.0;
  double coverage = 0.0;
  index_t queries = 0;            ///< queries with at least one relevant item
  index_t items_recommended = 0;  ///< distinct items in the lists
};

namespace detail {
inline bool is_relevant(std::span<const index_t> relevant_sorted, index_t item) {
  return item >= 0 && std::binary_search(relevant_sorted.begin(), relevant_sorted.end(), item);
}
inline void check_ranking_args(std::span<const index_t> relevant, index_t k) {
  CTRNET_CHECK(k > 0, "ranking metric: K must be positive, got ", k);
  CTRNET_CHECK(std::is_sorted(relevant.begin(), relevant.end()), "ranking metric: the relevant items must be sorted");
}
}  // namespace detail

/// Recall@K of one ranked list (−1 entries are empty slots).
inline double recall_at_k(std::span<const index_t> ranked, std::span<const index_t> relevant, index_t k) {
  detail::check_ranking_args(relevant, k);
  if (relevant.empty()) return 0.0;
  index_t hits = 0;
  for (index_t j = 0; j < std::min<index_t>(k, static_cast<index_t>(ranked.size())); ++j)
    hits += detail::is_relevant(relevant, ranked[static_cast<std::size_t>(j)]);
  return static_cast<double>(hits) / static_cast<double>(relevant.size());
}
inline double ndcg_at_k(std::span<const index_t> ranked, std::span<const index_t> relevant, index_t k) {
  detail::check_ranking_args(relevant, k);
  if (relevant.empty()) return 0.0;
  double dcg = 0.0, idcg = 0.0;
  for (index_t j = 0; j < std::min<index_t>(k, static_cast<index_t>(ranked.size())); ++j)
    if (detail::is_relevant(relevant, ranked[static_cast<std::size_t>(j)])) dcg += 1.0 / std::log2(static_cast<double>(j) + 2.0);
  for (index_t j = 0; j < std::min<index_t>(k, static_cast<index_t>(relevant.size())); ++j)
    idcg += 1.0 / std::log2(static_cast<double>(j) + 2.0);
  return dcg / idcg;
}
inline double hit_at_k(std::span<const index_t> ranked, std::span<const index_t> relevant, index_t k) {
  detail::check_ranking_args(relevant, k);
  for (index_t j = 0; j < std::min<index_t>(k, static_cast<index_t>(ranked.size())); ++j)
    if (detail::is_relevant(relevant, ranked[static_cast<std::size_t>(j)])) return 1.0;
  return 0.0;
}
inline double reciprocal_rank_at_k(std::span<const index_t> ranked, std::span<const index_t> relevant, index_t k) {
  detail::check_ranking_args(relevant, k);
  for (index_t j = 0; j < std::min<index_t>(k, static_cast<index_t>(ranked.size())); ++j)
    if (detail::is_relevant(relevant, ranked[static_cast<std::size_t>(j)])) return 1.0 / static_cast<double>(j + 1);
  return 0.0;
}

/// \brief Accumulates the metrics list by list.
class RankingMetrics {
 public:
  RankingMetrics(index_t k, index_t num_items) : k_(k), seen_(static_cast<std::size_t>(num_items), 0) {
    CTRNET_CHECK(k > 0, "RankingMetrics: K must be positive, got ", k);
    CTRNET_CHECK(num_items > 0, "RankingMetrics: the catalogue is empty");
  }
  /// One query: its ranked list (at least K long, −1 = empty slot) and its relevant items
  /// (sorted). Queries without relevant items are skipped (they count for coverage only).
  void add(std::span<const index_t> ranked, std::span<const index_t> relevant) {
    const index_t n = std::min<index_t>(k_, static_cast<index_t>(ranked.size()));
    for (index_t j = 0; j < n; ++j) {
      const index_t it = ranked[static_cast<std::size_t>(j)];
      if (it < 0) continue;
      CTRNET_CHECK(it < static_cast<index_t>(seen_.size()), "RankingMetrics: item ", it, " is outside the catalogue of ",
                   seen_.size());
      if (!seen_[static_cast<std::size_t>(it)]) seen_[static_cast<std::size_t>(it)] = 1, ++distinct_;
    }
    if (relevant.empty()) return;
    recall_ += recall_at_k(ranked, relevant, k_);
    ndcg_ += ndcg_at_k(ranked, relevant, k_);
    hit_ += hit_at_k(ranked, relevant, k_);
    mrr_ += reciprocal_rank_at_k(ranked, relevant, k_);
    ++queries_;
  }
  RankingResult result() const {
    RankingResult r;
    r.k = k_;
    r.queries = queries_;
    r.items_recommended = distinct_;
    r.coverage = static_cast<double>(distinct_) / static_cast<double>(seen_.size());
    if (queries_ > 0) {
      const double n = static_cast<double>(queries_);
      r.recall = recall_ / n;
      r.ndcg = ndcg_ / n;
      r.hit_rate = hit_ / n;
      r.mrr = mrr_ / n;
    }
    return r;
  }

 private:
  index_t k_;
  std::vector<char> seen_;
  index_t distinct_ = 0;
  double recall_ = 0, ndcg_ = 0, hit_ = 0, mrr_ = 0;
  index_t queries_ = 0;
};

/// \brief Full-ranking evaluation: for each query q with relevant items, every item of the index
/// is scored, the `seen` items of q are excluded, and the top K are compared with relevant(q).
///   query_vectors: [Q, d] serving vectors; relevant, seen: Q lists each (seen may be empty: none).
template <class P, class T>
RankingResult evaluate_full_ranking(const P& policy, const ItemIndex<T>& index, ConstMatrixView<T> query_vectors,
                                    const ItemLists& relevant, const ItemLists& seen, index_t k) {
  const index_t Q = query_vectors.rows;
  CTRNET_CHECK(relevant.queries() == Q, "evaluate_full_ranking: ", relevant.queries(), " relevant lists for ", Q,
               " queries");
  CTRNET_CHECK(seen.queries() == 0 || seen.queries() == Q, "evaluate_full_ranking: ", seen.queries(),
               " seen lists for ", Q, " queries");
  RankingMetrics m(k, index.size());
  const PolicyScope scope(policy);  // the top-K lists are computed where the policy keeps its tensors
  const TopK<T> top = index.search(policy, query_vectors, k, seen.queries() ? seen.view() : kernels::ExclusionLists{});
  std::vector<index_t> ranked(static_cast<std::size_t>(top.rows.size()));
  top.rows.download(ranked.data());  // the explicit copy back for the metrics
  for (index_t q = 0; q < Q; ++q)
    m.add(std::span<const index_t>(ranked.data() + q * k, static_cast<std::size_t>(k)), relevant.of(q));
  return m.result();
}

}  // namespace ctrnet
