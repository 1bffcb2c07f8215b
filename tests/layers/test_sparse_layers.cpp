// Embedding, FeatureInput and WideLinear: gradient checks (double, cpu_scalar), sharing of
// tables by name, pooling, hashing and clear errors for bad ids and schemas.
#include <catch2/catch.hpp>

#include "ctrnet/layers/embedding.hpp"
#include "ctrnet/layers/feature_input.hpp"
#include "ctrnet/layers/wide.hpp"
#include "ctrnet/testing/gradcheck.hpp"

using namespace ctrnet;
using ctrnet::testing::check_gradients;

namespace {
// 2 dense fields; "user" (vocab 5), "item" (vocab 6), "tags" (multi-hot, vocab 6, mean pooling,
// shares the "item" table), "site" (hashed into 7 buckets).
Schema test_schema() {
  Schema s;
  s.add_dense("d0").add_dense("d1");
  s.add_categorical("user", 5, 3);
  s.add_categorical("item", 6, 3);
  Field tags;
  tags.name = "tags";
  tags.kind = FieldKind::multi_hot;
  tags.vocab_size = 6;
  tags.embedding_dim = 3;
  tags.table = "item";
  tags.pooling = Pooling::mean;
  s.add(tags);
  s.add_hashed("site", 7, 11, 3);
  return s;
}

Batch test_batch(const Schema& s) {
  Batch b(s);
  auto add = [&](float d0, float d1, FeatureId u, FeatureId i, std::vector<FeatureId> tags, FeatureId site, float y) {
    std::vector<FeatureId> uu{u}, ii{i}, ss{site};
    std::vector<std::span<const FeatureId>> ids{uu, ii, tags, ss};
    std::vector<float> dense{d0, d1};
    b.add(dense, ids, y);
  };
  add(0.5f, -1.0f, 0, 1, {2, 3}, 123456789, 1);
  add(-0.2f, 0.3f, 4, 1, {}, -5, 0);
  add(1.5f, 0.0f, 2, 5, {5}, 42, 1);
  add(0.1f, 0.7f, 0, 0, {0, 1, 2}, 123456789, 0);
  return b;
}
}  // namespace

TEST_CASE("Embedding of one id and of a mean-pooled bag matches finite differences", "[embedding][gradcheck]") {
  Schema s = test_schema();
  Batch b = test_batch(s);
  BatchView v = b.view();
  for (const char* f : {"user", "tags", "site"}) {
    auto rep = check_gradients(Embedding(f), s, v);
    INFO(f << "\n" << rep.summary());
    CHECK(rep.ok());
  }
}

TEST_CASE("Embedding mean pooling averages the rows of a bag; an empty bag gives zeros", "[embedding]") {
  Schema s = test_schema();
  Batch b = test_batch(s);
  Embedding e("tags");
  ParamRegistry reg;
  REQUIRE(e.build(s, reg) == 3);
  CHECK(reg.tables().size() == 1);
  CHECK(reg.tables()[0].name == "embedding.item");
  ModelParams<double> p;
  p.initialize(reg, 5);
  Matrix<double> y(4, 3);
  Embedding::Cache<double> c;
  auto v = b.view();
  e.forward(cpu_scalar{}, p.weights(), v, y.view(), c);
  const auto& t = p.tables[0];
  for (int j = 0; j < 3; ++j) {
    CHECK(y(0, j) == Approx((t(2, j) + t(3, j)) / 2));
    CHECK(y(1, j) == 0.0);
    CHECK(y(3, j) == Approx((t(0, j) + t(1, j) + t(2, j)) / 3));
  }
}

TEST_CASE("Fields naming the same table share it; different shapes are an error", "[embedding]") {
  Schema s = test_schema();
  FeatureInput fi;
  ParamRegistry reg;
  // 2 dense + 4 embeddings of 3; "item" and "tags" share one table.
  CHECK(fi.build(s, reg) == 2 + 4 * 3);
  CHECK(reg.tables().size() == 3);
  CHECK(reg.find_table("embedding.item") != nullptr);

  Schema bad = test_schema();
  Field f;
  f.name = "other";
  f.kind = FieldKind::categorical;
  f.vocab_size = 9;  // differs from item's 6 rows
  f.table = "item";
  f.embedding_dim = 3;
  bad.add(f);
  FeatureInput fi2;
  ParamRegistry reg2;
  CHECK_THROWS_WITH(fi2.build(bad, reg2), Catch::Contains("embedding table 'embedding.item' is shared with different shapes"));
}

