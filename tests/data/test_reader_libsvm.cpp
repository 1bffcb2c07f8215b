// Tests for ctrnet/data/readers/libsvm.hpp: sparse and dense layouts, libFM field prefixes,
// label mapping, scanning for num_features, malformed lines (error and skip), CRLF, empty files,
// a 10 MB line, thread-count independence, the fuzz corpus, and a libFFM file whose fields have
// different vocabulary sizes training a Wide & Deep model end to end.
#include "ctrnet/data/readers/libsvm.hpp"

#include <catch2/catch.hpp>

#include "ctrnet/data/preprocess.hpp"
#include "ctrnet/models/wide_deep.hpp"
#include "ctrnet/train/trainer.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "reader_test_util.hpp"

using namespace ctrnet;
using ctrnet::test::TempDir;

namespace {

std::vector<FeatureId> ids_of(const Batch& b, std::size_t f, std::size_t r) {
  return {b.ids[f].begin() + b.offsets[f][r], b.ids[f].begin() + b.offsets[f][r + 1]};
}

std::string error_of(const std::string& path, LibsvmOptions o) {
  try {
    read_libsvm(path, o);
  } catch (const Error& e) {
    return ctrnet::test::strip_dir_of(e.what(), path);  // "name.svm:2: ..."
  }
  return "no error";
}

}  // namespace

TEST_CASE("libsvm reader: sparse and dense layouts with exact values", "[readers][libsvm]") {
  TempDir dir("libsvm");
  const std::string path = dir.write("a.svm", "+1 3:1 7:1\r\n-1  0:1\t5:1 \n\n0\n1 9:1");
  LibsvmOptions o;
  o.labels = LibsvmLabels::binary;
  const ReadResult r = read_libsvm(path, o);  // num_features found by scanning: 10
  REQUIRE(r.dataset.size() == 4);
  CHECK(r.report.blank_lines() == 1);
  const Schema& s = r.dataset.schema();
  REQUIRE(s.num_categorical() == 1);
  CHECK(s.categorical(0).name == "features");
  CHECK(s.categorical(0).kind == FieldKind::multi_hot);
  CHECK(s.categorical(0).vocab_size == 10);
  const Batch& b = r.dataset.data();
  CHECK(b.labels == std::vector<float>{1, 0, 0, 1});
  CHECK(ids_of(b, 0, 0) == std::vector<FeatureId>{3, 7});
  CHECK(ids_of(b, 0, 1) == std::vector<FeatureId>{0, 5});
  CHECK(ids_of(b, 0, 2).empty());  // a label without features
  CHECK(ids_of(b, 0, 3) == std::vector<FeatureId>{9});

  SECTION("raw labels keep the value") {
    const Batch raw = read_libsvm(dir.write("reg.svm", "3.25 1:1\n-7 2:1\n")).dataset.data();
    CHECK(raw.labels == std::vector<float>{3.25f, -7.0f});
  }
  SECTION("dense layout puts values into columns") {
    LibsvmOptions d;
    d.layout = LibsvmLayout::dense;
    d.num_features = 4;
    const ReadResult rd = read_libsvm(dir.write("d.svm", "1 0:0.5 3:-2\n0 2:1e3\n"), d);
    REQUIRE(rd.dataset.schema().num_dense() == 4);
    CHECK(rd.dataset.schema().dense(3).name == "x3");
    CHECK(rd.dataset.data().dense_values == std::vector<float>{0.5f, 0, 0, -2, 0, 0, 1000, 0});
  }
  SECTION("libFM field prefixes give one bag and one embedding table per field") {
    const ReadResult rf = read_libsvm(dir.write("f.ffm", "1 0:3:1 1:8:1 0:4:1\n0 1:2:1\n"));
    const Schema& fs = rf.dataset.schema();
    REQUIRE(fs.num_categorical() == 2);
    CHECK(fs.categorical(0).name == "field_0");
    CHECK(fs.categorical(0).table_name() == "field_0");
    CHECK(fs.categorical(1).table_name() == "field_1");
    CHECK(fs.categorical(1).vocab_size == 9);
    const Batch& fb = rf.dataset.data();
    CHECK(ids_of(fb, 0, 0) == std::vector<FeatureId>{3, 4});
    CHECK(ids_of(fb, 1, 0) == std::vector<FeatureId>{8});
    CHECK(ids_of(fb, 0, 1).empty());
    CHECK(ids_of(fb, 1, 1) == std::vector<FeatureId>{2});
  }
  SECTION("empty file") {
    const ReadResult e = read_libsvm(dir.write("e.svm", ""));
    CHECK(e.dataset.size() == 0);
    CHECK(e.dataset.schema().categorical(0).vocab_size == 1);
  }
  SECTION("a 10 MB line of features") {
    std::string big = "1";
    for (int i = 0; i < 1800000; ++i) {
      big += ' ';
      big += std::to_string(i % 1000);
      big += ":1";
    }
    REQUIRE(big.size() > (10u << 20));
    const ReadResult rb = read_libsvm(dir.write("big.svm", big + "\n0 1:1\n"));
    REQUIRE(rb.dataset.size() == 2);
    CHECK(rb.dataset.data().offsets[0] == std::vector<index_t>{0, 1800000, 1800001});
    CHECK(rb.dataset.data().ids[0][1799999] == 999);
  }
}

