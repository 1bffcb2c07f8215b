// Session co-occurrence counting: which items appear near each other in the same session
// (the input of "viewed together" item-to-item models and of the item-CF baselines).
//
// Counting semantics. A session is a time-ordered list of events x_0..x_{n-1} (item, action).
// Every pair of events (i, j), i < j, with distinct items, distance d = j − i and d ≤ window
// (window = 0: the whole session) adds the weight
//     w_ij = (distance_weighting ? 1/d : 1) · a(s_i) · a(s_j)
// to X_AB, A = x_i, B = x_j (GloVe's 1/d weighting, Pennington et al. 2014, "GloVe: Global
// Vectors for Word Representation", §4.2), where a(s) is the weight of action type s
// (action_weights; 1 when empty). Undirected (default): X_AB and X_BA both get w_ij, so X is
// symmetric. Directed: only X_AB (A earlier, B later). Pairs of the same item (repeated clicks)
// are not counted. The raw count of (A, B) is the number of such event pairs (no weights); it
// is split by the action type of B's event into per-action counts (their sum is the raw count).
// Per item: events (occurrences), sessions (sessions that contain it), events per action type.
// Row sums X_A = Σ_B X_AB, column sums X_·B = Σ_A X_AB and the total X = Σ X_AB are over the
// pairs kept in the table (after pruning), so conditionals and PMI are consistent with it.
//
// Item vocabulary: every item seen (also the ones of one-event sessions), dense indices
// 0..n−1 in increasing raw id order (so they do not depend on the order of the sessions).
//
// Determinism: weights are accumulated as 34.30 fixed-point integers (each w_ij is rounded to a
// multiple of 2^-30 once, error ≤ 2^-31 per contribution), so sums are exact and associative:
// the table is bitwise identical for any thread count and, without pruning, for any chunking of
// the stream into add() calls. Weighted counts must stay below 2^33 per pair.
//
// Memory bound (max_pairs > 0): sessions are counted in groups whose estimated number of
// pair contributions is at most max(2·max_pairs, 65536) (fixed by the sessions, not by the
// threads); after each group, when more than max_pairs distinct pairs are kept, only the
// max_pairs largest (by weighted count, ties by raw count then by (A, B)) are kept, the others
// are dropped: "lossy counting" in the spirit of Manku & Motwani 2002 and Metwally et al. 2005
// (space-saving), without their over-estimation. A session that alone exceeds the group budget
// is counted serially and pruned as it goes. The approximation: a kept pair's count is a lower
// bound of its exact count, short by at most CooccurrenceTable::prune_error_bound() (the sum of
// the largest dropped count at each prune); pairs never dropped are exact. With pruning the
// table is still identical for any thread count; the chunking into add() calls then changes
// where prunes happen. min_count is applied once, in finish().
//
// Usage:
//   CooccurrenceCounter counter(opts);
//   counter.add(sessions_chunk);  ... ;           // streaming, multi-threaded (oneTBB)
//   CooccurrenceTable t = counter.finish();        // or count_cooccurrence(sessions, opts)
//   t.find(a, b) -> const CooccurrencePair* (nullptr if never together); t.neighbors(a)
#pragma once
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/types.hpp"
#include "ctrnet/data/readers/sessions.hpp"

namespace ctrnet {

/// \brief How pairs are counted (see the header comment).
struct CooccurrenceOptions {
  index_t window = 5;               ///< events on each side; 0 = the whole session
  bool distance_weighting = true;   ///< weight 1/d as in GloVe (Pennington et al. 2014)
  bool directed = false;            ///< true: count only (earlier A, later B)
  std::vector<double> action_weights{};  ///< weight per action type id; empty = 1
  index_t action_types = 0;         ///< T, action ids 0..T−1; 0: action_weights.size(), or 1 if empty
  double min_count = 0;             ///< finish() drops pairs whose weighted count is below
  std::size_t max_pairs = 0;        ///< bound on distinct pairs kept while counting; 0 = unbounded
  int threads = 0;                  ///< oneTBB workers; 0 = all

