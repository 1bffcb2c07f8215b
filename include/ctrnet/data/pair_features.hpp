// Pair features of items (A, B) from a CooccurrenceTable: the "pair feature" input of an
// item-to-item ("viewed together") model, split in two parts so that retrieval stays exact:
//
// (i) pair features, pair_features(): every one is exactly 0 when A and B never co-occur
//     (table.find(a, b) == nullptr, or a or b is −1, an item unknown to the table):
//       cooccurs       1
//       log_count      log(1 + X_AB)                       (weighted count)
//       log_raw        log(1 + raw_AB)                     (event pairs)
//       log_action_t   log(1 + raw_AB,t) for each action type t (only when the table has T > 1
//                      action types and per_action_counts is set)
//       pmi            log(X_AB · X / (X_A · X_·B))        (pointwise mutual information of the
//                      co-occurrence matrix, Church & Hanks 1990; Levy & Goldberg 2014; X_A the
//                      row sum, X_·B the column sum, X the total; clipped at 0 when positive_pmi)
//       p_b_given_a    X_AB / X_A
//       p_a_given_b    X_AB / X_·B
// (ii) per-item features, item_features() / item_popularity_feature(): log popularity,
//       log_events     log(1 + events_i)
//       log_sessions   log(1 + sessions_i)
//
// The intended model use: the context tower of A takes (i) of (A, B) and (ii) of A, the item
// tower of B takes (ii) of B. For every B that never co-occurs with A the pair part is the
// zero vector, so the context vector of A is the same for all of them and scoring the whole
// catalogue needs one context vector for "A with no pair" plus one per co-occurring B: exact
// retrieval over all items (the rows of table.neighbors(a) are the only special cases).
#pragma once
#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/types.hpp"
#include "ctrnet/data/cooccurrence.hpp"

namespace ctrnet {

/// \brief Which pair features are produced (see the header comment).
struct PairFeatureOptions {
  bool per_action_counts = true;  ///< log_action_t per action type when the table has T > 1
  bool positive_pmi = false;      ///< clip PMI at 0 (PPMI)
};

namespace detail {
inline index_t pair_action_feature_count(const CooccurrenceTable& t, const PairFeatureOptions& o) {
  return o.per_action_counts && t.action_types() > 1 ? t.action_types() : 0;
}
}  // namespace detail

/// Number of pair features (part (i)) for this table and options.
inline index_t pair_feature_count(const CooccurrenceTable& t, const PairFeatureOptions& o = {}) {
  return 6 + detail::pair_action_feature_count(t, o);
}

/// Names of the pair features in output order.
inline std::vector<std::string> pair_feature_names(const CooccurrenceTable& t, const PairFeatureOptions& o = {}) {
  std::vector<std::string> n{"cooccurs", "log_count", "log_raw"};
  for (index_t a = 0; a < detail::pair_action_feature_count(t, o); ++a) n.push_back("log_action_" + std::to_string(a));
  n.insert(n.end(), {"pmi", "p_b_given_a", "p_a_given_b"});
  return n;
}

/// \brief Pair features of (a, b) into out: [pair_feature_count]. a or b may be −1 (unknown item):
/// then, as for pairs that never co-occur, every feature is 0.
inline void pair_features(const CooccurrenceTable& t, index_t a, index_t b, std::span<float> out,
                          const PairFeatureOptions& o = {}) {
  const index_t F = pair_feature_count(t, o);
  CTRNET_CHECK(static_cast<index_t>(out.size()) == F, "pair_features: output has ", out.size(),
               " values, expected ", F);
  std::fill(out.begin(), out.end(), 0.0f);
  if (a < 0 || b < 0) return;
  const index_t e = t.entry_index(a, b);
  if (e < 0) return;
  const CooccurrencePair& p = t.pairs()[static_cast<std::size_t>(e)];
  std::size_t k = 0;
  out[k++] = 1.0f;
  out[k++] = static_cast<float>(std::log1p(p.count));
  out[k++] = static_cast<float>(std::log1p(static_cast<double>(p.raw)));
  if (detail::pair_action_feature_count(t, o) > 0)
    for (std::int64_t c : t.action_counts(e)) out[k++] = static_cast<float>(std::log1p(static_cast<double>(c)));
  const double ra = t.row_sum(a), cb = t.col_sum(b);
  // A kept pair has X_AB > 0 only if its weights are; a zero-weight pair has no information.
  double pmi = 0.0, pba = 0.0, pab = 0.0;
  if (p.count > 0.0 && ra > 0.0 && cb > 0.0) {
    pmi = std::log(p.count) + std::log(t.total()) - std::log(ra) - std::log(cb);
    if (o.positive_pmi) pmi = std::max(pmi, 0.0);
    pba = p.count / ra;
    pab = p.count / cb;
  }
  out[k++] = static_cast<float>(pmi);
  out[k++] = static_cast<float>(pba);
  out[k++] = static_cast<float>(pab);
}

/// \brief Batched: row r of out (row-major [n, pair_feature_count]) gets the features of
/// (a[r], b[r]).
inline void pair_features(const CooccurrenceTable& t, std::span<const index_t> a, std::span<const index_t> b,
                          std::span<float> out, const PairFeatureOptions& o = {}) {
  CTRNET_CHECK(a.size() == b.size(), "pair_features: ", a.size(), " first items but ", b.size(), " second items");
  const auto F = static_cast<std::size_t>(pair_feature_count(t, o));
  CTRNET_CHECK(out.size() == a.size() * F, "pair_features: output has ", out.size(), " values, expected ",
               a.size(), " x ", F);
  for (std::size_t r = 0; r < a.size(); ++r) pair_features(t, a[r], b[r], out.subspan(r * F, F), o);
}

/// Batched into a matrix [n, pair_feature_count] (resized).
inline void pair_features(const CooccurrenceTable& t, std::span<const index_t> a, std::span<const index_t> b,
                          Matrix<float>& out, const PairFeatureOptions& o = {}) {
  out.resize(static_cast<index_t>(a.size()), pair_feature_count(t, o));
  pair_features(t, a, b, std::span<float>(out.data(), static_cast<std::size_t>(out.size())), o);
}

/// Number and names of the per-item features (part (ii)).
inline index_t item_feature_count() { return 2; }
inline std::vector<std::string> item_feature_names() { return {"log_events", "log_sessions"}; }

/// log(1 + events_i): the log popularity of item i; 0 for i = −1 (unknown item).
inline float item_popularity_feature(const CooccurrenceTable& t, index_t i) {
  return i < 0 ? 0.0f : static_cast<float>(std::log1p(static_cast<double>(t.item_events(i))));
}

/// \brief Per-item features of i into out: [item_feature_count] (zeros for i = −1).
inline void item_features(const CooccurrenceTable& t, index_t i, std::span<float> out) {
  CTRNET_CHECK(static_cast<index_t>(out.size()) == item_feature_count(), "item_features: output has ", out.size(),
               " values, expected ", item_feature_count());
  if (i < 0) {
    std::fill(out.begin(), out.end(), 0.0f);
    return;
  }
  out[0] = item_popularity_feature(t, i);
  out[1] = static_cast<float>(std::log1p(static_cast<double>(t.item_sessions(i))));
}

}  // namespace ctrnet
