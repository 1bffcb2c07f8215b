// Training checkpoints: a model file (see model_io.hpp) plus the optimizers' state and the trainer's
// position, so an interrupted run resumes to bit-identical parameters. Extra tensors are named
// "optimizer.<state>", e.g. "optimizer.dense.exp_avg", "optimizer.embedding.C14.sum" (PyTorch's
// state names), and "trainer.best.<parameter>" (early stopping's copy of the best epoch's
// parameters, when Trainer::fit keeps one); __metadata__ adds "format" = "ctrnet.checkpoint",
// "optimizer" (JSON: kinds and step counts) and "position" (JSON: epoch, batch, step, optional RNG
// state, optional "fit": Trainer::fit's FitState). Writes are atomic (io/output_file.hpp), so a crash
// mid-save leaves the previous checkpoint intact, and the next save removes a killed run's temporary.
//
//   Trainer<M> trainer(model, opts);                      // opts.on_checkpoint = [&](auto& p) {
//   auto pos = load_checkpoint(path, trainer);            //   save_checkpoint(path, trainer, p); }
//   trainer.fit(train, &valid, &pos);                     // continues bit for bit
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/optim/model_optimizer.hpp"
#include "ctrnet/train/trainer.hpp"

namespace ctrnet {

// TrainingPosition and FitState are defined in train/fit_position.hpp (included by train/trainer.hpp).

/// The state of `rng`, for TrainingPosition::rng_state.
inline std::array<std::uint64_t, 4> rng_state(const Rng& rng) {
  return {rng.state()[0], rng.state()[1], rng.state()[2], rng.state()[3]};
}

namespace detail {

/// A double in JSON: NaN and ±∞ (no JSON numbers) as null, read back as NaN. Finite values
/// round-trip exactly (nlohmann writes the shortest representation that parses back to the same bits).
inline nlohmann::json double_to_json(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
inline double double_from_json(const nlohmann::json& j, const char* key, const std::string& what) {
  const nlohmann::json& v = json_at(j, key, what);
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  CTRNET_CHECK(v.is_number(), what, ": key '", key, "' must be a number or null, got ", v.dump());
  return v.get<double>();
}

inline nlohmann::json fit_state_to_json(const FitState& s) {
  nlohmann::json epochs = nlohmann::json::array();
  for (const auto& e : s.epochs) {
    nlohmann::json ej{{"epoch", e.epoch},
                      {"train_loss", double_to_json(e.train_loss)},
                      {"valid_auc", double_to_json(e.valid_auc)},
                      {"valid_logloss", double_to_json(e.valid_logloss)},
                      {"valid_calibration", double_to_json(e.valid_calibration)},
                      {"seconds", double_to_json(e.seconds)},
                      {"samples_per_second", double_to_json(e.samples_per_second)},
                      {"lr_factor", double_to_json(e.lr_factor)}};
    if (!e.valid_metrics.empty()) {  // [[name, value], ...]: keeps their order
      nlohmann::json vm = nlohmann::json::array();
      for (const auto& [k, v] : e.valid_metrics) vm.push_back(nlohmann::json::array({k, double_to_json(v)}));
      ej["valid_metrics"] = vm;
    }
    epochs.push_back(ej);
  }
  return {{"examples", s.examples},
          {"batch_size", s.batch_size},
          {"loss_sum", double_to_json(s.loss_sum)},
          {"weight_sum", double_to_json(s.weight_sum)},
          {"last_loss", double_to_json(s.last_loss)},
          {"epochs", epochs},
          {"best_epoch", s.best_epoch},
          {"best", s.best ? double_to_json(*s.best) : nlohmann::json(nullptr)},
          {"since_best", s.since_best},
          {"stopped_early", s.stopped_early},
          {"best_params", s.has_best_params}};
}

inline FitState fit_state_from_json(const nlohmann::json& j, const std::string& source) {
  const std::string what = source + ": __metadata__ 'position' 'fit'";
  json_only_keys(j, {"examples", "batch_size", "loss_sum", "weight_sum", "last_loss", "epochs", "best_epoch", "best",
                     "since_best", "stopped_early", "best_params"},
                 what);
  FitState s;
  s.examples = json_get<index_t>(j, "examples", what);
  s.batch_size = json_get<index_t>(j, "batch_size", what);
  s.loss_sum = double_from_json(j, "loss_sum", what);
  s.weight_sum = double_from_json(j, "weight_sum", what);
  s.last_loss = double_from_json(j, "last_loss", what);
  const auto& epochs = json_at(j, "epochs", what);
  CTRNET_CHECK(epochs.is_array(), what, ": 'epochs' must be an array");
  for (const auto& e : epochs) {
    const std::string w = what + " epoch";
    json_only_keys(e, {"epoch", "train_loss", "valid_auc", "valid_logloss", "valid_calibration", "seconds",
                       "samples_per_second", "lr_factor", "valid_metrics"},
                   w);
    EpochStats st;
    st.epoch = json_get<int>(e, "epoch", w);
    st.train_loss = double_from_json(e, "train_loss", w);
    st.valid_auc = double_from_json(e, "valid_auc", w);
    st.valid_logloss = double_from_json(e, "valid_logloss", w);
    st.valid_calibration = double_from_json(e, "valid_calibration", w);
    st.seconds = double_from_json(e, "seconds", w);
    st.samples_per_second = double_from_json(e, "samples_per_second", w);
    st.lr_factor = double_from_json(e, "lr_factor", w);
    if (const auto vm = e.find("valid_metrics"); vm != e.end()) {
      CTRNET_CHECK(vm->is_array(), w, ": 'valid_metrics' must be an array of [name, value] pairs");
      for (const auto& kv : *vm) {
        CTRNET_CHECK(kv.is_array() && kv.size() == 2 && kv[0].is_string() && (kv[1].is_number() || kv[1].is_null()), w,
                     ": 'valid_metrics' holds ", kv.dump(), ", expected [name, value]");
        st.valid_metrics.emplace_back(kv[0].get<std::string>(),
                                      kv[1].is_null() ? std::numeric_limits<double>::quiet_NaN() : kv[1].get<double>());
      }
    }
    s.epochs.push_back(st);
  }
  s.best_epoch = json_get<int>(j, "best_epoch", what);
  if (!json_at(j, "best", what).is_null()) s.best = double_from_json(j, "best", what);
  s.since_best = json_get<int>(j, "since_best", what);
  s.stopped_early = json_get<bool>(j, "stopped_early", what);
  s.has_best_params = json_get<bool>(j, "best_params", what);
  CTRNET_CHECK(s.examples >= 0 && s.batch_size > 0 && s.best_epoch >= 0 && s.since_best >= 0 &&
                   s.best_epoch <= static_cast<int>(s.epochs.size()),
               what, ": inconsistent values ", j.dump());
  return s;
}

/// A position written by Trainer::fit is consistent with its FitState: the epochs before
/// `epoch` are the finished ones, `batch` lies within an epoch's batches and `step` counts at least
/// the batches done since the run began.
inline void check_fit_position(const TrainingPosition& p, const std::string& what) {
  const FitState& fs = *p.fit;
  CTRNET_CHECK(static_cast<std::int64_t>(fs.epochs.size()) == p.epoch - 1, what, ": epoch ", p.epoch,
               " does not follow the ", fs.epochs.size(), " finished epoch(s) the checkpoint records; expected epoch ",
               fs.epochs.size() + 1);
  for (std::size_t e = 0; e < fs.epochs.size(); ++e)
    CTRNET_CHECK(fs.epochs[e].epoch == static_cast<int>(e) + 1, what, ": finished epoch ", e + 1, " is numbered ",
                 fs.epochs[e].epoch);
  const std::int64_t batches = (fs.examples + fs.batch_size - 1) / fs.batch_size;
  CTRNET_CHECK(p.batch <= batches, what, ": batch ", p.batch, " is beyond the ", batches, " batches of an epoch (",
               fs.examples, " examples in batches of ", fs.batch_size, ")");
  const std::int64_t done = (p.epoch - 1) * batches + p.batch;
  CTRNET_CHECK(p.step >= done, what, ": step ", p.step, " is fewer than the ", done, " batches done by epoch ",
               p.epoch, ", batch ", p.batch);
}

inline nlohmann::json position_to_json(const TrainingPosition& p) {
  nlohmann::json j{{"epoch", p.epoch}, {"batch", p.batch}, {"step", p.step}};
  if (p.fit) j["fit"] = fit_state_to_json(*p.fit);
  if (p.rng_state) {
    // As strings: 64-bit values do not survive JSON readers that use doubles (Python's does; JS does not).
    nlohmann::json a = nlohmann::json::array();
    for (auto w : *p.rng_state) a.push_back(std::to_string(w));
    j["rng_state"] = a;
  }
  return j;
}

inline TrainingPosition position_from_json(const nlohmann::json& j, const std::string& source) {
  const std::string what = source + ": __metadata__ 'position'";
  json_only_keys(j, {"epoch", "batch", "step", "rng_state", "fit"}, what);
  TrainingPosition p;
  p.epoch = json_get<std::int64_t>(j, "epoch", what);
  p.batch = json_get<std::int64_t>(j, "batch", what);
  p.step = json_get<std::int64_t>(j, "step", what);
  CTRNET_CHECK(p.epoch >= 1 && p.batch >= 0 && p.step >= 0, what, ": invalid position ", j.dump(),
               "; expected epoch >= 1, batch >= 0, step >= 0");
  if (j.contains("rng_state")) {
    const auto words = json_get<std::vector<std::string>>(j, "rng_state", what);
    CTRNET_CHECK(words.size() == 4, what, ": rng_state needs 4 words, got ", words.size());
    std::array<std::uint64_t, 4> s{};
    for (std::size_t i = 0; i < 4; ++i) {
      std::size_t used = 0;
      try {
        s[i] = std::stoull(words[i], &used);
      } catch (const std::exception&) {
        used = 0;
      }
      CTRNET_CHECK(used == words[i].size() && used > 0 && words[i][0] != '-', what, ": rng_state word '", words[i],
                   "' is not a 64-bit unsigned integer");
    }
    p.rng_state = s;
  }
  if (j.contains("fit")) {
    p.fit = fit_state_from_json(j["fit"], source);
    check_fit_position(p, what);
  }
  return p;
}

template <class T>
nlohmann::json optimizer_to_json(ModelOptimizer<T>& opt) {
  nlohmann::json tables = nlohmann::json::object();
  for (std::size_t t = 0; t < opt.table_names().size(); ++t) {
    auto& o = opt.table(static_cast<index_t>(t));
    tables[opt.table_names()[t]] = {{"kind", std::string(o.name())}, {"step", o.step_count()}};
  }
  return {{"step", opt.step_count()},
          {"dense", {{"kind", std::string(opt.dense().name())}, {"step", opt.dense().step_count()}}},
          {"tables", tables}};
}

inline constexpr const char* kBestPrefix = "trainer.best.";

/// The tensors "trainer.best.<name>" of early stopping's copy of the parameters (views into `best`;
/// `names` keeps the names alive).
template <class M>
void best_tensors(const M& model, const ModelParams<typename M::value_type>& best, std::vector<std::string>& names,
                  std::vector<TensorToWrite>& out, StagedTensors& staged) {
  using T = typename M::value_type;
  const auto& reg = model.registry();
  names.clear();
  names.reserve(reg.params().size() + reg.tables().size());
  for (const auto& p : reg.params()) {
    names.push_back(kBestPrefix + p.name);
    out.push_back({names.back(), dtype_of<T>(), stored_shape(p),
                   staged.on_host(best.dense.data() + p.handle.offset, static_cast<std::size_t>(p.handle.size()) * sizeof(T),
                                  best.dense.space())});
  }
  for (const auto& t : reg.tables()) {
    const auto& m = best.tables[static_cast<std::size_t>(t.handle.id)];
    names.push_back(kBestPrefix + t.name);
    out.push_back({names.back(), dtype_of<T>(),
                   {static_cast<std::int64_t>(m.rows()), static_cast<std::int64_t>(m.cols())},
                   staged.on_host(m.data(), static_cast<std::size_t>(m.size()) * sizeof(T), m.space())});
  }
}

template <class M>
void write_checkpoint(const std::string& path, const M& model, ModelOptimizer<typename M::value_type>& opt,
                      const TrainingPosition& pos, const ModelSaveOptions& opts,
                      const ModelParams<typename M::value_type>* best,
                      const std::vector<TensorToWrite>& training_state = {}) {
  using T = typename M::value_type;
  CTRNET_CHECK(model.built(), "save_checkpoint: the model is not built");
  CTRNET_CHECK(!opts.bf16_tables, "save_checkpoint: BF16 tables would not resume bit for bit; save checkpoints in ",
               to_string(dtype_of<T>()));
  StagedTensors staged;
  auto tensors = model_tensors(model, false, staged);
  for (auto& s : opt.state()) {
    std::vector<std::int64_t> shape(s.shape.begin(), s.shape.end());
    tensors.push_back({"optimizer." + s.name, dtype_of<T>(), std::move(shape),
                       staged.on_host(s.values.data(), s.values.size_bytes(), s.space ? *s.space : host_memory())});
  }
  std::vector<std::string> best_names;
  if (best) best_tensors(model, *best, best_names, tensors, staged);
  for (const auto& t : training_state) {  // a trainer's own state, e.g. TwoTowerTrainer's "trainer.frequency.*"
    CTRNET_CHECK(is_training_state(t.name), "save_checkpoint: training-state tensor '", t.name,
                 "' must be named optimizer.* or trainer.*");
    tensors.push_back(t);
  }
  SafetensorsMetadata md = opts.metadata;
  for (const char* k : {"optimizer", "position"})
    CTRNET_CHECK(md.find(k) == md.end(), "save_checkpoint: metadata key '", k, "' is reserved for ctrnet");
  ModelSaveOptions o = opts;
  o.metadata = std::move(md);
  SafetensorsMetadata all = model_metadata(model, o, "ctrnet.checkpoint");
  all["optimizer"] = optimizer_to_json(opt).dump();
  all["position"] = position_to_json(pos).dump();
  write_safetensors(path, tensors, all);
}

/// Optimizer state that the math keeps >= 0: Adam's second moment, Adagrad's accumulators, FTRL's n
/// (names "<owner>.exp_avg_sq", "<owner>.sum", "<owner>.n").
inline bool is_non_negative_state(std::string_view name) {
  return name.ends_with(".exp_avg_sq") || name.ends_with(".sum") || name.ends_with(".n");
}

template <class M>
TrainingPosition read_checkpoint(const SafetensorsFile& f, M& model, ModelOptimizer<typename M::value_type>& opt) {
  using T = typename M::value_type;
  const std::string& path = f.source();
  CTRNET_CHECK(f.metadata("format") == "ctrnet.checkpoint", path, ": not a checkpoint (format '",
               f.metadata("format"), "'); use load_model for model files");
  check_architecture<M>(f);
  check_metadata_dtype<T>(f);
  {
    const nlohmann::json mine = nlohmann::json(ModelArchitectureTraits<M>::options(model));
    const nlohmann::json theirs = parse_metadata_json(f, "options");
    CTRNET_CHECK(mine == theirs, path, ": the checkpoint's model options ", theirs.dump(), " differ from the model's ",
                 mine.dump());
  }
  const nlohmann::json oj = parse_metadata_json(f, "optimizer");
  const nlohmann::json pj = parse_metadata_json(f, "position");
  const std::string what = path + ": __metadata__ 'optimizer'";
  const auto& dense = json_at(oj, "dense", what);
  const auto& tables = json_at(oj, "tables", what);
  CTRNET_CHECK(tables.is_object(), what, ": 'tables' is not an object");
  CTRNET_CHECK(json_get<std::string>(dense, "kind", what) == opt.dense().name(), path,
               ": the checkpoint's dense optimizer is ", json_get<std::string>(dense, "kind", what),
               ", the current one is ", opt.dense().name());
  CTRNET_CHECK(tables.size() == opt.table_names().size(), path, ": the checkpoint has optimizers for ", tables.size(),
               " tables, the current optimizer for ", opt.table_names().size());
  for (std::size_t t = 0; t < opt.table_names().size(); ++t) {
    const std::string& name = opt.table_names()[t];
    const auto& tj = json_at(tables, name.c_str(), what);
    const auto kind = json_get<std::string>(tj, "kind", what);
    CTRNET_CHECK(kind == opt.table(static_cast<index_t>(t)).name(), path, ": table '", name, "' was optimised with ",
                 kind, ", the current optimizer is ", opt.table(static_cast<index_t>(t)).name());
  }
  const TrainingPosition pos = position_from_json(pj, path);

  // The optimizer state is checked before anything is written, then parameters, then state.
  auto state = opt.state();
  for (auto& s : state) {
    const std::string name = "optimizer." + s.name;
    const TensorInfo* t = f.find(name);
    CTRNET_CHECK(t != nullptr, path, ": missing optimizer state '", name, "'");
    const std::vector<std::int64_t> want(s.shape.begin(), s.shape.end());
    CTRNET_CHECK(t->shape == want, path, ": optimizer state '", name, "' has shape ", shape_text(t->shape),
                 ", expected ", shape_text(want));
    CTRNET_CHECK(t->dtype == dtype_of<T>(), path, ": optimizer state '", name, "' is stored as ", to_string(t->dtype),
                 ", expected ", to_string(dtype_of<T>()));
    check_finite_tensor(f, *t, is_non_negative_state(s.name));
  }
  std::size_t present = 0;
  for (const auto& t : f.tensors()) present += std::string_view(t.name).starts_with("optimizer.") ? 1 : 0;
  CTRNET_CHECK(present == state.size(), path, ": the checkpoint holds ", present, " optimizer state tensors, the ",
               "current optimizer has ", state.size(), " (different optimizer options?)");
  // Every optimizer (and the position) counts the same steps: one ModelOptimizer::step moves them all.
  const auto step = json_get<std::int64_t>(oj, "step", what);
  CTRNET_CHECK(step == pos.step, path, ": the optimizer has taken ", step, " steps, the position says step ", pos.step,
               "; expected the same count");
  const auto dense_step = json_get<std::int64_t>(dense, "step", what);
  CTRNET_CHECK(dense_step == step, what, ": the dense optimizer's step ", dense_step, " differs from the step ", step,
               " of the optimizer");
  std::vector<std::int64_t> table_steps;
  for (const auto& name : opt.table_names()) {
    table_steps.push_back(json_get<std::int64_t>(json_at(tables, name.c_str(), what), "step", what));
    CTRNET_CHECK(table_steps.back() == step, what, ": table '", name, "''s optimizer step ", table_steps.back(),
                 " differs from the step ", step, " of the optimizer");
  }
  load_params_from(model, f, true);
  for (auto& s : state)
    read_tensor_into(f, "optimizer." + s.name, s.values.data(), static_cast<index_t>(s.values.size()),
                     s.space ? *s.space : host_memory(), {dtype_of<T>()});
  opt.set_step_count(step);
  opt.dense().set_step_count(dense_step);
  for (std::size_t t = 0; t < opt.table_names().size(); ++t)
    opt.table(static_cast<index_t>(t)).set_step_count(table_steps[t]);
  return pos;
}

/// Reads early stopping's copy of the best parameters ("trainer.best.*"), if the position says
/// there is one.
template <class M>
std::optional<ModelParams<typename M::value_type>> read_best_params(const SafetensorsFile& f, const M& model,
                                                                    const TrainingPosition& pos) {
  using T = typename M::value_type;
  std::size_t present = 0;
  for (const auto& t : f.tensors()) present += std::string_view(t.name).starts_with(kBestPrefix) ? 1 : 0;
  const bool want = pos.fit && pos.fit->has_best_params;
  const auto& reg = model.registry();
  const std::size_t expected = want ? reg.params().size() + reg.tables().size() : 0;
  CTRNET_CHECK(present == expected, f.source(), ": the checkpoint holds ", present, " '", kBestPrefix,
               "*' tensors, its position says ", expected);
  if (!want) return std::nullopt;
  ModelParams<T> best;
  best.allocate(reg);
  auto read = [&](const std::string& name, const std::vector<std::int64_t>& shape, T* dst, index_t n, MemorySpace& space) {
    const TensorInfo* t = f.find(name);
    CTRNET_CHECK(t != nullptr, f.source(), ": missing tensor '", name, "'");
    CTRNET_CHECK(t->shape == shape, f.source(), ": tensor '", name, "' has shape ", shape_text(t->shape),
                 ", expected ", shape_text(shape));
    CTRNET_CHECK(t->dtype == dtype_of<T>(), f.source(), ": tensor '", name, "' is stored as ", to_string(t->dtype),
                 ", expected ", to_string(dtype_of<T>()));
    check_finite_tensor(f, *t);
    read_tensor_into(f, name, dst, n, space, {dtype_of<T>()});
  };
  for (const auto& p : reg.params())
    read(kBestPrefix + p.name, stored_shape(p), best.dense.data() + p.handle.offset, p.handle.size(),
         best.dense.space());
  for (const auto& t : reg.tables()) {
    auto& m = best.tables[static_cast<std::size_t>(t.handle.id)];
    read(kBestPrefix + t.name, {static_cast<std::int64_t>(m.rows()), static_cast<std::int64_t>(m.cols())}, m.data(),
         m.size(), m.space());
  }
  return best;
}

}  // namespace detail

/// \brief Writes model + optimizer state + position to `path` (atomically).
template <SavableArchitecture M>
void save_checkpoint(const std::string& path, const M& model, ModelOptimizer<typename M::value_type>& opt,
                     const TrainingPosition& pos, const ModelSaveOptions& opts = {}) {
  CTRNET_CHECK(!pos.fit || !pos.fit->has_best_params, "save_checkpoint: the position needs the trainer's copy of the ",
               "best parameters; use save_checkpoint(path, trainer, position)");
  detail::write_checkpoint(path, model, opt, pos, opts, nullptr);
}

/// \brief Writes a Trainer's whole state at `pos` (from TrainerOptions::on_checkpoint or
/// TrainResult::position): its model, optimizer state and, when early stopping keeps one, the copy
/// of the best epoch's parameters.
template <SavableArchitecture M, class Policy>
void save_checkpoint(const std::string& path, Trainer<M, Policy>& trainer, const TrainingPosition& pos,
                     const ModelSaveOptions& opts = {}) {
  CTRNET_CHECK(pos.step == trainer.step(), "save_checkpoint: the position is at step ", pos.step, ", the trainer at ",
               trainer.step());
  const bool best = pos.fit && pos.fit->has_best_params;
  CTRNET_CHECK(best == trainer.best_params().has_value(), "save_checkpoint: the position and the trainer disagree on ",
               "the best parameters' copy");
  detail::write_checkpoint(path, trainer.model(), trainer.optimizer(), pos, opts,
                           best ? &*trainer.best_params() : nullptr);
}

/// \brief Restores a checkpoint into a built `model` and an optimizer initialised for it (same
/// kinds as when saved); returns the position to resume from. Checks everything load_model_params
/// checks (finite values included), plus the model options, the optimizer kinds, state names and
/// shapes, finite optimizer state (second moments and accumulators >= 0), the metadata dtype, and
/// a consistent position (step = the optimizers' step counts; with Trainer::fit's state: the epoch
/// follows the finished ones, the batch lies within an epoch). Nothing is written before all pass.
template <SavableArchitecture M>
TrainingPosition load_checkpoint(const std::string& path, M& model, ModelOptimizer<typename M::value_type>& opt) {
  const SafetensorsFile f(path);
  return detail::read_checkpoint(f, model, opt);
}

/// \brief Restores a Trainer's whole state (model, optimizer, step count, early stopping's copy of
/// the best parameters); returns the position, to pass to trainer.fit(train, valid, &position).
template <SavableArchitecture M, class Policy>
TrainingPosition load_checkpoint(const std::string& path, Trainer<M, Policy>& trainer) {
  const SafetensorsFile f(path);
  // The best epoch's copy is read and checked before read_checkpoint writes anything (after the
  // file's kind and architecture, so that a wrong file is named as such first).
  CTRNET_CHECK(f.metadata("format") == "ctrnet.checkpoint", path, ": not a checkpoint (format '", f.metadata("format"),
               "'); use load_model for model files");
  detail::check_architecture<M>(f);
  auto best = detail::read_best_params(
      f, trainer.model(), detail::position_from_json(detail::parse_metadata_json(f, "position"), path));
  TrainingPosition pos = detail::read_checkpoint(f, trainer.model(), trainer.optimizer());
  trainer.set_best_params(std::move(best));
  trainer.set_step(pos.step);
  return pos;
}

}  // namespace ctrnet
