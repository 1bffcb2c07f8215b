// Training data and loop of the item-to-item model (models/item_to_item.hpp).
//
// ItemPairFeaturizer turns an item pair (A, B) into one model row from a CooccurrenceTable:
//   dense  = [pair features of (A, B) | item features of A | item features of B]
//   ids    = item_a = A, item_b = B;   targets[0] = X_AB (the table's weighted count, GloVe target)
// Positives (item_to_item_positives): for every training session x_0..x_{n-1} and i < j ≤ i + w
// (w = window), the pair (x_i → x_j) with weight 1/(j − i), the next-click direction the
// evaluation asks for, plus (x_j → x_i) with weight reverse_weight/(j − i); pairs of the same item
// are skipped. Each positive row is followed by `negatives` rows (A, B′) labelled 0 with the same
// weight — pointwise binary cross-entropy with sampled negatives. Negatives are drawn from the
// mixture  q(B′|A) = λ·[B′ ∈ N(A)]/|N(A)| + (1 − λ)·q0(B′),  q0 ∝ events^β,
// (λ = neighbor_negatives: "hard" negatives among A's co-occurring items N(A); β =
// negative_power, 0 = uniform) and importance-weighted by q0(B′)/q(B′|A), so the expected loss
// is that of negatives from q0 alone: the BCE optimum stays s*(A, B) = log(P(B|A) / (k·q0(B)))
// + const, a ranking by P(B|A) for β = 0 (the next-click target), while the comparisons that
// matter — among A's co-occurring items — get many more samples. A negative that co-occurs with A
// keeps its real pair features and X_AB (its GloVe term counts once more). The loop uses the
// ordinary Trainer::train_step: shards, thread independence and optimizers are the Trainer's.
// With ItemToItemListwise (GroupSoftmaxHead) the same rows form one softmax group per positive;
// the Trainer then gets row_group = 1 + negatives, so its shards never cut a group, for any batch
// size and shard count, and every positive is trained every epoch (the last batch may be partial).
// Pair-feature dropout (pair_dropout = p): a share p of the groups is featurized with every pair
// feature 0 (the GloVe target X_AB kept). Without it the model sees pair features 0 only on
// negatives, so its ranking of the items B that never co-occur with A — the ones that fill the
// lists of rarely seen items, all scored through the one context row u(A, 0) — is untrained and
// much the same for every A. Dropped groups train that ranking from the ids alone, and their GloVe
// term is plain GloVe on the ids. Meant for the listwise loss: a softmax within the group leaves
// the offset between the two regimes (pair features or none) to the ordinary groups. With the
// pointwise BCE loss the dropped positives (label 1 at pair features 0) lift the whole
// no-co-occurrence regime against the co-occurring items, which measured worse (yoochoose-100k:
// MRR@20 0.191 -> 0.177 at p = 0.7; docs/item_to_item.md).
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/data/cooccurrence.hpp"
#include "ctrnet/data/pair_features.hpp"
#include "ctrnet/models/item_to_item.hpp"
#include "ctrnet/train/trainer.hpp"

namespace ctrnet {

/// \brief Builds model rows for item pairs from a co-occurrence table (see the header comment).
class ItemPairFeaturizer {
 public:
  ItemPairFeaturizer() = default;
  /// `use_pair_features = false` keeps the schema but writes 0 for every pair feature: a model
  /// that sees only the two item ids and their popularity (the pointwise baseline).
  explicit ItemPairFeaturizer(const CooccurrenceTable& table, PairFeatureOptions o = {}, bool use_pair_features = true)
      : table_(&table), opt_(o), use_pair_(use_pair_features) {
    CTRNET_CHECK(table.num_items() > 0, "ItemPairFeaturizer: the co-occurrence table has no items");
    pair_names_ = pair_feature_names(table, o);
    F_ = static_cast<index_t>(pair_names_.size());
    I_ = item_feature_count();
    std::vector<std::string> item_names;
    for (const auto& n : item_feature_names()) item_names.push_back(n);
    schema_ = item_to_item_schema(table.num_items(), pair_names_, item_names);
    item_feats_.resize(static_cast<std::size_t>(table.num_items() * I_));
    for (index_t i = 0; i < table.num_items(); ++i)
      item_features(table, i, std::span<float>(item_feats_.data() + i * I_, static_cast<std::size_t>(I_)));
  }

