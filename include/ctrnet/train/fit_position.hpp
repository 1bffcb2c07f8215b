// Where a training run stands, and the bookkeeping every resumable fit loop shares (Trainer::fit,
// ItemToItemTrainer::fit, TwoTowerTrainer::fit): the position (epoch, batch within the epoch,
// global step) and FitState (the running loss of the epoch, the finished epochs' statistics), the
// number of batches of an epoch, when a checkpoint is due (every `checkpoint_every` steps inside an
// epoch, plus every epoch's end, never twice for one position), when max_steps stops a run, and the
// checks of a position handed to a resume. io/checkpoint.hpp writes and reads positions.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <array>
#include <string_view>
#include <utility>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/types.hpp"

namespace ctrnet {

struct EpochStats {
  int epoch = 0;
  double train_loss = 0;
  double valid_auc = std::numeric_limits<double>::quiet_NaN();
  double valid_logloss = std::numeric_limits<double>::quiet_NaN();
  double valid_calibration = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0;
  double samples_per_second = 0;
  double lr_factor = 0;  ///< schedule factor on the base learning rates at the epoch's end
  /// Named validation metrics of a ranking evaluation (two-tower: "recall@10", ...; item-to-item:
  /// what the caller's validation returns), in the order they were reported. Empty: none.
  std::vector<std::pair<std::string, double>> valid_metrics{};
  /// The value of metric `name` in valid_metrics, or NaN.
  double valid_metric(std::string_view name) const {
    for (const auto& [k, v] : valid_metrics)  // host: a handful of named numbers
      if (k == name) return v;
    return std::numeric_limits<double>::quiet_NaN();
  }
};

/// Trainer::fit's bookkeeping besides the position, so that a resumed fit reports and decides
/// exactly as an uninterrupted one would.
struct FitState {
  index_t examples = 0;    ///< size of the training set (a resume checks it)
  index_t batch_size = 0;  ///< TrainerOptions::batch_size (a resume checks it)
  double loss_sum = 0.0;   ///< Σ loss · weight over the current epoch's batches so far
  double weight_sum = 0.0; ///< Σ weight over the same batches
  double last_loss = 0.0;  ///< mean loss of the last training batch
  std::vector<EpochStats> epochs{};  ///< the finished epochs
  int best_epoch = 0;
  std::optional<double> best{};    ///< best validation metric so far (none yet: empty)
  int since_best = 0;              ///< epochs without improvement since the best one
  bool stopped_early = false;
  bool has_best_params = false;    ///< the trainer holds a copy of the best epoch's parameters
};

/// Where a training run stands. `epoch` is the current epoch (1-based), `batch` the number of its
/// batches already done, `step` the global number of optimizer steps. After the last batch of
/// epoch e (and its validation) the position is (e + 1, 0, step).
struct TrainingPosition {
  std::int64_t epoch = 1;
  std::int64_t batch = 0;
  std::int64_t step = 0;
  std::optional<std::array<std::uint64_t, 4>> rng_state{};  ///< a caller's Rng (e.g. for sampling), if any
  std::optional<FitState> fit{};                          ///< set by the fit loops; empty for custom loops
};

namespace fit_loop {

/// Batches of an epoch over n examples: ⌈n / batch_size⌉.
inline std::int64_t batch_count(index_t n, index_t batch_size) { return (n + batch_size - 1) / batch_size; }

/// After a step inside an epoch (`batch` of `batches` done, global `step`): is a checkpoint due?
/// Every `every` steps (0: never inside an epoch); an epoch's end has its own checkpoint.
inline bool checkpoint_due(std::int64_t every, std::int64_t step, std::int64_t batch, std::int64_t batches) {
  return every > 0 && step % every == 0 && batch < batches;
}

/// max_steps (0: no limit) reached: stop after a checkpoint.
inline bool out_of_steps(std::int64_t max_steps, std::int64_t step) { return max_steps > 0 && step >= max_steps; }

/// Remembers the last position handed to on_checkpoint, so that none is handed twice.
class CheckpointOnce {
 public:
  bool done(const TrainingPosition& p) const { return last_ == std::pair(p.epoch, p.batch); }
  void mark(const TrainingPosition& p) { last_ = std::pair(p.epoch, p.batch); }

 private:
  std::optional<std::pair<std::int64_t, std::int64_t>> last_;
};

/// The position a fit starts from: `*resume`, or a fresh one at the trainer's `step` with an empty
/// FitState for `examples` examples in batches of `batch_size`.
inline TrainingPosition start_position(const TrainingPosition* resume, std::int64_t step, index_t examples,
                                       index_t batch_size) {
  if (resume != nullptr) return *resume;
  TrainingPosition p;
  p.step = step;
  p.fit.emplace();
  p.fit->examples = examples;
  p.fit->batch_size = batch_size;
  return p;
}

/// Checks a position to resume against the trainer (`step`) and the run (`examples` in batches of
/// `batch_size`, `epochs` epochs): a ctrnet::Error, prefixed `who`, naming what differs.
/// `restore` says how to restore the trainer (e.g. "load_checkpoint(path, trainer)").
inline void check_resume(const TrainingPosition& pos, std::string_view who, std::string_view restore,
                         std::int64_t step, index_t examples, index_t batch_size, int epochs) {
  CTRNET_CHECK(pos.step == step, who, ": the position is at step ", pos.step, " but the trainer at step ", step,
               "; restore the trainer first (", restore, ")");
  CTRNET_CHECK(pos.fit.has_value(), who, ": the position to resume has no training state (not written by this ",
               "kind of run)");
  CTRNET_CHECK(pos.fit->examples == examples, who, ": the run to resume trained on ", pos.fit->examples,
               " examples, this one has ", examples, ": resume with the same training data and options");
  CTRNET_CHECK(pos.fit->batch_size == batch_size, who, ": the run to resume used batch size ", pos.fit->batch_size,
               ", this one ", batch_size);
  CTRNET_CHECK(pos.epoch >= 1 && pos.epoch <= epochs + 1, who, ": the run to resume has finished ", pos.epoch - 1,
               " epochs, more than the ", epochs, " of this run");
  const std::int64_t batches = batch_count(examples, batch_size);
  CTRNET_CHECK(pos.batch >= 0 && pos.batch <= batches, who, ": the position's batch ", pos.batch,
               " is beyond the ", batches, " batches of an epoch");
}

}  // namespace fit_loop
}  // namespace ctrnet
