// Item-to-item baselines on a CooccurrenceTable: for a query item A, its top-K related items.
//   PopularityRecommender    score(B) = events_B: the same best sellers for every A
//   CooccurrenceRecommender  score(B) = X_AB (item-CF by co-occurrence counts)
//   CosineRecommender        vectors:   score(B) = Σ_C X_AC X_BC / (‖X_A·‖ ‖X_B·‖), the cosine of
//                                       rows A and B of the co-occurrence matrix (B ranges over
//                                       items that share a partner C with A: two hops)
//                            incidence: score(B) = X_AB / sqrt(sessions_A · sessions_B), the
//                                       classic item-CF cosine of session incidence vectors
//                                       (Sarwar et al. 2001; exact when X counts sessions with
//                                       both items, window = 0, no distance weighting)
// Conventions shared by all: a list never contains A itself; items are ordered by score
// (descending), ties by popularity (events, descending) then by index (ascending); when A has
// fewer than K items with a positive score, the list is padded with the most popular items not
// already in it, with score 0 (so a padded slot is recognisable: real neighbours score > 0).
// A query of −1 (an item unknown to the table) gets the popularity list. A list is shorter
// than K only when the catalogue has fewer than K + 1 items.
// recommend_all(rec, n, K) computes every item's list (oneTBB over items; identical for any
// thread count) into RecommendationLists (row-major [n, K], −1 for empty slots).
#pragma once
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/types.hpp"
#include "ctrnet/data/cooccurrence.hpp"

namespace ctrnet {

/// One recommended item with its score.
struct ItemScore {
  index_t item = -1;
  float score = 0.0f;
  friend bool operator==(const ItemScore&, const ItemScore&) = default;
};

/// \brief Top-K lists of every item: items/scores row-major [num_items, k], −1 in empty slots.
struct RecommendationLists {
  index_t k = 0;
  std::vector<index_t> items;
  std::vector<float> scores;

  index_t num_items() const { return k > 0 ? static_cast<index_t>(items.size()) / k : 0; }
  std::span<const index_t> list(index_t i) const {
    CTRNET_CHECK(i >= 0 && i < num_items(), "RecommendationLists: item ", i, " out of range [0, ", num_items(), ")");
    return {items.data() + i * k, static_cast<std::size_t>(k)};
  }
  std::span<const float> list_scores(index_t i) const {
    CTRNET_CHECK(i >= 0 && i < num_items(), "RecommendationLists: item ", i, " out of range [0, ", num_items(), ")");
    return {scores.data() + i * k, static_cast<std::size_t>(k)};
  }
};

/// \brief Every item's list from a callable `rec(item, k) -> std::vector<ItemScore>`.
template <class Recommend>
RecommendationLists recommend_all(const Recommend& rec, index_t num_items, index_t k, int threads = 0) {
  CTRNET_CHECK(k > 0, "recommend_all: K must be positive, got ", k);
  CTRNET_CHECK(num_items >= 0, "recommend_all: negative item count ", num_items);
  RecommendationLists out;
  out.k = k;
  out.items.assign(static_cast<std::size_t>(num_items * k), -1);
  out.scores.assign(static_cast<std::size_t>(num_items * k), 0.0f);
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
  arena.execute([&] {
    tbb::parallel_for(index_t(0), num_items, [&](index_t i) {
      const std::vector<ItemScore> l = rec(i, k);
      CTRNET_CHECK(static_cast<index_t>(l.size()) <= k, "recommend_all: item ", i, " got ", l.size(),
                   " items, more than K = ", k);
      for (std::size_t j = 0; j < l.size(); ++j) {
        out.items[static_cast<std::size_t>(i * k) + j] = l[j].item;
        out.scores[static_cast<std::size_t>(i * k) + j] = l[j].score;
      }
    });
  });
  return out;
}

namespace detail {

/// Items by popularity: events descending, then index ascending.
inline std::vector<index_t> popularity_order(const CooccurrenceTable& t) {
  std::vector<index_t> o(static_cast<std::size_t>(t.num_items()));
  std::iota(o.begin(), o.end(), index_t(0));
  std::stable_sort(o.begin(), o.end(), [&](index_t a, index_t b) { return t.item_events(a) > t.item_events(b); });
  return o;
}

/// Sorts candidates (score desc, popularity rank asc), keeps the best k, pads with popular items.
inline std::vector<ItemScore> finish_list(std::vector<ItemScore> cand, index_t query, index_t k,
                                          std::span<const index_t> popular, std::span<const index_t> rank_of) {
  CTRNET_CHECK(k > 0, "recommend: K must be positive, got ", k);
  auto better = [&](const ItemScore& x, const ItemScore& y) {
    if (x.score != y.score) return x.score > y.score;
    return rank_of[static_cast<std::size_t>(x.item)] < rank_of[static_cast<std::size_t>(y.item)];
  };
  const auto kk = static_cast<std::size_t>(k);
  if (cand.size() > kk) {
    std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(kk), cand.end(), better);
    cand.resize(kk);
  } else {
    std::sort(cand.begin(), cand.end(), better);
  }
  if (cand.size() < kk) {
    std::vector<index_t> in;
    in.reserve(cand.size());
    for (const ItemScore& c : cand) in.push_back(c.item);
    std::sort(in.begin(), in.end());
    for (index_t p : popular) {
      if (cand.size() >= kk) break;
      if (p == query || std::binary_search(in.begin(), in.end(), p)) continue;
      cand.push_back({p, 0.0f});
    }
  }
  return cand;
}

/// Shared state of the baselines: the table, the popularity order and rank.
class ItemCfBase {
 public:
  explicit ItemCfBase(const CooccurrenceTable& t) : table_(&t), popular_(popularity_order(t)) {
    rank_.resize(popular_.size());
    for (std::size_t r = 0; r < popular_.size(); ++r) rank_[static_cast<std::size_t>(popular_[r])] = static_cast<index_t>(r);
  }
  index_t num_items() const { return table_->num_items(); }
  const CooccurrenceTable& table() const { return *table_; }
  /// Items by popularity (events desc, index asc).
  std::span<const index_t> popular() const { return popular_; }