TEST_CASE("libsvm reader reports malformed lines", "[readers][libsvm][errors]") {
  TempDir dir("libsvm_bad");
  LibsvmOptions o;
  o.num_features = 10;
  auto err = [&](const std::string& name, const std::string& bad, LibsvmOptions opt) {
    return error_of(dir.write(name, "1 1:1\n" + bad + "\n0 2:1\n"), opt);
  };
  CHECK(err("idx.svm", "1 12:1", o) == "idx.svm:2: column 'index': expected an index in [0, 10), got \"12:1\"");
  CHECK(err("neg.svm", "1 -1:1", o) == "neg.svm:2: column 'index': expected an index in [0, 10), got \"-1:1\"");
  CHECK(err("val.svm", "1 3:abc", o) == "val.svm:2: column 'value': expected a finite number after the last ':', got \"3:abc\"");
  CHECK(err("bin.svm", "1 3:0.5", o) ==
        "bin.svm:2: column 'value': expected the value 1 (sparse layout; use the dense layout or drop_values), got \"3:0.5\"");
  CHECK(err("tok.svm", "1 3", o) == "tok.svm:2: expected index:value (set num_fields for field:index:value), got \"3\"");
  CHECK(err("ffm.svm", "1 0:3:1", o) == "ffm.svm:2: expected index:value (set num_fields for field:index:value), got \"0:3:1\"");
  CHECK(err("label.svm", "x 3:1", o) == "label.svm:2: column 'label': expected a number, got \"x\"");
  CHECK(err("utf8.svm", "1 3:\xc3\x28", o) ==
        "utf8.svm:2: column 'value': expected a finite number after the last ':', got \"3:\\xc3(\"");
  LibsvmOptions bin = o;
  bin.labels = LibsvmLabels::binary;
  CHECK(err("blabel.svm", "2 3:1", bin) == "blabel.svm:2: column 'label': expected +1, 1, 0 or -1 (binary labels), got \"2\"");
  LibsvmOptions dense = o;
  dense.layout = LibsvmLayout::dense;
  CHECK(err("rep.svm", "1 3:1 3:2", dense) == "rep.svm:2: column 'index': expected each index at most once per line, got \"3:2\"");
  LibsvmOptions ffm = o;
  ffm.num_fields = 2;
  CHECK(err("field.svm", "1 2:3:1", ffm) == "field.svm:1: expected field:index:value, got \"1:1\"");
  CHECK_THAT(error_of(dir.write("field2.svm", "1 5:3:1\n"), ffm), Catch::Contains("expected a field in [0, 2), got \"5:3:1\""));
  LibsvmOptions none;
  none.num_features = 0;
  CHECK_THROWS_WITH(LibsvmParser(none), Catch::Contains("num_features must be positive"));

  SECTION("drop_values accepts any value; skip counts bad lines by reason") {
    LibsvmOptions drop = o;
    drop.drop_values = true;
    CHECK(read_libsvm(dir.write("drop.svm", "1 3:0.5 4:2\n"), drop).dataset.data().ids[0] == std::vector<FeatureId>{3, 4});
    ReaderOptions ro;
    ro.bad_lines = BadLines::skip;
    const ReadResult r = read_libsvm(dir.write("skip.svm", "1 1:1\n1 12:1\n0 2:1 3:x\n1 4:1 11:1\n0 5:1\n"), o, ro);
    CHECK(r.dataset.size() == 2);
    CHECK(r.dataset.data().ids[0] == std::vector<FeatureId>{1, 5});
    CHECK(r.report.count("bad index") == 2);
    CHECK(r.report.count("bad value") == 1);
  }
}

