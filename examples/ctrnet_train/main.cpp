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
// epoch; with --valid, early stopping by default: at most 30 epochs, --patience 2, the best epoch's
// model kept; 3 epochs without --valid), then evaluate on the test split.
// --metrics-json writes one JSON object per line: {"epoch", "split", "auc", "logloss",
// "examples_per_second", ...} per epoch for "valid", and one for "test" at the end. Every output
// (--save, --checkpoint, --metrics-json) is written atomically (io/output_file.hpp) and checked
// before any work: not one of the input files, and writable.
//
// Checkpoints: --checkpoint PATH writes the model, the optimizer state and the trainer's position
// (io/checkpoint.hpp) every --checkpoint-every N steps and after every epoch; --resume PATH
// continues such a run and ends with exactly the model an uninterrupted run gives (the same
// options and data are checked: the preprocessing state, the options that shape the run, the
// training set's size and fingerprint). --max-steps N stops after N steps, as an interruption.
//
// Input checks, all before any training: every model here is binary, so a label other than 0 or 1
// is an error naming file:line (libsvm -1/+1 labels: --labels pm1 reads -1 as 0); an empty,
// blank-only or header-only split is an error, and so is a --valid or --test split with a single
// class (AUC undefined); the model's parameters, gradients and optimizer state are added up from
// its declared shapes and checked against the available memory (core/memory_budget.hpp) before
// they are allocated. Any other failure is a message and exit code 1, never an abort.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "ctrnet_train.hpp"
#include "ctrnet/core/memory_budget.hpp"
#include "ctrnet/data/preprocess.hpp"
#include "ctrnet/data/readers/criteo.hpp"
#include "ctrnet/data/readers/delimited.hpp"
#include "ctrnet/data/readers/libsvm.hpp"

namespace ctrnet_train {

namespace {
// --metrics-json: rewritten atomically after each line (io/output_file.hpp), appended to with --resume.
OutputLog g_metrics;

// Reads one split; `what` names it in errors ("--train file", ...). Labels must be 0 or 1 (every
// model here is binary); an empty split is an error.
ReadResult read_split(const Args& a, const std::string& path, const char* what) {
  ReaderOptions ro;
  ro.bad_lines = parse_bad_lines(a.bad_lines);
  ro.threads = a.threads;
  ro.labels = LabelCheck::binary;
  ReadResult r = [&] {
    if (a.format == "criteo") return read_criteo(path, CriteoOptions{}, ro);
    if (a.format == "csv") return read_delimited(path, DelimitedSchema::from_file(a.schema), ro);
    LibsvmOptions lo;
    lo.drop_values = true;
    lo.labels = a.labels == "pm1" ? LibsvmLabels::binary : LibsvmLabels::raw;
    return read_libsvm(path, lo, ro);
  }();
  if (r.report.skipped() > 0) std::printf("%s: %s\n", path.c_str(), r.report.summary().c_str());
  require_examples(r, path, what);
  return r;
}

// AUC needs both classes: a --valid or --test split with one class is an error before training.
void require_both_classes(const ReadResult& r, const std::string& path, const char* what) {
  const auto& y = r.dataset.data().labels;
  const auto pos = std::count(y.begin(), y.end(), 1.0f);
  CTRNET_CHECK(pos > 0 && pos < static_cast<std::ptrdiff_t>(y.size()), what, " '", path, "' has only label ",
               pos > 0 ? 1 : 0, " (", y.size(), " examples): its AUC is undefined; expected examples of both classes");
}

// Optimizer state per parameter value (slots), by optimizer name.
double dense_slots(const std::string& o) { return o == "sgd" ? 0 : o == "adagrad" ? 1 : 2; }  // adam(w), ftrl: 2
double sparse_slots(const std::string& o) {
  return o == "sgd" || o == "rowwise_adagrad" ? 0 : o == "adagrad" ? 1 : 2;  // lazy_adam, ftrl: 2
}

}  // namespace

void write_metrics(const nlohmann::json& j) {
  if (g_metrics.is_open()) g_metrics.append(j.dump() + "\n");
}

void open_metrics(const std::string& path, bool append) { g_metrics = OutputLog(path, append); }
void close_metrics() {
  g_metrics.commit();  // this run's lines, also when there are none
  g_metrics = OutputLog();
}

namespace {

// The options that shape the trajectory of a run; --epochs, --threads, the file names and the
// checkpoint options may change on --resume (the result does not depend on the thread count).
nlohmann::json run_options(const Args& a) {
  return {{"model", a.model},
          {"format", a.format},
          {"optimizer", a.optimizer},
          {"embedding_optimizer", a.embedding_optimizer},
          {"lr", a.lr},
          {"embedding_lr", a.embedding_lr},
          {"wide_lr", a.wide_lr},
          {"batch", a.batch},
          {"seed", std::to_string(a.seed)},
          {"dropout", a.dropout},
          {"patience", a.patience},
          {"embedding_dim", a.embedding_dim},
          {"hidden", a.hidden},
          {"cross_depth", a.cross_depth},
          {"rank", a.rank},
          {"experts", a.experts},
          {"bottom", a.bottom},
          {"attention_heads", a.attention_heads},
          {"blocks", a.blocks},
          {"min_count", a.min_count},
          {"hash_buckets", a.hash_buckets},
          {"numeric", a.numeric}};
}

// FNV-1a over the preprocessed training set (dense values, ids, offsets, labels, weights).
std::string fingerprint(const InMemoryDataset& d) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ULL;
  };
  const Batch& b = d.data();
  mix(b.dense_values.data(), b.dense_values.size() * sizeof(float));
  for (std::size_t f = 0; f < b.ids.size(); ++f) {
    mix(b.ids[f].data(), b.ids[f].size() * sizeof(FeatureId));
    mix(b.offsets[f].data(), b.offsets[f].size() * sizeof(index_t));
  }
  mix(b.labels.data(), b.labels.size() * sizeof(float));
  mix(b.weights.data(), b.weights.size() * sizeof(float));
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

nlohmann::json train_data(const InMemoryDataset& train) {
  return {{"examples", train.size()}, {"fingerprint", fingerprint(train)}};
}

std::string flag(const std::string& key) {
  std::string f = "--" + key;
  std::replace(f.begin(), f.end(), '_', '-');
  return f;
}

}  // namespace

