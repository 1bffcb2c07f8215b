// Training and evaluation of two-tower retrieval models (compose/two_tower.hpp).
//
// Data: RetrievalData holds a query table (one row per query/user: its query-side fields), an
// item table (one row per catalogue item: its candidate-side fields; the row IS the item id) and
// the schema; Interactions are (query row, item row) positives. gather_pairs() assembles a batch
// whose row r is the pair (queries[q_r], items[i_r]), so both towers read the same BatchView.
//
// A step is the Trainer's (train/trainer.hpp) on a RetrievalModel (compose/retrieval_model.hpp):
// this class assembles the step's batch — the pairs (pointwise: each positive plus
// `pointwise_negatives` uniformly drawn items labelled 0), every row's item id (Batch::items) and,
// for `mixed`, the B′ uniformly drawn corpus items as item-only rows — and updates the streaming
// FrequencyEstimator with the batch's positives; the Trainer then runs the three phases of
// DESIGN.md, deterministic for a seed whatever the thread count:
//   1. both towers forward, shard-parallel (train/shards.hpp: the shard count depends on the batch,
//      never on the threads), into each row's [u | v];
//   2. the objective over the whole batch (heads/retrieval.hpp, RetrievalHead): pointwise BCE on
//      labelled pairs, in-batch softmax over S = s(U, V): [B, B], or mixed negatives over
//      [B, B + B′]; logQ from the estimator; → d[U | V];
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
// Validation: fit(data, train, RetrievalValidation) ranks the catalogue for the validation queries
// after every epoch (EpochStats::valid_metrics: recall@K, ...), with early stopping (patience,
// restore_best: the best epoch's copy is checkpointed too) and a JSON-lines log (log_path), the
// end-of-epoch code the Trainer's fit shares (train/epoch_loop.hpp).
// Evaluation ranks the whole catalogue for each query (serve/item_index.hpp) and reports
// Recall/NDCG/HitRate/MRR@K and coverage (train/ranking_metrics.hpp).
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ctrnet/compose/retrieval_model.hpp"
#include "ctrnet/compose/two_tower.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/staging.hpp"
#include "ctrnet/heads/retrieval.hpp"
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
#include "ctrnet/train/trainer.hpp"

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
  /// Gradient shards per batch (the result never depends on `threads`): 0 = one per 256 rows of the
  /// step's batch (pairs, pointwise negatives and the mixed objective's sampled items), at most 8
  /// (train/shards.hpp); > 0: that many.
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
  /// With a RetrievalValidation: the ranking metric at K that picks the best epoch and stops early:
  /// "recall", "ndcg", "hit_rate", "mrr" or "coverage" (larger is better).
  std::string early_stopping_metric = "recall";
  int patience = 0;                ///< 0: no early stopping
  bool restore_best = true;        ///< with early stopping: keep the best epoch's model
  std::string log_path{};          ///< JSON lines, one object per epoch (fit_loop::epoch_json); empty: none
  /// Called after every epoch (after validation) with its statistics.
  std::function<void(const EpochStats&)> on_epoch{};
};

/// What TwoTowerTrainer::fit validates on after every epoch: the full ranking of evaluate() for
/// every query row with relevant items, reported as EpochStats::valid_metrics "recall@K",
/// "ndcg@K", "hit_rate@K", "mrr@K", "coverage@K".
struct RetrievalValidation {
  ItemLists relevant{};  ///< one list per query row of the data: the held-out items
  ItemLists seen{};      ///< one list per query row, or none: items left out of the ranking (e.g. training)
  index_t k = 10;
};

/// The named metrics of a ranking at K (EpochStats::valid_metrics).
inline std::vector<std::pair<std::string, double>> ranking_metrics(const RankingResult& r) {
  const std::string at = "@" + std::to_string(r.k);
  return {{"recall" + at, r.recall}, {"ndcg" + at, r.ndcg}, {"hit_rate" + at, r.hit_rate}, {"mrr" + at, r.mrr},
          {"coverage" + at, r.coverage}};
}

struct TwoTowerEpochStats {
  int epoch = 0;
  double train_loss = 0.0;
  double seconds = 0.0;
  double samples_per_second = 0.0;  ///< positive pairs per second (after a resume: of the resumed part)
  std::vector<std::pair<std::string, double>> valid_metrics{};  ///< with validation: recall@K, ... (ranking_metrics)
};