  const CooccurrenceTable& table() const { return *table_; }
  const Schema& schema() const { return schema_; }
  index_t num_items() const { return table_->num_items(); }
  index_t num_pair_features() const { return F_; }
  index_t num_dense() const { return F_ + 2 * I_; }
  const PairFeatureOptions& options() const { return opt_; }
  bool uses_pair_features() const { return use_pair_; }

  /// A batch shaped for this schema (one extra target column: X_AB).
  Batch make_batch() const {
    Batch b;
    b.reset(schema_, 1);
    return b;
  }
  /// Appends row (a, b) with `label` and `weight`. `zero_pair` forces the pair features (and X)
  /// to 0 — the context row shared by every B that never co-occurs with A.
  void add(Batch& batch, index_t a, index_t b, float label, float weight, bool zero_pair = false) const {
    const std::size_t at = batch.dense_values.size();
    batch.dense_values.resize(at + static_cast<std::size_t>(num_dense()));
    float* d = batch.dense_values.data() + at;
    if (zero_pair || !use_pair_)
      std::fill(d, d + F_, 0.0f);
    else
      pair_features(*table_, a, b, std::span<float>(d, static_cast<std::size_t>(F_)), opt_);
    std::copy_n(item_feats_.data() + a * I_, I_, d + F_);
    std::copy_n(item_feats_.data() + b * I_, I_, d + F_ + I_);
    batch.ids[0].push_back(a);
    batch.offsets[0].push_back(static_cast<index_t>(batch.ids[0].size()));
    batch.ids[1].push_back(b);
    batch.offsets[1].push_back(static_cast<index_t>(batch.ids[1].size()));
    batch.labels.push_back(label);
    batch.weights.push_back(weight);
    batch.targets[0].push_back(zero_pair ? 0.0f : static_cast<float>(table_->count(a, b)));
  }
  /// Appends row (a, b) with the pair features set to 0 but the GloVe target X_AB kept: the row
  /// of a training group whose pair features are dropped (ItemToItemTrainOptions::pair_dropout).
  void add_without_pair_features(Batch& batch, index_t a, index_t b, float label, float weight) const {
    add(batch, a, b, label, weight, /*zero_pair=*/true);
    batch.targets[0].back() = static_cast<float>(table_->count(a, b));
  }