  /// The number of action types T these options imply.
  index_t num_action_types() const {
    return action_types > 0 ? action_types
                            : (action_weights.empty() ? index_t(1) : static_cast<index_t>(action_weights.size()));
  }
};

/// Statistics of one pair (A, B), stored in row A; `item` is B's dense index.
struct CooccurrencePair {
  index_t item = 0;        ///< B
  double count = 0.0;      ///< X_AB, the weighted count
  std::int64_t raw = 0;    ///< number of event pairs, unweighted
};

/// \brief The counted co-occurrences: vocabulary, item popularity, pairs in CSR sorted by (A, B).
class CooccurrenceTable {
 public:
  CooccurrenceTable() = default;

  // --- vocabulary -----------------------------------------------------------------------
  index_t num_items() const { return static_cast<index_t>(ids_.size()); }
  /// Dense index of a raw item id, or −1 if the item was never seen.
  index_t index_of(std::int64_t raw) const {
    const auto it = std::lower_bound(ids_.begin(), ids_.end(), raw);
    return it != ids_.end() && *it == raw ? static_cast<index_t>(it - ids_.begin()) : index_t(-1);
  }
  std::int64_t item_id(index_t i) const { check_item(i); return ids_[static_cast<std::size_t>(i)]; }
  std::span<const std::int64_t> item_ids() const { return ids_; }

  // --- popularity -----------------------------------------------------------------------
  std::int64_t item_events(index_t i) const { check_item(i); return events_[static_cast<std::size_t>(i)]; }
  std::int64_t item_sessions(index_t i) const { check_item(i); return sessions_[static_cast<std::size_t>(i)]; }
  /// Events of item i per action type: [T].
  std::span<const std::int64_t> item_action_events(index_t i) const {
    check_item(i);
    return {item_actions_.data() + i * action_types_, static_cast<std::size_t>(action_types_)};
  }
  index_t action_types() const { return action_types_; }
  /// X_A = Σ_B X_AB and X_·B = Σ_A X_AB over the kept pairs.
  double row_sum(index_t a) const { check_item(a); return row_sum_[static_cast<std::size_t>(a)]; }
  double col_sum(index_t b) const { check_item(b); return col_sum_[static_cast<std::size_t>(b)]; }

  // --- pairs ----------------------------------------------------------------------------
  /// Row a: its partners B in increasing index order with their statistics.
  std::span<const CooccurrencePair> neighbors(index_t a) const {
    check_item(a);
    const auto b = static_cast<std::size_t>(offsets_[static_cast<std::size_t>(a)]);
    const auto e = static_cast<std::size_t>(offsets_[static_cast<std::size_t>(a) + 1]);
    return {pairs_.data() + b, e - b};
  }
  /// Position of (a, b) in pairs(), or −1 when they never co-occur (binary search in row a).
  index_t entry_index(index_t a, index_t b) const {
    const auto row = neighbors(a);
    const auto it = std::lower_bound(row.begin(), row.end(), b,
                                     [](const CooccurrencePair& p, index_t x) { return p.item < x; });
    if (it == row.end() || it->item != b) return -1;
    return static_cast<index_t>(&*it - pairs_.data());
  }
  /// The statistics of (a, b), or nullptr when they never co-occur.
  const CooccurrencePair* find(index_t a, index_t b) const {
    const index_t e = entry_index(a, b);
    return e < 0 ? nullptr : &pairs_[static_cast<std::size_t>(e)];
  }
  /// X_AB (0 when absent).
  double count(index_t a, index_t b) const {
    const CooccurrencePair* p = find(a, b);
    return p ? p->count : 0.0;
  }
  /// Raw counts of pair entry e split by the action type of B's event: [T].
  std::span<const std::int64_t> action_counts(index_t entry) const {
    CTRNET_CHECK(entry >= 0 && entry < num_pairs(), "CooccurrenceTable: pair entry ", entry, " out of range [0, ",
                 num_pairs(), ")");
    return {pair_actions_.data() + entry * action_types_, static_cast<std::size_t>(action_types_)};
  }
  std::span<const std::int64_t> action_counts(const CooccurrencePair& p) const {
    return action_counts(static_cast<index_t>(&p - pairs_.data()));
  }
  /// CSR arrays: row a is pairs()[offsets()[a] .. offsets()[a+1]).
  std::span<const index_t> offsets() const { return offsets_; }
  std::span<const CooccurrencePair> pairs() const { return pairs_; }
  /// Stored (A, B) entries; an undirected table stores both (A, B) and (B, A).
  index_t num_pairs() const { return static_cast<index_t>(pairs_.size()); }