/// What TwoTowerTrainer::fit returns: the statistics of every finished epoch (those of a resumed
/// run's earlier sessions included), whether max_steps interrupted it, and where it stopped.
struct TwoTowerFitResult : std::vector<TwoTowerEpochStats> {
  bool interrupted = false;   ///< stopped by TwoTowerTrainerOptions::max_steps; resume from `position`
  TrainingPosition position;  ///< where fit stopped
  int best_epoch = 0;         ///< with validation: the epoch of the best metric; else the last
  bool stopped_early = false;
};

/// Appends catalogue items `rows` of `data` to `out` as item-only rows (BatchView::items_only): their
/// candidate-side fields, item id = row, no query (query-side fields empty / 0), label 0, weight 0
/// (they add columns to a softmax, not examples to the normaliser). E.g. the mixed objective's
/// sampled items after the batch's pairs.
inline void append_items(const RetrievalData& data, std::span<const index_t> rows, Batch& out) {
  check_retrieval_data(data, "append_items");
  const Schema& s = data.schema;
  const Batch& ib = data.items.data();
  const index_t nd = s.num_dense();
  const index_t n = out.size();
  CTRNET_CHECK(static_cast<index_t>(out.items.size()) == n, "append_items: the batch's ", n, " rows have ",
               out.items.size(), " item ids; item-only rows follow rows with item ids");
  for (const index_t it : rows) {  // host: assembling a host batch
    CTRNET_CHECK(it >= 0 && it < ib.size(), "append_items: item row ", it, " is outside [0, ", ib.size(), ")");
    for (index_t f = 0; f < nd; ++f)
      out.dense_values.push_back(s.dense(f).tower == data.query_group ? 0.0f
                                                                      : ib.dense_values[static_cast<std::size_t>(it * nd + f)]);
    for (index_t f = 0; f < s.num_categorical(); ++f) {
      const auto uf = static_cast<std::size_t>(f);
      if (s.categorical(f).tower != data.query_group) {
        const auto b = ib.offsets[uf][static_cast<std::size_t>(it)], e = ib.offsets[uf][static_cast<std::size_t>(it) + 1];
        out.ids[uf].insert(out.ids[uf].end(), ib.ids[uf].begin() + b, ib.ids[uf].begin() + e);
      }
      out.offsets[uf].push_back(static_cast<index_t>(out.ids[uf].size()));
    }
    out.labels.push_back(0.0f);
    out.weights.push_back(0.0f);
    out.items.push_back(it);
  }
  out.items_only += static_cast<index_t>(rows.size());
  out.set_size(n + static_cast<index_t>(rows.size()));
}

/// \brief Trains a TwoTower with one of the retrieval objectives; evaluates with full ranking.
///
/// The step is the Trainer's (train/trainer.hpp) on a RetrievalModel (compose/retrieval_model.hpp):
/// this class turns positives into the step's batch (pairs, the pointwise negatives, the mixed
/// objective's sampled items as item-only rows, every row's item id), keeps the frequency
/// estimator of the logQ correction and runs the epochs.
template <class Model, class Policy = cpu_simd>
class TwoTowerTrainer {
 public:
  using T = typename Model::value_type;
  using StepModel = RetrievalModel<Model>;

  // Not copyable or movable: the Trainer refers to this object's step model, the head to its estimator.
  TwoTowerTrainer(const TwoTowerTrainer&) = delete;
  TwoTowerTrainer& operator=(const TwoTowerTrainer&) = delete;

  TwoTowerTrainer(Model& model, TwoTowerTrainerOptions opt, Policy policy = {})
      : model_(model), opt_(checked(std::move(opt), model)), freq_(opt_.frequency, memory_of(policy)),
        sampler_(MixedNegativeSoftmax::Options{opt_.mixed_negatives, opt_.logq_correction, opt_.mask_accidental_hits,
                                               opt_.mixed_correct_sampled}),
        step_model_(model, head_options(opt_), &freq_), trainer_(step_model_, trainer_options(opt_), policy) {}

