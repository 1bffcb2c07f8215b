// Training and evaluation of two-tower retrieval models (compose/two_tower.hpp).
//
// Data: RetrievalData holds a query table (one row per query/user: its query-side fields), an
// item table (one row per catalogue item: its candidate-side fields; the row IS the item id) and
// the schema; Interactions are (query row, item row) positives. gather_pairs() assembles a batch
// whose row r is the pair (queries[q_r], items[i_r]), so both towers read the same BatchView.
//
// A step is the three phases of DESIGN.md, deterministic for a seed whatever the thread count:
//   1. both towers forward, shard-parallel (train/shards.hpp: the shard count depends on the batch,
//      never on the threads), and the candidate tower over the B′ sampled items for `mixed`, into
//      U: [B, d] and V: [B (+B′), d];
//   2. the objective over the whole batch (heads/retrieval.hpp): pointwise BCE on labelled pairs
//      (each positive plus `pointwise_negatives` uniformly drawn items labelled 0), in-batch
//      softmax over S = s(U, V): [B, B], or mixed negatives over [B, B + B′]; logQ from the
//      streaming FrequencyEstimator (updated with the batch's positives first); → dU, dV;
//   3. both towers backward shard-parallel; the shard gradients are summed in shard order, then
//      the dense optimizer (flat buffer) and one sparse optimizer per embedding table step.
// Randomness (shuffles, negatives) comes from ctrnet::Rng streams keyed by (seed, epoch/step).
// Resuming: fit() keeps its state in a TrainingPosition (train/fit_position.hpp: epoch, batch,
// step, and FitState: the epoch's running loss and the finished epochs' statistics). The epoch's
// order is a pure function of (seed, epoch), every step's negatives of (seed, step), tower dropout
// of (seed, step, layer, row) and the LR schedule of the step; the rest — parameters, optimizer
// state, the step count and the FrequencyEstimator — is what save_checkpoint(path, trainer,
// position) writes and load_checkpoint(path, trainer) restores (io/two_tower_checkpoint.hpp), so
// fit(data, train, &position) continues bit for bit. TwoTowerTrainerOptions::on_checkpoint receives
// the position every `checkpoint_every` steps and after every epoch; `max_steps` stops a run early.
// Evaluation ranks the whole catalogue for each query (serve/item_index.hpp) and reports
// Recall/NDCG/HitRate/MRR@K and coverage (train/ranking_metrics.hpp).
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tbb/parallel_for.h>

#include "ctrnet/compose/two_tower.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/staging.hpp"
#include "ctrnet/heads/retrieval.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/optim/model_optimizer.hpp"
#include "ctrnet/optim/schedule.hpp"
#include "ctrnet/policy/cpu_context.hpp"
#include "ctrnet/policy/cpu_simd.hpp"
#include "ctrnet/serve/item_index.hpp"
#include "ctrnet/train/divergence.hpp"
#include "ctrnet/train/epoch_loop.hpp"
#include "ctrnet/train/fit_position.hpp"
#include "ctrnet/train/progress.hpp"
#include "ctrnet/train/ranking_metrics.hpp"
#include "ctrnet/train/shards.hpp"

namespace ctrnet {

/// (query row, item row) pairs.
struct Interactions {
  std::vector<index_t> query{};
  std::vector<index_t> item{};
  void add(index_t q, index_t i) {
    query.push_back(q);
    item.push_back(i);
  }
  index_t size() const { return static_cast<index_t>(query.size()); }
};

/// The item rows of each query over one or more interaction sets, as sorted lists.
inline ItemLists item_lists(index_t num_queries, std::initializer_list<const Interactions*> sets) {
  std::vector<std::vector<index_t>> lists(static_cast<std::size_t>(num_queries));
  for (const Interactions* s : sets) {
    if (s == nullptr) continue;
    for (index_t r = 0; r < s->size(); ++r) {
      const index_t q = s->query[static_cast<std::size_t>(r)];
      CTRNET_CHECK(q >= 0 && q < num_queries, "interactions: query ", q, " is outside [0, ", num_queries, ")");
      lists[static_cast<std::size_t>(q)].push_back(s->item[static_cast<std::size_t>(r)]);
    }
  }
  return ItemLists(lists);
}

/// \brief Query table, item table (row = item id) and their schema.
struct RetrievalData {
  Schema schema{};
  InMemoryDataset queries{};          ///< row q: the query-side fields of query q
  InMemoryDataset items{};            ///< row i: the candidate-side fields of item i
  std::string query_group = "query";  ///< fields with Field::tower == query_group come from `queries`

