// Trainer: mini-batches, epochs, validation each epoch, early stopping, LR schedule, a progress
// line and a JSON-lines log.
//
// A step is three phases (compose/model.hpp): the batch is staged in the policy's memory
// (data/staging.hpp), cut into shards whose number depends on the batch and the options only
// (TrainerOptions::shards; train/shards.hpp); (1) each shard runs the body forward on a oneTBB
// worker, with its own cache, into its rows of the batch's logits; (2) the heads run over the whole
// batch, so a head that couples rows (GroupSoftmaxHead: a positive and its negatives form one
// softmax) sees every row; (3) each shard runs the body backward from its rows of d logits into its
// own gradient buffer, and the shard gradients are summed in shard order (0 + 1 + 2 + ...). Every
// kernel splits work only over independent outputs, so for a given seed the model is bitwise the
// same whatever the number of threads — 1, 2 or 64.
//
// Row groups: with TrainerOptions::row_group = G, rows [k·G, (k+1)·G) form group k; fit() shuffles
// whole groups (the rows of a group stay together and in order) and needs a training set of whole
// groups. A batch of n rows (a multiple of G) has g = n / G groups and S = min(shard_count, g)
// shards, shard s covering groups [s·g/S, (s+1)·g/S); G = 1 is the plain split of rows
// [s·n/S, (s+1)·n/S). (Since the heads see the whole batch, shards need not respect groups any more;
// they still do, which keeps every trained model bitwise what it was before the three phases.)
//
// Resuming: fit() keeps its whole state in a TrainingPosition (epoch, batch within the epoch, global
// step, plus FitState: the epoch's running loss, the finished epochs' statistics and the early-
// stopping state). The epoch's order is a pure function of (seed, epoch), dropout masks of (seed,
// step, layer, row) and the LR schedule of the step, so fit(train, valid, &position) on a trainer
// whose parameters, optimizer state and best-epoch copy were restored (io/checkpoint.hpp) continues
// bit for bit where the interrupted run stopped. TrainerOptions::on_checkpoint receives the position
// every `checkpoint_every` steps and after every epoch; `max_steps` stops a run early (after a
// checkpoint), e.g. to test the resume path.
//
// Divergence: a step whose loss or gradient is NaN or ±inf throws a ctrnet::Error naming the epoch,
// batch and step before the optimizer applies it; the parameters are checked finite before each checkpoint
// and at each epoch's end, so no checkpoint of a diverged state is ever written (train/divergence.hpp).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <tbb/parallel_for.h>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/staging.hpp"
#include "ctrnet/io/output_file.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/optim/model_optimizer.hpp"
#include "ctrnet/optim/schedule.hpp"
#include "ctrnet/policy/cpu_context.hpp"
#include "ctrnet/policy/cpu_simd.hpp"
#include "ctrnet/train/metrics.hpp"
#include "ctrnet/train/divergence.hpp"
#include "ctrnet/train/epoch_loop.hpp"
#include "ctrnet/train/fit_position.hpp"
#include "ctrnet/train/progress.hpp"
#include "ctrnet/train/shards.hpp"

