// ctrnet-train: trains a CTR model on real log files and reports validation and test AUC / log loss.
//
//   ctrnet-train --model dcn_v2 --format criteo --train train.tsv --valid dev.tsv --test test.tsv
//   ctrnet-train --model wide_deep --format csv --schema examples/schemas/avazu.json --train ...
//   ctrnet-train --model lr --format libsvm --train a.svm --test b.svm
//
// Pipeline: read each split with the format's reader (data/readers/), fit the preprocessing on the
// TRAINING split only (data/preprocess.hpp: vocabularies with --min-count, or --hash-buckets;
// --numeric transform of the dense fields, log1p for Criteo by default), apply it to every split,
// build the model alias on the preprocessed schema, train with the Trainer (validation after each
// epoch, the best epoch kept when --patience is set), then evaluate on the test split.
// --metrics-json writes one JSON object per line: {"epoch", "split", "auc", "logloss",
// "examples_per_second", ...} per epoch for "valid", and one for "test" at the end.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/ctrnet.hpp"
#include "ctrnet/data/preprocess.hpp"
#include "ctrnet/data/readers/criteo.hpp"
#include "ctrnet/data/readers/delimited.hpp"
#include "ctrnet/data/readers/libsvm.hpp"

using namespace ctrnet;

namespace {

struct Args {
  std::string model = "dcn_v2", format = "criteo", train, valid, test, schema, metrics_json, bad_lines = "error";
  std::string optimizer = "adam", embedding_optimizer = "lazy_adam", numeric;
  int epochs = 3, threads = 0, patience = 0;
  index_t batch = 512, embedding_dim = 16, cross_depth = 3, rank = 0, hash_buckets = 0, experts = 4;
  std::int64_t min_count = 2;
  double lr = 1e-3, embedding_lr = 1e-3, dropout = 0.0, wide_lr = 0.05;
  std::vector<index_t> hidden{256, 128};
  std::uint64_t seed = 1;
};

ReadResult read_split(const Args& a, const std::string& path) {
  ReaderOptions ro;
  ro.bad_lines = parse_bad_lines(a.bad_lines);
  ro.threads = a.threads;
  ReadResult r = [&] {
    if (a.format == "criteo") return read_criteo(path, CriteoOptions{}, ro);
    if (a.format == "csv") return read_delimited(path, DelimitedSchema::from_file(a.schema), ro);
    LibsvmOptions lo;
    lo.drop_values = true;
    return read_libsvm(path, lo, ro);
  }();
  if (r.report.skipped() > 0) std::printf("%s: %s\n", path.c_str(), r.report.summary().c_str());
  return r;
}

std::FILE* g_metrics = nullptr;

void write_metrics(const nlohmann::json& j) {
  if (!g_metrics) return;
  const std::string s = j.dump() + "\n";
  std::fwrite(s.data(), 1, s.size(), g_metrics);
  std::fflush(g_metrics);
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
  Trainer<M> trainer(model, to);
  const TrainResult r = trainer.fit(train, valid);
  if (valid && a.patience > 0)
    std::printf("best epoch: %d (valid AUC %.5f)\n", r.best_epoch, r.epochs[static_cast<std::size_t>(r.best_epoch - 1)].valid_auc);
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

DCNOptions dcn_options(const Args& a) {
  DCNOptions o;
  o.embedding_dim = a.embedding_dim;
  o.cross_depth = a.cross_depth;
  o.rank = a.rank;
  o.experts = a.experts;
  o.hidden = a.hidden;
  o.dropout = a.dropout;
  return o;
}

int run(const Args& a) {
  // 1. Read.
  const ReadResult train_raw = read_split(a, a.train);
  std::optional<ReadResult> valid_raw, test_raw;
  if (!a.valid.empty()) valid_raw = read_split(a, a.valid);
  if (!a.test.empty()) test_raw = read_split(a, a.test);
  std::printf("read %s: %lld train, %lld valid, %lld test examples, %lld dense + %lld categorical fields\n",
              a.format.c_str(), static_cast<long long>(train_raw.dataset.size()),
              static_cast<long long>(valid_raw ? valid_raw->dataset.size() : 0),
              static_cast<long long>(test_raw ? test_raw->dataset.size() : 0),
              static_cast<long long>(train_raw.dataset.schema().num_dense()),
              static_cast<long long>(train_raw.dataset.schema().num_categorical()));

  // 2. Preprocessing fitted on the training split only.
  PreprocessOptions po;
  if (a.hash_buckets > 0) {
    po.categorical.kind = CategoricalTransform::hash;
    po.categorical.buckets = a.hash_buckets;
    po.categorical.seed = a.seed;
  } else {
    po.categorical.kind = CategoricalTransform::vocabulary;
    po.categorical.min_count = a.min_count;
  }
  po.numeric.kind = numeric_transform_from_string(!a.numeric.empty() ? a.numeric
                                                  : a.format == "criteo" ? "log1p"
                                                                         : "standardize");
  Preprocessor pre(train_raw.dataset.schema(), po);
  pre.fit(train_raw.dataset);
  const InMemoryDataset train = pre.transform(train_raw.dataset);
  std::optional<InMemoryDataset> valid, test;
  if (valid_raw) valid = pre.transform(valid_raw->dataset);
  if (test_raw) test = pre.transform(test_raw->dataset);
  const Schema& schema = pre.output_schema();
  index_t rows = 0;
  for (index_t i = 0; i < schema.num_categorical(); ++i) rows += schema.categorical(i).rows();
  std::printf("preprocessing: %s ids (%lld embedding rows in all), %s dense values\n",
              a.hash_buckets > 0 ? "hashed" : "vocabulary", static_cast<long long>(rows),
              to_string(po.numeric.kind));

  // 3. Model.
  const InMemoryDataset* vp = valid ? &*valid : nullptr;
  const InMemoryDataset* tp = test ? &*test : nullptr;
  std::printf("model: %s\n", a.model.c_str());
  if (a.model == "lr") {
    auto m = make_logistic_regression(schema, {}, a.seed);
    return train_and_test(m, a, train, vp, tp);
  }
  if (a.model == "wide_deep") {
    WideDeepOptions o;
    o.embedding_dim = a.embedding_dim;
    o.hidden = a.hidden;
    o.dropout = a.dropout;
    auto m = make_wide_deep(schema, o, a.seed);
    return train_and_test(m, a, train, vp, tp);
  }
  if (a.model == "dcn") {
    auto m = make_dcn(schema, dcn_options(a), a.seed);
    return train_and_test(m, a, train, vp, tp);
  }
  if (a.model == "dcn_v2") {
    auto m = make_dcn_v2_stacked(schema, dcn_options(a), a.seed);
    return train_and_test(m, a, train, vp, tp);
  }
  if (a.model == "dcn_v2_parallel") {
    auto m = make_dcn_v2_parallel(schema, dcn_options(a), a.seed);
    return train_and_test(m, a, train, vp, tp);
  }
  auto m = make_dcn_mix(schema, dcn_options(a), a.seed);
  return train_and_test(m, a, train, vp, tp);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ctrnet-train: train a CTR model on Criteo TSV, delimited text or libsvm files"};
  Args a;
  app.add_option("--model", a.model, "model alias")
      ->check(CLI::IsMember({"lr", "wide_deep", "dcn", "dcn_v2", "dcn_v2_parallel", "dcn_mix"}));
  app.add_option("--format", a.format, "input format")->check(CLI::IsMember({"criteo", "csv", "libsvm"}));
  app.add_option("--train", a.train, "training file")->required()->check(CLI::ExistingFile);
  app.add_option("--valid", a.valid, "validation file (AUC / log loss after every epoch)")->check(CLI::ExistingFile);
  app.add_option("--test", a.test, "test file (AUC / log loss at the end)")->check(CLI::ExistingFile);
  app.add_option("--schema", a.schema, "JSON schema file of a csv input (see docs/data.md)")->check(CLI::ExistingFile);
  app.add_option("--epochs", a.epochs, "epochs")->check(CLI::PositiveNumber);
  app.add_option("--batch", a.batch, "mini-batch size")->check(CLI::PositiveNumber);
  app.add_option("--lr", a.lr, "learning rate of the dense parameters");
  app.add_option("--embedding-lr", a.embedding_lr, "learning rate of the embedding tables");
  app.add_option("--wide-lr", a.wide_lr, "FTRL alpha of the wide tables (wide_deep; lr: the default table optimizer)");
  app.add_option("--optimizer", a.optimizer, "dense optimizer")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "adagrad", "ftrl"}));
  app.add_option("--embedding-optimizer", a.embedding_optimizer, "sparse optimizer of the tables")
      ->check(CLI::IsMember({"sgd", "adagrad", "rowwise_adagrad", "lazy_adam", "ftrl"}));
  app.add_option("--embedding-dim", a.embedding_dim, "embedding dimension")->check(CLI::PositiveNumber);
  app.add_option("--hidden", a.hidden, "hidden widths of the MLP");
  app.add_option("--cross-depth", a.cross_depth, "cross layers (DCN family)")->check(CLI::PositiveNumber);
  app.add_option("--rank", a.rank, "cross rank (dcn_v2*: 0 = full rank; dcn_mix: expert rank)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--experts", a.experts, "experts per cross layer (dcn_mix)")->check(CLI::PositiveNumber);
  app.add_option("--dropout", a.dropout, "dropout of the MLP")->check(CLI::Range(0.0, 0.95));
  app.add_option("--min-count", a.min_count, "vocabulary: ids seen fewer times share the out-of-vocabulary row")
      ->check(CLI::PositiveNumber);
  app.add_option("--hash-buckets", a.hash_buckets, "hash ids into N buckets per field instead of a vocabulary")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--numeric", a.numeric, "dense transform (default: log1p for criteo, standardize otherwise)")
      ->check(CLI::IsMember({"none", "log1p", "standardize", "log1p_standardize", "quantile"}));
  app.add_option("--patience", a.patience, "early stopping on validation AUC after N epochs without gain (0: off)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--bad-lines", a.bad_lines, "malformed lines: error (stop) or skip (count and report)")
      ->check(CLI::IsMember({"error", "skip"}));
  app.add_option("--threads", a.threads, "worker threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", a.seed, "seed of initialisation, shuffling, hashing and dropout");
  app.add_option("--metrics-json", a.metrics_json, "write one JSON object per line per epoch and for the test");
  CLI11_PARSE(app, argc, argv);
  if (a.model == "lr" && app.count("--embedding-optimizer") == 0) {  // logistic regression: FTRL-Proximal
    a.embedding_optimizer = "ftrl";
    if (app.count("--embedding-lr") == 0) a.embedding_lr = a.wide_lr;
  }
  if (a.format == "csv" && a.schema.empty()) {
    std::fprintf(stderr, "ctrnet-train: --format csv needs --schema FILE (see docs/data.md)\n");
    return 2;
  }
  try {
    if (!a.metrics_json.empty()) {
      g_metrics = std::fopen(a.metrics_json.c_str(), "w");
      CTRNET_CHECK(g_metrics != nullptr, "cannot write --metrics-json file '", a.metrics_json, "'");
    }
    const int rc = run(a);
    if (g_metrics) std::fclose(g_metrics);
    return rc;
  } catch (const Error& e) {
    std::fprintf(stderr, "ctrnet-train: %s\n", e.what());
    return 1;
  }
}