  index_t num_queries() const { return queries.size(); }
  index_t num_items() const { return items.size(); }
};

/// Checks that both tables of `data` use `data.schema` itself: every field, in schema order (a
/// query table holding only the query-side fields is a ctrnet::Error, not an out-of-range read).
/// A query row's candidate-side fields and an item row's query-side fields are never read.
inline void check_retrieval_data(const RetrievalData& data, std::string_view who) {
  auto names = [](const Schema& s) {
    std::string out;
    for (const Field& f : s.fields()) out += (out.empty() ? "" : ", ") + f.name;
    return out;
  };
  auto same = [](const Schema& a, const Schema& b) {
    if (a.size() != b.size()) return false;
    for (index_t i = 0; i < a.size(); ++i)
      if (a.field(i).name != b.field(i).name || a.field(i).kind != b.field(i).kind) return false;
    return true;
  };
  for (const auto* t : {&data.queries, &data.items}) {
    const char* which = t == &data.queries ? "query" : "item";
    CTRNET_CHECK(same(t->schema(), data.schema), who, ": the ", which, " table's fields (", names(t->schema()),
                 ") differ from RetrievalData::schema's (", names(data.schema),
                 "): both tables must hold EVERY field of the schema, in schema order; the query table's "
                 "candidate-side fields and the item table's query-side fields are not read (leave their id "
                 "lists empty and their dense values 0). See docs/two_tower.md, \"Data layout\".");
  }
}

/// Batch of pairs: row r = query fields of queries[q_rows[r]] + other fields of items[i_rows[r]],
/// label labels[r] (1 when `labels` is empty), weight 1.
inline void gather_pairs(const RetrievalData& data, std::span<const index_t> q_rows, std::span<const index_t> i_rows,
                         std::span<const float> labels, Batch& out) {
  CTRNET_CHECK(q_rows.size() == i_rows.size(), "gather_pairs: ", q_rows.size(), " queries but ", i_rows.size(), " items");
  CTRNET_CHECK(labels.empty() || labels.size() == q_rows.size(), "gather_pairs: ", labels.size(), " labels for ",
               q_rows.size(), " pairs");
  check_retrieval_data(data, "gather_pairs");
  const Schema& s = data.schema;
  const Batch& qb = data.queries.data();
  const Batch& ib = data.items.data();
  if (out.num_dense() != s.num_dense() || static_cast<index_t>(out.ids.size()) != s.num_categorical()) out.reset(s);
  out.clear();
  const index_t nd = s.num_dense();
  for (std::size_t r = 0; r < q_rows.size(); ++r) {
    const index_t q = q_rows[r], it = i_rows[r];
    CTRNET_CHECK(q >= 0 && q < qb.size(), "gather_pairs: query row ", q, " is outside [0, ", qb.size(), ")");
    CTRNET_CHECK(it >= 0 && it < ib.size(), "gather_pairs: item row ", it, " is outside [0, ", ib.size(), ")");
    for (index_t f = 0; f < nd; ++f) {
      const bool from_q = s.dense(f).tower == data.query_group;
      out.dense_values.push_back(from_q ? qb.dense_values[static_cast<std::size_t>(q * nd + f)]
                                        : ib.dense_values[static_cast<std::size_t>(it * nd + f)]);
    }
    for (index_t f = 0; f < s.num_categorical(); ++f) {
      const bool from_q = s.categorical(f).tower == data.query_group;
      const Batch& src = from_q ? qb : ib;
      const auto row = static_cast<std::size_t>(from_q ? q : it);
      const auto uf = static_cast<std::size_t>(f);
      const auto b = src.offsets[uf][row], e = src.offsets[uf][row + 1];
      out.ids[uf].insert(out.ids[uf].end(), src.ids[uf].begin() + b, src.ids[uf].begin() + e);
      out.offsets[uf].push_back(static_cast<index_t>(out.ids[uf].size()));
    }
    out.labels.push_back(labels.empty() ? 1.0f : labels[r]);
    out.weights.push_back(1.0f);
  }
  out.set_size(static_cast<index_t>(q_rows.size()));
}

struct TwoTowerTrainerOptions {
  RetrievalObjective objective = RetrievalObjective::in_batch;
  int epochs = 10;
  index_t batch_size = 1024;        ///< positive pairs per step (B)
  /// Gradient shards per batch (the result never depends on `threads`): 0 = one per 256 pairs, at
  /// most 8 (train/shards.hpp); > 0: that many.
  index_t shards = 0;
  int threads = 0;                  ///< 0: every core oneTBB sees
  std::uint64_t seed = 1;
  bool shuffle = true;
  index_t pointwise_negatives = 4;  ///< pointwise: uniformly drawn negative pairs per positive
  index_t mixed_negatives = 512;    ///< mixed: B′ uniformly drawn corpus items per step
  /// mixed: logQ-correct the B′ sampled columns too (Yang et al.); false: only the in-batch ones
  /// (higher catalogue coverage on MovieLens, see docs/two_tower.md).
  bool mixed_correct_sampled = true;
  bool logq_correction = true;      ///< in-batch / mixed
  bool mask_accidental_hits = true; ///< in-batch / mixed
  FrequencyEstimatorOptions frequency{};
  DenseOptimizerOptions optimizer{};             ///< for the flat dense buffer (tower bodies)
  SparseOptimizerOptions embedding_optimizer{};  ///< for every embedding table
  ScheduleOptions schedule{};
  ProgressMode progress = ProgressMode::automatic;
  index_t eval_batch_size = 4096;
  /// Called by fit with the current position every `checkpoint_every` steps (0: only at epoch ends)
  /// and after every epoch, e.g. to write save_checkpoint(path, trainer, position)
  /// (io/two_tower_checkpoint.hpp). Never twice for one position.
  std::function<void(const TrainingPosition&)> on_checkpoint{};
  std::int64_t checkpoint_every = 0;
  /// fit stops once the step count reaches max_steps (0: no limit), after on_checkpoint: an
  /// interruption on purpose (TwoTowerFitResult::interrupted), resumable with fit(..., &position).
  std::int64_t max_steps = 0;
};

struct TwoTowerEpochStats {
  int epoch = 0;
  double train_loss = 0.0;
  double seconds = 0.0;
  double samples_per_second = 0.0;  ///< positive pairs per second (after a resume: of the resumed part)
};

/// What TwoTowerTrainer::fit returns: the statistics of every finished epoch (those of a resumed
/// run's earlier sessions included), whether max_steps interrupted it, and where it stopped.
struct TwoTowerFitResult : std::vector<TwoTowerEpochStats> {
  bool interrupted = false;   ///< stopped by TwoTowerTrainerOptions::max_steps; resume from `position`
  TrainingPosition position;  ///< where fit stopped
};

/// \brief Trains a TwoTower with one of the retrieval objectives; evaluates with full ranking.
template <class Model, class Policy = cpu_simd>
class TwoTowerTrainer {
 public:
  using T = typename Model::value_type;