  // --- totals ---------------------------------------------------------------------------
  double total() const { return total_; }              ///< X = Σ_AB X_AB
  std::int64_t total_raw() const { return total_raw_; }  ///< Σ_AB raw
  std::int64_t num_events() const { return num_events_; }
  std::int64_t num_sessions() const { return num_sessions_; }
  const CooccurrenceOptions& options() const { return options_; }
  /// Distinct (canonical) pairs dropped by the memory bound, and the bound on the count
  /// each kept pair may have lost (0: every count is exact).
  std::int64_t pruned_pairs() const { return pruned_pairs_; }
  double prune_error_bound() const { return prune_error_bound_; }
  /// Pairs removed by min_count in finish().
  std::int64_t below_min_count() const { return below_min_count_; }

 private:
  friend class CooccurrenceCounter;
  void check_item(index_t i) const {
    CTRNET_CHECK(i >= 0 && i < num_items(), "CooccurrenceTable: item index ", i, " out of range [0, ", num_items(),
                 ")");
  }

  CooccurrenceOptions options_;
  index_t action_types_ = 1;
  std::vector<std::int64_t> ids_, events_, sessions_, item_actions_;
  std::vector<double> row_sum_, col_sum_;
  std::vector<index_t> offsets_{0};
  std::vector<CooccurrencePair> pairs_;
  std::vector<std::int64_t> pair_actions_;
  double total_ = 0.0;
  std::int64_t total_raw_ = 0, num_events_ = 0, num_sessions_ = 0;
  std::int64_t pruned_pairs_ = 0, below_min_count_ = 0;
  double prune_error_bound_ = 0.0;
};

namespace detail {

/// 2^30: weights are accumulated as integer multiples of 2^-30 (exact, associative sums).
inline constexpr double kCoocFixedScale = 1073741824.0;

/// A sparse accumulator of canonical pairs: key = (first << 32) | second over counting-time
/// item ids; per entry (dense, in insertion order) the key, the fixed-point weighted count, the
/// raw count and `stride` per-action counts (undirected: [T actions of the second's event (row
/// first)] [T of the first's (row second)]). An open-addressing hash (linear probing, load ≤ 1/2)
/// maps keys to entries.
struct CoocAccumulator {
  static constexpr std::uint32_t kEmpty = 0xFFFFFFFFu;
  std::vector<std::uint32_t> table;  // [capacity], entry index or kEmpty
  std::vector<std::uint64_t> keys;
  std::vector<std::int64_t> weighted, raw, actions;
  index_t stride = 1;