  const TwoTowerTrainerOptions& options() const { return opt_; }
  std::int64_t step() const { return trainer_.step(); }
  /// Sets the step count (number of train_step calls so far), e.g. when resuming a checkpoint.
  void set_step(std::int64_t s) {
    CTRNET_CHECK(s >= 0, "TwoTowerTrainer: negative step ", s);
    trainer_.set_step(s);
  }
  Model& model() { return model_; }
  const Model& model() const { return model_; }
  /// The Trainer that runs the steps, on the model with its objective as the head.
  Trainer<StepModel, Policy>& trainer() { return trainer_; }
  /// The optimizers (dense + per table), e.g. to save or restore their state in a checkpoint.
  ModelOptimizer<T>& optimizer() { return trainer_.optimizer(); }
  const FrequencyEstimator& frequency_estimator() const { return freq_; }
  /// Mutable, to restore a checkpoint's estimator state (FrequencyEstimator::restore).
  FrequencyEstimator& frequency_estimator() { return freq_; }
  /// Whether training updates and reads the FrequencyEstimator (logQ correction of in-batch / mixed).
  bool uses_frequency_estimator() const {
    return opt_.logq_correction && opt_.objective != RetrievalObjective::pointwise;
  }
  /// The summed gradient of the last forward_backward() or train_step() (before the optimizer).
  const ModelGrads<T>& gradients() const { return trainer_.gradients(); }

  /// The step's three phases without the optimizer, on the pairs (q_rows[r], i_rows[r]) of `data`
  /// (labelled `labels` for the pointwise objective) and, for `mixed`, the catalogue items
  /// `sampled` as extra columns: leaves the summed gradient in gradients() and returns the loss
  /// averaged over the pairs. Does not update the estimator (e.g. for gradient checks).
  double forward_backward(const RetrievalData& data, std::span<const index_t> q_rows, std::span<const index_t> i_rows,
                          std::span<const float> labels = {}, std::span<const index_t> sampled = {}) {
    const PolicyScope scope(trainer_.policy());
    CTRNET_CHECK(sampled.empty() || opt_.objective == RetrievalObjective::mixed,
                 "TwoTowerTrainer: sampled items are only used by the mixed objective");
    make_batch(data, q_rows, i_rows, labels, sampled);
    return trainer_.compute_gradients(view_);
  }

  /// One optimisation step on the positive pairs (q_rows[r], i_rows[r]). Returns the mean loss. A NaN
  /// or infinite loss or gradient throws ctrnet::Error (naming the step and `at`) before the step is applied.
  double train_step(const RetrievalData& data, std::span<const index_t> q_rows, std::span<const index_t> i_rows,
                    const StepPlace& at = {}) {
    CTRNET_CHECK(!q_rows.empty(), "TwoTowerTrainer: empty batch");
    const PolicyScope scope(trainer_.policy());
    CTRNET_CHECK(q_rows.size() == i_rows.size(), "TwoTowerTrainer: ", q_rows.size(), " queries but ", i_rows.size(),
                 " items");
    const index_t N = data.num_items();
    Rng rng(mix_seed(opt_.seed, 0x5A3D1E, static_cast<std::uint64_t>(step())));
    if (opt_.objective == RetrievalObjective::pointwise) {
      const index_t k = opt_.pointwise_negatives;
      step_q_.clear();
      step_i_.clear();
      labels_.clear();
      for (std::size_t r = 0; r < q_rows.size(); ++r) {  // host: the pairs and their sampled negatives
        step_q_.push_back(q_rows[r]);
        step_i_.push_back(i_rows[r]);
        labels_.push_back(1.0f);
        for (index_t j = 0; j < k; ++j) {
          step_q_.push_back(q_rows[r]);
          step_i_.push_back(static_cast<index_t>(rng.below(static_cast<std::uint64_t>(N))));
          labels_.push_back(0.0f);
        }
      }
      make_batch(data, step_q_, step_i_, labels_, {});
    } else {
      sampled_rows_.clear();
      if (opt_.objective == RetrievalObjective::mixed && opt_.mixed_negatives > 0) sampler_.sample(rng, N, sampled_rows_);
      make_batch(data, q_rows, i_rows, {}, sampled_rows_);  // checks the rows before the estimator moves
      if (opt_.logq_correction) {
        item_ids_.assign(i_rows.begin(), i_rows.end());
        freq_.update(trainer_.policy(), item_ids_);
      }
    }
    return trainer_.train_step(view_, at);
  }