  TwoTowerTrainer(Model& model, TwoTowerTrainerOptions opt, Policy policy = {})
      : model_(model), opt_(std::move(opt)), policy_(policy), own_context_(checked_threads(opt_.threads)),
        freq_(opt_.frequency, memory_of(policy_)), in_batch_(InBatchSoftmax::Options{opt_.logq_correction, opt_.mask_accidental_hits}),
        mixed_(MixedNegativeSoftmax::Options{opt_.mixed_negatives, opt_.logq_correction, opt_.mask_accidental_hits,
                                             opt_.mixed_correct_sampled}),
        schedule_(1.0, opt_.schedule) {
    CTRNET_CHECK(model_.built(), "TwoTowerTrainer: build the model before training it");
    give_context(policy_, own_context_);  // a cpu_simd policy without a context runs in the trainer's arena
    const PolicyScope scope(policy_);  // gradients and optimizer state live in the policy's memory
    CTRNET_CHECK(opt_.batch_size > 0, "TwoTowerTrainer: batch_size must be positive, got ", opt_.batch_size);
    CTRNET_CHECK(opt_.shards >= 0, "TwoTowerTrainer: shards must be >= 0 (0: one per 256 pairs, at most 8), got ",
                 opt_.shards);
    CTRNET_CHECK(opt_.epochs >= 0, "TwoTowerTrainer: epochs must be >= 0, got ", opt_.epochs);
    CTRNET_CHECK(opt_.pointwise_negatives >= 0, "TwoTowerTrainer: pointwise_negatives must be >= 0, got ",
                 opt_.pointwise_negatives);
    CTRNET_CHECK(opt_.eval_batch_size > 0, "TwoTowerTrainer: eval_batch_size must be positive");
    CTRNET_CHECK(opt_.checkpoint_every >= 0 && opt_.max_steps >= 0,
                 "TwoTowerTrainer: checkpoint_every and max_steps must be >= 0");
    ModelOptimizerOptions mo;
    mo.dense = opt_.optimizer;
    mo.tables = opt_.embedding_optimizer;
    optimizer_ = ModelOptimizer<T>(mo);
    optimizer_.init(model_.registry());
    shards_.resize(static_cast<std::size_t>(max_shard_count(opt_.shards)));
    for (auto& s : shards_) s.grads = model_.make_grads();
  }