namespace ctrnet {

/// Chooses the optimizer of every embedding table whose name starts with `prefix`.
struct TableOptimizerRule {
  std::string prefix{};
  SparseOptimizerOptions options{};
};

// EpochStats, FitState and TrainingPosition: train/fit_position.hpp.

struct TrainerOptions {
  int epochs = 1;
  index_t batch_size = 512;
  /// Gradient shards per batch (the result never depends on `threads`): 0 = one per 256 rows, at
  /// most 8 (train/shards.hpp says why); > 0: that many.
  index_t shards = 0;
  /// Rows [k·G, (k+1)·G) of a batch form a group that a shard never splits (G = row_group), for
  /// heads that couple the rows of a group (GroupSoftmaxHead: a positive and its negatives). Every
  /// batch given to train_step must have a multiple of G rows, and so must batch_size and (for
  /// fit) the training set; fit shuffles whole groups. 1: rows are independent (pointwise heads).
  index_t row_group = 1;
  int threads = 0;     ///< 0: every core oneTBB sees
  std::uint64_t seed = 1;
  bool shuffle = true;
  DenseOptimizerOptions optimizer{};              ///< for the flat dense buffer
  SparseOptimizerOptions embedding_optimizer{};   ///< default for tables
  std::vector<TableOptimizerRule> table_rules{};  ///< first matching prefix wins
  ScheduleOptions schedule{};                     ///< warm-up / decay factor on every learning rate
  std::string early_stopping_metric = "auc";      ///< "auc" (max) or "logloss" (min)
  int patience = 0;                               ///< 0: no early stopping
  bool restore_best = true;                       ///< with early stopping: keep the best epoch's model
  ProgressMode progress = ProgressMode::automatic;
  std::string log_path{};                         ///< JSON lines, one object per epoch; empty: none
  index_t eval_batch_size = 4096;
  /// Called after every epoch (after validation) with its statistics: progress lines, metric logs.
  std::function<void(const EpochStats&)> on_epoch{};
  /// Called by fit with the current position every `checkpoint_every` steps (0: only at epoch ends)
  /// and after every epoch (after validation and the early-stopping decision), e.g. to write
  /// save_checkpoint(path, trainer, position) (io/checkpoint.hpp). Never twice for one position.
  std::function<void(const TrainingPosition&)> on_checkpoint{};
  std::int64_t checkpoint_every = 0;
  /// fit stops once the global step count reaches max_steps (0: no limit), after on_checkpoint:
  /// an interruption on purpose (TrainResult::interrupted), resumable with fit(..., &position).
  std::int64_t max_steps = 0;
  /// The trainer's name in error messages (TwoTowerTrainer and ItemToItemTrainer run a Trainer).
  std::string name = "Trainer";
};


/// The Trainer's options from another trainer's that runs it (TwoTowerTrainer, ItemToItemTrainer):
/// its fields of the same names (shards, threads, seed, optimizers, schedule, progress), the rows
/// per step and the name in error messages.
template <class Options>
TrainerOptions step_engine_options(const Options& o, index_t rows_per_step, std::string name) {
  TrainerOptions t;
  t.batch_size = rows_per_step;
  t.shards = o.shards;
  t.threads = o.threads;
  t.seed = o.seed;
  t.optimizer = o.optimizer;
  t.embedding_optimizer = o.embedding_optimizer;
  t.schedule = o.schedule;
  t.progress = o.progress;
  t.name = std::move(name);
  return t;
}

struct TrainResult {
  std::vector<EpochStats> epochs;
  int best_epoch = 0;
  double final_train_loss = 0;  ///< mean loss of the last training batch
  bool stopped_early = false;
  bool interrupted = false;      ///< stopped by TrainerOptions::max_steps; resume from `position`
  TrainingPosition position;     ///< where fit stopped
};

template <class Model, class Policy = cpu_simd>
class Trainer {
 public:
  using T = typename Model::value_type;

  Trainer(Model& model, TrainerOptions opt, Policy policy = {})
      : model_(model), opt_(std::move(opt)), policy_(policy),
        own_context_(checked_threads(opt_.threads)) {
    give_context(policy_, own_context_);  // a cpu_simd policy without a context runs in the trainer's arena
    const PolicyScope scope(policy_);  // gradients and optimizer state live in the policy's memory
    CTRNET_CHECK(model_.built(), "Trainer: build the model before training it");
    CTRNET_CHECK(opt_.batch_size > 0, "Trainer: batch_size must be positive, got ", opt_.batch_size);
    CTRNET_CHECK(opt_.shards >= 0, "Trainer: shards must be >= 0 (0: one per 256 rows, at most 8), got ", opt_.shards);
    CTRNET_CHECK(opt_.row_group > 0, "Trainer: row_group must be positive, got ", opt_.row_group);
    CTRNET_CHECK(opt_.batch_size % opt_.row_group == 0, "Trainer: batch_size (", opt_.batch_size,
                 " rows) must be a multiple of row_group (", opt_.row_group, " rows per group, which a shard never splits)");
    CTRNET_CHECK(opt_.epochs >= 1, "Trainer: epochs must be at least 1, got ", opt_.epochs);
    CTRNET_CHECK(opt_.early_stopping_metric == "auc" || opt_.early_stopping_metric == "logloss",
                 "Trainer: early_stopping_metric must be 'auc' or 'logloss', got '", opt_.early_stopping_metric, "'");
    ModelOptimizerOptions mo;
    mo.dense = opt_.optimizer;
    mo.tables = opt_.embedding_optimizer;
    for (const auto& t : model_.registry().tables())
      for (const auto& rule : opt_.table_rules)
        if (t.name.rfind(rule.prefix, 0) == 0) {
          mo.per_table.emplace_back(t.name, rule.options);
          break;
        }
    optimizer_ = ModelOptimizer<T>(mo);
    optimizer_.init(model_.registry());
    shards_.resize(static_cast<std::size_t>(max_shard_count(opt_.shards)));
    for (auto& s : shards_) s.grads = model_.make_grads();
  }

