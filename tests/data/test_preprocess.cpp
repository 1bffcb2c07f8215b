// Tests for ctrnet/data/preprocess.hpp: vocabularies (min count, max size, OOV and missing rows),
// seeded hashing, log1p / standardisation / quantile bucketing with missing values, the output
// schema, streaming fits, JSON round trips and their errors, a fit on the shared criteo-8k, and a
// replay of the fuzz corpora of fuzz/fuzz_schema_json.cpp and fuzz/fuzz_preprocess_json.cpp.
#include "ctrnet/data/preprocess.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/data/readers/criteo.hpp"
#include "ctrnet/data/schema_json.hpp"
#include "reader_test_util.hpp"

using namespace ctrnet;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// dense "x", "y"; categorical "c" (hashed raw ids), multi-hot "tags".
Schema raw_schema() {
  Schema s;
  s.add_dense("x");
  s.add_hashed("c", 1000);
  s.add_dense("y");
  Field tags;
  tags.name = "tags";
  tags.kind = FieldKind::multi_hot;
  tags.hash_buckets = 1000;
  tags.embedding_dim = 4;
  tags.pooling = Pooling::mean;
  s.add(tags);
  return s;
}

// Rows: x = xs[r], y = ys[r], c = cs[r], tags = bags[r].
Batch raw_batch(const std::vector<float>& xs, const std::vector<float>& ys, const std::vector<FeatureId>& cs,
                const std::vector<std::vector<FeatureId>>& bags) {
  Batch b(raw_schema());
  for (std::size_t r = 0; r < xs.size(); ++r) {
    const std::vector<float> dense{xs[r], ys[r]};
    const std::vector<FeatureId> c{cs[r]};
    const std::vector<std::span<const FeatureId>> ids{c, bags[r]};
    b.add(dense, ids, float(r % 2));
  }
  return b;
}

}  // namespace

TEST_CASE("Vocabulary: rows by count, min count, max size, OOV and missing ids", "[preprocess]") {
  // c: 7 x5, 3 x3, 9 x3, 4 x1, missing x2
  const std::vector<FeatureId> cs{7, 3, 7, 9, 4, 7, kMissingId, 9, 3, 7, 9, 3, 7, kMissingId};
  const std::size_t n = cs.size();
  std::vector<std::vector<FeatureId>> bags(n, std::vector<FeatureId>{});
  bags[0] = {5, 5, 6};
  bags[1] = {kMissingId};
  const InMemoryDataset train(raw_schema(), raw_batch(std::vector<float>(n, 1), std::vector<float>(n, 2), cs, bags));

  PreprocessOptions o;
  o.categorical.min_count = 2;
  Preprocessor p(train.schema(), o);
  p.fit(train);
  // Row 0 missing, 1 OOV, then 7 (5 times), 3 and 9 (3 times: smaller raw id first).
  CHECK(p.vocabulary(0) == std::vector<FeatureId>{7, 3, 9});
  CHECK(p.map_id(0, 7) == 2);
  CHECK(p.map_id(0, 3) == 3);
  CHECK(p.map_id(0, 9) == 4);
  CHECK(p.map_id(0, 4) == 1);   // seen once < min_count
  CHECK(p.map_id(0, 12345) == 1);
  CHECK(p.map_id(0, kMissingId) == 0);
  CHECK(p.vocabulary(1) == std::vector<FeatureId>{5});  // 6 is seen once

  const Schema& os = p.output_schema();
  REQUIRE(os.num_categorical() == 2);
  CHECK(os.categorical(0).name == "c");
  CHECK(os.categorical(0).vocab_size == 5);
  CHECK(os.categorical(0).hash_buckets == 0);
  CHECK(os.categorical(1).vocab_size == 3);
  CHECK(os.categorical(1).kind == FieldKind::multi_hot);
  CHECK(os.categorical(1).embedding_dim == 4);
  CHECK(os.categorical(1).pooling == Pooling::mean);

  const InMemoryDataset t = p.transform(train);
  REQUIRE(t.size() == static_cast<index_t>(n));
  CHECK(t.data().ids[0] == std::vector<FeatureId>{2, 3, 2, 4, 1, 2, 0, 4, 3, 2, 4, 3, 2, 0});
  CHECK(t.data().ids[1] == std::vector<FeatureId>{2, 2, 1, 0});
  CHECK(t.data().offsets[1][1] == 3);
  CHECK(t.data().labels == train.data().labels);

  SECTION("max_size keeps the most frequent ids") {
    PreprocessOptions m;
    m.categorical_fields["c"] = CategoricalSpec{CategoricalTransform::vocabulary, 1, 2, 0, 0};
    Preprocessor q(train.schema(), m);
    q.fit(train);
    CHECK(q.vocabulary(0) == std::vector<FeatureId>{7, 3});
    CHECK(q.map_id(0, 9) == 1);
    CHECK(q.vocabulary(1) == std::vector<FeatureId>{5, 6});
  }
}

