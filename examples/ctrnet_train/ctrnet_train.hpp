// ctrnet-train internals shared by its translation units (main.cpp parses the command line,
// reads and preprocesses the data; models_*.cpp each instantiate the Trainer for some of the
// model aliases, so the compile work splits over several compiler processes).
#pragma once
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/schema.hpp"
#include "ctrnet/io/checkpoint.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/models/dcn.hpp"
#include "ctrnet/train/trainer.hpp"

namespace ctrnet_train {

using namespace ctrnet;

struct Args {
  std::string model = "dcn_v2", format = "criteo", train, valid, test, schema, metrics_json, bad_lines = "error";
  std::string optimizer = "adam", embedding_optimizer = "lazy_adam", numeric, save;
  std::string preprocessing_json;  ///< the fitted Preprocessor, saved with the model (--save)
  std::string checkpoint, resume;  ///< --checkpoint PATH (write), --resume PATH (read and continue)
  std::int64_t checkpoint_every = 0, max_steps = 0;
  int epochs = 3, threads = 0, patience = 0;
  index_t batch = 512, embedding_dim = 16, cross_depth = 3, rank = 0, hash_buckets = 0, experts = 4;
  index_t attention_heads = 2, blocks = 2;  ///< tab_transformer: heads per block, Transformer blocks
  std::vector<index_t> bottom{64};          ///< dlrm: hidden widths of the bottom MLP (its last layer = embedding_dim)
  std::int64_t min_count = 2;
  double lr = 1e-3, embedding_lr = 1e-3, dropout = 0.0, wide_lr = 0.05;
  std::vector<index_t> hidden{256, 128};
  std::uint64_t seed = 1;
  std::string labels = "01";  ///< libsvm labels: "01" (0/1, checked) or "pm1" (-1/+1, -1 read as 0)
};

/// The --metrics-json file (null: none); one JSON object per line.
void write_metrics(const nlohmann::json& j);

/// Metadata of the checkpoints (--checkpoint): the preprocessing state, the input format, the
/// options that shape the run ("ctrnet_train") and the training set's size and fingerprint
/// ("train_data"), so that --resume can check it continues the same run.
ModelSaveOptions checkpoint_save_options(const Args& a, const InMemoryDataset& train);
/// Checks that the checkpoint `a.resume` was written by ctrnet-train for this model, these options
/// and this training data; a ctrnet::Error naming the first difference otherwise.
void check_resume(const Args& a, const InMemoryDataset& train);

/// Builds model `a.model` on `schema`, trains it and evaluates the test split. One per TU group.
int train_linear_models(const Args& a, const Schema& schema, const InMemoryDataset& train,
                        const InMemoryDataset* valid, const InMemoryDataset* test);  // lr, wide_deep
int train_dcn_models(const Args& a, const Schema& schema, const InMemoryDataset& train,
                     const InMemoryDataset* valid, const InMemoryDataset* test);  // dcn, dcn_v2
int train_dcn_variants(const Args& a, const Schema& schema, const InMemoryDataset& train,
                       const InMemoryDataset* valid, const InMemoryDataset* test);  // dcn_v2_parallel, dcn_mix
int train_dlrm_models(const Args& a, const Schema& schema, const InMemoryDataset& train,
                      const InMemoryDataset* valid, const InMemoryDataset* test);  // dlrm (models_dlrm.cpp)
int train_tab_transformer_models(const Args& a, const Schema& schema, const InMemoryDataset& train,
                                 const InMemoryDataset* valid,
                                 const InMemoryDataset* test);  // tab_transformer (models_tab_transformer.cpp)

/// Before a model is allocated: checks the shapes its options give (rows x dim of each table and
/// the embedding input's width fit in 64 bits; a ctrnet::Error naming --hash-buckets /
/// --embedding-dim otherwise). Defined in main.cpp.
void check_shapes(const Args& a, const Schema& schema);
/// Checks that the parameters declared in `reg`, their gradients and optimizer state (and the
/// best-epoch copy with --patience) fit in the available memory; a ctrnet::Error giving the need,
/// what is available and the option to lower otherwise. Defined in main.cpp.
void check_memory(const Args& a, const Schema& schema, const ParamRegistry& reg);

/// Declares (only) the parameters `body` has on `schema` and checks that the model will fit in
/// memory, before make_*() allocates it: too large options are a clear error, not std::bad_alloc.
template <class Body>
void check_model_memory(const Args& a, const Schema& schema, Body body) {
  if (a.model != "lr") check_shapes(a, schema);  // lr has no embedding input
  ParamRegistry reg;
  body.build(schema, reg);  // declares parameter shapes; nothing is allocated
  check_memory(a, schema, reg);
}

inline DCNOptions dcn_options(const Args& a) {
  DCNOptions o;
  o.embedding_dim = a.embedding_dim;
  o.cross_depth = a.cross_depth;
  o.rank = a.rank;
  o.experts = a.experts;
  o.hidden = a.hidden;
  o.dropout = a.dropout;
  return o;
}

template <class M>
int train_and_test(M& model, const Args& a, const InMemoryDataset& train, const InMemoryDataset* valid,
                   const InMemoryDataset* test) {
  TrainerOptions to;
  to.epochs = a.epochs;
  to.batch_size = a.batch;
  to.threads = a.threads;
  to.seed = a.seed;
  to.patience = a.patience;
  to.optimizer = DenseOptimizerOptions::named(a.optimizer);
  to.optimizer.lr = a.lr;
  to.embedding_optimizer.kind = parse_sparse_kind(a.embedding_optimizer);
  to.embedding_optimizer.lr = a.embedding_lr;
  if (a.model == "wide_deep") {  // the wide part's tables: FTRL, as in the Wide & Deep paper
    SparseOptimizerOptions ftrl;
    ftrl.kind = SparseKind::ftrl;
    ftrl.lr = a.wide_lr;
    to.table_rules = {{"wide.", ftrl}};
  }
  to.progress = ProgressMode::automatic;
  to.on_epoch = [&](const EpochStats& e) {
    if (valid)
      std::printf("epoch %d/%d  train loss %.5f  valid AUC %.5f  logloss %.5f  (%.1f s, %.0f examples/s)\n", e.epoch,
                  a.epochs, e.train_loss, e.valid_auc, e.valid_logloss, e.seconds, e.samples_per_second);
    else
      std::printf("epoch %d/%d  train loss %.5f  (%.1f s, %.0f examples/s)\n", e.epoch, a.epochs, e.train_loss,
                  e.seconds, e.samples_per_second);
    std::fflush(stdout);
    nlohmann::json j{{"epoch", e.epoch},
                     {"split", valid ? "valid" : "train"},
                     {"train_loss", e.train_loss},
                     {"examples_per_second", e.samples_per_second},
                     {"seconds", e.seconds}};
    j["auc"] = valid ? nlohmann::json(e.valid_auc) : nlohmann::json(nullptr);
    j["logloss"] = valid ? nlohmann::json(e.valid_logloss) : nlohmann::json(nullptr);
    write_metrics(j);
  };
  to.checkpoint_every = a.checkpoint_every;
  to.max_steps = a.max_steps;
  Trainer<M>* self = nullptr;
  ModelSaveOptions checkpoint_options;
  if (!a.checkpoint.empty() || !a.resume.empty()) checkpoint_options = checkpoint_save_options(a, train);
  if (!a.checkpoint.empty())
    to.on_checkpoint = [&](const TrainingPosition& p) { save_checkpoint(a.checkpoint, *self, p, checkpoint_options); };
  Trainer<M> trainer(model, to);
  self = &trainer;
  std::optional<TrainingPosition> start;
  if (!a.resume.empty()) {
    check_resume(a, train);
    start = load_checkpoint(a.resume, trainer);
    std::printf("resumed %s: epoch %lld, batch %lld, step %lld\n", a.resume.c_str(), static_cast<long long>(start->epoch),
                static_cast<long long>(start->batch), static_cast<long long>(start->step));
  }
  const TrainResult r = trainer.fit(train, valid, start ? &*start : nullptr);
  if (r.interrupted) {
    std::printf("stopped after step %lld (--max-steps): checkpoint %s; continue with --resume %s\n",
                static_cast<long long>(r.position.step), a.checkpoint.c_str(), a.checkpoint.c_str());
    return 0;
  }
  if (valid && a.patience > 0)
    std::printf("best epoch: %d of %d (valid AUC %.5f)%s; its model is kept (--save, test)\n", r.best_epoch,
                static_cast<int>(r.epochs.size()), r.epochs[static_cast<std::size_t>(r.best_epoch - 1)].valid_auc,
                r.stopped_early ? ", stopped early (--patience)" : "");
  if (!a.save.empty()) {
    ModelSaveOptions so;
    so.seed = a.seed;
    so.metadata["preprocessing"] = a.preprocessing_json;  // vocabularies, hash seeds, dense transforms
    so.metadata["input_format"] = a.format;
    save_model(model, a.save, so);
    std::printf("saved %s (%s)\n", a.save.c_str(), std::string(architecture_name<M>).c_str());
  }
  if (test) {
    const auto t0 = std::chrono::steady_clock::now();
    const BinaryMetrics m = trainer.evaluate(*test);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("test  AUC %.5f  logloss %.5f  (%lld examples, %.0f examples/s)\n", m.auc(), m.log_loss(),
                static_cast<long long>(test->size()), static_cast<double>(test->size()) / std::max(s, 1e-9));
    write_metrics({{"epoch", static_cast<int>(r.epochs.size())},
                   {"split", "test"},
                   {"auc", m.auc()},
                   {"logloss", m.log_loss()},
                   {"examples_per_second", static_cast<double>(test->size()) / std::max(s, 1e-9)}});
  }
  return 0;
}

}  // namespace ctrnet_train