  const TrainerOptions& options() const { return opt_; }
  const Policy& policy() const { return policy_; }
  Model& model() { return model_; }
  const Model& model() const { return model_; }
  /// The best epoch's parameters kept by early stopping (patience > 0 and restore_best), if any.
  const std::optional<ModelParams<T>>& best_params() const { return best_params_; }
  /// Restores them (checkpoints): same layout as the model's parameters.
  void set_best_params(std::optional<ModelParams<T>> p) {
    CTRNET_CHECK(!p || (p->dense.size() == model_.params().dense.size() && p->tables.size() == model_.params().tables.size()),
                 "Trainer: best parameters of another layout than the model's");
    best_params_ = std::move(p);
  }
  std::int64_t step() const { return step_; }
  /// Sets the global step (number of train_step calls so far), e.g. when resuming a checkpoint.
  void set_step(std::int64_t s) {
    CTRNET_CHECK(s >= 0, "Trainer: step must be >= 0, got ", s);
    step_ = s;
  }
  /// The learning-rate schedule's factor at the current step.
  double lr_factor() const { return schedule_.factor_at(step_); }
  /// The optimizers (dense + per table), e.g. to save or restore their state in a checkpoint.
  ModelOptimizer<T>& optimizer() { return optimizer_; }
  const ModelOptimizer<T>& optimizer() const { return optimizer_; }

  /// One optimisation step on `b` (all its rows: whole groups of row_group rows). Returns the batch's
  /// mean loss. A NaN or infinite loss or gradient throws ctrnet::Error (naming the step and `at`)
  /// before the step is applied.
  double train_step(const BatchView& b, const StepPlace& at = {}) {
    const PolicyScope scope(policy_);
    const double loss = compute_gradients(b);
    detail::check_step_loss(loss, opt_.name.c_str(), step_, at);
    detail::check_grads_finite(policy_, model_.registry(), shards_[0].grads, opt_.name.c_str(), step_, at);

    optimizer_.set_lr_scale(schedule_.factor_at(step_));
    context().execute([&] { optimizer_.step(policy_, model_.params(), shards_[0].grads); });
    ++step_;
    return loss;
  }

  /// The three phases of a step on `b` without the optimizer: leaves the summed gradient in
  /// gradients() and returns the batch's mean loss (e.g. for gradient checks).
  double compute_gradients(const BatchView& b) {
    const PolicyScope scope(policy_);
    const index_t n = b.size;
    CTRNET_CHECK(n > 0, opt_.name, ": empty batch");
    double norm = 0.0;
    for (index_t r = 0; r < n; ++r) norm += b.weight(r);  // host: the normaliser, from the host batch
    CTRNET_CHECK(norm > 0.0, opt_.name, ": the batch's weights sum to ", norm, "; expected a positive total");
    const index_t G = opt_.row_group;
    CTRNET_CHECK(n % G == 0, opt_.name, ": a batch of ", n, " rows is not a whole number of groups of row_group = ", G,
                 " rows (a shard never splits a group)");
    const index_t S = shard_count(n);
    Context ctx{.training = true, .seed = opt_.seed, .step = static_cast<std::uint64_t>(step_), .first_row = 0};
    model_.check_batch(policy_, b);  // the heads' input checks, before a device memory gets the batch
    const BatchView& staged = staged_.stage(policy_, b, model_.schema());  // the batch in the policy's memory (CPU: b itself)

    logits_.resize(n, model_.output_width());
    dlogits_.resize(n, model_.output_width());
    losses_.resize(static_cast<index_t>(Model::num_heads));
    context().execute([&] {
      // Phase 1: body forward per shard, into the shard's rows of the batch's logits.
      tbb::parallel_for(index_t(0), S, [&](index_t s) {
        Shard& sh = shards_[static_cast<std::size_t>(s)];
        const index_t begin = shard_begin(s, n, S), end = shard_begin(s + 1, n, S);
        staged.rows(begin, end - begin, sh.view);
        model_.forward_into(policy_, sh.view, logits_.view().row_block(begin, end - begin), sh.cache, ctx);
      });
      // Phase 2: the heads over the whole batch (a head that couples rows sees all of them).
      model_.head_loss_into(policy_, staged, logits_.cview(), dlogits_.view(), norm, losses_.data());
      // Phase 3: body backward per shard, then the fixed-order sum of the shard gradients.
      tbb::parallel_for(index_t(0), S, [&](index_t s) {
        Shard& sh = shards_[static_cast<std::size_t>(s)];
        const index_t begin = shard_begin(s, n, S), end = shard_begin(s + 1, n, S);
        sh.grads.zero();
        model_.backward_from(policy_, sh.cache, dlogits_.cview().row_block(begin, end - begin), sh.grads);
      });
      reduce_gradients(S);
    });
    return model_.total_loss(losses_);  // the step's one copy back: the heads' losses
  }