TEST_CASE("Hashing into N buckets uses mix_seed and keeps row 0 for missing", "[preprocess]") {
  const std::vector<FeatureId> cs{1, 2, kMissingId, 1};
  const std::vector<std::vector<FeatureId>> bags{{1}, {2, 3}, {}, {kMissingId}};
  const InMemoryDataset train(raw_schema(), raw_batch({0, 0, 0, 0}, {0, 0, 0, 0}, cs, bags));
  PreprocessOptions o;
  o.categorical = CategoricalSpec{CategoricalTransform::hash, 1, 0, 10, 42};
  Preprocessor p(train.schema(), o);
  p.fit(train);
  CHECK(p.output_schema().categorical(0).vocab_size == 11);
  for (FeatureId raw : {FeatureId(1), FeatureId(2), FeatureId(987654321), FeatureId(0)}) {
    const FeatureId row = p.map_id(0, raw);
    CHECK(row == 1 + static_cast<FeatureId>(mix_seed(42, static_cast<std::uint64_t>(raw)) % 10));
    CHECK(row >= 1);
    CHECK(row <= 10);
  }
  CHECK(p.map_id(0, kMissingId) == 0);
  // Pinned values (computed independently in Python): saved models depend on the hash.
  CHECK(p.map_id(0, 1) == 10);
  CHECK(p.map_id(0, 2) == 8);
  CHECK(p.map_id(0, 3) == 10);
  std::vector<FeatureId> rows;
  for (FeatureId raw = 0; raw < 1000; ++raw) rows.push_back(p.map_id(0, raw));
  std::vector<int> per_bucket(11, 0);
  for (FeatureId r : rows) ++per_bucket[static_cast<std::size_t>(r)];
  CHECK(per_bucket[0] == 0);
  for (int b = 1; b <= 10; ++b) CHECK(per_bucket[static_cast<std::size_t>(b)] > 60);  // ~100 each
  const InMemoryDataset t = p.transform(train);
  CHECK(t.data().ids[0][2] == 0);
  CHECK(t.data().ids[1][3] == 0);
}