 private:
  const CooccurrenceTable* table_ = nullptr;
  PairFeatureOptions opt_;
  bool use_pair_ = true;
  std::vector<std::string> pair_names_;
  index_t F_ = 0, I_ = 0;
  Schema schema_;
  std::vector<float> item_feats_;
};

/// One training positive: A → B with a weight.
struct ItemPairExample {
  index_t a = 0, b = 0;
  float weight = 1.0f;
};

struct ItemToItemPositiveOptions {
  index_t window = 1;           ///< pairs up to this many events apart (1: consecutive clicks)
  double reverse_weight = 0.5;  ///< weight of the backward direction (x_j → x_i); 0: next-click only
  /// Recency: a session's pairs are weighted 2^(−(t_max − t_s)/half_life), t_s its first click's
  /// time, t_max the latest click of all sessions (same time unit as Session::times). 0: off.
  double half_life = 0.0;
};

/// Positives from sessions (raw item ids, mapped by the table; unknown items skipped).
inline std::vector<ItemPairExample> item_to_item_positives(const std::vector<Session>& sessions,
                                                           const CooccurrenceTable& table,
                                                           const ItemToItemPositiveOptions& o = {}) {
  CTRNET_CHECK(o.window >= 1, "item_to_item_positives: window must be >= 1, got ", o.window);
  CTRNET_CHECK(o.reverse_weight >= 0.0, "item_to_item_positives: reverse_weight must be >= 0");
  CTRNET_CHECK(o.half_life >= 0.0, "item_to_item_positives: half_life must be >= 0, got ", o.half_life);
  std::vector<ItemPairExample> out;
  std::vector<index_t> idx;
  double t_max = -1e300;
  if (o.half_life > 0.0)
    for (const Session& s : sessions)
      for (double t : s.times) t_max = std::max(t_max, t);
  for (const Session& s : sessions) {
    const double recency = o.half_life > 0.0 && !s.times.empty() ? std::exp2(-(t_max - s.times.front()) / o.half_life) : 1.0;
    idx.clear();
    for (std::int64_t raw : s.items) idx.push_back(table.index_of(raw));
    const auto n = static_cast<index_t>(idx.size());
    for (index_t i = 0; i < n; ++i)
      for (index_t j = i + 1; j < n && j <= i + o.window; ++j) {
        const index_t a = idx[static_cast<std::size_t>(i)], b = idx[static_cast<std::size_t>(j)];
        if (a < 0 || b < 0 || a == b) continue;
        const auto w = static_cast<float>(recency / static_cast<double>(j - i));
        out.push_back({a, b, w});
        if (o.reverse_weight > 0.0) out.push_back({b, a, static_cast<float>(w * o.reverse_weight)});
      }
  }
  return out;
}

struct ItemToItemTrainOptions {
  int epochs = 3;
  index_t batch_size = 256;      ///< positives per step (each with `negatives` negatives)
  index_t negatives = 4;
  double negative_power = 0.0;   ///< base negatives q0 ∝ events^β; 0: uniform (ranks by P(B|A))
  double neighbor_negatives = 0.5;  ///< λ: share of negatives drawn among A's co-occurring items
  /// Share of positives whose whole group (the positive and its negatives) is trained with the pair
  /// features set to 0 (X_AB, the GloVe target, kept): teaches the ids-only part of the model, which
  /// ranks the items B that never co-occur with A (see the header comment). 0: off.
  double pair_dropout = 0.0;
  int threads = 0;
  index_t shards = 8;
  std::uint64_t seed = 1;
  DenseOptimizerOptions optimizer = default_optimizer();                   ///< Adam, lr 2e-3
  SparseOptimizerOptions embedding_optimizer = default_embedding_optimizer();  ///< row-wise Adagrad, lr 0.1
  ScheduleOptions schedule{};  ///< learning-rate schedule over the steps (optim/schedule.hpp); constant by default
  std::function<void(int epoch, double loss, double seconds)> on_epoch{};