  /// The summed gradient of the last step (or compute_gradients), before the optimizer applied it.
  const ModelGrads<T>& gradients() const { return shards_[0].grads; }

  /// Where the work runs: the policy's CpuContext, else the trainer's own (TrainerOptions::threads).
  CpuContext& context() { return context_of(policy_, own_context_); }

  /// Predictions of head 0 over a data set, with its labels and weights: AUC, log loss, calibration.
  BinaryMetrics evaluate(const InMemoryDataset& data) {
    const PolicyScope scope(policy_);  // `out` lives in the policy's memory; its column 0 is copied back
    BinaryMetrics m;
    const index_t n = data.size();
    std::vector<index_t> rows;
    Batch batch;
    BatchView v;
    Matrix<T> out;
    std::vector<float> probs, labels, weights;
    std::vector<T> host_out;
    for (index_t begin = 0; begin < n; begin += opt_.eval_batch_size) {
      const index_t cnt = std::min(opt_.eval_batch_size, n - begin);
      rows.resize(static_cast<std::size_t>(cnt));
      for (index_t i = 0; i < cnt; ++i) rows[static_cast<std::size_t>(i)] = begin + i;
      data.gather(rows, batch);
      batch.view(v);
      out.resize(cnt, model_.output_width());
      predict_rows(v, out.view());
      host_out.resize(static_cast<std::size_t>(out.size()));
      out.download(host_out.data());
      const auto width = static_cast<std::size_t>(out.cols());
      probs.resize(static_cast<std::size_t>(cnt));
      for (index_t i = 0; i < cnt; ++i)
        probs[static_cast<std::size_t>(i)] = static_cast<float>(host_out[static_cast<std::size_t>(i) * width]);
      labels.assign(batch.labels.begin(), batch.labels.end());
      weights.assign(batch.weights.begin(), batch.weights.end());
      m.add(probs, labels, weights);
    }
    return m;
  }