  std::size_t size() const { return keys.size(); }
  static std::size_t hash(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    return static_cast<std::size_t>(k);
  }
  void grow() {
    const std::size_t cap = std::max<std::size_t>(64, table.size() * 2);
    table.assign(cap, kEmpty);
    for (std::size_t e = 0; e < keys.size(); ++e) {
      std::size_t h = hash(keys[e]) & (cap - 1);
      while (table[h] != kEmpty) h = (h + 1) & (cap - 1);
      table[h] = static_cast<std::uint32_t>(e);
    }
  }
  std::int64_t* add(std::uint64_t key, std::int64_t w, std::int64_t r) {
    if (2 * (keys.size() + 1) > table.size()) grow();
    const std::size_t mask = table.size() - 1;
    std::size_t h = hash(key) & mask;
    while (table[h] != kEmpty && keys[table[h]] != key) h = (h + 1) & mask;
    if (table[h] == kEmpty) {
      CTRNET_CHECK(keys.size() < kEmpty - 1, "co-occurrence counting: more than 2^32 distinct pairs; set "
                   "CooccurrenceOptions::max_pairs");
      table[h] = static_cast<std::uint32_t>(keys.size());
      keys.push_back(key);
      weighted.push_back(0);
      raw.push_back(0);
      actions.resize(actions.size() + static_cast<std::size_t>(stride), 0);
    }
    const std::size_t s = table[h];
    weighted[s] += w;
    raw[s] += r;
    return actions.data() + s * static_cast<std::size_t>(stride);
  }
  void merge_from(const CoocAccumulator& o) {
    for (std::size_t s = 0; s < o.size(); ++s) {
      std::int64_t* a = add(o.keys[s], o.weighted[s], o.raw[s]);
      const std::int64_t* b = o.actions.data() + s * static_cast<std::size_t>(stride);
      for (index_t t = 0; t < stride; ++t) a[t] += b[t];
    }
  }
  void clear() {
    table.clear();
    keys.clear();
    weighted.clear();
    raw.clear();
    actions.clear();
  }
  /// Keeps the `keep` largest entries (weighted, raw desc, key asc); returns the largest
  /// dropped weighted count (fixed point) and adds the number dropped to `dropped`.
  std::int64_t prune(std::size_t keep, std::int64_t& dropped) {
    if (size() <= keep) return 0;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> e(size());
    for (std::size_t k = 0; k < size(); ++k) e[k] = {keys[k], static_cast<std::uint32_t>(k)};
    auto better = [&](const auto& x, const auto& y) {
      if (weighted[x.second] != weighted[y.second]) return weighted[x.second] > weighted[y.second];
      if (raw[x.second] != raw[y.second]) return raw[x.second] > raw[y.second];
      return x.first < y.first;
    };
    std::nth_element(e.begin(), e.begin() + static_cast<std::ptrdiff_t>(keep), e.end(), better);
    std::int64_t threshold = 0;
    for (std::size_t k = keep; k < e.size(); ++k) threshold = std::max(threshold, weighted[e[k].second]);
    dropped += static_cast<std::int64_t>(e.size() - keep);
    e.resize(keep);
    std::sort(e.begin(), e.end());  // rebuild in key order (deterministic layout)
    CoocAccumulator n;
    n.stride = stride;
    for (const auto& [key, s] : e) {
      std::int64_t* a = n.add(key, weighted[s], raw[s]);
      std::copy_n(actions.data() + static_cast<std::size_t>(s) * static_cast<std::size_t>(stride), stride, a);
    }
    *this = std::move(n);
    return threshold;
  }
};

}  // namespace detail

/// \brief Streaming, multi-threaded, optionally memory-bounded co-occurrence counter.
class CooccurrenceCounter {
 public:
  explicit CooccurrenceCounter(CooccurrenceOptions opts = {}) : opts_(std::move(opts)) {
    CTRNET_CHECK(opts_.window >= 0, "CooccurrenceOptions::window must be >= 0 (0 = whole session), got ",
                 opts_.window);
    CTRNET_CHECK(opts_.min_count >= 0 && std::isfinite(opts_.min_count),
                 "CooccurrenceOptions::min_count must be finite and >= 0, got ", opts_.min_count);
    CTRNET_CHECK(opts_.action_types >= 0, "CooccurrenceOptions::action_types must be >= 0, got ", opts_.action_types);
    types_ = opts_.num_action_types();
    CTRNET_CHECK(opts_.action_weights.empty() || static_cast<index_t>(opts_.action_weights.size()) == types_,
                 "CooccurrenceOptions: action_weights has ", opts_.action_weights.size(),
                 " entries but action_types is ", types_);
    for (std::size_t t = 0; t < opts_.action_weights.size(); ++t) {
      const double w = opts_.action_weights[t];
      CTRNET_CHECK(std::isfinite(w) && w >= 0 && w <= 1e3, "CooccurrenceOptions::action_weights[", t,
                   "] must be in [0, 1000], got ", w);
    }
    acc_.stride = opts_.directed ? types_ : 2 * types_;
  }