  const TwoTowerTrainerOptions& options() const { return opt_; }
  std::int64_t step() const { return step_; }
  /// Sets the step count (number of train_step calls so far), e.g. when resuming a checkpoint.
  void set_step(std::int64_t s) {
    CTRNET_CHECK(s >= 0, "TwoTowerTrainer: negative step ", s);
    step_ = s;
  }
  Model& model() { return model_; }
  const Model& model() const { return model_; }
  /// The optimizers (dense + per table), e.g. to save or restore their state in a checkpoint.
  ModelOptimizer<T>& optimizer() { return optimizer_; }
  const FrequencyEstimator& frequency_estimator() const { return freq_; }
  /// Mutable, to restore a checkpoint's estimator state (FrequencyEstimator::restore).
  FrequencyEstimator& frequency_estimator() { return freq_; }
  /// Whether training updates and reads the FrequencyEstimator (logQ correction of in-batch / mixed).
  bool uses_frequency_estimator() const {
    return opt_.logq_correction && opt_.objective != RetrievalObjective::pointwise;
  }
  /// The summed gradient of the last forward_backward().
  const ModelGrads<T>& gradients() const { return shards_[0].grads; }

  /// Phases 1-3 on `pairs` (row r: a query and its item `pair_items[r]`) and, for `mixed`, the
  /// sampled items `sampled` with ids `sampled_items`. Leaves the summed gradient in gradients()
  /// and returns the loss averaged over the pairs' weights. Does not update the estimator.
  /// `corpus_size` (> 0) sets N, the size of the corpus the sampled items come from (mixed).
  double forward_backward(const BatchView& pairs, std::span<const FeatureId> pair_items, const BatchView* sampled = nullptr,
                          std::span<const FeatureId> sampled_items = {}, index_t corpus_size = 0) {
    const PolicyScope scope(policy_);  // the step's workspaces live in the policy's memory
    if (corpus_size > 0) corpus_size_ = corpus_size;
    const index_t n = pairs.size;
    const index_t m = sampled ? sampled->size : 0;
    const index_t d = model_.dim();
    CTRNET_CHECK(n > 0, "TwoTowerTrainer: empty batch");
    CTRNET_CHECK(static_cast<index_t>(pair_items.size()) == n, "TwoTowerTrainer: ", pair_items.size(),
                 " item ids for ", n, " pairs");
    CTRNET_CHECK(static_cast<index_t>(sampled_items.size()) == m, "TwoTowerTrainer: ", sampled_items.size(),
                 " sampled ids for ", m, " sampled items");
    CTRNET_CHECK(m == 0 || opt_.objective == RetrievalObjective::mixed,
                 "TwoTowerTrainer: sampled items are only used by the mixed objective");
    double norm = 0.0;
    for (index_t r = 0; r < n; ++r) norm += pairs.weight(r);
    CTRNET_CHECK(norm > 0.0, "TwoTowerTrainer: the batch's weights sum to ", norm, "; expected a positive total");
    const index_t S = shard_count(opt_.shards, n, n);
    const Context ctx{.training = true, .seed = opt_.seed, .step = static_cast<std::uint64_t>(step_), .first_row = 0};
    u_.resize(n, d);
    v_.resize(n + m, d);
    // The batches in the policy's memory (on the CPU policies: the host views themselves); the
    // normaliser above and the item ids stay on the host.
    const BatchView& staged = staged_pairs_.stage(policy_, pairs, model_.schema());
    const BatchView* staged_sampled = sampled ? &staged_sampled_.stage(policy_, *sampled, model_.schema()) : nullptr;
    loss_.resize(1);
    context().execute([&] {
      const PolicyScope arena_scope(policy_);  // execute() may run this on a worker thread
      // Phase 1: towers forward per shard.
      tbb::parallel_for(index_t(0), S, [&](index_t s) {
        Shard& sh = shards_[static_cast<std::size_t>(s)];
        const index_t b = s * n / S, e = (s + 1) * n / S;
        staged.rows(b, e - b, sh.pairs);
        model_.forward_query(policy_, sh.pairs, u_.view().row_block(b, e - b), sh.qc, ctx);
        model_.forward_candidate(policy_, sh.pairs, v_.view().row_block(b, e - b), sh.cc, ctx);
        const index_t sb = s * m / S, se = (s + 1) * m / S;
        if (se > sb) {
          staged_sampled->rows(sb, se - sb, sh.sampled);
          model_.forward_candidate(policy_, sh.sampled, v_.view().row_block(n + sb, se - sb), sh.nc, ctx);
        }
      });
      // Phase 2: the objective over the whole batch.
      du_.resize(n, d, T(0));
      dv_.resize(n + m, d, T(0));
      const auto& sim = model_.similarity();
      if (opt_.objective == RetrievalObjective::pointwise) {
        CTRNET_CHECK(pairs.labels != nullptr, "TwoTowerTrainer: the pointwise objective needs labelled pairs");
        s_.resize(n, 1);
        ds_.resize(n, 1, T(0));
        sim.forward_pairs(policy_, u_.cview(), v_.cview().row_block(0, n), s_.view(), sim_cache_);
        PointwiseBCE{}.loss(policy_, s_.cview(), staged.labels, staged.weights, 1.0 / norm, ds_.view(), loss_.data());
        sim.backward_pairs(policy_, sim_cache_, ds_.cview(), du_.view(), dv_.view().row_block(0, n));
      } else {
        s_.resize(n, n + m);
        ds_.resize(n, n + m, T(0));
        // The columns' item ids, copied into the policy's memory for the objective's kernels.
        ids_.resize(n + m);
        memory_of(policy_).copy(ids_.data(), pair_items.data(), static_cast<std::size_t>(n) * sizeof(FeatureId));
        if (m > 0)
          memory_of(policy_).copy(ids_.data() + n, sampled_items.data(), static_cast<std::size_t>(m) * sizeof(FeatureId));
        const std::span<const FeatureId> ids(ids_.data(), static_cast<std::size_t>(n + m));
        sim.forward(policy_, u_.cview(), v_.cview(), s_.view(), sim_cache_);
        if (opt_.objective == RetrievalObjective::in_batch)
          in_batch_.loss(policy_, s_.cview(), ids, &freq_, staged.weights, 1.0 / norm,
                         ds_.view(), ws_, loss_.data());
        else
          mixed_.loss(policy_, s_.cview(), ids, &freq_, corpus_size_, staged.weights,
                      1.0 / norm, ds_.view(), ws_, loss_.data());
        sim.backward(policy_, sim_cache_, ds_.cview(), du_.view(), dv_.view());
      }
      // Phase 3: towers backward per shard, then the fixed-order sum.
      tbb::parallel_for(index_t(0), S, [&](index_t s) {
        Shard& sh = shards_[static_cast<std::size_t>(s)];
        const index_t b = s * n / S, e = (s + 1) * n / S;
        sh.grads.zero();
        model_.backward_query(policy_, sh.qc, du_.cview().row_block(b, e - b), sh.grads);
        model_.backward_candidate(policy_, sh.cc, dv_.cview().row_block(b, e - b), sh.grads);
        const index_t sb = s * m / S, se = (s + 1) * m / S;
        if (se > sb) model_.backward_candidate(policy_, sh.nc, dv_.cview().row_block(n + sb, se - sb), sh.grads);
      });
      reduce_gradients(S);
    });
    double loss = 0.0;
    loss_.download(&loss);  // the step's one copy back
    return loss;
  }