  /// `epochs` passes over `train` in shuffled mini-batches. With `resume` (a position from fit, e.g.
  /// read by load_checkpoint(path, trainer), which also restores the parameters, the optimizer
  /// state, the step count, the frequency estimator and the best epoch's copy), continues where
  /// that run stopped, bit for bit.
  TwoTowerFitResult fit(const RetrievalData& data, const Interactions& train, const TrainingPosition* resume = nullptr) {
    return run_fit(data, train, nullptr, resume);
  }
  /// fit() with a full-ranking validation after every epoch (EpochStats::valid_metrics), early
  /// stopping on options().early_stopping_metric (patience) and the best epoch's model kept
  /// (restore_best).
  TwoTowerFitResult fit(const RetrievalData& data, const Interactions& train, const RetrievalValidation& valid,
                        const TrainingPosition* resume = nullptr) {
    return run_fit(data, train, &valid, resume);
  }

  /// The best epoch's parameters kept by early stopping (patience > 0 and restore_best), if any.
  const std::optional<ModelParams<T>>& best_params() const { return best_params_; }
  /// Restores them (checkpoints): same layout as the model's parameters.
  void set_best_params(std::optional<ModelParams<T>> p) {
    CTRNET_CHECK(!p || (p->dense.size() == model_.params().dense.size() && p->tables.size() == model_.params().tables.size()),
                 "TwoTowerTrainer: best parameters of another layout than the model's");
    best_params_ = std::move(p);
  }

  /// Serving vectors of the given query rows: [rows.size(), d].
  Matrix<T> encode_queries(const RetrievalData& data, std::span<const index_t> rows) {
    const auto& policy = trainer_.policy();
    const PolicyScope scope(policy);  // the vectors are allocated in the policy's memory
    check_retrieval_data(data, "TwoTowerTrainer::encode_queries");
    Matrix<T> out(static_cast<index_t>(rows.size()), model_.dim());
    Batch b;
    typename Model::QueryCache c;
    for (std::size_t begin = 0; begin < rows.size(); begin += static_cast<std::size_t>(opt_.eval_batch_size)) {
      const std::size_t cnt = std::min(rows.size() - begin, static_cast<std::size_t>(opt_.eval_batch_size));
      data.queries.gather(rows.subspan(begin, cnt), b);
      const BatchView host = b.view();
      const BatchView& staged = staged_queries_.stage(policy, host, model_.schema());
      trainer_.context().execute([&] {
        model_.encode_queries(policy, staged, out.view().row_block(static_cast<index_t>(begin), static_cast<index_t>(cnt)), c);
      });
    }
    return out;
  }
  /// The catalogue's serving vectors.
  ItemIndex<T> build_index(const RetrievalData& data) {
    const auto& policy = trainer_.policy();
    const PolicyScope scope(policy);
    check_retrieval_data(data, "TwoTowerTrainer::build_index");
    ItemIndex<T> index;
    trainer_.context().execute([&] {
      index = ItemIndex<T>::from_model(policy, model_, data.items.data().view(), opt_.eval_batch_size);
    });
    return index;
  }

  /// Full ranking: every query q with relevant items is scored against the whole catalogue, its
  /// `seen` items (e.g. training interactions) are excluded, and the top K are compared with
  /// relevant(q). relevant / seen: one list per query row of `data` (seen may be empty).
  RankingResult evaluate(const RetrievalData& data, const ItemLists& relevant, const ItemLists& seen, index_t k) {
    const auto& policy = trainer_.policy();
    const PolicyScope scope(policy);
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
    trainer_.context().execute([&] { r = evaluate_full_ranking(policy, index, qv.cview(), rel, excl, k); });
    return r;
  }