  const CooccurrenceOptions& options() const { return opts_; }

  /// Counts a chunk of sessions (each ordered by time, as SessionLog::sessions() gives them).
  void add(std::span<const Session> sessions) {
    // Serial pass: vocabulary, item statistics, sessions as local ids; contributions estimate.
    const std::size_t S = sessions.size();
    std::vector<std::size_t> start(S + 1, 0);
    for (std::size_t s = 0; s < S; ++s) {
      const Session& x = sessions[s];
      CTRNET_CHECK(x.actions.empty() || x.actions.size() == x.items.size(), "co-occurrence: session ", x.id, " has ",
                   x.items.size(), " items but ", x.actions.size(), " actions");
      start[s + 1] = start[s] + x.items.size();
    }
    std::vector<std::uint32_t> local(start[S]);
    std::vector<std::int32_t> act(start[S]);
    std::vector<std::uint32_t> uniq;
    for (std::size_t s = 0; s < S; ++s) {
      const Session& x = sessions[s];
      uniq.clear();
      for (std::size_t i = 0; i < x.items.size(); ++i) {
        const std::int64_t a = x.actions.empty() ? 0 : x.actions[i];
        CTRNET_CHECK(a >= 0 && a < types_, "co-occurrence: session ", x.id, " event ", i, " (item ", x.items[i],
                     ") has action type ", a, ", expected 0..", types_ - 1,
                     " (set CooccurrenceOptions::action_types or action_weights)");
        auto [it, fresh] = vocab_.try_emplace(x.items[i], static_cast<std::uint32_t>(raw_ids_.size()));
        if (fresh) {
          CTRNET_CHECK(raw_ids_.size() < 0xFFFFFFFFu, "co-occurrence: more than 2^32 distinct items");
          raw_ids_.push_back(x.items[i]);
          events_.push_back(0);
          sessions_.push_back(0);
          item_actions_.resize(item_actions_.size() + static_cast<std::size_t>(types_), 0);
        }
        const std::uint32_t id = it->second;
        local[start[s] + i] = id;
        act[start[s] + i] = static_cast<std::int32_t>(a);
        ++events_[id];
        ++item_actions_[static_cast<std::size_t>(id) * static_cast<std::size_t>(types_) + static_cast<std::size_t>(a)];
        uniq.push_back(id);
      }
      std::sort(uniq.begin(), uniq.end());
      uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
      for (std::uint32_t id : uniq) ++sessions_[id];
      num_events_ += static_cast<std::int64_t>(x.items.size());
      ++num_sessions_;
    }

    // Groups of sessions bounded by their estimated contributions (independent of threads).
    const std::size_t budget =
        opts_.max_pairs > 0 ? std::max<std::size_t>(2 * opts_.max_pairs, 65536) : static_cast<std::size_t>(-1);
    auto estimate = [&](std::size_t s) {
      const std::size_t n = start[s + 1] - start[s];
      const std::size_t w = opts_.window > 0 ? static_cast<std::size_t>(opts_.window) : n;
      return n * std::min(n, w);
    };
    const int threads = opts_.threads > 0 ? opts_.threads : tbb::this_task_arena::max_concurrency();
    tbb::task_arena arena(std::max(1, threads));
    std::size_t g = 0;
    while (g < S) {
      std::size_t e = g, sum = 0;
      while (e < S && (e == g || sum + estimate(e) <= budget)) sum += estimate(e++);
      if (e - g == 1 && opts_.max_pairs > 0 && sum > budget) {
        // One huge session: serially, pruning as it goes (deterministic).
        detail::CoocAccumulator solo;
        solo.stride = acc_.stride;
        count_session(solo, local.data() + start[g], act.data() + start[g], start[g + 1] - start[g], true);
        acc_.merge_from(solo);
      } else {
        tbb::enumerable_thread_specific<detail::CoocAccumulator> tls([&] {
          detail::CoocAccumulator a;
          a.stride = acc_.stride;
          return a;
        });
        arena.execute([&] {
          tbb::parallel_for(tbb::blocked_range<std::size_t>(g, e, 16), [&](const tbb::blocked_range<std::size_t>& r) {
            detail::CoocAccumulator& a = tls.local();
            for (std::size_t s = r.begin(); s != r.end(); ++s)
              count_session(a, local.data() + start[s], act.data() + start[s], start[s + 1] - start[s], false);
          });
        });
        // Integer sums: the merge order does not matter (nor the entries' order, see finish()).
        for (auto& a : tls) {
          if (acc_.size() == 0) acc_ = std::move(a);
          else acc_.merge_from(a);
        }
      }
      prune_if_needed(acc_);
      g = e;
    }
  }
  void add(const std::vector<Session>& sessions) { add(std::span<const Session>(sessions)); }

