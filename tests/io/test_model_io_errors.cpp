// Model files: names and layouts follow PyTorch ([d] biases, [out, in] weights), bfloat16 tables are
// opt-in, each mismatch (architecture, schema, missing / extra tensor, shape, dtype, hostile
// options) is a ctrnet::Error naming it, and the fuzzer's saved inputs never crash the loader. A NaN
// or inf value (named by tensor and index) and a metadata dtype that is not the model's are errors,
// and so is a 'preprocessing' whose fields or vocabulary sizes do not fit the model's schema.
#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <optional>

#include "ctrnet/data/preprocess.hpp"
#include "io_test_util.hpp"

using namespace ctrnet;
using namespace ctrnet::io_test;

TEST_CASE("saved names and shapes follow PyTorch's layout", "[io][model]") {
  TempDir dir;
  const auto m = make_dcn_v2_parallel(small_schema(), small_dcn(), 1);
  save_model(m, dir.file("m.safetensors"));
  const SafetensorsFile f(dir.file("m.safetensors"));
  const index_t d = 2 + 3 + 4 + 4;  // dense + a (dim 3) + b, h (default dim 4)
  using S = std::vector<std::int64_t>;
  CHECK(f.at("cross.0.weight").shape == S{d, d});
  CHECK(f.at("cross.1.bias").shape == S{d});
  CHECK(f.at("deep.0.weight").shape == S{6, d});
  CHECK(f.at("deep.0.bias").shape == S{6});
  CHECK(f.at("deep.1.weight").shape == S{5, 6});
  CHECK(f.at("logit.weight").shape == S{1, d + 5});
  CHECK(f.at("logit.bias").shape == S{1});
  CHECK(f.at("embedding.a").shape == S{5, 3});
  CHECK(f.at("embedding.h").shape == S{11, 4});
  const auto opts = nlohmann::json::parse(f.metadata("options"));
  CHECK(opts.at("cross_depth") == 2);
  CHECK(opts.at("hidden") == nlohmann::json({6, 5}));
  const auto schema = nlohmann::json::parse(f.metadata("schema"));
  REQUIRE(schema.size() == 5);
  CHECK(schema[4].at("hash_seed") == 42);
  CHECK(schema[4].at("hash_buckets") == 11);
  CHECK(f.metadata("format") == "ctrnet.model");
  CHECK(f.metadata("dtype") == "F32");
}

TEST_CASE("bfloat16 embedding tables are opt-in and rounded to nearest even", "[io][model]") {
  TempDir dir;
  auto m = make_dcn_v2_stacked(small_schema(), small_dcn(), 1);
  randomize(m, 9);
  ModelSaveOptions so;
  so.bf16_tables = true;
  save_model(m, dir.file("b.safetensors"), so);
  const SafetensorsFile f(dir.file("b.safetensors"));
  CHECK(f.at("embedding.a").dtype == Dtype::BF16);
  CHECK(f.at("deep.0.weight").dtype == Dtype::F32);
  const auto loaded = load_model<DCNv2Stacked>(dir.file("b.safetensors"));
  const auto& t0 = m.params().tables[0];
  const auto& t1 = loaded.params().tables[0];
  for (index_t i = 0; i < t0.size(); ++i) CHECK(t1.data()[i] == bf16_to_float(float_to_bf16(t0.data()[i])));
  CHECK(same_dense(m, loaded));
  const Batch b = small_batch(small_schema(), 6, 2);
  const auto p0 = predict(m, b), p1 = predict(loaded, b);
  for (index_t r = 0; r < p0.rows(); ++r) CHECK(p1(r, 0) == Approx(p0(r, 0)).epsilon(2e-2));
}