TEST_CASE("libsvm reader output does not depend on threads", "[readers][libsvm]") {
  std::string text;
  for (int i = 0; i < 6000; ++i) {
    text += std::to_string(i % 2);
    for (int k = 0; k < i % 9; ++k) {
      text += ' ';
      text += std::to_string((i * 7 + k * 13) % 500);
      text += ":1";
    }
    text += "\n";
  }
  TempDir dir("libsvm_threads");
  const std::string path = dir.write("t.svm", text);
  LibsvmOptions o;
  o.num_features = 500;
  ReaderOptions one;
  one.threads = 1;
  const ReadResult ref = read_libsvm(path, o, one);
  REQUIRE(ref.dataset.size() == 6000);
  ReaderOptions two;
  two.threads = 2;
  two.block_lines = 41;
  two.source.chunk_bytes = 8000;
  const ReadResult r = read_libsvm(path, o, two);
  CHECK(r.dataset.data().ids == ref.dataset.data().ids);
  CHECK(r.dataset.data().offsets == ref.dataset.data().offsets);
  CHECK(r.dataset.data().labels == ref.dataset.data().labels);
}

TEST_CASE("libsvm parser survives every input of the fuzz corpus", "[readers][libsvm][fuzz]") {
  const auto files = ctrnet::test::fuzz_corpus("libsvm");
  REQUIRE(!files.empty());
  for (const auto& f : files) {
    INFO(f);
    const std::string bytes = ctrnet::test::read_bytes(f);
    for (LibsvmLayout layout : {LibsvmLayout::sparse, LibsvmLayout::dense})
      for (BadLines policy : {BadLines::error, BadLines::skip}) {
        LibsvmOptions o;
        o.layout = layout;
        o.num_features = 64;
        o.num_fields = layout == LibsvmLayout::dense ? 0 : 4;
        ReaderOptions ro;
        ro.bad_lines = policy;
        ro.threads = 1;
        LibsvmReader reader(LineSource::from_memory(bytes, "fuzz.svm", ro.source), LibsvmParser(o), ro);
        try {
          const ReadResult r = reader.read_all();
          CHECK(r.dataset.size() + r.report.skipped() + r.report.blank_lines() == r.lines);
        } catch (const Error&) {
          CHECK(policy == BadLines::error);
        }
      }
  }
}

TEST_CASE("libsvm reader: LabelCheck::binary rejects -1, 2 and 0.5 naming path:line; LibsvmLabels::binary maps -1 to 0",
          "[readers][libsvm][labels]") {
  TempDir dir("libsvm_labels");
  ReaderOptions ro;
  ro.labels = LabelCheck::binary;
  auto error_with = [&](const std::string& path, LibsvmOptions o) -> std::string {
    try {
      read_libsvm(path, o, ro);
    } catch (const Error& e) {
      return ctrnet::test::strip_dir_of(e.what(), path);
    }
    return "no error";
  };
  for (const std::string bad : {"2", "-1", "0.5"}) {
    const std::string path = dir.write("bad.svm", "1 1:1\n0 2:1\n\n" + bad + " 3:1\n1 1:1\n");
    const std::string msg = error_with(path, LibsvmOptions{});
    INFO(msg);
    CHECK(msg.find("bad.svm:4: column 'label': expected a binary label 0 or 1") != std::string::npos);
    CHECK(msg.find("got \"" + bad + "\"") != std::string::npos);
    CHECK((msg.find("--labels pm1") != std::string::npos) == (bad == "-1"));  // the hint for -1/+1 files
    // Without the check the same file reads (raw labels: regression data stays possible).
    CHECK(read_libsvm(path).dataset.size() == 4);
  }
  // The explicit opt-in: -1/+1 labels mapped to 0/1; anything else is still an error.
  const std::string pm1 = dir.write("pm1.svm", "+1 1:1\n-1 2:1\n1 3:1\n");
  LibsvmOptions o;
  o.labels = LibsvmLabels::binary;
  const ReadResult r = read_libsvm(pm1, o, ro);
  CHECK(r.dataset.data().labels == std::vector<float>{1, 0, 1});
  CHECK_THAT(error_with(dir.write("pm2.svm", "+1 1:1\n2 2:1\n"), o), Catch::Contains("pm2.svm:2: column 'label'"));
  // BadLines::skip counts non-binary labels as a reason of their own.
  ReaderOptions skip = ro;
  skip.bad_lines = BadLines::skip;
  const ReadResult s = read_libsvm(dir.write("mix.svm", "1 1:1\n2 1:1\n0 1:1\n-1 1:1\n"), LibsvmOptions{}, skip);
  CHECK(s.dataset.size() == 2);
  CHECK(s.report.count("non-binary label") == 2);
  CHECK(s.dataset.data().labels == std::vector<float>{1, 0});
}