  /// One optimisation step on the positive pairs (q_rows[r], i_rows[r]). Returns the mean loss. A NaN
  /// or infinite loss or gradient throws ctrnet::Error (naming the step and `at`) before the step is applied.
  double train_step(const RetrievalData& data, std::span<const index_t> q_rows, std::span<const index_t> i_rows,
                    const StepPlace& at = {}) {
    CTRNET_CHECK(!q_rows.empty(), "TwoTowerTrainer: empty batch");
    const PolicyScope scope(policy_);
    CTRNET_CHECK(q_rows.size() == i_rows.size(), "TwoTowerTrainer: ", q_rows.size(), " queries but ", i_rows.size(),
                 " items");
    const index_t N = data.num_items();
    corpus_size_ = N;
    Rng rng(mix_seed(opt_.seed, 0x5A3D1E, static_cast<std::uint64_t>(step_)));
    double loss = 0.0;
    if (opt_.objective == RetrievalObjective::pointwise) {
      const index_t k = opt_.pointwise_negatives;
      step_q_.clear();
      step_i_.clear();
      labels_.clear();
      for (std::size_t r = 0; r < q_rows.size(); ++r) {
        step_q_.push_back(q_rows[r]);
        step_i_.push_back(i_rows[r]);
        labels_.push_back(1.0f);
        for (index_t j = 0; j < k; ++j) {
          step_q_.push_back(q_rows[r]);
          step_i_.push_back(static_cast<index_t>(rng.below(static_cast<std::uint64_t>(N))));
          labels_.push_back(0.0f);
        }
      }
      gather_pairs(data, step_q_, step_i_, labels_, pair_batch_);
      item_ids_.assign(step_i_.begin(), step_i_.end());
      pair_batch_.view(pair_view_);
      loss = forward_backward(pair_view_, item_ids_);
    } else {
      gather_pairs(data, q_rows, i_rows, {}, pair_batch_);
      item_ids_.assign(i_rows.begin(), i_rows.end());
      if (opt_.logq_correction) freq_.update(policy_, item_ids_);
      if (opt_.objective == RetrievalObjective::mixed && opt_.mixed_negatives > 0) {
        mixed_.sample(rng, N, sampled_rows_);
        data.items.gather(sampled_rows_, sampled_batch_);
        sampled_ids_.assign(sampled_rows_.begin(), sampled_rows_.end());
        sampled_batch_.view(sampled_view_);
        pair_batch_.view(pair_view_);
        loss = forward_backward(pair_view_, item_ids_, &sampled_view_, sampled_ids_);
      } else {
        pair_batch_.view(pair_view_);
        loss = forward_backward(pair_view_, item_ids_);
      }
    }
    detail::check_step_loss(loss, "TwoTowerTrainer", step_, at);
    detail::check_grads_finite(policy_, model_.registry(), shards_[0].grads, "TwoTowerTrainer", step_, at);
    optimizer_.set_lr_scale(schedule_.factor_at(step_));
    context().execute([&] { optimizer_.step(policy_, model_.params(), shards_[0].grads); });
    ++step_;
    return loss;
  }

