// ctrnet-vt internals shared by its translation units: main.cpp parses the command line, reads the
// session log and counts co-occurrences; models_mlp.cpp, models_cross.cpp and models_transformer.cpp
// each instantiate one tower kind's models (BCE and listwise heads), train them and compute the
// lists, so the compile work splits over several compiler processes.
#pragma once
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/core/memory_budget.hpp"
#include "ctrnet/data/cooccurrence.hpp"
#include "ctrnet/data/schema_json.hpp"
#include "ctrnet/io/architecture_item_to_item.hpp"
#include "ctrnet/io/checkpoint.hpp"
#include "ctrnet/models/item_to_item.hpp"
#include "ctrnet/serve/related_items.hpp"
#include "ctrnet/train/item_to_item_trainer.hpp"
#include "ctrnet/train/next_item_metrics.hpp"

namespace ctrnet_vt {

using namespace ctrnet;

/// What a tower kind's training needs (built by main.cpp).
struct Run {
  const CooccurrenceTable* table = nullptr;
  const ItemPairFeaturizer* fz = nullptr;
  const std::vector<ItemPairExample>* positives = nullptr;
  ItemToItemOptions model;
  ItemToItemTrainOptions train;
  RelatedItemsOptions related;
  bool listwise = false;    ///< --loss softmax
  std::uint64_t seed = 1;
  OutputFile* model_out = nullptr;  ///< write the model here (null: no); main.cpp commits it
  nlohmann::json options;   ///< the model file's "options" metadata
  nlohmann::json train_data;  ///< what the run trains on (sizes of the log, catalogue, positives), for resume checks
  std::string checkpoint;   ///< --checkpoint: written every checkpoint_every steps and after every epoch
  std::string resume;       ///< --resume: continue the run saved there
  const std::vector<Session>* valid = nullptr;  ///< --valid: next-item HR/MRR@K after every epoch
  nlohmann::json validation;  ///< --valid's size and --patience, for resume checks (null: no validation)
};

/// The settings a resumed run must share with the run that wrote the checkpoint: all of
/// run.options except --epochs (a run may be continued for more epochs).
inline nlohmann::json resume_options(const Run& run) {
  nlohmann::json o = run.options;
  o.erase("epochs");
  if (!run.validation.is_null()) o["validation"] = run.validation;  // absent without --valid (older checkpoints)
  return o;
}

/// Checks that `run.resume` is a ctrnet-vt checkpoint of the same model, options and data.
inline void check_resume(const Run& run) {
  const SafetensorsFile f(run.resume);
  const std::string& src = run.resume;
  CTRNET_CHECK(f.metadata().count("format") && f.metadata("format") == "ctrnet.checkpoint", src,
               ": not a checkpoint (write one with --checkpoint)");
  CTRNET_CHECK(f.metadata().count("ctrnet_vt_resume") && f.metadata().count("train_data"), src,
               ": not a ctrnet-vt checkpoint (its metadata lacks 'ctrnet_vt_resume' or 'train_data')");
  const nlohmann::json then = nlohmann::json::parse(f.metadata("ctrnet_vt_resume"), nullptr, false);
  const nlohmann::json now = resume_options(run);
  for (auto it = now.begin(); it != now.end(); ++it) {
    const auto was = then.is_object() ? then.find(it.key()) : then.end();
    CTRNET_CHECK(then.is_object() && was != then.end() && *was == *it, src, ": the checkpoint was written by a run with ",
                 it.key(), " = ", then.is_object() && was != then.end() ? was->dump() : std::string("(none)"),
                 ", this run has ", it->dump(), "; resume with the same options (only --epochs, --threads and the ",
                 "output and checkpoint options may change)");
  }
  for (auto it = then.begin(); then.is_object() && it != then.end(); ++it)  // e.g. --valid then, none now
    CTRNET_CHECK(now.contains(it.key()), src, ": the checkpoint was written by a run with ", it.key(), " = ",
                 it->dump(), ", this run has none; resume with the same options");
  const nlohmann::json data_then = nlohmann::json::parse(f.metadata("train_data"), nullptr, false);
  CTRNET_CHECK(data_then == run.train_data, src, ": the checkpoint was trained on ", data_then.dump(),
               ", this run's --train log gives ", run.train_data.dump(), ": a different log or counting options");
}

/// Writes the model with save_model (architecture item_to_item / item_to_item_listwise; load_model<M>
/// rebuilds it), the raw item id of each catalogue row as the tensor "extra.item_ids" (I64 [N]) and
/// the command line's settings as the metadata entry "ctrnet_vt" (JSON).
template <class M>
void save_item_to_item(OutputFile& out, const M& m, const CooccurrenceTable& t, const nlohmann::json& options) {
  const auto ids = t.item_ids();
  ModelSaveOptions so;
  so.metadata["ctrnet_vt"] = options.dump();
  so.extra_tensors.push_back({"extra.item_ids", Dtype::I64, {static_cast<std::int64_t>(ids.size())},
                              std::as_bytes(std::span<const std::int64_t>(ids.data(), ids.size()))});
  save_model(m, out, so);
}

/// Checks that the parameters declared in `reg` (values, gradient shards, optimizer state) and the
/// lists (items x --k) fit in the available memory; a ctrnet::Error naming --dim / --k otherwise.
inline void check_memory(const Run& run, const ParamRegistry& reg) {
  const double n = static_cast<double>(run.table->num_items());
  const double dim = static_cast<double>(run.model.embedding_dim);
  double tables = 0;
  for (const auto& t : reg.tables())  // values + one row-wise Adagrad accumulator per row
    tables += static_cast<double>(t.handle.rows) * (static_cast<double>(t.handle.dim) + 1.0) * 4.0;
  MemoryBudget b;
  b.add("embedding tables with their optimizer state", tables, "--dim (now " + std::to_string(run.model.embedding_dim) + ")");
  b.add_floats("tower parameters with gradient shards and Adam state", static_cast<double>(reg.dense_size()),
               1.0 + static_cast<double>(max_shard_count(run.train.shards)) + 2.0,
               "--dim (now " + std::to_string(run.model.embedding_dim) + "), --hidden or --ff-hidden");
  b.add("item vectors and the top-K lists", n * (dim + 1.0) * 4.0 * 2.0 + n * static_cast<double>(run.related.k) * 12.0,
        "--k (now " + std::to_string(run.related.k) + ") or --dim");
  b.check("ctrnet-vt");
}

/// Builds model M (an item-to-item alias), trains it (from run.resume, writing run.checkpoint),
/// writes it (run.model_out) and returns its lists; nothing when --max-steps stopped the run.
template <class M>
std::optional<RecommendationLists> train_model(const Run& run) {
  // log-Q correction of the listwise head for k negatives from the uniform base distribution: log(N / k).
  const double log_q = std::log(static_cast<double>(run.table->num_items()) /
                                static_cast<double>(std::max<index_t>(run.train.negatives, 1)));
  {  // The memory the model will need, from its declared shapes, before anything is allocated.
    M plan = item_to_item_model<M>(run.model, log_q);
    ParamRegistry reg;
    plan.body().build(run.fz->schema(), reg);
    check_memory(run, reg);
  }
  M model = make_item_to_item_as<M>(run.fz->schema(), run.model, log_q, run.seed);
  long long dense = 0, tables = 0;
  for (const auto& q : model.registry().params()) dense += static_cast<long long>(q.handle.size());
  for (const auto& t : model.params().tables) tables += static_cast<long long>(t.size());
  std::printf("parameters: %lld in the towers and biases, %lld in the tables\n", dense, tables);
  ItemToItemTrainOptions to = run.train;
  if (run.valid != nullptr)
    to.validate = [&] {  // the current model's lists, scored on --valid like --test
      NextItemOptions eo;
      eo.k = run.related.k;
      eo.threads = run.train.threads;
      const NextItemResult r = evaluate_next_item(*run.valid, *run.table, related_items(cpu_simd{}, model, *run.fz, run.related), eo);
      const std::string at = "@" + std::to_string(eo.k);
      return std::vector<std::pair<std::string, double>>{{"mrr" + at, r.mrr}, {"hr" + at, r.hit_rate}};
    };
  ItemToItemTrainer<M> trainer(model, *run.fz, to);
  ModelSaveOptions checkpoint_options;
  checkpoint_options.seed = run.seed;
  checkpoint_options.metadata["ctrnet_vt_resume"] = resume_options(run).dump();
  checkpoint_options.metadata["train_data"] = run.train_data.dump();
  std::optional<TrainingPosition> start;
  if (!run.resume.empty()) {
    check_resume(run);
    start = load_checkpoint(run.resume, trainer.trainer());
    std::printf("resumed %s: epoch %lld, batch %lld, step %lld\n", run.resume.c_str(),
                static_cast<long long>(start->epoch), static_cast<long long>(start->batch),
                static_cast<long long>(start->step));
  }
  std::function<void(const TrainingPosition&)> on_checkpoint;
  if (!run.checkpoint.empty())
    on_checkpoint = [&](const TrainingPosition& p) { save_checkpoint(run.checkpoint, trainer.trainer(), p, checkpoint_options); };
  const ItemToItemResult r = trainer.fit(*run.positives, start ? &*start : nullptr, on_checkpoint);
  if (r.interrupted) {
    std::printf("stopped after step %lld (--max-steps): checkpoint %s; continue with --resume %s\n",
                static_cast<long long>(r.position.step), run.checkpoint.c_str(), run.checkpoint.c_str());
    return std::nullopt;
  }
  if (run.valid != nullptr) {
    for (const EpochStats& e : r.epochs)
      std::printf("valid: epoch %d MRR@%lld=%.4f HR@%lld=%.4f\n", e.epoch, static_cast<long long>(run.related.k),
                  e.valid_metrics[0].second, static_cast<long long>(run.related.k), e.valid_metrics[1].second);
    if (!r.epochs.empty())
      std::printf("best epoch %d of %zu%s\n", r.best_epoch, r.epochs.size(), r.stopped_early ? ", stopped early" : "");
  }
  RecommendationLists lists = related_items(cpu_simd{}, model, *run.fz, run.related);
  if (run.model_out) save_item_to_item(*run.model_out, model, *run.table, run.options);
  return lists;
}

/// One per tower kind and TU (--towers mlp / cross / transformer).
std::optional<RecommendationLists> train_mlp_towers(const Run& run);
std::optional<RecommendationLists> train_cross_towers(const Run& run);
std::optional<RecommendationLists> train_transformer_towers(const Run& run);

}  // namespace ctrnet_vt
