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
// ItemToItemTrainer runs it and resumes from a checkpoint bit for bit (ctrnet-vt --resume).
// With ItemToItemListwise (GroupSoftmaxHead) the same rows form one softmax group per positive;
// the Trainer then gets row_group = 1 + negatives, so fit shuffles whole groups, and every positive
// is trained every epoch (the last batch may be partial). The heads run over the whole batch (the
// Trainer's three phases), so no shard count can cut a group.
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
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
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
  index_t shards = 0;  ///< the Trainer's gradient shards: 0 = one per 256 rows, at most 8 (train/shards.hpp)
  std::uint64_t seed = 1;
  DenseOptimizerOptions optimizer = default_optimizer();                   ///< Adam, lr 2e-3
  SparseOptimizerOptions embedding_optimizer = default_embedding_optimizer();  ///< row-wise Adagrad, lr 0.1
  ScheduleOptions schedule{};  ///< learning-rate schedule over the steps (optim/schedule.hpp); constant by default
  std::function<void(int epoch, double loss, double seconds)> on_epoch{};
  /// Validation after every epoch, on the current model: named metrics, larger is better (e.g.
  /// next-item MRR@20 on held-out sessions, train/next_item_metrics.hpp). Empty: none.
  std::function<std::vector<std::pair<std::string, double>>()> validate{};
  /// The metric of `validate` that picks the best epoch and stops early (empty: the first one).
  std::string early_stopping_metric{};
  int patience = 0;            ///< with validate: stop after this many epochs without a new best; 0: never
  bool restore_best = true;    ///< with early stopping: keep the best epoch's model
  std::string log_path{};      ///< JSON lines, one object per epoch (fit_loop::epoch_json); empty: none
  ProgressMode progress = ProgressMode::automatic;
  /// ItemToItemTrainer::fit calls its on_checkpoint every `checkpoint_every` steps (0: only at
  /// epoch ends) and after every epoch.
  std::int64_t checkpoint_every = 0;
  /// Stop once the trainer's step count reaches max_steps (0: no limit), after a checkpoint: an
  /// interruption on purpose (ItemToItemResult::interrupted), resumable from its position.
  std::int64_t max_steps = 0;

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

/// Where ItemToItemTrainer::fit stopped.
struct ItemToItemResult {
  double loss = 0.0;         ///< mean loss of the last finished epoch (0 when none has finished)
  bool interrupted = false;  ///< stopped by ItemToItemTrainOptions::max_steps; resume from `position`
  TrainingPosition position; ///< epoch, batch, step, the sampler's Rng state and the epochs' statistics
  std::vector<EpochStats> epochs{};  ///< every finished epoch (a resumed run's earlier ones included)
  int best_epoch = 0;        ///< with validation: the epoch of the best metric; else the last
  bool stopped_early = false;
};

/// \brief The item-to-item training loop over a Trainer (see the header comment), resumable bit for
/// bit: the epoch's order is a pure function of (seed, epoch, positives), the negatives and pair dropout are
/// drawn from one Rng per epoch whose state a checkpoint records (TrainingPosition::rng_state),
/// and the Trainer's parameters, optimizer state and step are restored by
/// load_checkpoint(path, trainer()) (io/checkpoint.hpp). `fit`'s on_checkpoint receives the position
/// every `checkpoint_every` steps (0: only at epoch ends) and after every epoch, e.g. to call
/// save_checkpoint(path, trainer(), position).
template <class M, class Policy = cpu_simd>
class ItemToItemTrainer {
 public:
  ItemToItemTrainer(M& model, const ItemPairFeaturizer& fz, const ItemToItemTrainOptions& o, Policy policy = {})
      : model_(model), fz_(fz), o_(checked(o)), trainer_(model, trainer_options(o), policy) {
    // Alias-free sampler of the base negatives q0 ∝ events^β: cumulative weights, binary search.
    const index_t N = fz_.num_items();
    cdf_.resize(static_cast<std::size_t>(N));
    for (index_t i = 0; i < N; ++i) {
      acc_ += std::pow(static_cast<double>(std::max<std::int64_t>(fz_.table().item_events(i), 1)), o_.negative_power);
      cdf_[static_cast<std::size_t>(i)] = acc_;
    }
  }