 private:
  TwoTowerFitResult run_fit(const RetrievalData& data, const Interactions& train, const RetrievalValidation* valid,
                            const TrainingPosition* resume) {
    const PolicyScope scope(trainer_.policy());  // the best epoch's copy stays in the policy's memory
    CTRNET_CHECK(train.size() > 0, "TwoTowerTrainer: no training interactions");
    check_retrieval_data(data, "TwoTowerTrainer::fit");
    CTRNET_CHECK(valid != nullptr || opt_.patience == 0, "TwoTowerTrainer::fit: patience = ", opt_.patience,
                 " needs a validation (fit(data, train, RetrievalValidation{...}))");
    if (valid != nullptr) {
      CTRNET_CHECK(valid->k > 0, "TwoTowerTrainer::fit: the validation's K must be positive, got ", valid->k);
      CTRNET_CHECK(valid->relevant.queries() == data.num_queries(), "TwoTowerTrainer::fit: the validation has ",
                   valid->relevant.queries(), " relevant lists for ", data.num_queries(), " queries");
      CTRNET_CHECK(valid->seen.queries() == 0 || valid->seen.queries() == data.num_queries(),
                   "TwoTowerTrainer::fit: the validation has ", valid->seen.queries(), " seen lists for ",
                   data.num_queries(), " queries");
      bool any = false;
      for (index_t q = 0; q < data.num_queries() && !any; ++q) any = !valid->relevant.of(q).empty();  // host: list sizes
      CTRNET_CHECK(any, "TwoTowerTrainer::fit: no validation query has relevant items");
    }
    const index_t n = train.size();
    TrainingPosition pos = fit_loop::start_position(resume, step(), n, opt_.batch_size);
    if (resume != nullptr) {
      fit_loop::check_resume(pos, "TwoTowerTrainer::fit", "load_checkpoint(path, trainer)", step(), n, opt_.batch_size,
                             opt_.epochs);
      CTRNET_CHECK(pos.fit->has_best_params == best_params_.has_value(), "TwoTowerTrainer::fit: the run to resume ",
                   pos.fit->has_best_params ? "kept" : "did not keep", " a copy of its best epoch's parameters, this "
                   "trainer ", best_params_ ? "holds one" : "does not", " (restore it with load_checkpoint(path, trainer))");
    } else {
      best_params_.reset();
    }
    FitState& fs = *pos.fit;
    fit_loop::EpochLog log(opt_.log_path, resume != nullptr, "TwoTowerTrainer", pos.epoch);  // JSON lines
    auto finish = [&](bool interrupted) {
      TwoTowerFitResult r;
      for (const EpochStats& e : fs.epochs)
        r.push_back({e.epoch, e.train_loss, e.seconds, e.samples_per_second, e.valid_metrics});
      r.interrupted = interrupted;
      r.best_epoch = fs.best_epoch;
      r.stopped_early = fs.stopped_early;
      fs.has_best_params = best_params_.has_value();
      r.position = pos;
      log.commit();
      return r;
    };
    std::vector<index_t> order(static_cast<std::size_t>(n));
    std::vector<index_t> qs, is;
    fit_loop::EpochHooks h;
    h.start_epoch = [&](int epoch) {
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<index_t>(i);  // host: the epoch's order
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
    h.global_step = [&] { return step(); };
    h.check_params = [&](const StepPlace& at) {
      detail::check_params_finite(trainer_.policy(), model_.registry(), model_.params(), "TwoTowerTrainer", step(), at);
    };
    h.checkpoint = [&] {
      fs.has_best_params = best_params_.has_value();
      if (opt_.on_checkpoint) opt_.on_checkpoint(pos);
    };
    h.lr_factor = [&] { return trainer_.lr_factor(); };
    h.evaluate = [&](EpochStats& st) {
      if (valid != nullptr) st.valid_metrics = ranking_metrics(evaluate(data, valid->relevant, valid->seen, valid->k));
    };
    h.end_epoch = [&](const EpochStats& st) {
      if (opt_.on_epoch) opt_.on_epoch(st);
      log.append(st, step());
      const double metric = valid ? st.valid_metric(opt_.early_stopping_metric + "@" + std::to_string(valid->k)) : 0.0;
      if (fit_loop::record_epoch(fs, st, valid != nullptr, metric, {true, opt_.patience}) && opt_.patience > 0 &&
          opt_.restore_best)
        best_params_ = model_.params();
    };
    if (fit_loop::run_epochs(pos, fit_loop::loop_options(opt_, n), h)) return finish(true);
    if (best_params_ && fs.best_epoch != static_cast<int>(fs.epochs.size())) model_.params() = *best_params_;
    return finish(false);
  }

  static TwoTowerTrainerOptions checked(TwoTowerTrainerOptions o, const Model& model) {
    CTRNET_CHECK(model.built(), "TwoTowerTrainer: build the model before training it");
    CTRNET_CHECK(o.batch_size > 0, "TwoTowerTrainer: batch_size must be positive, got ", o.batch_size);
    CTRNET_CHECK(o.shards >= 0, "TwoTowerTrainer: shards must be >= 0 (0: one per 256 rows, at most 8), got ", o.shards);
    CTRNET_CHECK(o.threads >= 0, "TwoTowerTrainer: threads must be >= 0 (0: all cores), got ", o.threads);
    CTRNET_CHECK(o.epochs >= 0, "TwoTowerTrainer: epochs must be >= 0, got ", o.epochs);
    CTRNET_CHECK(o.pointwise_negatives >= 0, "TwoTowerTrainer: pointwise_negatives must be >= 0, got ",
                 o.pointwise_negatives);
    CTRNET_CHECK(o.eval_batch_size > 0, "TwoTowerTrainer: eval_batch_size must be positive");
    CTRNET_CHECK(o.checkpoint_every >= 0 && o.max_steps >= 0,
                 "TwoTowerTrainer: checkpoint_every and max_steps must be >= 0");
    CTRNET_CHECK(o.patience >= 0, "TwoTowerTrainer: patience must be >= 0, got ", o.patience);
    const std::string& m = o.early_stopping_metric;
    CTRNET_CHECK(m == "recall" || m == "ndcg" || m == "hit_rate" || m == "mrr" || m == "coverage",
                 "TwoTowerTrainer: early_stopping_metric must be recall, ndcg, hit_rate, mrr or coverage, got '", m, "'");
    return o;
  }
  static typename StepModel::head_type::Options head_options(const TwoTowerTrainerOptions& o) {
    typename StepModel::head_type::Options h;
    h.objective = o.objective;
    h.in_batch = InBatchSoftmax::Options{o.logq_correction, o.mask_accidental_hits};
    h.mixed = MixedNegativeSoftmax::Options{o.mixed_negatives, o.logq_correction, o.mask_accidental_hits,
                                            o.mixed_correct_sampled};
    return h;
  }
  // The step engine's options: shards, threads, seed, optimizers and schedule are the trainer's.
  static TrainerOptions trainer_options(const TwoTowerTrainerOptions& o) {
    TrainerOptions t = step_engine_options(o, o.batch_size, "TwoTowerTrainer");
    t.shuffle = o.shuffle;
    t.eval_batch_size = o.eval_batch_size;
    return t;
  }

  // The step's host batch: the pairs, each row's item id, then `sampled` as item-only rows.
  void make_batch(const RetrievalData& data, std::span<const index_t> q_rows, std::span<const index_t> i_rows,
                  std::span<const float> labels, std::span<const index_t> sampled) {
    CTRNET_CHECK(!q_rows.empty(), "TwoTowerTrainer: empty batch");
    gather_pairs(data, q_rows, i_rows, labels, batch_);
    batch_.items.assign(i_rows.begin(), i_rows.end());
    if (!sampled.empty()) append_items(data, sampled, batch_);
    step_model_.head().set_corpus_size(std::max<index_t>(1, data.num_items()));
    batch_.view(view_);
  }

  Model& model_;
  TwoTowerTrainerOptions opt_;
  FrequencyEstimator freq_;
  MixedNegativeSoftmax sampler_;  // draws the mixed objective's B′ items
  StepModel step_model_;
  Trainer<StepModel, Policy> trainer_;
  std::optional<ModelParams<T>> best_params_;  // early stopping's copy of the best epoch
  // Reused every step: no allocation once a batch shape was seen.
  std::vector<FeatureId> item_ids_;
  std::vector<index_t> step_q_, step_i_, sampled_rows_;
  std::vector<float> labels_;
  Batch batch_;
  BatchView view_;
  StagedBatch staged_queries_;  // query batches in the policy's memory (CPU: unused)
};

}  // namespace ctrnet