TEST_CASE("require_examples: an empty, blank-only or all-skipped file is an error naming the file",
          "[readers][libsvm][empty]") {
  TempDir dir("libsvm_empty");
  auto msg_of = [&](const std::string& path, BadLines bl = BadLines::error) -> std::string {
    ReaderOptions ro;
    ro.bad_lines = bl;
    const ReadResult r = read_libsvm(path, LibsvmOptions{}, ro);
    try {
      require_examples(r, path, "training file");
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string empty = dir.write("empty.svm", "");
  CHECK(msg_of(empty) == "training file '" + empty + "' holds no examples: the file is empty; expected at least one "
                                                      "example line");
  const std::string blank = dir.write("blank.svm", "\n  \n\n");
  CHECK_THAT(msg_of(blank), Catch::Contains("'" + blank + "' holds no examples: 3 lines read, 3 blank"));
  const std::string bad = dir.write("bad.svm", "x 1:1\n");
  CHECK_THAT(msg_of(bad, BadLines::skip), Catch::Contains("1 malformed line skipped"));
  const std::string ok = dir.write("ok.svm", "1 1:1\n");
  CHECK(msg_of(ok) == "no error");
}

TEST_CASE("libFFM fields of different vocabulary sizes preprocess and train end to end", "[readers][libsvm][train]") {
  // Field 0: 40 distinct ids, field 1: 5, field 2: 300 (global indices, libffm's convention). The
  // label follows field 0's id. Before: "embedding table 'embedding.features' is shared with
  // different shapes" once the per-field vocabularies gave the fields different sizes.
  TempDir dir("libffm_train");
  std::string text;
  for (int i = 0; i < 600; ++i) {
    const int a = (i * 7) % 40, b = 40 + i % 5, c = 45 + (i * 13) % 300;
    text += std::string(a < 20 ? "1" : "0") + " 0:" + std::to_string(a) + ":1 1:" + std::to_string(b) + ":1 2:" +
            std::to_string(c) + ":1\n";
  }
  LibsvmOptions lo;
  lo.labels = LibsvmLabels::binary;
  const ReadResult raw = read_libsvm(dir.write("train.ffm", text), lo);
  REQUIRE(raw.dataset.schema().num_categorical() == 3);
  PreprocessOptions po;  // vocabulary per field
  Preprocessor pre(raw.dataset.schema(), po);
  pre.fit(raw.dataset);
  const InMemoryDataset train = pre.transform(raw.dataset);
  const Schema& s = train.schema();
  CHECK(s.categorical(0).rows() == 42);  // 40 ids + missing + out-of-vocabulary
  CHECK(s.categorical(1).rows() == 7);
  CHECK(s.categorical(2).rows() == 302);

  WideDeepOptions wo;
  wo.embedding_dim = 4;
  wo.hidden = {8};
  auto model = make_wide_deep(s, wo, 1);
  std::vector<std::string> tables;
  for (const auto& t : model.registry().tables()) tables.push_back(t.name);
  CHECK(std::find(tables.begin(), tables.end(), "embedding.field_2") != tables.end());
  TrainerOptions to;
  to.epochs = 8;
  to.batch_size = 32;
  to.threads = 1;
  to.progress = ProgressMode::never;
  to.optimizer.lr = 0.01;
  to.embedding_optimizer.lr = 0.1;
  Trainer<WideDeep> trainer(model, to);
  const TrainResult r = trainer.fit(train, &train);
  REQUIRE(r.epochs.size() == 8);
  INFO("train AUC " << r.epochs.back().valid_auc);
  CHECK(r.epochs.back().valid_auc > 0.95);  // field 0 decides the label
}