TEST_CASE("loading names the mismatch: architecture, schema, tensors, shapes", "[io][model]") {
  TempDir dir;
  const Schema s = small_schema();
  const auto dcn = make_dcn(s, small_dcn(), 1);
  save_model(dcn, dir.file("dcn.safetensors"));
  CHECK_THROWS_WITH(load_model<DCNv2Stacked>(dir.file("dcn.safetensors")),
                    Catch::Contains("holds a 'dcn' model, expected 'dcn_v2_stacked'"));

  auto wider = small_dcn();
  wider.hidden = {7, 5};
  auto other = make_dcn(s, wider, 1);
  CHECK_THROWS_WITH(load_model_params(other, dir.file("dcn.safetensors")),
                    Catch::Contains("tensor 'deep.0.weight' has shape [6, 13], the model expects [7, 13]"));

  Schema s2;
  s2.add_dense("x0").add_dense("x1");
  s2.add_categorical("a", 6, 3);
  s2.add_categorical("b", 7);
  s2.add_hashed("h", 11, 42);
  auto other_schema = make_dcn(s2, small_dcn(), 1);
  CHECK_THROWS_WITH(load_model_params(other_schema, dir.file("dcn.safetensors")),
                    Catch::Contains("schema differs from the model's: field 2"));

  // Hand-made files: one tensor missing, one extra, a reserved metadata key.
  detail::StagedTensors scratch;
  auto tensors = detail::model_tensors(dcn, false, scratch);
  const auto md = detail::model_metadata(dcn, {}, "ctrnet.model");
  auto missing = tensors;
  missing.erase(std::find_if(missing.begin(), missing.end(), [](const auto& t) { return t.name == "logit.bias"; }));
  write_safetensors(dir.file("missing.safetensors"), missing, md);
  CHECK_THROWS_WITH(load_model<DCN>(dir.file("missing.safetensors")), Catch::Contains("missing tensor 'logit.bias' ([1])"));
  auto target = make_dcn(s, small_dcn(), 1);
  CHECK_THROWS_WITH(load_model_params(target, dir.file("missing.safetensors")), Catch::Contains("missing tensor 'logit.bias'"));

  const std::vector<float> one{1.f};
  auto extra = tensors;
  extra.push_back({"spare.weight", Dtype::F32, {1}, std::as_bytes(std::span<const float>(one))});
  write_safetensors(dir.file("extra.safetensors"), extra, md);
  CHECK_THROWS_WITH(load_model<DCN>(dir.file("extra.safetensors")), Catch::Contains("unexpected tensor 'spare.weight'"));

  auto bad_md = md;
  bad_md["options"] = "{\"embedding_dim\": 4";
  write_safetensors(dir.file("badopt.safetensors"), tensors, bad_md);
  CHECK_THROWS_WITH(load_model<DCN>(dir.file("badopt.safetensors")), Catch::Contains("'options' is not valid JSON"));
  bad_md = md;
  bad_md["options"] = "{\"embedding_dim\": 4}";
  write_safetensors(dir.file("badopt2.safetensors"), tensors, bad_md);
  CHECK_THROWS_WITH(load_model<DCN>(dir.file("badopt2.safetensors")), Catch::Contains("missing key 'cross_depth'"));
  bad_md = md;
  auto oj = nlohmann::json::parse(md.at("options"));
  oj["hidden"] = {1000000000};
  bad_md["options"] = oj.dump();
  write_safetensors(dir.file("huge.safetensors"), tensors, bad_md);
  CHECK_THROWS_WITH(load_model<DCN>(dir.file("huge.safetensors")),
                    Catch::Contains("a hidden width = 1000000000 is negative or larger than"));
  bad_md = md;
  oj = nlohmann::json::parse(md.at("options"));
  oj["embedding_dim"] = 1e300;  // a float: never truncated or converted out of range
  bad_md["options"] = oj.dump();
  write_safetensors(dir.file("float.safetensors"), tensors, bad_md);
  CHECK_THROWS_WITH(load_model<DCN>(dir.file("float.safetensors")),
                    Catch::Contains("key 'embedding_dim' must be an integer in range, got 1e+300"));
  bad_md = md;
  bad_md.erase("architecture");
  write_safetensors(dir.file("noarch.safetensors"), tensors, bad_md);
  CHECK_THROWS_WITH(load_model<DCN>(dir.file("noarch.safetensors")), Catch::Contains("__metadata__ has no entry 'architecture'"));

  ModelSaveOptions so;
  so.metadata["schema"] = "mine";
  CHECK_THROWS_WITH(save_model(dcn, dir.file("x.safetensors"), so), Catch::Contains("'schema' is reserved"));
  CHECK_FALSE(fs::exists(dir.file("x.safetensors")));
}