ModelSaveOptions checkpoint_save_options(const Args& a, const InMemoryDataset& train) {
  ModelSaveOptions so;
  so.seed = a.seed;
  so.metadata["preprocessing"] = a.preprocessing_json;
  so.metadata["input_format"] = a.format;
  so.metadata["ctrnet_train"] = run_options(a).dump();
  so.metadata["train_data"] = train_data(train).dump();
  return so;
}

void check_resume(const Args& a, const InMemoryDataset& train) {
  const SafetensorsFile f(a.resume);
  const std::string& src = a.resume;
  CTRNET_CHECK(f.metadata().count("format") && f.metadata("format") == "ctrnet.checkpoint", src,
               ": not a checkpoint (write one with --checkpoint)");
  CTRNET_CHECK(f.metadata().count("ctrnet_train") && f.metadata().count("train_data") &&
                   f.metadata().count("preprocessing"),
               src, ": not a ctrnet-train checkpoint (its metadata lacks 'ctrnet_train', 'train_data' or 'preprocessing')");
  const nlohmann::json saved = nlohmann::json::parse(f.metadata("ctrnet_train"), nullptr, false);
  CTRNET_CHECK(saved.is_object(), src, ": __metadata__ 'ctrnet_train' is not a JSON object");
  const nlohmann::json now = run_options(a);
  auto check_key = [&](const std::string& key) {
    const auto it = saved.find(key);
    const std::string was = it == saved.end() ? std::string("(none)") : it->dump();
    CTRNET_CHECK(it != saved.end() && *it == now[key], src, ": the checkpoint was written by a run with ", flag(key),
                 " ", was, ", this run has ", flag(key), " ", now[key].dump(),
                 "; resume with the same options (only --epochs, --threads, the file and checkpoint options may change)");
  };
  check_key("model");  // first: nlohmann::json orders the other keys alphabetically
  for (auto it = now.begin(); it != now.end(); ++it)
    if (it.key() != "model") check_key(it.key());
  CTRNET_CHECK(f.metadata("preprocessing") == a.preprocessing_json, src,
               ": the checkpoint's preprocessing state (vocabularies, hash seeds, numeric transforms) differs from "
               "this run's: a different training file or preprocessing options");
  check_preprocessing_fits(train.schema(), schema_from_json(detail::parse_metadata_json(f, "schema")), src);
  const nlohmann::json data_now = train_data(train);
  const nlohmann::json data_then = nlohmann::json::parse(f.metadata("train_data"), nullptr, false);
  CTRNET_CHECK(data_then == data_now, src, ": the checkpoint was trained on ", data_then.dump(),
               ", this run's training set is ", data_now.dump(), ": a different training file");
}