  /// Full training: epochs over `train`, validation on `valid` (if given) after each epoch. With
  /// `resume`, continues from that position (from Trainer::fit, e.g. read by load_checkpoint, which
  /// also restores the parameters, the optimizer state, the step count and the best-epoch copy).
  TrainResult fit(const InMemoryDataset& train, const InMemoryDataset* valid = nullptr,
                  const TrainingPosition* resume = nullptr) {
    const index_t n = train.size();
    CTRNET_CHECK(n % opt_.row_group == 0, "Trainer::fit: the training set has ", n,
                 " rows, not a whole number of groups of row_group = ", opt_.row_group, " rows");
    const std::int64_t batches = fit_loop::batch_count(n, opt_.batch_size);
    const PolicyScope scope(policy_);  // the best epoch's copy of the parameters stays in the policy's memory
    TrainingPosition pos;
    if (resume != nullptr) {
      pos = *resume;
      check_resume(pos, n, batches);
    } else {
      pos.step = step_;
      best_params_.reset();
    }
    if (!pos.fit) pos.fit.emplace();
    FitState& fs = *pos.fit;
    fs.examples = n;
    fs.batch_size = opt_.batch_size;

    fit_loop::EpochLog log(opt_.log_path, resume != nullptr, opt_.name, pos.epoch);  // JSON lines, continued on a resume
    const bool maximize = opt_.early_stopping_metric == "auc";
    auto finish = [&](bool interrupted) {
      TrainResult result;
      result.epochs = fs.epochs;
      result.best_epoch = fs.best_epoch;
      result.final_train_loss = fs.last_loss;
      result.stopped_early = fs.stopped_early;
      result.interrupted = interrupted;
      fs.has_best_params = best_params_.has_value();
      result.position = pos;
      log.commit();
      return result;
    };
    Batch batch;
    BatchView view;  // re-used: no allocation per step once the first batch has been staged
    std::vector<index_t> rows, order;

    fit_loop::EpochHooks h;
    h.start_epoch = [&](int epoch) { order = epoch_order(train, epoch); };
    h.step = [&](index_t begin, index_t count, const StepPlace& at) {
      rows.assign(order.begin() + begin, order.begin() + begin + count);
      train.gather(rows, batch);
      batch.view(view);
      const double loss = train_step(view, at);
      double batch_weight = 0.0;
      for (float w : batch.weights) batch_weight += w;
      return std::pair{loss, batch_weight};
    };
    h.global_step = [&] { return step_; };
    h.check_params = [&](const StepPlace& at) {
      detail::check_params_finite(policy_, model_.registry(), model_.params(), opt_.name.c_str(), step_, at);
    };
    h.checkpoint = [&] {
      fs.has_best_params = best_params_.has_value();
      if (opt_.on_checkpoint) opt_.on_checkpoint(pos);
    };
    h.lr_factor = [&] { return schedule_.factor_at(step_); };
    h.evaluate = [&](EpochStats& st) {
      if (valid == nullptr || valid->size() == 0) return;
      const BinaryMetrics m = evaluate(*valid);
      st.valid_auc = m.auc();
      st.valid_logloss = m.log_loss();
      st.valid_calibration = m.calibration();
    };
    h.end_epoch = [&](const EpochStats& st) {
      if (opt_.on_epoch) opt_.on_epoch(st);
      log.append(st, step_);
      const bool validated = valid != nullptr && valid->size() > 0;
      const double metric = maximize ? st.valid_auc : st.valid_logloss;
      if (fit_loop::record_epoch(fs, st, validated, metric, {maximize, opt_.patience}) && opt_.patience > 0 &&
          opt_.restore_best)
        best_params_ = model_.params();
    };
    if (fit_loop::run_epochs(pos, fit_loop::loop_options(opt_, n), h)) return finish(true);
    if (best_params_ && fs.best_epoch != static_cast<int>(fs.epochs.size())) model_.params() = *best_params_;
    return finish(false);
  }

  /// Inference over a batch, shard-parallel (same shards as training, whole row groups; const model).
  /// A last, partial group (n not a multiple of row_group) stays in the last shard.
  void predict_rows(const BatchView& v, MatrixView<T> out) {
    const PolicyScope scope(policy_);
    const index_t n = v.size;
    const index_t S = std::max<index_t>(1, shard_count(n));
    const BatchView& staged = staged_.stage(policy_, v, model_.schema());
    context().execute([&] {
      tbb::parallel_for(index_t(0), S, [&](index_t s) {
        Shard& sh = shards_[static_cast<std::size_t>(s)];
        const index_t begin = shard_begin(s, n, S), end = shard_begin(s + 1, n, S);
        staged.rows(begin, end - begin, sh.view);
        model_.predict(policy_, sh.view, out.row_block(begin, end - begin), sh.cache);
      });
    });
  }

 private:
  static int checked_threads(int threads) {
    CTRNET_CHECK(threads >= 0, "Trainer: threads must be >= 0 (0: all cores), got ", threads);
    return threads;
  }

