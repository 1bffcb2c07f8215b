// Evaluation of item-to-item recommendations on sessions (next-item prediction, the GRU4Rec
// protocol of Hidasi et al. 2016 used for yoochoose-100k), and statistics of the lists.
//
// Next item: for each test session x_0..x_{n−1} and each position t ≥ 1, the query is x_{t−1}
// and the target x_t; L = the query's top-K list (from RecommendationLists or a callable).
//   HitRate@K = mean over queries of [x_t ∈ L]
//   MRR@K     = mean over queries of 1 / rank(x_t in L) (0 when not in L)
// A query item unknown to the training table (table.index_of(x_{t−1}) == −1) counts as a miss
// (HR and MRR 0) unless skip_unknown_queries is set, then it is not a query at all; a target
// unknown to the table is always a miss (no list can contain it).
//
// List statistics over the lists L_i of all n catalogue items (K slots each, empty slots −1):
//   coverage   = |∪_i L_i| / n                    (catalog coverage)
//   distinct   = |∪_i L_i| / Σ_i |L_i|            (distinct items over filled slots)
//   overlap    = mean over pairs (a, b), a ≠ b, of |L_a ∩ L_b| / K: all unordered pairs when
//                there are at most overlap_pairs of them, else overlap_pairs pairs drawn with
//                Rng(seed) (uniform a ≠ b, with replacement)
//   popularity = mean over filled slots of pct(item), pct(i) = |{j : events_j ≤ events_i}| / n
//                (1.0 = the most popular item; training popularity from the table)
// Results do not depend on the thread count (per-session results summed in session order).
#pragma once
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <span>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/core/types.hpp"
#include "ctrnet/data/cooccurrence.hpp"
#include "ctrnet/data/readers/sessions.hpp"
#include "ctrnet/serve/item_cf.hpp"