void check_shapes(const Args& a, const Schema& schema) {
  double width = static_cast<double>(schema.num_dense());
  for (index_t i = 0; i < schema.num_categorical(); ++i) {
    const Field& f = schema.categorical(i);
    const index_t dim = f.embedding_dim > 0 ? f.embedding_dim : a.embedding_dim;
    checked_product(f.rows(), dim,
                    "field '" + f.name + "': a table of " + std::to_string(f.rows()) + " rows" +
                        (a.hash_buckets > 0 ? " (--hash-buckets " + std::to_string(a.hash_buckets) + ")" : "") +
                        " x embedding dimension " + std::to_string(dim) + " (--embedding-dim)");
    width += static_cast<double>(dim);
  }
  constexpr double kMaxWidth = 1e8;
  const std::pair<const char*, const std::vector<index_t>*> layer_widths[] = {{"--hidden", &a.hidden}, {"--bottom", &a.bottom}};
  for (const auto& [name, widths] : layer_widths)
    for (const index_t w : *widths)
      CTRNET_CHECK(w > 0 && static_cast<double>(w) <= kMaxWidth, name, " width ", w, " is out of range: expected 1 to ",
                   static_cast<long long>(kMaxWidth));
  const std::pair<const char*, index_t> counts[] = {
      {"--cross-depth", a.cross_depth}, {"--experts", a.experts}, {"--blocks", a.blocks}, {"--attention-heads", a.attention_heads}};
  for (const auto& [name, v] : counts)
    CTRNET_CHECK(v <= 10000, name, " ", v, " is out of range: at most 10000");
  CTRNET_CHECK(static_cast<double>(a.rank) <= kMaxWidth, "--rank ", a.rank, " is out of range: at most ",
               static_cast<long long>(kMaxWidth));
  CTRNET_CHECK(width <= kMaxWidth, "--embedding-dim ", a.embedding_dim, " over ", schema.num_categorical(),
               " categorical fields gives an input of ", static_cast<long long>(width),
               " values per example, more than the ", static_cast<long long>(kMaxWidth),
               " allowed (its [width x width] layers could not be allocated); lower --embedding-dim");
}

void check_memory(const Args& a, const Schema& schema, const ParamRegistry& reg) {
  const double best = a.patience > 0 && !a.valid.empty() ? 1 : 0;  // the best epoch's copy
  double table_values = 0, table_bytes = 0;
  for (const auto& t : reg.tables()) {
    const double n = static_cast<double>(t.handle.rows) * static_cast<double>(t.handle.dim);
    const bool wide = a.model == "wide_deep" && t.name.rfind("wide.", 0) == 0;  // FTRL tables
    const std::string& opt = wide ? std::string("ftrl") : a.embedding_optimizer;
    table_values += n;
    table_bytes += n * 4.0 * (1.0 + best + sparse_slots(opt)) +
                   (opt == "rowwise_adagrad" ? static_cast<double>(t.handle.rows) * 4.0 : 0.0);
  }
  const double dense = static_cast<double>(reg.dense_size());
  double width = static_cast<double>(schema.num_dense());
  for (index_t i = 0; i < schema.num_categorical(); ++i)
    width += static_cast<double>(schema.categorical(i).embedding_dim > 0 ? schema.categorical(i).embedding_dim : a.embedding_dim);
  const TrainerOptions defaults;
  MemoryBudget b;
  const std::string dim = "--embedding-dim (now " + std::to_string(a.embedding_dim) + ")";
  b.add("embedding tables (" + std::to_string(static_cast<long long>(table_values)) +
            " values) with their optimizer state",
        table_bytes,
        a.hash_buckets > 0 ? "--hash-buckets (now " + std::to_string(a.hash_buckets) + ") or " + dim
                           : dim + ", or raise --min-count (now " + std::to_string(a.min_count) + ")");
  b.add_floats("dense parameters (" + std::to_string(static_cast<long long>(dense)) + " values) with " +
                   std::to_string(max_shard_count(defaults.shards)) + " gradient shards and optimizer state",
               dense, 1.0 + best + static_cast<double>(max_shard_count(defaults.shards)) + dense_slots(a.optimizer),
               a.model == "lr" ? "the number of dense fields" : dim + ", --hidden or --cross-depth");
  if (a.model != "lr")
    b.add_floats("activations of one mini-batch (estimate)",
                 static_cast<double>(a.batch) * width,
                 2.0 * static_cast<double>(a.cross_depth + a.blocks + static_cast<index_t>(a.hidden.size()) + 2),
                 "--batch (now " + std::to_string(a.batch) + ") or " + dim);
  b.check("model " + a.model);
}

