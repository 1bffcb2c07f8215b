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
#include <optional>
#include <string>

#include "ctrnet_train.hpp"
#include "ctrnet/data/preprocess.hpp"
#include "ctrnet/data/readers/criteo.hpp"
#include "ctrnet/data/readers/delimited.hpp"
#include "ctrnet/data/readers/libsvm.hpp"

namespace ctrnet_train {

namespace {
std::FILE* g_metrics = nullptr;

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

}  // namespace

void write_metrics(const nlohmann::json& j) {
  if (!g_metrics) return;
  const std::string s = j.dump() + "\n";
  std::fwrite(s.data(), 1, s.size(), g_metrics);
  std::fflush(g_metrics);
}

void open_metrics(const std::string& path) {
  g_metrics = std::fopen(path.c_str(), "w");
  CTRNET_CHECK(g_metrics != nullptr, "cannot write --metrics-json file '", path, "'");
}
void close_metrics() {
  if (g_metrics) std::fclose(g_metrics);
  g_metrics = nullptr;
}

int run(Args a) {
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
  a.preprocessing_json = pre.to_json().dump();
  index_t rows = 0;
  for (index_t i = 0; i < schema.num_categorical(); ++i) rows += schema.categorical(i).rows();
  std::printf("preprocessing: %s ids (%lld embedding rows in all), %s dense values\n",
              a.hash_buckets > 0 ? "hashed" : "vocabulary", static_cast<long long>(rows),
              to_string(po.numeric.kind));

  // 3. Model.
  const InMemoryDataset* vp = valid ? &*valid : nullptr;
  const InMemoryDataset* tp = test ? &*test : nullptr;
  std::printf("model: %s\n", a.model.c_str());
  if (a.model == "lr" || a.model == "wide_deep") return train_linear_models(a, schema, train, vp, tp);
  if (a.model == "dcn" || a.model == "dcn_v2") return train_dcn_models(a, schema, train, vp, tp);
  if (a.model == "dlrm") return train_dlrm_models(a, schema, train, vp, tp);
  if (a.model == "tab_transformer") return train_tab_transformer_models(a, schema, train, vp, tp);
  return train_dcn_variants(a, schema, train, vp, tp);
}

}  // namespace ctrnet_train

int main(int argc, char** argv) {
  using namespace ctrnet_train;
  CLI::App app{"ctrnet-train: train a CTR model on Criteo TSV, delimited text or libsvm files"};
  Args a;
  app.add_option("--model", a.model, "model alias")
      ->check(CLI::IsMember({"lr", "wide_deep", "dcn", "dcn_v2", "dcn_v2_parallel", "dcn_mix", "dlrm", "tab_transformer"}));
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
  app.add_option("--bottom", a.bottom, "hidden widths of DLRM's bottom MLP (its output width is --embedding-dim)");
  app.add_option("--attention-heads", a.attention_heads, "attention heads per Transformer block (tab_transformer)")
      ->check(CLI::PositiveNumber);
  app.add_option("--blocks", a.blocks, "Transformer blocks (tab_transformer)")->check(CLI::PositiveNumber);
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
  app.add_option("--save", a.save,
                 "write the trained model (safetensors; architecture, options, schema and preprocessing in its metadata)");
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
    if (!a.metrics_json.empty()) open_metrics(a.metrics_json);
    const int rc = run(a);
    close_metrics();
    return rc;
  } catch (const Error& e) {
    std::fprintf(stderr, "ctrnet-train: %s\n", e.what());
    return 1;
  }
}