  /// Builds the table of everything added so far (the counter can keep counting).
  CooccurrenceTable finish() const {
    CooccurrenceTable t;
    t.options_ = opts_;
    t.action_types_ = types_;
    const std::size_t n = raw_ids_.size();
    const auto T = static_cast<std::size_t>(types_);
    std::vector<std::uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return raw_ids_[a] < raw_ids_[b]; });
    std::vector<index_t> final_of(n);
    t.ids_.resize(n);
    t.events_.resize(n);
    t.sessions_.resize(n);
    t.item_actions_.resize(n * T);
    for (std::size_t k = 0; k < n; ++k) {
      const std::uint32_t l = order[k];
      final_of[l] = static_cast<index_t>(k);
      t.ids_[k] = raw_ids_[l];
      t.events_[k] = events_[l];
      t.sessions_[k] = sessions_[l];
      std::copy_n(item_actions_.data() + l * T, T, t.item_actions_.data() + k * T);
    }
    t.num_events_ = num_events_;
    t.num_sessions_ = num_sessions_;
    t.pruned_pairs_ = pruned_pairs_;
    t.prune_error_bound_ = static_cast<double>(prune_error_fixed_) / detail::kCoocFixedScale;

    // Entries (A, B, slot, action offset), filtered by min_count, sorted by (A, B).
    struct Entry {
      index_t a, b;
      std::uint32_t slot;
      std::uint32_t half;
    };
    std::vector<Entry> entries;
    entries.reserve(acc_.size() * (opts_.directed ? 1 : 2));
    std::int64_t below = 0;
    for (std::size_t k = 0; k < acc_.size(); ++k) {
      const std::uint64_t key = acc_.keys[k];
      const auto s = static_cast<std::uint32_t>(k);
      const double c = static_cast<double>(acc_.weighted[s]) / detail::kCoocFixedScale;
      const index_t a = final_of[static_cast<std::size_t>(key >> 32)];
      const index_t b = final_of[static_cast<std::size_t>(key & 0xFFFFFFFFu)];
      if (c < opts_.min_count) {
        below += opts_.directed ? 1 : 2;
        continue;
      }
      entries.push_back({a, b, s, 0});
      if (!opts_.directed) entries.push_back({b, a, s, 1});
    }
    t.below_min_count_ = below;
    // Bucket by row A (counting sort), then sort each row by B.
    t.offsets_.assign(n + 1, 0);
    for (const Entry& en : entries) ++t.offsets_[static_cast<std::size_t>(en.a) + 1];
    for (std::size_t i = 0; i < n; ++i) t.offsets_[i + 1] += t.offsets_[i];
    {
      std::vector<Entry> by_row(entries.size());
      std::vector<index_t> fill(t.offsets_.begin(), t.offsets_.end() - 1);
      for (const Entry& en : entries) by_row[static_cast<std::size_t>(fill[static_cast<std::size_t>(en.a)]++)] = en;
      entries.swap(by_row);
    }
    for (std::size_t i = 0; i < n; ++i)
      std::sort(entries.begin() + t.offsets_[i], entries.begin() + t.offsets_[i + 1],
                [](const Entry& x, const Entry& y) { return x.b < y.b; });
    t.pairs_.resize(entries.size());
    t.pair_actions_.resize(entries.size() * T);
    t.row_sum_.assign(n, 0.0);
    t.col_sum_.assign(n, 0.0);
    for (std::size_t k = 0; k < entries.size(); ++k) {
      const Entry& en = entries[k];
      CooccurrencePair& p = t.pairs_[k];
      p.item = en.b;
      p.count = static_cast<double>(acc_.weighted[en.slot]) / detail::kCoocFixedScale;
      p.raw = acc_.raw[en.slot];
      std::copy_n(acc_.actions.data() + static_cast<std::size_t>(en.slot) * static_cast<std::size_t>(acc_.stride) +
                      en.half * T,
                  T, t.pair_actions_.data() + k * T);
      t.row_sum_[static_cast<std::size_t>(en.a)] += p.count;
      t.col_sum_[static_cast<std::size_t>(en.b)] += p.count;
      t.total_raw_ += p.raw;
    }
    for (std::size_t i = 0; i < n; ++i) t.total_ += t.row_sum_[i];
    return t;
  }

  /// Distinct canonical pairs held now (undirected: one per unordered pair).
  std::size_t distinct_pairs() const { return acc_.size(); }

 private:
  void prune_if_needed(detail::CoocAccumulator& a) {
    if (opts_.max_pairs == 0 || a.size() <= opts_.max_pairs) return;
    prune_error_fixed_ += a.prune(opts_.max_pairs, pruned_pairs_);
  }

  void count_session(detail::CoocAccumulator& acc, const std::uint32_t* x, const std::int32_t* s, std::size_t n,
                     bool prune_as_it_goes) {
    const std::size_t w = opts_.window > 0 ? static_cast<std::size_t>(opts_.window) : n;
    const bool weights = !opts_.action_weights.empty();
    const auto T = static_cast<std::size_t>(types_);
    for (std::size_t i = 0; i < n; ++i) {
      const double wi = weights ? opts_.action_weights[static_cast<std::size_t>(s[i])] : 1.0;
      const std::size_t end = std::min(n, i + w + 1);
      for (std::size_t j = i + 1; j < end; ++j) {
        if (x[i] == x[j]) continue;
        const double d = static_cast<double>(j - i);
        double wt = opts_.distance_weighting ? 1.0 / d : 1.0;
        if (weights) wt *= wi * opts_.action_weights[static_cast<std::size_t>(s[j])];
        const auto fixed = static_cast<std::int64_t>(std::llround(wt * detail::kCoocFixedScale));
        if (opts_.directed) {
          std::int64_t* a = acc.add((std::uint64_t(x[i]) << 32) | x[j], fixed, 1);
          ++a[s[j]];
        } else {
          const bool fwd = x[i] < x[j];
          const std::uint32_t lo = fwd ? x[i] : x[j], hi = fwd ? x[j] : x[i];
          const std::int32_t s_lo = fwd ? s[i] : s[j], s_hi = fwd ? s[j] : s[i];
          std::int64_t* a = acc.add((std::uint64_t(lo) << 32) | hi, fixed, 1);
          ++a[s_hi];      // row lo, B = hi: the action of hi's event
          ++a[T + s_lo];  // row hi, B = lo
        }
      }
      if (prune_as_it_goes && acc.size() > 2 * opts_.max_pairs) prune_if_needed(acc);
    }
    if (prune_as_it_goes) prune_if_needed(acc);
  }

  CooccurrenceOptions opts_;
  index_t types_ = 1;
  std::unordered_map<std::int64_t, std::uint32_t> vocab_;
  std::vector<std::int64_t> raw_ids_, events_, sessions_, item_actions_;
  std::int64_t num_events_ = 0, num_sessions_ = 0;
  detail::CoocAccumulator acc_;
  std::int64_t pruned_pairs_ = 0;
  std::int64_t prune_error_fixed_ = 0;
};

/// \brief Counts all sessions at once (see CooccurrenceCounter).
inline CooccurrenceTable count_cooccurrence(const std::vector<Session>& sessions, const CooccurrenceOptions& opts = {}) {
  CooccurrenceCounter c(opts);
  c.add(std::span<const Session>(sessions));
  return c.finish();
}

}  // namespace ctrnet