TEST_CASE("FeatureInput backward matches finite differences (shared table, bags, hashing)", "[feature_input][gradcheck]") {
  Schema s = test_schema();
  Batch b = test_batch(s);
  auto rep = check_gradients(FeatureInput{}, s, b.view());
  INFO(rep.summary());
  CHECK(rep.ok());
  FeatureInput::Options o;
  o.fields = {"d1", "item", "site"};
  auto rep2 = check_gradients(FeatureInput(o), s, b.view());
  INFO(rep2.summary());
  CHECK(rep2.ok());
}

TEST_CASE("FeatureInput puts dense values first, then embeddings in schema order", "[feature_input]") {
  Schema s = test_schema();
  Batch b = test_batch(s);
  FeatureInput::Options o;
  o.fields = {"d1", "user"};
  FeatureInput fi(o);
  ParamRegistry reg;
  REQUIRE(fi.build(s, reg) == 1 + 3);
  ModelParams<float> p;
  p.initialize(reg, 1);
  Matrix<float> y(4, 4);
  FeatureInput::Cache<float> c;
  auto v = b.view();
  fi.forward(cpu_scalar{}, p.weights(), v, y.view(), c);
  CHECK(y(0, 0) == -1.0f);
  CHECK(y(2, 0) == 0.0f);
  for (int j = 0; j < 3; ++j) CHECK(y(1, 1 + j) == p.tables[0](4, j));
}

TEST_CASE("An id outside the vocabulary is a clear error naming the field and example", "[embedding][errors]") {
  Schema s = test_schema();
  Batch b = test_batch(s);
  b.ids[0][2] = 5;  // user vocab is [0, 5)
  FeatureInput fi;
  ParamRegistry reg;
  fi.build(s, reg);
  ModelParams<float> p;
  p.initialize(reg, 1);
  Matrix<float> y(4, fi.out_dim());
  FeatureInput::Cache<float> c;
  auto v = b.view();
  CHECK_THROWS_AS(fi.forward(cpu_scalar{}, p.weights(), v, y.view(), c), Error);
  CHECK_THROWS_WITH(fi.forward(cpu_scalar{}, p.weights(), v, y.view(), c),
                    Catch::Contains("field 'user': id 5 in example 2 is outside the vocabulary [0, 5)"));
  b.ids[0][2] = -1;
  v = b.view();
  CHECK_THROWS_WITH(fi.forward(cpu_scalar{}, p.weights(), v, y.view(), c), Catch::Contains("id -1"));
}

TEST_CASE("Bad schemas give clear errors", "[schema][errors]") {
  Schema s;
  s.add_dense("a");
  CHECK_THROWS_WITH(s.add_dense("a"), Catch::Contains("field 'a' is declared twice"));
  Field f;
  f.name = "c";
  f.kind = FieldKind::categorical;
  CHECK_THROWS_WITH(s.add(f), Catch::Contains("needs exactly one of vocab_size or hash_buckets"));
  f.vocab_size = 3;
  f.hash_buckets = 5;
  CHECK_THROWS_WITH(s.add(f), Catch::Contains("needs exactly one of vocab_size or hash_buckets"));
  FeatureInput::Options o;
  o.fields = {"nope"};
  FeatureInput fi(o);
  ParamRegistry reg;
  CHECK_THROWS_WITH(fi.build(s, reg), Catch::Contains("no field named 'nope'"));
  CHECK_THROWS_WITH(Embedding("a").build(s, reg), Catch::Contains("no categorical field 'a'"));
}

TEST_CASE("Hashed ids land in [0, buckets) deterministically", "[schema]") {
  Schema s = test_schema();
  IdMapper m(s.field("site"));
  for (FeatureId id : {FeatureId(0), FeatureId(-1), FeatureId(123456789), FeatureId(1) << 62}) {
    const index_t r = m(id, 0);
    CHECK(r >= 0);
    CHECK(r < 7);
    CHECK(r == m(id, 99));
  }
}

TEST_CASE("WideLinear backward matches finite differences, with a cross-product feature", "[wide][gradcheck]") {
  Schema s = test_schema();
  Batch b = test_batch(s);
  WideLinear::Options o;
  o.crosses = {{"user", "item"}};
  o.cross_buckets = 13;
  auto rep = check_gradients(WideLinear(o), s, b.view());
  INFO(rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("WideLinear crosses need one-id categorical fields", "[wide][errors]") {
  Schema s = test_schema();
  WideLinear::Options o;
  o.crosses = {{"user", "tags"}};
  WideLinear w(o);
  ParamRegistry reg;
  CHECK_THROWS_WITH(w.build(s, reg), Catch::Contains("cross field 'tags' must hold one id per example"));
  WideLinear::Options o2;
  o2.crosses = {{"user", "d0"}};
  WideLinear w2(o2);
  ParamRegistry reg2;
  CHECK_THROWS_WITH(w2.build(s, reg2), Catch::Contains("cross field 'd0' is not a categorical field"));
}
