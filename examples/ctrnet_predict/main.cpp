// ctrnet-predict: scores a file with a model saved by `ctrnet-train --save`.
//
//   ctrnet-predict --model model.safetensors --input test.tsv [--format criteo|csv|libsvm]
//                  [--schema F.json] [--output scores.txt] [--threads N]
//
// The model file carries everything needed (docs/interop.md, docs/data.md): the architecture
// and its options, the schema, the preprocessing fitted on the training split (metadata
// "preprocessing") and the input format ("input_format"). The input is read with that format's
// reader, transformed with the SAME preprocessing, and scored; one probability per line goes to
// --output (default: standard output), written atomically (io/output_file.hpp: a write error is
// exit code 1, never a truncated file). When the input has labels of both classes, the AUC and
// log loss are printed to standard error.
//
// Input checks before scoring: the models are binary, so a label other than 0 or 1 is an error
// naming file:line (libsvm -1/+1 labels: --labels pm1 reads -1 as 0), and an input without a
// single example is an error. Any failure is a message and exit code 1, never an abort.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "ctrnet/io/architecture_dlrm.hpp"
#include "ctrnet/io/architecture_tab_transformer.hpp"
#include "ctrnet/data/preprocess.hpp"
#include "ctrnet/data/readers/criteo.hpp"
#include "ctrnet/data/readers/delimited.hpp"
#include "ctrnet/data/readers/libsvm.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/train/metrics.hpp"

using namespace ctrnet;