int run(Args a) {
  // 1. Read.
  const ReadResult train_raw = read_split(a, a.train, "--train file");
  std::optional<ReadResult> valid_raw, test_raw;
  if (!a.valid.empty()) {
    valid_raw = read_split(a, a.valid, "--valid file");
    require_both_classes(*valid_raw, a.valid, "--valid file");
  }
  if (!a.test.empty()) {
    test_raw = read_split(a, a.test, "--test file");
    require_both_classes(*test_raw, a.test, "--test file");
  }
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
  app.add_option("--epochs", a.epochs, "epochs (default 3; with --valid and early stopping: at most 30)")
      ->check(CLI::PositiveNumber);
  app.add_option("--batch", a.batch, "mini-batch size")->check(CLI::PositiveNumber);
  app.add_option("--lr", a.lr, "learning rate of the dense parameters (default 1e-3; --model lr: 1e-2)");
  app.add_option("--embedding-lr", a.embedding_lr,
                 "learning rate of the embedding tables (default 1e-3; --model lr: 1e-2)");
  app.add_option("--wide-lr", a.wide_lr, "FTRL alpha of the wide tables (wide_deep; default 0.05)");
  app.add_option("--optimizer", a.optimizer, "dense optimizer (default adam)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "adagrad", "ftrl"}));
  app.add_option("--embedding-optimizer", a.embedding_optimizer, "sparse optimizer of the tables (default lazy_adam)")
      ->check(CLI::IsMember({"sgd", "adagrad", "rowwise_adagrad", "lazy_adam", "ftrl"}));
  app.add_option("--embedding-dim", a.embedding_dim, "embedding dimension")->check(CLI::PositiveNumber);
  app.add_option("--hidden", a.hidden, "hidden widths of the MLP (default 256 128; dlrm: 512 256, the reference's top MLP)");
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
  app.add_option("--patience", a.patience,
                 "early stopping: stop after N epochs without a validation AUC gain and keep the best epoch's model "
                 "(default 2 with --valid; 0: off, train all --epochs)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--bad-lines", a.bad_lines, "malformed lines: error (stop) or skip (count and report)")
      ->check(CLI::IsMember({"error", "skip"}));
  app.add_option("--labels", a.labels,
                 "libsvm labels: 01 (the default: 0 or 1; any other label, -1 included, is an error naming "
                 "file:line) or pm1 (the -1/+1 convention: -1 is read as 0, +1 as 1). Criteo labels are 0/1; "
                 "csv labels must be 0/1 numbers or mapped by the schema's positive/negative tokens")
      ->check(CLI::IsMember({"01", "pm1"}));
  app.add_option("--threads", a.threads, "worker threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", a.seed, "seed of initialisation, shuffling, hashing and dropout");
  app.add_option("--save", a.save,
                 "write the trained model (safetensors; architecture, options, schema and preprocessing in its metadata)");
  app.add_option("--metrics-json", a.metrics_json,
                 "write one JSON object per line per epoch and for the test (appended to with --resume)");
  auto* ckpt = app.add_option("--checkpoint", a.checkpoint,
                              "write a checkpoint (model, optimizer state, position) after every epoch, atomically");
  app.add_option("--checkpoint-every", a.checkpoint_every, "also write the checkpoint every N steps")
      ->check(CLI::PositiveNumber)
      ->needs(ckpt);
  app.add_option("--resume", a.resume, "continue the run saved in this checkpoint (same options and data)")
      ->check(CLI::ExistingFile);
  app.add_option("--max-steps", a.max_steps, "stop after N optimizer steps in all, having written the checkpoint")
      ->check(CLI::PositiveNumber)
      ->needs(ckpt);
  CLI11_PARSE(app, argc, argv);
  // Defaults chosen on criteo-8k, avazu-9k and adult (docs/data.md, "Defaults"): with --valid,
  // early stopping on validation AUC (at most 30 epochs, patience 2, the best epoch's model kept);
  // without it (no --valid, or --patience 0), 3 epochs. Logistic regression: lazy Adam at 1e-2 on
  // its tables and dense weights (FTRL at α 0.05 and Adam at 1e-3 for 3 epochs gave test AUC 0.629
  // on criteo-8k; this gives 0.73).
  if (app.count("--patience") == 0) a.patience = a.valid.empty() ? 0 : 2;
  if (app.count("--epochs") == 0) a.epochs = !a.valid.empty() && a.patience > 0 ? 30 : 3;
  if (a.model == "lr") {
    if (app.count("--lr") == 0) a.lr = 1e-2;
    if (app.count("--embedding-lr") == 0) a.embedding_lr = 1e-2;
  }
  // DLRM's top MLP defaults to the reference implementation's Criteo setting (Naumov et al. 2019,
  // dlrm_s_pytorch.py --arch-mlp-top 512-256-1): on criteo-8k its 5-seed mean test AUC is 0.706
  // against 0.697 with 256 128 (docs/models.md).
  if (a.model == "dlrm" && app.count("--hidden") == 0) a.hidden = {512, 256};
  if (a.format == "csv" && a.schema.empty()) {
    std::fprintf(stderr, "ctrnet-train: --format csv needs --schema FILE (see docs/data.md)\n");
    return 2;
  }
  if (a.labels != "01" && a.format != "libsvm") {
    std::fprintf(stderr, "ctrnet-train: --labels %s applies to --format libsvm only (csv: map label tokens with the "
                         "schema's \"positive\" / \"negative\" lists)\n", a.labels.c_str());
    return 2;
  }
  if (a.hash_buckets > (index_t{1} << 48)) {
    std::fprintf(stderr, "ctrnet-train: --hash-buckets %lld is out of range: at most 2^48 = %lld\n",
                 static_cast<long long>(a.hash_buckets), static_cast<long long>(index_t{1} << 48));
    return 2;
  }
  try {
    // Outputs that would overwrite an input (or each other) are refused, and unwritable ones fail,
    // before any work. --checkpoint and --resume may be the same file (the resume flow).
    check_outputs_not_inputs({{"--save", a.save}, {"--checkpoint", a.checkpoint}, {"--metrics-json", a.metrics_json}},
                             {{"--train", a.train}, {"--valid", a.valid}, {"--test", a.test}, {"--schema", a.schema}});
    check_outputs_not_inputs({{"--save", a.save}, {"--metrics-json", a.metrics_json}}, {{"--resume", a.resume}});
    if (!a.save.empty()) check_can_write(a.save);
    if (!a.checkpoint.empty()) check_can_write(a.checkpoint);
    if (!a.metrics_json.empty()) open_metrics(a.metrics_json, !a.resume.empty());
    const int rc = run(a);
    close_metrics();
    return rc;
  } catch (const Error& e) {
    std::fprintf(stderr, "ctrnet-train: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {  // last resort: check_memory should have said it first
    std::fprintf(stderr, "ctrnet-train: out of memory (std::bad_alloc): the data or the model does not fit; lower "
                         "--hash-buckets, --embedding-dim, --hidden or --batch, or use a smaller file\n");
    return 1;
  } catch (const std::length_error& e) {
    std::fprintf(stderr, "ctrnet-train: a size is too large (std::length_error: %s); lower --hash-buckets or "
                         "--embedding-dim\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ctrnet-train: unexpected error: %s\n", e.what());
    return 1;
  }
}
