// The epoch loop of Trainer::fit, TwoTowerTrainer::fit and ItemToItemTrainer::fit: batches in each epoch's order, the
// running loss, the progress line, checkpoints every `checkpoint_every` steps and at each epoch's
// end, max_steps interruptions, the parameter check at each epoch's end, the epoch's statistics.
// What differs between the trainers comes in as hooks: how a batch of the epoch's order becomes a
// step, and what validation measures. What they share at an epoch's end is here too: the JSON-lines
// log (EpochLog) and the best-epoch / early-stopping bookkeeping (record_epoch).
//
// Resuming: everything the loop keeps is in the TrainingPosition (train/fit_position.hpp), so a
// run continued from a position saved by a checkpoint hook goes on bit for bit.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ctrnet/io/output_file.hpp"
#include "ctrnet/train/divergence.hpp"
#include "ctrnet/train/fit_position.hpp"
#include "ctrnet/train/progress.hpp"

namespace ctrnet::fit_loop {

/// The trainer's side of one fit().
struct EpochHooks {
  /// Called at the start of epoch `epoch` (1-based): e.g. compute the epoch's order.
  std::function<void(int epoch)> start_epoch;
  /// One optimisation step on examples [begin, begin + count) of the epoch's order; returns the
  /// step's mean loss and its weight in the epoch's loss (the batch's total example weight).
  std::function<std::pair<double, double>(index_t begin, index_t count, const StepPlace& at)> step;
  /// The trainer's global step count (after the last step).
  std::function<std::int64_t()> global_step;
  /// Throws unless every parameter is finite, naming `at` (before checkpoints and at epoch ends).
  std::function<void(const StepPlace& at)> check_params;
  /// Hands the position to the trainer's on_checkpoint (the loop calls it at most once per position).
  std::function<void()> checkpoint;
  /// At an epoch's end, before its duration is taken: validation into `st` (may be empty).
  std::function<void(EpochStats& st)> evaluate;
  /// After the epoch's statistics were recorded: callbacks, logs, early stopping (may set
  /// FitState::stopped_early); before the epoch-end checkpoint (may be empty).
  std::function<void(const EpochStats& st)> end_epoch;
  /// The learning-rate factor at the trainer's current step (EpochStats::lr_factor).
  std::function<double()> lr_factor;
};

struct EpochLoopOptions {
  int epochs = 1;
  index_t examples = 0;
  index_t batch_size = 1;
  std::int64_t checkpoint_every = 0;
  std::int64_t max_steps = 0;
  ProgressMode progress = ProgressMode::automatic;
};

/// The loop's options from a trainer's options (epochs, batch_size, checkpoint_every, max_steps,
/// progress) for a training set of `examples` examples.
template <class TrainerOptions>
EpochLoopOptions loop_options(const TrainerOptions& t, index_t examples) {
  EpochLoopOptions o;
  o.epochs = t.epochs;
  o.examples = examples;
  o.batch_size = t.batch_size;
  o.checkpoint_every = t.checkpoint_every;
  o.max_steps = t.max_steps;
  o.progress = t.progress;
  return o;
}

/// Early stopping on one validation metric.
struct EarlyStopping {
  bool maximize = true;  ///< a larger metric is better (AUC, recall); false: smaller (log loss)
  int patience = 0;      ///< stop after this many epochs without a new best; 0: never stop early
};

/// Records finished epoch `st` in `fs` once validation has run (`validated`; `metric` its value):
/// a metric better than fs.best makes the epoch the best one, otherwise, with patience > 0, the
/// epochs since the best grow and reaching `patience` sets fs.stopped_early. Without validation
/// every epoch is the best. Returns true when `st` is a new best validated epoch (the caller keeps
/// a copy of its parameters when it restores the best). A NaN metric is never an improvement.
inline bool record_epoch(FitState& fs, const EpochStats& st, bool validated, double metric, const EarlyStopping& es) {
  if (!validated) {
    fs.best_epoch = st.epoch;
    return false;
  }
  const double best = fs.best.value_or(es.maximize ? -std::numeric_limits<double>::infinity()
                                                   : std::numeric_limits<double>::infinity());
  if (es.maximize ? metric > best : metric < best) {
    fs.best = metric;
    fs.best_epoch = st.epoch;
    fs.since_best = 0;
    return true;
  }
  if (es.patience > 0 && ++fs.since_best >= es.patience) fs.stopped_early = true;
  return false;
}

/// One JSON object per epoch: epoch, train_loss, seconds, samples_per_second, lr_factor, the
/// trainer's global step, and the validation it ran: valid_auc / valid_logloss / valid_calibration
/// (Trainer) and "valid_<name>" for each named metric (e.g. valid_recall@10).
inline nlohmann::json epoch_json(const EpochStats& st, std::int64_t step) {
  nlohmann::json j{{"epoch", st.epoch},         {"train_loss", st.train_loss},
                   {"seconds", st.seconds},     {"samples_per_second", st.samples_per_second},
                   {"lr_factor", st.lr_factor}, {"step", step}};
  if (!std::isnan(st.valid_auc)) {
    j["valid_auc"] = st.valid_auc;
    j["valid_logloss"] = st.valid_logloss;
    j["valid_calibration"] = st.valid_calibration;
  }
  for (const auto& [name, v] : st.valid_metrics) j["valid_" + name] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
  return j;
}

/// The JSON-lines log of a fit (one epoch_json per line), rewritten atomically after each epoch
/// (io/output_file.hpp) and continued on a resume from epoch `first_epoch`: the lines of that epoch
/// and later ones (written by the interrupted run after its last checkpoint) are dropped, so every
/// epoch has one line. No path: nothing is written.
class EpochLog {
 public:
  EpochLog() = default;
  EpochLog(const std::string& path, bool resume, std::string_view who, std::int64_t first_epoch = 1) {
    if (path.empty()) return;
    try {
      log_ = OutputLog(path, resume);
    } catch (const Error& e) {
      detail::throw_error(who, ": cannot open log file: ", e.what());
    }
    if (resume)
      log_.keep_lines_while([&](std::string_view line) {
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        const bool epoch_line = j.is_object() && j.contains("epoch") && j["epoch"].is_number_integer();
        return !epoch_line || j["epoch"].get<std::int64_t>() < first_epoch;  // other lines are kept
      });
  }
  void append(const EpochStats& st, std::int64_t step) {
    if (log_.is_open()) log_.append(epoch_json(st, step).dump() + "\n");
  }
  void commit() { log_.commit(); }