namespace {

struct Args {
  std::string model, input, format, schema, output, bad_lines = "error";
  std::string labels = "01";  ///< libsvm labels: "01" or "pm1" (-1/+1, -1 read as 0)
  int threads = 0;
  index_t batch = 4096;
};

/// Scores every row of `data` with `model`; returns the probabilities.
template <class M>
std::vector<float> score(const M& model, const InMemoryDataset& data, const Args& a) {
  cpu_simd policy;
  policy.max_threads = a.threads;
  typename M::Cache cache;
  Matrix<float> out;
  Batch batch;
  std::vector<index_t> rows;
  std::vector<float> probs;
  probs.reserve(static_cast<std::size_t>(data.size()));
  for (index_t begin = 0; begin < data.size(); begin += a.batch) {
    const index_t n = std::min(a.batch, data.size() - begin);
    rows.resize(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) rows[static_cast<std::size_t>(i)] = begin + i;
    data.gather(rows, batch);
    out.resize(n, model.output_width());
    model.predict(policy, batch.view(), out.view(), cache);
    for (index_t i = 0; i < n; ++i) probs.push_back(out(i, 0));
  }
  return probs;
}

template <class M>
std::vector<float> load_and_score(const SafetensorsView& f, const InMemoryDataset& data, const Args& a) {
  const M model = load_model<M>(f);
  return score(model, data, a);
}

std::vector<float> dispatch(const std::string& arch, const SafetensorsView& f, const InMemoryDataset& data,
                            const Args& a) {
  if (arch == architecture_name<LogisticRegression>) return load_and_score<LogisticRegression>(f, data, a);
  if (arch == architecture_name<WideDeep>) return load_and_score<WideDeep>(f, data, a);
  if (arch == architecture_name<DCN>) return load_and_score<DCN>(f, data, a);
  if (arch == architecture_name<DCNv2Stacked>) return load_and_score<DCNv2Stacked>(f, data, a);
  if (arch == architecture_name<DCNv2Parallel>) return load_and_score<DCNv2Parallel>(f, data, a);
  if (arch == architecture_name<DCNMix>) return load_and_score<DCNMix>(f, data, a);
  if (arch == architecture_name<DLRM>) return load_and_score<DLRM>(f, data, a);
  if (arch == architecture_name<TabTransformer>) return load_and_score<TabTransformer>(f, data, a);
  detail::throw_error(a.model, ": architecture '", arch, "' is not a CTR model ctrnet-predict can score");
}

std::string metadata_of(const SafetensorsView& f, const std::string& key, const std::string& path) {
  const auto it = f.metadata().find(key);
  CTRNET_CHECK(it != f.metadata().end(), path, ": no '", key,
               "' in the metadata: was it written by `ctrnet-train --save`?");
  return it->second;
}

int run(Args a) {
  // The output first: one that is an input, or cannot be created, fails before any work.
  check_outputs_not_inputs({{"--output", a.output}}, {{"--model", a.model}, {"--input", a.input}, {"--schema", a.schema}});
  OutputFile out = a.output.empty() ? OutputFile::to_descriptor(1, "standard output") : OutputFile(a.output);
  const SafetensorsFile f(a.model);
  const std::string arch = metadata_of(f, "architecture", a.model);
  // Strict: a syntax error, repeated / unknown key or wrong type names the file and the JSON path.
  Preprocessor pre = Preprocessor::from_json_text(metadata_of(f, "preprocessing", a.model),
                                                  a.model + ": __metadata__ 'preprocessing'");
  // The preprocessing must yield the model's fields and table sizes.
  check_preprocessing_fits(pre, detail::metadata_schema(f), a.model);
  if (a.format.empty()) a.format = metadata_of(f, "input_format", a.model);
  CTRNET_CHECK(a.format == "criteo" || a.format == "csv" || a.format == "libsvm", "unknown input format '",
               a.format, "'");
  CTRNET_CHECK(a.format != "csv" || !a.schema.empty(), "--format csv needs --schema FILE");

  ReaderOptions ro;
  ro.bad_lines = parse_bad_lines(a.bad_lines);
  ro.threads = a.threads;
  ro.labels = LabelCheck::binary;  // the models are binary: checked per line, before scoring
  CTRNET_CHECK(a.labels == "01" || a.format == "libsvm", "--labels ", a.labels,
               " applies to libsvm input only, this input is ", a.format);
  ReadResult raw = [&] {
    if (a.format == "criteo") return read_criteo(a.input, CriteoOptions{}, ro);
    if (a.format == "csv") return read_delimited(a.input, DelimitedSchema::from_file(a.schema), ro);
    LibsvmOptions lo;
    lo.drop_values = true;
    lo.labels = a.labels == "pm1" ? LibsvmLabels::binary : LibsvmLabels::raw;
    return read_libsvm(a.input, lo, ro);
  }();
  if (raw.report.skipped() > 0) std::fprintf(stderr, "%s: %s\n", a.input.c_str(), raw.report.summary().c_str());
  require_examples(raw, a.input, "--input file");
  const InMemoryDataset data = pre.transform(raw.dataset);
  const std::vector<float> probs = dispatch(arch, f, data, a);

  for (float p : probs) out.printf("%.9g\n", static_cast<double>(p));
  out.commit();  // checked writes; a file appears complete or not at all

  const auto& labels = data.data().labels;
  const bool both = std::find(labels.begin(), labels.end(), 0.0f) != labels.end() &&
                    std::find(labels.begin(), labels.end(), 1.0f) != labels.end();
  if (both) {
    BinaryMetrics m;
    m.add(probs, labels, data.data().weights);
    std::fprintf(stderr, "%s: %lld examples scored with %s; AUC %.5f  logloss %.5f\n", a.input.c_str(),
                 static_cast<long long>(probs.size()), arch.c_str(), m.auc(), m.log_loss());
  } else {
    std::fprintf(stderr, "%s: %lld examples scored with %s\n", a.input.c_str(), static_cast<long long>(probs.size()),
                 arch.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ctrnet-predict: score a file with a model saved by ctrnet-train --save"};
  Args a;
  app.add_option("--model", a.model, "model file (safetensors, from ctrnet-train --save)")->required()->check(CLI::ExistingFile);
  app.add_option("--input", a.input, "file to score")->required()->check(CLI::ExistingFile);
  app.add_option("--format", a.format, "input format (default: the one the model was trained on)")
      ->check(CLI::IsMember({"criteo", "csv", "libsvm"}));
  app.add_option("--schema", a.schema, "JSON schema file of a csv input")->check(CLI::ExistingFile);
  app.add_option("--output", a.output, "write the probabilities here, one per line (default: standard output)");
  app.add_option("--bad-lines", a.bad_lines, "malformed lines: error or skip")->check(CLI::IsMember({"error", "skip"}));
  app.add_option("--labels", a.labels,
                 "libsvm labels: 01 (the default: 0 or 1; any other label, -1 included, is an error naming "
                 "file:line) or pm1 (the -1/+1 convention: -1 is read as 0, +1 as 1)")
      ->check(CLI::IsMember({"01", "pm1"}));
  app.add_option("--batch", a.batch, "rows per prediction call")->check(CLI::PositiveNumber);
  app.add_option("--threads", a.threads, "threads (0: all cores)")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    return run(a);
  } catch (const Error& e) {
    std::fprintf(stderr, "ctrnet-predict: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "ctrnet-predict: out of memory (std::bad_alloc) reading or scoring '%s': lower --batch or "
                         "score the file in parts\n", a.input.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ctrnet-predict: unexpected error: %s\n", e.what());
    return 1;
  }
}