  /// `epochs` passes over `train` in shuffled mini-batches. With `resume` (a position from fit, e.g.
  /// read by load_checkpoint(path, trainer), which also restores the parameters, the optimizer
  /// state, the step count and the frequency estimator), continues where that run stopped, bit for bit.
  TwoTowerFitResult fit(const RetrievalData& data, const Interactions& train, const TrainingPosition* resume = nullptr) {
    const PolicyScope scope(policy_);
    CTRNET_CHECK(train.size() > 0, "TwoTowerTrainer: no training interactions");
    check_retrieval_data(data, "TwoTowerTrainer::fit");
    const index_t n = train.size();
    TrainingPosition pos = fit_loop::start_position(resume, step_, n, opt_.batch_size);
    if (resume != nullptr)
      fit_loop::check_resume(pos, "TwoTowerTrainer::fit", "load_checkpoint(path, trainer)", step_, n, opt_.batch_size,
                             opt_.epochs);
    FitState& fs = *pos.fit;
    auto finish = [&](bool interrupted) {
      TwoTowerFitResult r;
      for (const EpochStats& e : fs.epochs) r.push_back({e.epoch, e.train_loss, e.seconds, e.samples_per_second});
      r.interrupted = interrupted;
      r.position = pos;
      return r;
    };
    std::vector<index_t> order(static_cast<std::size_t>(n));
    std::vector<index_t> qs, is;
    fit_loop::EpochHooks h;
    h.start_epoch = [&](int epoch) {
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<index_t>(i);
      if (opt_.shuffle) {
        Rng rng(mix_seed(opt_.seed, 0xE90C, static_cast<std::uint64_t>(epoch)));
        rng.shuffle(std::span<index_t>(order));
      }
    };
    h.step = [&](index_t begin, index_t count, const StepPlace& at) {
      qs.clear();
      is.clear();
      for (index_t r = begin; r < begin + count; ++r) {  // host: the pairs' rows
        qs.push_back(train.query[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])]);
        is.push_back(train.item[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])]);
      }
      return std::pair{train_step(data, qs, is, at), static_cast<double>(count)};
    };
    h.global_step = [&] { return step_; };
    h.check_params = [&](const StepPlace& at) {
      detail::check_params_finite(policy_, model_.registry(), model_.params(), "TwoTowerTrainer", step_, at);
    };
    h.checkpoint = [&] {
      if (opt_.on_checkpoint) opt_.on_checkpoint(pos);
    };
    h.lr_factor = [&] { return schedule_.factor_at(step_); };
    h.end_epoch = [&](const EpochStats& st) { fs.best_epoch = st.epoch; };
    if (fit_loop::run_epochs(pos, fit_loop::loop_options(opt_, n), h)) return finish(true);
    return finish(false);
  }

  /// Serving vectors of the given query rows: [rows.size(), d].
  Matrix<T> encode_queries(const RetrievalData& data, std::span<const index_t> rows) {
    const PolicyScope scope(policy_);  // the vectors are allocated in the policy's memory
    check_retrieval_data(data, "TwoTowerTrainer::encode_queries");
    Matrix<T> out(static_cast<index_t>(rows.size()), model_.dim());
    Batch b;
    typename Model::QueryCache c;
    for (std::size_t begin = 0; begin < rows.size(); begin += static_cast<std::size_t>(opt_.eval_batch_size)) {
      const std::size_t cnt = std::min(rows.size() - begin, static_cast<std::size_t>(opt_.eval_batch_size));
      data.queries.gather(rows.subspan(begin, cnt), b);
      const BatchView host = b.view();
      const BatchView& staged = staged_queries_.stage(policy_, host, model_.schema());
      context().execute([&] {
        model_.encode_queries(policy_, staged, out.view().row_block(static_cast<index_t>(begin), static_cast<index_t>(cnt)), c);
      });
    }
    return out;
  }
  /// The catalogue's serving vectors.
  ItemIndex<T> build_index(const RetrievalData& data) {
    const PolicyScope scope(policy_);
    check_retrieval_data(data, "TwoTowerTrainer::build_index");
    ItemIndex<T> index;
    context().execute([&] {
      index = ItemIndex<T>::from_model(policy_, model_, data.items.data().view(), opt_.eval_batch_size);
    });
    return index;
  }

  /// Full ranking: every query q with relevant items is scored against the whole catalogue, its
  /// `seen` items (e.g. training interactions) are excluded, and the top K are compared with
  /// relevant(q). relevant / seen: one list per query row of `data` (seen may be empty).
  RankingResult evaluate(const RetrievalData& data, const ItemLists& relevant, const ItemLists& seen, index_t k) {
    const PolicyScope scope(policy_);
    CTRNET_CHECK(relevant.queries() == data.num_queries(), "TwoTowerTrainer::evaluate: ", relevant.queries(),
                 " relevant lists for ", data.num_queries(), " queries");
    CTRNET_CHECK(seen.queries() == 0 || seen.queries() == data.num_queries(), "TwoTowerTrainer::evaluate: ",
                 seen.queries(), " seen lists for ", data.num_queries(), " queries");
    std::vector<index_t> rows;
    ItemLists rel, excl;
    for (index_t q = 0; q < data.num_queries(); ++q) {
      if (relevant.of(q).empty()) continue;
      rows.push_back(q);
      rel.add(relevant.of(q));
      excl.add(seen.queries() ? seen.of(q) : std::span<const index_t>{});
    }
    CTRNET_CHECK(!rows.empty(), "TwoTowerTrainer::evaluate: no query has relevant items");
    const ItemIndex<T> index = build_index(data);
    const Matrix<T> qv = encode_queries(data, rows);
    RankingResult r;
    context().execute([&] { r = evaluate_full_ranking(policy_, index, qv.cview(), rel, excl, k); });
    return r;
  }

 private:
  static int checked_threads(int threads) {
    CTRNET_CHECK(threads >= 0, "TwoTowerTrainer: threads must be >= 0 (0: all cores), got ", threads);
    return threads;
  }
  // Where the work runs: the policy's CpuContext, else the trainer's own (threads option).
  CpuContext& context() { return context_of(policy_, own_context_); }

  struct Shard {
    typename Model::QueryCache qc;
    typename Model::CandidateCache cc, nc;
    ModelGrads<T> grads;
    BatchView pairs, sampled;
  };

  void reduce_gradients(index_t S) {
    reduce_shard_gradients(policy_, S, [&](index_t s) -> ModelGrads<T>& { return shards_[static_cast<std::size_t>(s)].grads; });
  }

  Model& model_;
  TwoTowerTrainerOptions opt_;
  Policy policy_;
  CpuContext own_context_;  // the arena of the steps (and of a cpu_simd policy that names none)
  FrequencyEstimator freq_;
  InBatchSoftmax in_batch_;
  MixedNegativeSoftmax mixed_;
  LrSchedule schedule_;
  ModelOptimizer<T> optimizer_;
  std::vector<Shard> shards_;
  std::int64_t step_ = 0;
  index_t corpus_size_ = 1;
  // Workspaces, reused every step.
  Matrix<T> u_, v_, du_, dv_, s_, ds_;
  Buffer<double> loss_;  // the objective's value, in the policy's memory
  typename Model::SimilarityCache sim_cache_;
  InBatchSoftmax::Workspace<T> ws_;
  Buffer<FeatureId> ids_;  // the softmax columns' item ids, in the policy's memory
  std::vector<FeatureId> item_ids_, sampled_ids_;
  std::vector<index_t> step_q_, step_i_, sampled_rows_;
  std::vector<float> labels_;
  Batch pair_batch_, sampled_batch_;
  StagedBatch staged_pairs_, staged_sampled_, staged_queries_;  // in the policy's memory (CPU: unused)
  BatchView pair_view_, sampled_view_;  // re-used: staging a step allocates nothing in steady state
};

}  // namespace ctrnet
