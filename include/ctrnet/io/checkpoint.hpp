// Training checkpoints: a model file (see model_io.hpp) plus the optimizers' state and the trainer's
// position, so an interrupted run resumes to bit-identical parameters. Extra tensors are named
// "optimizer.<state>", e.g. "optimizer.dense.exp_avg", "optimizer.embedding.C14.sum" (PyTorch's
// state names); __metadata__ adds "format" = "ctrnet.checkpoint", "optimizer" (JSON: kinds and step
// counts) and "position" (JSON: epoch, batch, step, optional RNG state). Writes are atomic, so a
// crash mid-save leaves the previous checkpoint intact.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/optim/model_optimizer.hpp"

namespace ctrnet {

/// Where a training run stands. `epoch` is the current epoch (1-based, as Trainer::fit counts),
/// `batch` the number of its batches already done, `step` the global number of optimizer steps.
struct TrainingPosition {
  std::int64_t epoch = 1;
  std::int64_t batch = 0;
  std::int64_t step = 0;
  std::optional<std::array<std::uint64_t, 4>> rng_state;  ///< a caller's Rng (e.g. for sampling), if any

  bool operator==(const TrainingPosition&) const = default;
};

/// The state of `rng`, for TrainingPosition::rng_state.
inline std::array<std::uint64_t, 4> rng_state(const Rng& rng) {
  return {rng.state()[0], rng.state()[1], rng.state()[2], rng.state()[3]};
}

namespace detail {

inline nlohmann::json position_to_json(const TrainingPosition& p) {
  nlohmann::json j{{"epoch", p.epoch}, {"batch", p.batch}, {"step", p.step}};
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
  json_only_keys(j, {"epoch", "batch", "step", "rng_state"}, what);
  TrainingPosition p;
  p.epoch = json_get<std::int64_t>(j, "epoch", what);
  p.batch = json_get<std::int64_t>(j, "batch", what);
  p.step = json_get<std::int64_t>(j, "step", what);
  CTRNET_CHECK(p.epoch >= 1 && p.batch >= 0 && p.step >= 0, what, ": invalid position ", j.dump());
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

}  // namespace detail

/// \brief Writes model + optimizer state + position to `path` (atomically).
template <SavableArchitecture M>
void save_checkpoint(const std::string& path, const M& model, ModelOptimizer<typename M::value_type>& opt,
                     const TrainingPosition& pos, const ModelSaveOptions& opts = {}) {
  using T = typename M::value_type;
  CTRNET_CHECK(model.built(), "save_checkpoint: the model is not built");
  CTRNET_CHECK(!opts.bf16_tables, "save_checkpoint: BF16 tables would not resume bit for bit; save checkpoints in ",
               to_string(dtype_of<T>()));
  std::vector<std::vector<std::uint16_t>> bf16;
  auto tensors = detail::model_tensors(model, false, bf16);
  for (auto& s : opt.state()) {
    std::vector<std::int64_t> shape(s.shape.begin(), s.shape.end());
    tensors.push_back({"optimizer." + s.name, dtype_of<T>(), std::move(shape), std::as_bytes(std::span<const T>(s.values))});
  }
  SafetensorsMetadata md = opts.metadata;
  for (const char* k : {"optimizer", "position"})
    CTRNET_CHECK(md.find(k) == md.end(), "save_checkpoint: metadata key '", k, "' is reserved for ctrnet");
  ModelSaveOptions o = opts;
  o.metadata = std::move(md);
  SafetensorsMetadata all = detail::model_metadata(model, o, "ctrnet.checkpoint");
  all["optimizer"] = detail::optimizer_to_json(opt).dump();
  all["position"] = detail::position_to_json(pos).dump();
  write_safetensors(path, tensors, all);
}

/// \brief Restores a checkpoint into a built `model` and an optimizer initialised for it (same
/// kinds as when saved); returns the position to resume from. Checks everything load_model_params
/// checks, plus the optimizer kinds, state names and shapes.
template <SavableArchitecture M>
TrainingPosition load_checkpoint(const std::string& path, M& model, ModelOptimizer<typename M::value_type>& opt) {
  using T = typename M::value_type;
  const SafetensorsFile f(path);
  CTRNET_CHECK(f.metadata("format") == "ctrnet.checkpoint", path, ": not a checkpoint (format '",
               f.metadata("format"), "'); use load_model for model files");
  const nlohmann::json oj = detail::parse_metadata_json(f, "optimizer");
  const nlohmann::json pj = detail::parse_metadata_json(f, "position");
  const std::string what = path + ": __metadata__ 'optimizer'";
  const auto& dense = detail::json_at(oj, "dense", what);
  const auto& tables = detail::json_at(oj, "tables", what);
  CTRNET_CHECK(tables.is_object(), what, ": 'tables' is not an object");
  CTRNET_CHECK(detail::json_get<std::string>(dense, "kind", what) == opt.dense().name(), path,
               ": the checkpoint's dense optimizer is ", detail::json_get<std::string>(dense, "kind", what),
               ", the current one is ", opt.dense().name());
  CTRNET_CHECK(tables.size() == opt.table_names().size(), path, ": the checkpoint has optimizers for ", tables.size(),
               " tables, the current optimizer for ", opt.table_names().size());
  for (std::size_t t = 0; t < opt.table_names().size(); ++t) {
    const std::string& name = opt.table_names()[t];
    const auto& tj = detail::json_at(tables, name.c_str(), what);
    const auto kind = detail::json_get<std::string>(tj, "kind", what);
    CTRNET_CHECK(kind == opt.table(static_cast<index_t>(t)).name(), path, ": table '", name, "' was optimised with ",
                 kind, ", the current optimizer is ", opt.table(static_cast<index_t>(t)).name());
  }
  const TrainingPosition pos = detail::position_from_json(pj, path);

  // The optimizer state is checked before anything is written, then parameters, then state.
  auto state = opt.state();
  for (auto& s : state) {
    const std::string name = "optimizer." + s.name;
    const TensorInfo* t = f.find(name);
    CTRNET_CHECK(t != nullptr, path, ": missing optimizer state '", name, "'");
    const std::vector<std::int64_t> want(s.shape.begin(), s.shape.end());
    CTRNET_CHECK(t->shape == want, path, ": optimizer state '", name, "' has shape ", detail::shape_text(t->shape),
                 ", expected ", detail::shape_text(want));
    CTRNET_CHECK(t->dtype == dtype_of<T>(), path, ": optimizer state '", name, "' is stored as ", to_string(t->dtype),
                 ", expected ", to_string(dtype_of<T>()));
  }
  std::size_t present = 0;
  for (const auto& t : f.tensors()) present += std::string_view(t.name).starts_with("optimizer.") ? 1 : 0;
  CTRNET_CHECK(present == state.size(), path, ": the checkpoint holds ", present, " optimizer state tensors, the ",
               "current optimizer has ", state.size(), " (different optimizer options?)");
  detail::load_params_from(model, f, "optimizer.");
  for (auto& s : state) f.read("optimizer." + s.name, std::span<T>(s.values));
  opt.set_step_count(detail::json_get<std::int64_t>(oj, "step", what));
  opt.dense().set_step_count(detail::json_get<std::int64_t>(dense, "step", what));
  for (std::size_t t = 0; t < opt.table_names().size(); ++t)
    opt.table(static_cast<index_t>(t))
        .set_step_count(detail::json_get<std::int64_t>(detail::json_at(tables, opt.table_names()[t].c_str(), what), "step", what));
  return pos;
}

}  // namespace ctrnet