  Trainer<M, Policy>& trainer() { return trainer_; }
  const ItemToItemTrainOptions& options() const { return o_; }

  /// Trains over `positives` (shuffled every epoch). With `resume` (from a checkpoint, after
  /// load_checkpoint(path, trainer())), continues where that run stopped, bit for bit.
  ItemToItemResult fit(const std::vector<ItemPairExample>& positives, const TrainingPosition* resume = nullptr,
                       const std::function<void(const TrainingPosition&)>& on_checkpoint = {}) {
    CTRNET_CHECK(!positives.empty(), "train_item_to_item: no training pairs (are the sessions longer than one event?)");
    const auto n = static_cast<index_t>(positives.size());
    const std::int64_t batches = fit_loop::batch_count(n, o_.batch_size);
    TrainingPosition pos = fit_loop::start_position(resume, trainer_.step(), n, o_.batch_size);
    if (resume != nullptr) {
      check_resume(pos, n, batches);
    } else {
      trainer_.set_best_params(std::nullopt);
    }
    FitState& fs = *pos.fit;
    fit_loop::EpochLog log(o_.log_path, resume != nullptr, "ItemToItemTrainer", pos.epoch);  // JSON lines
    auto finish = [&](bool interrupted) {
      ItemToItemResult r;
      r.loss = fs.epochs.empty() ? 0.0 : fs.epochs.back().train_loss;
      r.interrupted = interrupted;
      r.epochs = fs.epochs;
      r.best_epoch = fs.best_epoch;
      r.stopped_early = fs.stopped_early;
      fs.has_best_params = trainer_.best_params().has_value();
      r.position = pos;
      log.commit();
      return r;
    };

    Rng rng;  // the epoch's sampler (negatives, pair dropout), after its shuffle
    // Mid-epoch: the sampler where it stopped, already before the epoch starts (a checkpoint
    // written before start_epoch, e.g. when max_steps is already reached, records this state).
    if (pos.batch > 0) rng.set_state(pos.rng_state->data());
    // Epoch e's order: the identity shuffled by the Rngs of epochs 1, 2, ..., e in turn (each
    // epoch shuffles the previous order). A resumed run replays the earlier epochs' shuffles.
    std::vector<std::size_t> order(positives.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;  // host: the identity order
    std::int64_t shuffled = 0;  // the epochs whose shuffles `order` holds
    Batch batch = fz_.make_batch();
    BatchView view;  // re-used across steps
    fit_loop::EpochHooks h;
    h.start_epoch = [&](int epoch) {
      for (; shuffled < epoch - 1; ++shuffled)
        Rng(mix_seed(o_.seed, 0x1712, static_cast<std::uint64_t>(shuffled + 1))).shuffle(std::span<std::size_t>(order));
      rng = Rng(mix_seed(o_.seed, 0x1712, static_cast<std::uint64_t>(epoch)));
      rng.shuffle(std::span<std::size_t>(order));
      shuffled = epoch;
      if (pos.batch > 0) rng.set_state(pos.rng_state->data());  // mid-epoch: the sampler where it stopped
    };
    h.step = [&](index_t begin, index_t count, const StepPlace& at) {
      fill_batch(positives, order, static_cast<std::size_t>(begin), static_cast<std::size_t>(begin + count), rng, batch);
      double w = 0.0;
      for (float x : batch.weights) w += x;  // host: the batch's weight in the epoch's loss
      batch.view(view);
      return std::pair{trainer_.train_step(view, at), w};
    };
    h.global_step = [&] { return trainer_.step(); };
    h.check_params = [&](const StepPlace& at) {
      detail::check_params_finite(trainer_.policy(), model_.registry(), model_.params(), "train_item_to_item",
                                  trainer_.step(), at);
    };
    h.checkpoint = [&] {
      if (pos.batch > 0) {
        const std::uint64_t* st = rng.state();
        pos.rng_state = std::array<std::uint64_t, 4>{st[0], st[1], st[2], st[3]};
      } else {
        pos.rng_state.reset();  // an epoch's start: its Rng is a function of (seed, epoch)
      }
      fs.has_best_params = trainer_.best_params().has_value();
      if (on_checkpoint) on_checkpoint(pos);
    };
    h.lr_factor = [&] { return trainer_.lr_factor(); };
    h.evaluate = [&](EpochStats& st) {
      if (o_.validate) st.valid_metrics = o_.validate();
    };
    h.end_epoch = [&](const EpochStats& st) {
      if (o_.on_epoch) o_.on_epoch(st.epoch, st.train_loss, st.seconds);
      log.append(st, trainer_.step());
      const bool validated = static_cast<bool>(o_.validate);
      double metric = 0.0;
      if (validated) {
        CTRNET_CHECK(!st.valid_metrics.empty(), "ItemToItemTrainer: the validation returned no metric");
        const std::string& name = o_.early_stopping_metric.empty() ? st.valid_metrics.front().first : o_.early_stopping_metric;
        const auto it = std::find_if(st.valid_metrics.begin(), st.valid_metrics.end(),
                                     [&](const auto& kv) { return kv.first == name; });
        CTRNET_CHECK(it != st.valid_metrics.end(), "ItemToItemTrainer: the validation returned no metric named '", name,
                     "' (early_stopping_metric)");
        metric = it->second;
      }
      if (fit_loop::record_epoch(fs, st, validated, metric, {true, o_.patience}) && o_.patience > 0 && o_.restore_best)
        trainer_.set_best_params(model_.params());
    };
    if (fit_loop::run_epochs(pos, fit_loop::loop_options(o_, n), h)) return finish(true);
    if (trainer_.best_params() && fs.best_epoch != static_cast<int>(fs.epochs.size()))
      model_.params() = *trainer_.best_params();
    return finish(false);
  }

 private:
  static const ItemToItemTrainOptions& checked(const ItemToItemTrainOptions& o) {
    CTRNET_CHECK(o.negatives >= 0, "train_item_to_item: negatives must be >= 0, got ", o.negatives);
    CTRNET_CHECK(o.neighbor_negatives >= 0.0 && o.neighbor_negatives < 1.0,
                 "train_item_to_item: neighbor_negatives must be in [0, 1), got ", o.neighbor_negatives);
    CTRNET_CHECK(o.batch_size > 0, "train_item_to_item: batch_size must be positive, got ", o.batch_size);
    CTRNET_CHECK(o.pair_dropout >= 0.0 && o.pair_dropout < 1.0,
                 "train_item_to_item: pair_dropout must be in [0, 1), got ", o.pair_dropout);
    CTRNET_CHECK(o.checkpoint_every >= 0 && o.max_steps >= 0,
                 "train_item_to_item: checkpoint_every and max_steps must be >= 0");
    CTRNET_CHECK(o.patience >= 0, "train_item_to_item: patience must be >= 0, got ", o.patience);
    CTRNET_CHECK(o.validate || (o.patience == 0 && o.early_stopping_metric.empty()),
                 "train_item_to_item: patience and early_stopping_metric need a validation (validate)");
    return o;
  }
  static TrainerOptions trainer_options(const ItemToItemTrainOptions& o) {
    TrainerOptions to = step_engine_options(o, o.batch_size * (1 + o.negatives), "ItemToItemTrainer");
    // Listwise: a positive and its negatives are one softmax group, which a shard must not split.
    // Pointwise: every row is its own example.
    to.row_group = is_listwise_item_to_item_v<M> ? 1 + o.negatives : 1;
    return to;
  }

  void check_resume(const TrainingPosition& pos, index_t n, std::int64_t batches) const {
    CTRNET_CHECK(pos.step == trainer_.step(), "train_item_to_item: the position is at step ", pos.step,
                 " but the trainer at step ", trainer_.step(), "; restore it first (load_checkpoint(path, trainer()))");
    CTRNET_CHECK(pos.fit.has_value(), "train_item_to_item: the position to resume has no training state (not ",
                 "written by an item-to-item run)");
    CTRNET_CHECK(pos.fit->examples == n, "train_item_to_item: the run to resume trained on ", pos.fit->examples,
                 " positives, this one has ", n, ": resume with the same sessions and options");
    CTRNET_CHECK(pos.fit->batch_size == o_.batch_size, "train_item_to_item: the run to resume used batch size ",
                 pos.fit->batch_size, ", this one ", o_.batch_size);
    CTRNET_CHECK(pos.epoch >= 1 && pos.epoch <= o_.epochs + 1, "train_item_to_item: the run to resume has finished ",
                 pos.epoch - 1, " epochs, more than the ", o_.epochs, " of this run");
    CTRNET_CHECK(pos.batch >= 0 && pos.batch <= batches, "train_item_to_item: the position's batch ", pos.batch,
                 " is beyond the ", batches, " batches of an epoch");
    CTRNET_CHECK(pos.batch == 0 || pos.rng_state.has_value(), "train_item_to_item: a position inside an epoch ",
                 "needs the sampler's Rng state");
    CTRNET_CHECK(pos.fit->has_best_params == trainer_.best_params().has_value(), "train_item_to_item: the run to resume ",
                 pos.fit->has_best_params ? "kept" : "did not keep", " a copy of its best epoch's parameters, this "
                 "trainer ", trainer_.best_params() ? "holds one" : "does not",
                 " (restore it with load_checkpoint(path, trainer()))");
  }

  // Draws the negative of positive A and returns it with its importance weight q0(b) / q(b|A).
  index_t draw_negative(Rng& rng, index_t a, double& iw) const {
    const auto nb = fz_.table().neighbors(a);
    const double lambda = o_.neighbor_negatives;
    index_t b;
    if (lambda > 0.0 && !nb.empty() && rng.uniform() < lambda) {
      b = nb[rng.below(nb.size())].item;
    } else {
      const double u = rng.uniform() * acc_;
      const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
      b = static_cast<index_t>(std::min<std::ptrdiff_t>(it - cdf_.begin(), fz_.num_items() - 1));
    }
    const bool in_nb = lambda > 0.0 && !nb.empty() && fz_.table().find(a, b) != nullptr;
    const double q = (in_nb ? lambda / static_cast<double>(nb.size()) : 0.0) + (nb.empty() ? 1.0 : 1.0 - lambda) * q0(b);
    iw = q0(b) / q;
    return b;
  }
  double q0(index_t b) const {
    const auto ub = static_cast<std::size_t>(b);
    return (cdf_[ub] - (ub > 0 ? cdf_[ub - 1] : 0.0)) / acc_;
  }

  // The rows of positives order[begin..end), each followed by its negatives.
  void fill_batch(const std::vector<ItemPairExample>& positives, const std::vector<std::size_t>& order,
                  std::size_t begin, std::size_t end, Rng& rng, Batch& batch) const {
    batch.clear();
    for (std::size_t k = begin; k < end; ++k) {
      const ItemPairExample& e = positives[order[k]];
      // The group's pair features are dropped with probability pair_dropout (no draw when 0, so
      // the random stream, and the result, are those of a run without the option).
      const bool drop = o_.pair_dropout > 0.0 && rng.uniform() < o_.pair_dropout;
      auto add = [&](index_t b, float label, float weight) {
        if (drop)
          fz_.add_without_pair_features(batch, e.a, b, label, weight);
        else
          fz_.add(batch, e.a, b, label, weight);
      };
      add(e.b, 1.0f, e.weight);
      for (index_t j = 0; j < o_.negatives; ++j) {
        double iw = 1.0;
        index_t b = draw_negative(rng, e.a, iw);
        if (b == e.a) b = draw_negative(rng, e.a, iw);
        add(b, 0.0f, static_cast<float>(e.weight * iw));
      }
    }
    batch.set_size(static_cast<index_t>(batch.labels.size()));
  }

  M& model_;
  const ItemPairFeaturizer& fz_;
  ItemToItemTrainOptions o_;
  Trainer<M, Policy> trainer_;
  std::vector<double> cdf_;
  double acc_ = 0.0;
};

/// \brief Trains `model` on the positives (shuffled every epoch) with sampled negatives.
/// Returns the mean loss of the last epoch. (ItemToItemTrainer: the same loop, resumable.)
template <class M, class Policy = cpu_simd>
double train_item_to_item(M& model, const ItemPairFeaturizer& fz, const std::vector<ItemPairExample>& positives,
                          const ItemToItemTrainOptions& o, Policy policy = {}) {
  ItemToItemTrainer<M, Policy> t(model, fz, o, policy);
  return t.fit(positives).loss;
}

}  // namespace ctrnet
