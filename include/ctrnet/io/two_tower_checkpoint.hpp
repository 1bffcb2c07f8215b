// Checkpoints of TwoTowerTrainer (train/two_tower_trainer.hpp): the checkpoint file of
// io/checkpoint.hpp (model, "optimizer.*" state, early stopping's best-epoch copy "trainer.best.*"
// when fit keeps one, __metadata__ "optimizer" and "position", the latter with fit's FitState) plus
// what else a two-tower run's continuation depends on:
//   - "trainer.frequency.last" (I64 [H]) and "trainer.frequency.gap" (F64 [H]): the streaming
//     FrequencyEstimator's buckets (the step each was last seen, the moving average of its gaps),
//     written when the trainer uses the estimator (logQ correction of in-batch / mixed) or has
//     updated it;
//   - __metadata__ "two_tower_trainer" (JSON): the options that decide the continuation — the
//     objective, batch size, seed, shuffle, negatives, logQ / masking switches, shards, early
//     stopping's metric, patience and restore_best (absent in older files: their defaults) — and
//     "frequency": the estimator's options and step count (null when its state is not stored).
// The negatives and shuffles are keyed by (seed, step) and (seed, epoch), dropout by (seed, step,
// layer, row) and the LR schedule is a function of the step, so nothing else is needed:
//
//   TwoTowerTrainer<M> trainer(model, opts);          // opts.on_checkpoint = [&](auto& p) {
//   auto pos = load_checkpoint(path, trainer);        //   save_checkpoint(path, trainer, p); }
//   trainer.fit(data, train, &pos);                   // continues bit for bit
//
// Writes are atomic (io/output_file.hpp). load_checkpoint checks everything before it writes
// anything: the model and optimizer as io/checkpoint.hpp does, the trainer options (a mismatch
// names the option), the estimator's options, tensor shapes and dtypes and its values (finite gaps
// >= 0, last-seen steps in [-1, steps)).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/io/architecture_two_tower.hpp"
#include "ctrnet/io/checkpoint.hpp"
#include "ctrnet/train/two_tower_trainer.hpp"