TEST_CASE("Numeric transforms: log1p, standardisation and quantile buckets with missing values", "[preprocess]") {
  const std::size_t n = 100;
  std::vector<float> xs(n), ys(n);
  for (std::size_t i = 0; i < n; ++i) {
    xs[i] = static_cast<float>(i) + 1.0f;  // 1..100
    ys[i] = i % 2 ? 4.0f : -2.0f;          // mean 1, std 3
  }
  xs[10] = kNaN;
  ys[20] = kNaN;
  std::vector<std::vector<FeatureId>> bags(n, std::vector<FeatureId>{1});
  const InMemoryDataset train(raw_schema(), raw_batch(xs, ys, std::vector<FeatureId>(n, 3), bags));

  SECTION("log1p(max(x, 0)) and log1p_standardize") {
    PreprocessOptions o;
    o.numeric.kind = NumericTransform::log1p;
    Preprocessor p(train.schema(), o);
    p.fit(train);
    CHECK(p.map_dense(0, 1382.0f) == static_cast<float>(std::log1p(1382.0)));
    CHECK(p.map_dense(1, -2.0f) == 0.0f);
    CHECK(p.map_dense(1, kNaN) == 0.0f);
    const InMemoryDataset t = p.transform(train);
    CHECK(t.schema().num_dense() == 2);
    CHECK(t.data().dense_values[0] == static_cast<float>(std::log1p(1.0)));
    CHECK(t.data().dense_values[1] == 0.0f);           // y = -2 clamps to 0
    CHECK(t.data().dense_values[2 * 10] == 0.0f);      // missing x
  }
  SECTION("standardize with the population standard deviation") {
    PreprocessOptions o;
    o.numeric_fields["y"] = NumericSpec{NumericTransform::standardize, 0};
    Preprocessor p(train.schema(), o);
    p.fit(train);
    // y: 49 values of -2 and 50 of 4 (row 20, a -2, is missing).
    const double mean = (49 * -2.0 + 50 * 4.0) / 99.0;
    const double var = (49 * (-2.0 - mean) * (-2.0 - mean) + 50 * (4.0 - mean) * (4.0 - mean)) / 99.0;
    CHECK(p.mean(1) == Approx(mean).epsilon(1e-12));
    CHECK(p.stddev(1) == Approx(std::sqrt(var)).epsilon(1e-12));
    CHECK(p.map_dense(1, 4.0f) == Approx((4.0 - mean) / std::sqrt(var)).epsilon(1e-6));
    CHECK(p.map_dense(1, kNaN) == 0.0f);
    CHECK(p.map_dense(0, 7.0f) == 7.0f);  // x untouched
    // A constant field divides by 1.
    PreprocessOptions c;
    c.numeric.kind = NumericTransform::standardize;
    const InMemoryDataset flat(raw_schema(), raw_batch({5, 5, 5}, {1, 2, 3}, {1, 1, 1}, {{}, {}, {}}));
    Preprocessor q(flat.schema(), c);
    q.fit(flat);
    CHECK(q.stddev(0) == 1.0);
    CHECK(q.map_dense(0, 6.0f) == 1.0f);
  }
  SECTION("quantile bucketing becomes a categorical field") {
    PreprocessOptions o;
    o.numeric_fields["x"] = NumericSpec{NumericTransform::quantile, 4};
    Preprocessor p(train.schema(), o);
    p.fit(train);
    // 99 values 1..100 without 11: quantiles at positions 24, 49, 74 of the sorted values.
    CHECK(p.boundaries(0) == std::vector<float>{26, 51, 76});
    CHECK(p.bucket(0, 1.0f) == 1);
    CHECK(p.bucket(0, 25.9f) == 1);
    CHECK(p.bucket(0, 26.0f) == 2);
    CHECK(p.bucket(0, 1000.0f) == 4);
    CHECK(p.bucket(0, kNaN) == 0);
    const Schema& os = p.output_schema();
    REQUIRE(os.num_dense() == 1);
    CHECK(os.dense(0).name == "y");
    REQUIRE(os.num_categorical() == 3);
    CHECK(os.categorical(2).name == "x");
    CHECK(os.categorical(2).vocab_size == 5);
    const InMemoryDataset t = p.transform(train);
    CHECK(t.data().ids[2][0] == 1);
    CHECK(t.data().ids[2][10] == 0);
    CHECK(t.data().ids[2][99] == 4);
    CHECK(t.data().dense_values[0] == -2.0f);
    // Repeated values give fewer, distinct boundaries.
    const InMemoryDataset few(raw_schema(), raw_batch({1, 1, 1, 1, 2, 2}, {0, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1},
                                                      {{}, {}, {}, {}, {}, {}}));
    Preprocessor r(few.schema(), o);
    r.fit(few);
    CHECK(r.boundaries(0) == std::vector<float>{1, 2});
  }
  SECTION("a reservoir sample is deterministic for a seed") {
    PreprocessOptions o;
    o.numeric_fields["x"] = NumericSpec{NumericTransform::quantile, 4};
    o.quantile_sample = 20;
    o.seed = 7;
    Preprocessor a(train.schema(), o), b(train.schema(), o);
    a.fit(train);
    b.fit(train);
    CHECK(a.boundaries(0) == b.boundaries(0));
    CHECK(a.boundaries(0).size() == 3);
  }
}