  // Groups of a batch of n rows: ⌈n / G⌉ (a partial last group counts as one; train_step has none).
  index_t group_count(index_t n) const { return (n + opt_.row_group - 1) / opt_.row_group; }
  // S ≤ groups: every shard holds at least one group (train/shards.hpp).
  index_t shard_count(index_t n) const { return ctrnet::shard_count(opt_.shards, n, group_count(n)); }
  // First row of shard s of S over n rows: group s·g/S (g groups), clamped to n. For G = 1 it is s·n/S.
  index_t shard_begin(index_t s, index_t n, index_t S) const {
    return std::min<index_t>(n, s * group_count(n) / S * opt_.row_group);
  }

  // The rows of an epoch in training order: a permutation of the rows (G = 1) or of whole groups,
  // each group's rows kept together and in order (G > 1), from the seed (seed, epoch).
  std::vector<index_t> epoch_order(const InMemoryDataset& train, int epoch) const {
    const std::uint64_t seed = mix_seed(opt_.seed, 0xE90C, static_cast<std::uint64_t>(epoch));
    const index_t G = opt_.row_group;
    if (G == 1) return train.order(opt_.shuffle, seed);
    const index_t n = train.size();
    std::vector<index_t> groups(static_cast<std::size_t>(n / G));
    std::iota(groups.begin(), groups.end(), index_t(0));
    if (opt_.shuffle) {
      Rng rng(seed);
      rng.shuffle(std::span<index_t>(groups));
    }
    std::vector<index_t> order;
    order.reserve(static_cast<std::size_t>(n));
    for (index_t k : groups)
      for (index_t r = 0; r < G; ++r) order.push_back(k * G + r);
    return order;
  }

  void check_resume(const TrainingPosition& pos, index_t n, std::int64_t batches) const {
    CTRNET_CHECK(pos.step == step_, "Trainer::fit: the position is at step ", pos.step, " but the trainer at step ",
                 step_, "; restore the trainer first (load_checkpoint(path, trainer))");
    CTRNET_CHECK(pos.epoch >= 1 && pos.batch >= 0, "Trainer::fit: invalid position (epoch ", pos.epoch, ", batch ",
                 pos.batch, ")");
    CTRNET_CHECK(pos.epoch <= opt_.epochs + 1, "Trainer::fit: the run to resume has finished ", pos.epoch - 1,
                 " epochs, more than the ", opt_.epochs, " this trainer runs; resume with epochs >= ", pos.epoch - 1);
    if (pos.fit) {
      CTRNET_CHECK(pos.fit->examples == n, "Trainer::fit: the run to resume trained on ", pos.fit->examples,
                   " examples, this training set has ", n, ": resume with the same training data");
      CTRNET_CHECK(pos.fit->batch_size == opt_.batch_size, "Trainer::fit: the run to resume used batch size ",
                   pos.fit->batch_size, ", this trainer ", opt_.batch_size);
      CTRNET_CHECK(pos.fit->has_best_params == best_params_.has_value(), "Trainer::fit: the run to resume ",
                   pos.fit->has_best_params ? "kept" : "did not keep", " a copy of its best epoch's parameters, this "
                   "trainer ", best_params_ ? "holds one" : "does not", " (restore it with load_checkpoint(path, trainer))");
    }
    CTRNET_CHECK(pos.batch <= batches, "Trainer::fit: the position (epoch ", pos.epoch, ", batch ", pos.batch,
                 ") is beyond the ", batches, " batches of an epoch over ", n, " examples");
  }

  struct Shard {
    typename Model::Cache cache;
    ModelGrads<T> grads;
    BatchView view;
  };

  void reduce_gradients(index_t S) {
    reduce_shard_gradients(policy_, S, [&](index_t s) -> ModelGrads<T>& { return shards_[static_cast<std::size_t>(s)].grads; });
  }

  Model& model_;
  TrainerOptions opt_;
  Policy policy_;
  CpuContext own_context_;  // the arena of the steps (and of a cpu_simd policy that names none)
  std::vector<Shard> shards_;
  StagedBatch staged_;  // the current batch in the policy's memory (unused on the CPU policies)
  Matrix<T> logits_, dlogits_;  // the step's logits and their gradient, [batch, Σ head widths]
  Buffer<double> losses_;       // the step's loss of each head, in the policy's memory
  ModelOptimizer<T> optimizer_;
  std::optional<ModelParams<T>> best_params_;
  LrSchedule schedule_{1.0, opt_.schedule};
  std::int64_t step_ = 0;
};

}  // namespace ctrnet