TEST_CASE("the fuzzer's saved inputs load as models or fail with ctrnet::Error", "[io][model][fuzz]") {
  const fs::path corpus = fs::path("tests/io/fuzz_corpus");
  REQUIRE(fs::is_directory(corpus));  // tests run from the project root
  int hostile = 0, seeds = 0;
  for (const auto& e : fs::directory_iterator(corpus)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    INFO(name);
    std::optional<SafetensorsFile> f;
    try {
      f.emplace(e.path().string());
    } catch (const Error&) {
      continue;
    }
    int loaded = 0;
    try {
      (void)load_model<DCNv2Stacked>(*f);
      ++loaded;
    } catch (const Error&) {
    }
    try {
      (void)load_model<WideDeep>(*f);
      ++loaded;
    } catch (const Error&) {
    }
    if (name.starts_with("model_")) {  // valid files with hostile metadata: always rejected
      ++hostile;
      CHECK(loaded == 0);
    } else if (name.starts_with("seed_ctrnet_")) {  // files ctrnet wrote: load as exactly one of the two
      ++seeds;
      CHECK(loaded == 1);
    }
  }
  CHECK(hostile >= 6);
  CHECK(seeds >= 3);
}

TEST_CASE("a NaN or infinite value in a model file is an error naming the file, tensor and index", "[io][model]") {
  TempDir dir;
  auto m = make_dcn_v2_stacked(small_schema(), small_dcn(), 1);
  randomize(m, 3);
  const std::string path = dir.file("nan.safetensors");
  save_model(m, path);
  REQUIRE_NOTHROW(load_model<DCNv2Stacked>(path));
  // deep.0.weight is [6, 13]: index 20 is row 1, column 7.
  patch_tensor(path, "deep.0.weight", 20, std::numeric_limits<float>::quiet_NaN());
  CHECK_THROWS_WITH(load_model<DCNv2Stacked>(path),
                    Catch::Contains(path + ": tensor 'deep.0.weight' holds nan at index 20 (row 1, column 7)") &&
                        Catch::Contains("expected finite values"));
  // load_model_params checks everything before it writes: the model keeps its parameters.
  auto target = make_dcn_v2_stacked(small_schema(), small_dcn(), 1);
  randomize(target, 4);
  const auto before = target.params();
  CHECK_THROWS_WITH(load_model_params(target, path), Catch::Contains("tensor 'deep.0.weight' holds nan"));
  CHECK(std::memcmp(before.dense.data(), target.params().dense.data(), before.dense.size() * sizeof(float)) == 0);
  for (std::size_t t = 0; t < before.tables.size(); ++t)
    CHECK(std::memcmp(before.tables[t].data(), target.params().tables[t].data(),
                      static_cast<std::size_t>(before.tables[t].size()) * sizeof(float)) == 0);

  // An infinite table entry, also in a BF16 table (0x7f80 = +inf), and a bias.
  save_model(m, path);
  patch_tensor(path, "embedding.h", 9, -std::numeric_limits<float>::infinity());
  CHECK_THROWS_WITH(load_model<DCNv2Stacked>(path),
                    Catch::Contains("tensor 'embedding.h' holds -inf at index 9 (row 2, column 1)"));
  ModelSaveOptions bf16;
  bf16.bf16_tables = true;
  save_model(m, path, bf16);
  patch_tensor(path, "embedding.a", 4, std::uint16_t{0x7f80});
  CHECK_THROWS_WITH(load_model<DCNv2Stacked>(path), Catch::Contains("tensor 'embedding.a' holds inf at index 4"));
  save_model(m, path);
  patch_tensor(path, "logit.bias", 0, std::numeric_limits<float>::quiet_NaN());
  CHECK_THROWS_WITH(load_model<DCNv2Stacked>(path), Catch::Contains("tensor 'logit.bias' holds nan at index 0;"));
}