TEST_CASE("Preprocessor state round-trips through JSON", "[preprocess][json]") {
  std::vector<float> xs, ys;
  std::vector<FeatureId> cs;
  std::vector<std::vector<FeatureId>> bags;
  for (int i = 0; i < 300; ++i) {
    xs.push_back(i % 13 == 0 ? kNaN : static_cast<float>(i * 1.5 - 40));
    ys.push_back(static_cast<float>((i * 37) % 101));
    cs.push_back(i % 7 == 0 ? kMissingId : FeatureId(i % 23));
    bags.push_back({FeatureId(i % 5), FeatureId(i % 11)});
  }
  const InMemoryDataset train(raw_schema(), raw_batch(xs, ys, cs, bags));
  PreprocessOptions o;
  o.numeric_fields["x"] = NumericSpec{NumericTransform::log1p_standardize, 0};
  o.numeric_fields["y"] = NumericSpec{NumericTransform::quantile, 8};
  o.categorical_fields["c"] = CategoricalSpec{CategoricalTransform::vocabulary, 3, 0, 0, 0};
  o.categorical_fields["tags"] = CategoricalSpec{CategoricalTransform::hash, 1, 0, 17, 99};
  Preprocessor p(train.schema(), o);
  // A streaming fit over two halves equals one fit over everything.
  p.observe(train.data().view().rows(0, 120));
  p.observe(train.data().view().rows(120, 180));
  p.finish();
  Preprocessor whole(train.schema(), o);
  whole.fit(train);
  CHECK(p.to_json() == whole.to_json());

  const nlohmann::json j = p.to_json();
  const Preprocessor q = Preprocessor::from_json(nlohmann::json::parse(j.dump()));
  CHECK(q.to_json() == j);
  const InMemoryDataset a = p.transform(train), b = q.transform(train);
  CHECK(a.data().dense_values == b.data().dense_values);
  CHECK(a.data().ids == b.data().ids);
  CHECK(schema_to_json(a.schema()) == schema_to_json(b.schema()));
  CHECK(j["dense"][0]["transform"] == "log1p_standardize");
  CHECK(j["categorical"][1]["buckets"] == 17);

  auto broken = [&](auto edit) {
    nlohmann::json k = j;
    edit(k);
    try {
      Preprocessor::from_json(k);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(broken([](nlohmann::json& k) { k["version"] = 2; }), Catch::Contains("version 2 is not supported"));
  CHECK_THAT(broken([](nlohmann::json& k) { k["format"] = "x"; }), Catch::Contains("\"format\" must be"));
  CHECK_THAT(broken([](nlohmann::json& k) { k["dense"][0]["name"] = "z"; }), Catch::Contains("dense entry 0 is 'z'"));
  CHECK_THAT(broken([](nlohmann::json& k) { k["dense"][1].erase("boundaries"); }), Catch::Contains("preprocess JSON"));
  CHECK_THAT(broken([](nlohmann::json& k) { k["categorical"][0]["kind"] = "magic"; }), Catch::Contains("unknown kind"));
  CHECK_THAT(broken([](nlohmann::json& k) { k["dense"][0]["std"] = 0.0; }), Catch::Contains("std must be positive"));
  // Strict types: a float or a negative count, a string where a number is expected, unknown keys.
  CHECK_THAT(broken([](nlohmann::json& k) { k["categorical"][1]["buckets"] = 17.5; }),
             Catch::Contains("categorical[1]: key 'buckets' must be an integer in range, got 17.5 (expected an integer in [0, 9223372036854775807])"));
  CHECK_THAT(broken([](nlohmann::json& k) { k["categorical"][1]["buckets"] = -17; }),
             Catch::Contains("categorical[1]: key 'buckets' must be an integer in range, got -17 (expected an integer in [0, 9223372036854775807])"));
  CHECK_THAT(broken([](nlohmann::json& k) { k["dense"][0]["mean"] = "0.5"; }),
             Catch::Contains("dense[0]: key 'mean' must be a number, got \"0.5\""));
  CHECK_THAT(broken([](nlohmann::json& k) { k["dense"][0]["means"] = 1; }), Catch::Contains("dense[0]: unknown key 'means'"));
  CHECK_THAT(broken([](nlohmann::json& k) { k["input_schema"][1]["hash_buckets"] = 1.5; }),
             Catch::Contains("input_schema: [1]: key 'hash_buckets' must be an integer in range, got 1.5 (expected an integer in [0, 9223372036854775807])"));
  // Text: what to_json writes loads back; a repeated key is an error naming the source and path.
  CHECK(Preprocessor::from_json_text(j.dump(), "pre.json").to_json() == j);
  std::string dup = j.dump();
  const std::string key = "\"transform\":";
  dup.insert(dup.find(key), "\"transform\":\"none\",");
  CHECK_THROWS_WITH(Preprocessor::from_json_text(dup, "pre.json"),
                    Catch::Contains("pre.json: duplicate key 'transform'") && Catch::Contains("dense[0].transform"));

  CHECK_THROWS_WITH(Preprocessor(train.schema(), o).transform(train), Catch::Contains("not fitted yet"));
  PreprocessOptions wrong;
  wrong.numeric_fields["c"] = NumericSpec{};
  CHECK_THROWS_WITH(Preprocessor(train.schema(), wrong), Catch::Contains("'c' is not a dense field"));
}

TEST_CASE("Preprocessing the shared criteo-8k: DLRM log1p and vocabularies with min count", "[preprocess][shared]") {
  const auto dir = ctrnet::test::shared_data("criteo-8k");
  if (!dir) return;
  CriteoOptions co;
  co.dense_missing = DenseMissing::nan;
  const InMemoryDataset train = read_criteo(*dir + "/train.csv", co).dataset;
  const InMemoryDataset test = read_criteo(*dir + "/test.csv", co).dataset;
  PreprocessOptions o;
  o.numeric.kind = NumericTransform::log1p;
  o.categorical.min_count = 2;
  Preprocessor p(train.schema(), o);
  p.fit(train);
  // C1 of the training split: 147 distinct values, 77 of them seen at least twice (awk).
  CHECK(p.vocabulary(0).size() == 77);
  CHECK(p.output_schema().categorical(0).vocab_size == 79);
  const InMemoryDataset t = p.transform(test);
  REQUIRE(t.size() == 391);
  for (float v : t.data().dense_values) {
    CHECK(std::isfinite(v));
    CHECK(v >= 0.0f);
  }
  for (std::size_t f = 0; f < t.data().ids.size(); ++f)
    for (FeatureId id : t.data().ids[f]) {
      CHECK(id >= 0);
      CHECK(id < t.schema().categorical(static_cast<index_t>(f)).vocab_size);
    }
  // The first training row: I5 = 1382 -> log1p(1382).
  const InMemoryDataset tt = p.transform(train);
  CHECK(tt.data().dense_values[4] == static_cast<float>(std::log1p(1382.0)));
  CHECK(tt.data().ids[21][0] == 0);  // C22 missing
}

namespace {
// Replays tests/data/fuzz_corpus/<corpus> (the corpus of fuzz/fuzz_<corpus>.cpp) through `load`,
// which reads one JSON document and returns its JSON form written back by the library. seed_*
// files were written by the library: they must load and round-trip. bad_* are broken: they must be
// rejected with a ctrnet::Error. Other files are fuzzer finds: loaded cleanly or rejected with a
// ctrnet::Error, never another exception, a crash or a sanitizer report.
template <class Load>
void replay_json_corpus(const std::string& corpus, Load load) {
  const auto files = ctrnet::test::fuzz_corpus(corpus);
  REQUIRE(files.size() >= 3);
  for (const auto& f : files) {
    INFO(f);
    const std::string name = std::filesystem::path(f).filename().string();
    const nlohmann::json j = nlohmann::json::parse(ctrnet::test::read_bytes(f), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      CHECK(name.rfind("seed_", 0) != 0);  // not JSON: the fuzz target skips it too
      continue;
    }
    try {
      const nlohmann::json saved = load(j);
      CHECK(name.rfind("bad_", 0) != 0);
      CHECK(load(nlohmann::json::parse(saved.dump())) == saved);
    } catch (const Error& e) {
      INFO(e.what());
      CHECK(name.rfind("seed_", 0) != 0);
    }
  }
}
}  // namespace

TEST_CASE("Schema JSON reader survives every input of the fuzz corpus", "[schema][json][fuzz]") {
  replay_json_corpus("schema_json", [](const nlohmann::json& j) { return schema_to_json(schema_from_json(j)); });
}

TEST_CASE("Preprocessing JSON reader survives every input of the fuzz corpus", "[preprocess][json][fuzz]") {
  replay_json_corpus("preprocess_json", [](const nlohmann::json& j) {
    const Preprocessor p = Preprocessor::from_json(j);
    // A state it accepted transforms a batch of its input schema.
    Batch in(p.input_schema()), out;
    const std::vector<float> dense(static_cast<std::size_t>(p.input_schema().num_dense()), 2.0f);
    const std::vector<FeatureId> one{3};
    const std::vector<std::span<const FeatureId>> ids(static_cast<std::size_t>(p.input_schema().num_categorical()), one);
    in.add(dense, ids, 1.0f);
    p.transform(in.view(), out);
    CHECK(out.size() == 1);
    return p.to_json();
  });
}