 protected:
  void check_query(index_t item) const {
    CTRNET_CHECK(item >= -1 && item < num_items(), "recommend: item index ", item, " out of range [-1, ",
                 num_items(), ")");
  }
  std::vector<ItemScore> finish(std::vector<ItemScore> cand, index_t query, index_t k) const {
    return finish_list(std::move(cand), query, k, popular_, rank_);
  }
  const CooccurrenceTable* table_;
  std::vector<index_t> popular_, rank_;
};

}  // namespace detail

/// \brief The same most popular items for every query (minus the query itself).
class PopularityRecommender : public detail::ItemCfBase {
 public:
  /// Keeps a reference to t: t must outlive the recommender.
  explicit PopularityRecommender(const CooccurrenceTable& t) : ItemCfBase(t) {}
  std::vector<ItemScore> recommend(index_t item, index_t k) const {
    check_query(item);
    CTRNET_CHECK(k > 0, "recommend: K must be positive, got ", k);
    std::vector<ItemScore> out;
    for (index_t p : popular_) {
      if (static_cast<index_t>(out.size()) >= k) break;
      if (p != item) out.push_back({p, static_cast<float>(table_->item_events(p))});
    }
    return out;
  }
  RecommendationLists recommend_all(index_t k, int threads = 0) const {
    return ctrnet::recommend_all([this](index_t i, index_t kk) { return recommend(i, kk); }, num_items(), k, threads);
  }
};

/// \brief Item-CF by co-occurrence counts: B ranked by X_AB.
class CooccurrenceRecommender : public detail::ItemCfBase {
 public:
  explicit CooccurrenceRecommender(const CooccurrenceTable& t) : ItemCfBase(t) {}
  std::vector<ItemScore> recommend(index_t item, index_t k) const {
    check_query(item);
    std::vector<ItemScore> cand;
    if (item >= 0)
      for (const CooccurrencePair& p : table_->neighbors(item))
        if (p.count > 0.0) cand.push_back({p.item, static_cast<float>(p.count)});
    return finish(std::move(cand), item, k);
  }
  RecommendationLists recommend_all(index_t k, int threads = 0) const {
    return ctrnet::recommend_all([this](index_t i, index_t kk) { return recommend(i, kk); }, num_items(), k, threads);
  }
};

enum class CosineKind {
  vectors,    ///< cosine of co-occurrence rows: Σ_C X_AC X_BC / (‖X_A·‖ ‖X_B·‖)
  incidence,  ///< X_AB / sqrt(sessions_A · sessions_B)
};