namespace ctrnet {
namespace detail {

inline constexpr const char* kFrequencyLast = "trainer.frequency.last";
inline constexpr const char* kFrequencyGap = "trainer.frequency.gap";

inline nlohmann::json frequency_options_json(const FrequencyEstimatorOptions& o) {
  return {{"buckets", o.buckets}, {"alpha", o.alpha}, {"seed", o.seed}};
}

/// The options of a TwoTowerTrainer that decide how a run continues (not epochs, threads,
/// progress, evaluation or the optimizers, which the optimizer metadata checks by kind).
inline nlohmann::json two_tower_trainer_json(const TwoTowerTrainerOptions& o) {
  return {{"objective", to_string(o.objective)},
          {"batch_size", o.batch_size},
          {"shards", o.shards},
          {"seed", o.seed},
          {"shuffle", o.shuffle},
          {"pointwise_negatives", o.pointwise_negatives},
          {"mixed_negatives", o.mixed_negatives},
          {"mixed_correct_sampled", o.mixed_correct_sampled},
          {"logq_correction", o.logq_correction},
          {"mask_accidental_hits", o.mask_accidental_hits},
          {"frequency_options", frequency_options_json(o.frequency)},
          {"early_stopping_metric", o.early_stopping_metric},
          {"patience", o.patience},
          {"restore_best", o.restore_best}};
}
/// Keys added after the first checkpoints: a file without them was written with their defaults.
inline bool two_tower_trainer_key_with_default(std::string_view key) {
  return key == "early_stopping_metric" || key == "patience" || key == "restore_best";
}

template <class M, class Policy>
bool stores_frequency(const TwoTowerTrainer<M, Policy>& t) {
  return t.uses_frequency_estimator() || t.frequency_estimator().steps() > 0;
}

}  // namespace detail

/// \brief Writes a TwoTowerTrainer's whole state at `pos` (from TwoTowerTrainerOptions::on_checkpoint
/// or TwoTowerFitResult::position), atomically: model, optimizer state, position, the trainer's
/// options, the frequency estimator and early stopping's copy of the best epoch (see the header comment).
template <SavableArchitecture M, class Policy>
void save_checkpoint(const std::string& path, TwoTowerTrainer<M, Policy>& trainer, const TrainingPosition& pos,
                     const ModelSaveOptions& opts = {}) {
  CTRNET_CHECK(pos.step == trainer.step(), "save_checkpoint: the position is at step ", pos.step, ", the trainer at ",
               trainer.step());
  const bool best = pos.fit && pos.fit->has_best_params;
  CTRNET_CHECK(best == trainer.best_params().has_value(), "save_checkpoint: the position and the trainer disagree on ",
               "the best parameters' copy");
  CTRNET_CHECK(opts.metadata.find("two_tower_trainer") == opts.metadata.end(),
               "save_checkpoint: metadata key 'two_tower_trainer' is reserved for ctrnet");
  const FrequencyEstimator& fe = trainer.frequency_estimator();
  nlohmann::json tj = detail::two_tower_trainer_json(trainer.options());
  std::vector<TensorToWrite> state;
  std::vector<std::int64_t> last;  // the buckets copied back to the host
  std::vector<double> gaps;
  if (detail::stores_frequency(trainer)) {
    tj["frequency"] = {{"steps", fe.steps()}};
    const auto h = static_cast<std::int64_t>(fe.options().buckets);
    last = fe.last_seen();
    gaps = fe.gaps();
    state.push_back({detail::kFrequencyLast, Dtype::I64, {h}, std::as_bytes(std::span<const std::int64_t>(last))});
    state.push_back({detail::kFrequencyGap, Dtype::F64, {h}, std::as_bytes(std::span<const double>(gaps))});
  } else {
    tj["frequency"] = nullptr;
  }
  ModelSaveOptions o = opts;
  o.metadata["two_tower_trainer"] = tj.dump();
  detail::write_checkpoint(path, trainer.model(), trainer.optimizer(), pos, o,
                           best ? &*trainer.best_params() : nullptr, state);
}

/// \brief Restores a TwoTowerTrainer's whole state from a checkpoint written by save_checkpoint(path,
/// trainer, position): parameters, optimizer state, step count and frequency estimator. Returns the
/// position, to pass to trainer.fit(data, train, &position). Everything is checked before anything
/// is written; a bad or mismatched file is a ctrnet::Error naming the path and what is wrong.
template <SavableArchitecture M, class Policy>
TrainingPosition load_checkpoint(const std::string& path, TwoTowerTrainer<M, Policy>& trainer) {
  const SafetensorsFile f(path);
  CTRNET_CHECK(f.metadata().count("format") && f.metadata("format") == "ctrnet.checkpoint", path,
               ": not a checkpoint (format '", f.metadata().count("format") ? f.metadata("format") : std::string(),
               "'); use load_model for model files");
  CTRNET_CHECK(f.metadata().count("two_tower_trainer"), path, ": not a TwoTowerTrainer checkpoint (its __metadata__ ",
               "has no 'two_tower_trainer'; write it with save_checkpoint(path, two_tower_trainer, position))");
  detail::check_architecture<M>(f);
  const nlohmann::json tj = detail::parse_metadata_json(f, "two_tower_trainer");
  const std::string what = path + ": __metadata__ 'two_tower_trainer'";
  CTRNET_CHECK(tj.is_object(), what, " is not a JSON object");
  const nlohmann::json mine = detail::two_tower_trainer_json(trainer.options());
  const nlohmann::json defaults = detail::two_tower_trainer_json(TwoTowerTrainerOptions{});
  for (auto it = mine.begin(); it != mine.end(); ++it) {
    const auto was = tj.find(it.key());
    const bool has = was != tj.end() || detail::two_tower_trainer_key_with_default(it.key());
    const nlohmann::json& then = was != tj.end() ? *was : defaults.at(it.key());
    CTRNET_CHECK(has && then == *it, path, ": the checkpoint was written by a trainer with ", it.key(), " = ",
                 has ? then.dump() : std::string("(none)"), ", this trainer has ", it->dump(),
                 "; resume with the same options");
  }
  const nlohmann::json& fj = detail::json_at(tj, "frequency", what);
  std::size_t state = 0;
  for (const auto& t : f.tensors())
    if (std::string_view(t.name).starts_with("trainer.") && !std::string_view(t.name).starts_with(detail::kBestPrefix)) {
      CTRNET_CHECK(t.name == detail::kFrequencyLast || t.name == detail::kFrequencyGap, path, ": unexpected tensor '",
                   t.name, "' in a TwoTowerTrainer checkpoint");
      ++state;
    }
  FrequencyEstimator fe(trainer.options().frequency);
  std::int64_t freq_steps = 0;
  if (fj.is_null()) {
    CTRNET_CHECK(state == 0, path, ": the checkpoint holds frequency-estimator tensors but its metadata says none");
    CTRNET_CHECK(!trainer.uses_frequency_estimator(), path, ": the checkpoint holds no frequency-estimator state, ",
                 "but this trainer uses one (logQ correction)");
  } else {
    CTRNET_CHECK(fj.is_object(), what, ": 'frequency' must be an object or null");
    detail::json_only_keys(fj, {"steps"}, what + " 'frequency'");
    freq_steps = detail::json_get<std::int64_t>(fj, "steps", what + " 'frequency'");
    const auto h = static_cast<std::int64_t>(fe.options().buckets);
    for (const char* name : {detail::kFrequencyLast, detail::kFrequencyGap}) {
      const TensorInfo* t = f.find(name);
      CTRNET_CHECK(t != nullptr, path, ": missing frequency-estimator tensor '", name, "'");
      const Dtype want = name == std::string_view(detail::kFrequencyLast) ? Dtype::I64 : Dtype::F64;
      CTRNET_CHECK(t->dtype == want, path, ": tensor '", name, "' is stored as ", to_string(t->dtype), ", expected ",
                   to_string(want));
      CTRNET_CHECK(t->shape == std::vector<std::int64_t>{h}, path, ": tensor '", name, "' has shape ",
                   detail::shape_text(t->shape), ", the frequency estimator has ", h, " buckets");
    }
    std::vector<std::int64_t> last(static_cast<std::size_t>(h));
    std::vector<double> gap(static_cast<std::size_t>(h));
    f.read(detail::kFrequencyLast, std::span<std::int64_t>(last));
    f.read(detail::kFrequencyGap, std::span<double>(gap));
    try {
      fe.restore(last, gap, freq_steps);
    } catch (const Error& e) {
      detail::throw_error(path, ": corrupted frequency-estimator state: ", e.what());
    }
  }
  const TrainingPosition p = detail::position_from_json(detail::parse_metadata_json(f, "position"), path);
  if (trainer.uses_frequency_estimator())
    CTRNET_CHECK(freq_steps == p.step, path, ": the frequency estimator has seen ", freq_steps,
                 " steps, the position is at step ", p.step, "; expected the same count");
  auto best = detail::read_best_params(f, trainer.model(), p);  // read and checked before anything is written
  // Parameters, optimizer state and position: checked in full (io/checkpoint.hpp), then written.
  const TrainingPosition pos = detail::read_checkpoint(f, trainer.model(), trainer.optimizer());
  trainer.set_best_params(std::move(best));
  trainer.frequency_estimator() = std::move(fe);
  trainer.set_step(pos.step);
  return pos;
}

}  // namespace ctrnet