  static DenseOptimizerOptions default_optimizer() {
    DenseOptimizerOptions d;
    d.kind = DenseKind::adam;
    d.lr = 2e-3;
    return d;
  }
  static SparseOptimizerOptions default_embedding_optimizer() {
    SparseOptimizerOptions s;
    s.kind = SparseKind::rowwise_adagrad;
    s.lr = 0.1;
    return s;
  }
};

/// \brief Trains `model` on the positives (shuffled every epoch) with sampled negatives.
/// Returns the mean loss of the last epoch.
template <class M, class Policy = cpu_simd>
double train_item_to_item(M& model, const ItemPairFeaturizer& fz, const std::vector<ItemPairExample>& positives,
                          const ItemToItemTrainOptions& o, Policy policy = {}) {
  CTRNET_CHECK(!positives.empty(), "train_item_to_item: no training pairs (are the sessions longer than one event?)");
  CTRNET_CHECK(o.negatives >= 0, "train_item_to_item: negatives must be >= 0, got ", o.negatives);
  CTRNET_CHECK(o.neighbor_negatives >= 0.0 && o.neighbor_negatives < 1.0,
               "train_item_to_item: neighbor_negatives must be in [0, 1), got ", o.neighbor_negatives);
  CTRNET_CHECK(o.batch_size > 0, "train_item_to_item: batch_size must be positive, got ", o.batch_size);
  CTRNET_CHECK(o.pair_dropout >= 0.0 && o.pair_dropout < 1.0,
               "train_item_to_item: pair_dropout must be in [0, 1), got ", o.pair_dropout);
  TrainerOptions to;
  to.batch_size = o.batch_size * (1 + o.negatives);
  to.shards = o.shards;
  // Listwise: a positive and its negatives are one softmax group, which a shard must not split.
  // Pointwise: every row is its own example.
  to.row_group = is_listwise_item_to_item_v<M> ? 1 + o.negatives : 1;
  to.threads = o.threads;
  to.seed = o.seed;
  to.optimizer = o.optimizer;
  to.embedding_optimizer = o.embedding_optimizer;
  to.schedule = o.schedule;
  Trainer<M, Policy> trainer(model, to, policy);

  // Alias-free sampler: cumulative weights, binary search.
  const index_t N = fz.num_items();
  std::vector<double> cdf(static_cast<std::size_t>(N));
  double acc = 0.0;
  for (index_t i = 0; i < N; ++i) {
    acc += std::pow(static_cast<double>(std::max<std::int64_t>(fz.table().item_events(i), 1)), o.negative_power);
    cdf[static_cast<std::size_t>(i)] = acc;
  }
  auto draw = [&](Rng& rng) {
    const double u = rng.uniform() * acc;
    const auto it = std::upper_bound(cdf.begin(), cdf.end(), u);
    return static_cast<index_t>(std::min<std::ptrdiff_t>(it - cdf.begin(), N - 1));
  };
  auto q0 = [&](index_t b) {
    const auto ub = static_cast<std::size_t>(b);
    return (cdf[ub] - (ub > 0 ? cdf[ub - 1] : 0.0)) / acc;
  };
  const double lambda = o.neighbor_negatives;
  // Draws a negative for a and returns it with its importance weight q0(b) / q(b|a).
  auto draw_negative = [&](Rng& rng, index_t a, double& iw) {
    const auto nb = fz.table().neighbors(a);
    index_t b;
    if (lambda > 0.0 && !nb.empty() && rng.uniform() < lambda)
      b = nb[rng.below(nb.size())].item;
    else
      b = draw(rng);
    const bool in_nb = lambda > 0.0 && !nb.empty() && fz.table().find(a, b) != nullptr;
    const double q = (in_nb ? lambda / static_cast<double>(nb.size()) : 0.0) + (nb.empty() ? 1.0 : 1.0 - lambda) * q0(b);
    iw = q0(b) / q;
    return b;
  };

  std::vector<std::size_t> order(positives.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  Batch batch = fz.make_batch();
  BatchView view;  // re-used across steps
  double last = 0.0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    Rng rng(mix_seed(o.seed, 0x1712, static_cast<std::uint64_t>(epoch)));
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    double loss_sum = 0.0, weight_sum = 0.0;
    const auto batches = static_cast<std::int64_t>((order.size() + static_cast<std::size_t>(o.batch_size) - 1) /
                                                   static_cast<std::size_t>(o.batch_size));
    for (std::size_t begin = 0; begin < order.size(); begin += static_cast<std::size_t>(o.batch_size)) {
      const std::size_t end = std::min(order.size(), begin + static_cast<std::size_t>(o.batch_size));
      batch.clear();
      for (std::size_t k = begin; k < end; ++k) {
        const ItemPairExample& e = positives[order[k]];
        // The group's pair features are dropped with probability pair_dropout (no draw when 0, so
        // the random stream, and the result, are those of a run without the option).
        const bool drop = o.pair_dropout > 0.0 && rng.uniform() < o.pair_dropout;
        auto add = [&](index_t b, float label, float weight) {
          if (drop)
            fz.add_without_pair_features(batch, e.a, b, label, weight);
          else
            fz.add(batch, e.a, b, label, weight);
        };
        add(e.b, 1.0f, e.weight);
        for (index_t n = 0; n < o.negatives; ++n) {
          double iw = 1.0;
          index_t b = draw_negative(rng, e.a, iw);
          if (b == e.a) b = draw_negative(rng, e.a, iw);
          add(b, 0.0f, static_cast<float>(e.weight * iw));
        }
      }
      batch.set_size(static_cast<index_t>(batch.labels.size()));
      double w = 0.0;
      for (float x : batch.weights) w += x;
      const StepPlace at{epoch, static_cast<std::int64_t>(begin / static_cast<std::size_t>(o.batch_size)), batches};
      batch.view(view);
      loss_sum += trainer.train_step(view, at) * w;
      weight_sum += w;
    }
    detail::check_params_finite(model.registry(), model.params(), "train_item_to_item", trainer.step(),
                                StepPlace{epoch, batches - 1, batches});
    last = loss_sum / std::max(weight_sum, 1e-300);
    if (o.on_epoch)
      o.on_epoch(epoch, last, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return last;
}

}  // namespace ctrnet