TEST_CASE("a model file whose metadata dtype is not the model's is an error", "[io][model]") {
  TempDir dir;
  const auto m = make_dcn_v2_stacked(small_schema(), small_dcn(), 1);
  const std::string path = dir.file("f64.safetensors");
  save_model(m, path);
  patch_text(path, "\"dtype\":\"F32\",\"format\"", "\"dtype\":\"F64\",\"format\"");  // the tensors stay F32
  CHECK_THROWS_WITH(load_model<DCNv2Stacked>(path), Catch::Contains("holds a F64 model, the requested type is F32"));
  auto target = make_dcn_v2_stacked(small_schema(), small_dcn(), 1);
  CHECK_THROWS_WITH(load_model_params(target, path),
                    Catch::Contains(path + ": __metadata__ 'dtype' is 'F64', expected 'F32'"));
}

TEST_CASE("a preprocessing that does not fit the model's schema is an error naming the field", "[io][model][preprocess]") {
  TempDir dir;
  // Raw input: dense x0, x1; raw categorical ids a, b, h (vocabularies fitted on the rows).
  Schema raw;
  raw.add_dense("x0").add_dense("x1");
  raw.add_hashed("a", 1000).add_hashed("b", 1000).add_hashed("h", 1000);
  auto rows = [&](int distinct) {
    Batch b(raw);
    for (int i = 0; i < 40; ++i) {
      const std::vector<float> d{float(i), float(-i)};
      const std::vector<FeatureId> ids{FeatureId(i % distinct), FeatureId(i % 3), FeatureId(i % 5)};
      b.add_one_hot(d, ids, float(i % 2), 1.f);
    }
    return InMemoryDataset(raw, std::move(b));
  };
  PreprocessOptions po;
  po.categorical.kind = CategoricalTransform::vocabulary;
  Preprocessor pre(raw, po), other(raw, po);
  pre.fit(rows(4));
  other.fit(rows(6));
  const auto m = make_dcn_v2_stacked(pre.output_schema(), small_dcn(), 1);
  const std::string path = dir.file("p.safetensors");
  CHECK_NOTHROW(check_preprocessing_fits(pre, m.schema(), path));
  // A model file saved with another run's vocabularies (as ctrnet-predict and --resume read them).
  ModelSaveOptions so;
  so.metadata["preprocessing"] = other.to_json().dump();
  save_model(m, path, so);
  const SafetensorsFile f(path);
  const Preprocessor loaded = Preprocessor::from_json(nlohmann::json::parse(f.metadata("preprocessing")));
  const Schema file_schema = schema_from_json(nlohmann::json::parse(f.metadata("schema")));
  CHECK_THROWS_WITH(check_preprocessing_fits(loaded, file_schema, path),
                    Catch::Contains(path + ": the 'preprocessing' metadata does not fit the model's schema") &&
                        Catch::Contains("field 'a' maps ids to 8 rows (vocabulary or hash size), the model's table "
                                        "has 6"));
  // Other fields: renamed, or one fewer.
  Schema renamed;
  renamed.add_dense("x0").add_dense("x1");
  renamed.add_categorical("a", 6).add_categorical("B", 5).add_categorical("h", 7);
  CHECK_THROWS_WITH(check_preprocessing_fits(pre, renamed, path),
                    Catch::Contains("categorical field 1 is 'b' (categorical), the model's is 'B' (categorical)"));
  Schema fewer;
  fewer.add_dense("x0");
  fewer.add_categorical("a", 6).add_categorical("b", 5).add_categorical("h", 7);
  CHECK_THROWS_WITH(check_preprocessing_fits(pre, fewer, path),
                    Catch::Contains("it yields 2 dense and 3 categorical fields, the model has 1 and 3"));
}