 private:
  OutputLog log_;
};

/// Runs the epochs from `pos` (whose FitState it keeps up to date) until the last epoch, early
/// stopping, or max_steps. Returns true when stopped by max_steps (interrupted, resumable).
inline bool run_epochs(TrainingPosition& pos, const EpochLoopOptions& o, const EpochHooks& h) {
  FitState& fs = *pos.fit;
  const index_t n = o.examples;
  const std::int64_t batches = batch_count(n, o.batch_size);
  CheckpointOnce last_checkpoint;
  auto checkpoint = [&] {
    if (last_checkpoint.done(pos)) return;
    if (pos.batch > 0) h.check_params(StepPlace{pos.epoch, pos.batch - 1, batches});  // epoch ends: checked below
    h.checkpoint();
    last_checkpoint.mark(pos);
  };
  auto out_of_steps = [&] { return fit_loop::out_of_steps(o.max_steps, h.global_step()); };
  auto mean_loss = [&] { return fs.weight_sum > 0.0 ? fs.loss_sum / fs.weight_sum : 0.0; };
  ProgressLine progress(o.progress);
  while (pos.epoch <= o.epochs && !fs.stopped_early) {
    if (batches > 0 && out_of_steps()) {
      checkpoint();
      return true;
    }
    const int epoch = static_cast<int>(pos.epoch);
    const auto t0 = std::chrono::steady_clock::now();
    h.start_epoch(epoch);
    progress.start("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs), n);
    const std::int64_t first_batch = pos.batch;
    while (pos.batch < batches) {
      if (out_of_steps()) {
        progress.finish();
        checkpoint();
        return true;
      }
      const index_t begin = static_cast<index_t>(pos.batch) * o.batch_size;
      const index_t count = std::min(o.batch_size, n - begin);
      std::pair<double, double> r;
      try {
        r = h.step(begin, count, StepPlace{pos.epoch, pos.batch, batches});
      } catch (...) {
        progress.finish();  // end the progress line before the error is printed
        throw;
      }
      fs.loss_sum += r.first * r.second;  // the epoch loss is the weighted mean over its examples
      fs.weight_sum += r.second;
      fs.last_loss = r.first;
      ++pos.batch;
      pos.step = h.global_step();
      progress.update(begin + count, mean_loss());
      if (checkpoint_due(o.checkpoint_every, pos.step, pos.batch, batches)) checkpoint();
    }
    progress.update(n, mean_loss(), true);
    progress.finish();
    if (batches > 0) h.check_params(StepPlace{pos.epoch, batches - 1, batches});

    EpochStats st;
    st.epoch = epoch;
    st.train_loss = mean_loss();
    st.lr_factor = h.lr_factor();
    if (h.evaluate) h.evaluate(st);
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // After a resume mid-epoch, the examples of this session only.
    const index_t seen = n - std::min<index_t>(n, static_cast<index_t>(first_batch) * o.batch_size);
    st.samples_per_second = static_cast<double>(seen) / std::max(st.seconds, 1e-9);
    fs.epochs.push_back(st);
    if (h.end_epoch) h.end_epoch(st);
    ++pos.epoch;
    pos.batch = 0;
    fs.loss_sum = fs.weight_sum = 0.0;
    checkpoint();
  }
  return false;
}

}  // namespace ctrnet::fit_loop