/// \brief Item-CF by cosine similarity (see the header comment).
class CosineRecommender : public detail::ItemCfBase {
 public:
  explicit CosineRecommender(const CooccurrenceTable& t, CosineKind kind = CosineKind::vectors)
      : ItemCfBase(t), kind_(kind) {
    const index_t n = t.num_items();
    norm_.assign(static_cast<std::size_t>(n), 0.0);
    for (index_t a = 0; a < n; ++a) {
      double s = 0.0;
      for (const CooccurrencePair& p : t.neighbors(a)) s += p.count * p.count;
      norm_[static_cast<std::size_t>(a)] = std::sqrt(s);
    }
    if (kind_ == CosineKind::vectors && t.options().directed) {
      // Column C of X (the B with X_BC > 0): the transpose in CSR.
      col_offsets_.assign(static_cast<std::size_t>(n) + 1, 0);
      for (const CooccurrencePair& p : t.pairs()) ++col_offsets_[static_cast<std::size_t>(p.item) + 1];
      for (index_t c = 0; c < n; ++c) col_offsets_[static_cast<std::size_t>(c) + 1] += col_offsets_[static_cast<std::size_t>(c)];
      col_.resize(t.pairs().size());
      std::vector<index_t> fill(col_offsets_.begin(), col_offsets_.end() - 1);
      for (index_t a = 0; a < n; ++a)
        for (const CooccurrencePair& p : t.neighbors(a))
          col_[static_cast<std::size_t>(fill[static_cast<std::size_t>(p.item)]++)] = {a, p.count, p.raw};
    }
  }
  CosineKind kind() const { return kind_; }

  std::vector<ItemScore> recommend(index_t item, index_t k) const {
    check_query(item);
    std::vector<ItemScore> cand;
    if (item >= 0) {
      if (kind_ == CosineKind::incidence) {
        const double sa = static_cast<double>(table_->item_sessions(item));
        for (const CooccurrencePair& p : table_->neighbors(item))
          if (p.count > 0.0)
            cand.push_back(
                {p.item, static_cast<float>(p.count / std::sqrt(sa * static_cast<double>(table_->item_sessions(p.item))))});
      } else {
        cand = vector_cosines(item);
      }
    }
    return finish(std::move(cand), item, k);
  }
  RecommendationLists recommend_all(index_t k, int threads = 0) const {
    return ctrnet::recommend_all([this](index_t i, index_t kk) { return recommend(i, kk); }, num_items(), k, threads);
  }

 private:
  std::span<const CooccurrencePair> column(index_t c) const {
    if (col_offsets_.empty()) return table_->neighbors(c);  // undirected: X is symmetric
    const auto b = static_cast<std::size_t>(col_offsets_[static_cast<std::size_t>(c)]);
    const auto e = static_cast<std::size_t>(col_offsets_[static_cast<std::size_t>(c) + 1]);
    return {col_.data() + b, e - b};
  }
  // Sparse dot products of row A with every row sharing a column: Σ_C X_AC Σ_{B: X_BC>0} X_BC.
  std::vector<ItemScore> vector_cosines(index_t a) const {
    const double na = norm_[static_cast<std::size_t>(a)];
    std::vector<ItemScore> cand;
    if (na <= 0.0) return cand;
    thread_local std::vector<double> acc;
    thread_local std::vector<index_t> touched;
    acc.resize(static_cast<std::size_t>(num_items()), 0.0);
    touched.clear();
    for (const CooccurrencePair& ac : table_->neighbors(a))
      for (const CooccurrencePair& bc : column(ac.item)) {
        const auto b = static_cast<std::size_t>(bc.item);
        if (bc.item == a) continue;
        if (acc[b] == 0.0) touched.push_back(bc.item);
        acc[b] += ac.count * bc.count;
      }
    // The candidate order does not matter: finish() sorts by (score, popularity rank), a total order.
    for (index_t b : touched) {
      const double dot = acc[static_cast<std::size_t>(b)];
      acc[static_cast<std::size_t>(b)] = 0.0;
      const double nb = norm_[static_cast<std::size_t>(b)];
      if (dot > 0.0 && nb > 0.0) cand.push_back({b, static_cast<float>(dot / (na * nb))});
    }
    return cand;
  }

  CosineKind kind_;
  std::vector<double> norm_;
  std::vector<index_t> col_offsets_;
  std::vector<CooccurrencePair> col_;
};

}  // namespace ctrnet