namespace ctrnet {

struct NextItemOptions {
  index_t k = 20;                     ///< list length K (HR@K, MRR@K, overlap divisor)
  bool skip_unknown_queries = false;  ///< true: a query item unknown to training is not counted
  index_t overlap_pairs = 10000;      ///< item pairs for the mean overlap (all pairs if fewer)
  std::uint64_t seed = 1;             ///< sampling of the overlap pairs
  int threads = 0;                    ///< oneTBB workers; 0 = all
};

struct NextItemResult {
  index_t k = 0;
  double hit_rate = 0.0;          ///< HitRate@K
  double mrr = 0.0;               ///< MRR@K
  index_t queries = 0;            ///< evaluated (query, target) positions
  index_t hits = 0;
  index_t unknown_queries = 0;    ///< positions whose query is unknown to training (misses or skipped)
  index_t unknown_targets = 0;    ///< positions whose target is unknown to training (misses)
};

struct ListStats {
  index_t k = 0;
  double coverage = 0.0;
  double distinct = 0.0;
  double overlap = 0.0;
  double popularity = 0.0;
  index_t items_recommended = 0;  ///< |∪_i L_i|
  index_t slots = 0;              ///< filled slots Σ_i |L_i|
  index_t overlap_pairs = 0;      ///< pairs averaged for the overlap
};

/// \brief HR@K and MRR@K of precomputed lists (lists.k ≥ K; the first K of each list are used).
inline NextItemResult evaluate_next_item(std::span<const Session> test, const CooccurrenceTable& table,
                                         const RecommendationLists& lists, const NextItemOptions& o = {}) {
  CTRNET_CHECK(o.k > 0, "evaluate_next_item: K must be positive, got ", o.k);
  CTRNET_CHECK(lists.k >= o.k, "evaluate_next_item: the lists have ", lists.k, " items, fewer than K = ", o.k);
  CTRNET_CHECK(lists.num_items() == table.num_items(), "evaluate_next_item: lists for ", lists.num_items(),
               " items but the table has ", table.num_items());
  struct Part {
    index_t queries = 0, hits = 0, unknown_q = 0, unknown_t = 0;
    double rr = 0.0;
  };
  std::vector<Part> part(test.size());
  tbb::task_arena arena(o.threads > 0 ? o.threads : tbb::task_arena::automatic);
  arena.execute([&] {
    tbb::parallel_for(std::size_t(0), test.size(), [&](std::size_t s) {
      const auto& items = test[s].items;
      Part& p = part[s];
      for (std::size_t t = 1; t < items.size(); ++t) {
        const index_t q = table.index_of(items[t - 1]);
        const index_t target = table.index_of(items[t]);
        if (q < 0) {
          ++p.unknown_q;
          if (!o.skip_unknown_queries) ++p.queries;
          if (target < 0) ++p.unknown_t;
          continue;
        }
        ++p.queries;
        if (target < 0) {
          ++p.unknown_t;
          continue;
        }
        const std::span<const index_t> l = lists.list(q).first(static_cast<std::size_t>(o.k));
        for (std::size_t r = 0; r < l.size(); ++r)
          if (l[r] == target) {
            ++p.hits;
            p.rr += 1.0 / static_cast<double>(r + 1);
            break;
          }
      }
    });
  });
  NextItemResult res;
  res.k = o.k;
  double rr = 0.0;
  for (const Part& p : part) {
    res.queries += p.queries;
    res.hits += p.hits;
    res.unknown_queries += p.unknown_q;
    res.unknown_targets += p.unknown_t;
    rr += p.rr;
  }
  if (res.queries > 0) {
    res.hit_rate = static_cast<double>(res.hits) / static_cast<double>(res.queries);
    res.mrr = rr / static_cast<double>(res.queries);
  }
  return res;
}

/// \brief Same, from a callable `recommend(index_t query, index_t k) -> std::vector<ItemScore>`
/// (every catalogue item's list is computed once with recommend_all).
template <class Recommend>
  requires std::invocable<const Recommend&, index_t, index_t>
NextItemResult evaluate_next_item(std::span<const Session> test, const CooccurrenceTable& table,
                                  const Recommend& recommend, const NextItemOptions& o = {}) {
  return evaluate_next_item(test, table, recommend_all(recommend, table.num_items(), o.k, o.threads), o);
}

/// Training-popularity percentile of every item: pct(i) = |{j : events_j ≤ events_i}| / n.
inline std::vector<double> popularity_percentiles(const CooccurrenceTable& table) {
  const index_t n = table.num_items();
  std::vector<std::int64_t> ev(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) ev[static_cast<std::size_t>(i)] = table.item_events(i);
  std::vector<std::int64_t> sorted = ev;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> pct(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    const auto le = std::upper_bound(sorted.begin(), sorted.end(), ev[static_cast<std::size_t>(i)]) - sorted.begin();
    pct[static_cast<std::size_t>(i)] = static_cast<double>(le) / static_cast<double>(n);
  }
  return pct;
}

/// \brief Coverage, distinct share, mean overlap and mean popularity percentile of the lists
/// of all catalogue items (the first K = o.k slots of each).
inline ListStats list_statistics(const RecommendationLists& lists, const CooccurrenceTable& table,
                                 const NextItemOptions& o = {}) {
  CTRNET_CHECK(o.k > 0, "list_statistics: K must be positive, got ", o.k);
  CTRNET_CHECK(lists.k >= o.k, "list_statistics: the lists have ", lists.k, " items, fewer than K = ", o.k);
  const index_t n = table.num_items();
  CTRNET_CHECK(lists.num_items() == n, "list_statistics: lists for ", lists.num_items(), " items but the table has ",
               n);
  ListStats st;
  st.k = o.k;
  if (n == 0) return st;
  const std::vector<double> pct = popularity_percentiles(table);
  std::vector<char> seen(static_cast<std::size_t>(n), 0);
  double pop = 0.0;
  // Sorted K-prefixes for the overlaps.
  std::vector<index_t> sorted(static_cast<std::size_t>(n * o.k), -1);
  std::vector<index_t> len(static_cast<std::size_t>(n), 0);
  for (index_t i = 0; i < n; ++i) {
    const std::span<const index_t> l = lists.list(i).first(static_cast<std::size_t>(o.k));
    index_t* dst = sorted.data() + i * o.k;
    index_t m = 0;
    for (index_t it : l) {
      if (it < 0) continue;
      CTRNET_CHECK(it < n, "list_statistics: list of item ", i, " holds item ", it, ", out of range [0, ", n, ")");
      dst[m++] = it;
      ++st.slots;
      pop += pct[static_cast<std::size_t>(it)];
      if (!seen[static_cast<std::size_t>(it)]) {
        seen[static_cast<std::size_t>(it)] = 1;
        ++st.items_recommended;
      }
    }
    std::sort(dst, dst + m);
    len[static_cast<std::size_t>(i)] = m;
  }
  st.coverage = static_cast<double>(st.items_recommended) / static_cast<double>(n);
  if (st.slots > 0) {
    st.distinct = static_cast<double>(st.items_recommended) / static_cast<double>(st.slots);
    st.popularity = pop / static_cast<double>(st.slots);
  }
  auto overlap = [&](index_t a, index_t b) {
    const index_t* x = sorted.data() + a * o.k;
    const index_t* y = sorted.data() + b * o.k;
    index_t i = 0, j = 0, c = 0;
    while (i < len[static_cast<std::size_t>(a)] && j < len[static_cast<std::size_t>(b)]) {
      if (x[i] < y[j]) ++i;
      else if (y[j] < x[i]) ++j;
      else { ++c; ++i; ++j; }
    }
    return static_cast<double>(c) / static_cast<double>(o.k);
  };
  if (n >= 2 && o.overlap_pairs > 0) {
    const double all = static_cast<double>(n) * static_cast<double>(n - 1) / 2.0;
    double sum = 0.0;
    if (all <= static_cast<double>(o.overlap_pairs)) {
      for (index_t a = 0; a < n; ++a)
        for (index_t b = a + 1; b < n; ++b) sum += overlap(a, b);
      st.overlap_pairs = static_cast<index_t>(all);
    } else {
      Rng rng(o.seed);
      for (index_t p = 0; p < o.overlap_pairs; ++p) {
        const auto a = static_cast<index_t>(rng.below(static_cast<std::uint64_t>(n)));
        auto b = static_cast<index_t>(rng.below(static_cast<std::uint64_t>(n - 1)));
        if (b >= a) ++b;
        sum += overlap(a, b);
      }
      st.overlap_pairs = o.overlap_pairs;
    }
    st.overlap = sum / static_cast<double>(st.overlap_pairs);
  }
  return st;
}

/// \brief Both at once for a callable recommender: lists of every item, HR/MRR on test, stats.
struct NextItemReport {
  NextItemResult next;
  ListStats lists;
};
template <class Recommend>
  requires std::invocable<const Recommend&, index_t, index_t>
NextItemReport evaluate_item_to_item(std::span<const Session> test, const CooccurrenceTable& table,
                                     const Recommend& recommend, const NextItemOptions& o = {}) {
  const RecommendationLists l = recommend_all(recommend, table.num_items(), o.k, o.threads);
  return {evaluate_next_item(test, table, l, o), list_statistics(l, table, o)};
}

}  // namespace ctrnet
