// Embedding, FeatureInput and WideLinear: gradient checks (double, cpu_scalar), sharing of
// tables by name, pooling, hashing and clear errors for bad ids and schemas; WideLinear's forward on a
// hand-computed case and the hash_cross_ids kernel.
#include <catch2/catch.hpp>

#include "ctrnet/layers/embedding.hpp"
#include "ctrnet/layers/feature_input.hpp"
#include "ctrnet/layers/wide.hpp"
#include "ctrnet/policy/cpu_simd.hpp"
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

TEST_CASE("hash_cross_ids: one hashed id per row, and the first row without exactly one id", "[wide][kernels]") {
  // Two one-id fields a = [3, 7, 3], b = [5, 5, −1]: id(r) = mix_seed(mix_seed(0x9E3779B97F4A7C15, a_r), b_r),
  // offsets = [0, 1, 2, 3]. Rows 0 and 2 differ only in b, rows 0 and 1 only in a.
  const std::vector<FeatureId> a{3, 7, 3}, b{5, 5, -1};
  const std::vector<index_t> off{0, 1, 2, 3};
  const FieldIds fields[] = {{a.data(), off.data()}, {b.data(), off.data()}};
  const index_t cross[] = {0, 1};
  std::vector<FeatureId> ids(3, 0);
  std::vector<index_t> out(4, -9);
  const kernels::CrossIdError e = kernels::hash_cross_ids(cpu_scalar{}, fields, cross, 2, 3, ids.data(), out.data());
  CHECK(e.ok());
  for (index_t r = 0; r < 3; ++r) {
    const std::uint64_t h = mix_seed(mix_seed(0x9E3779B97F4A7C15ull, static_cast<std::uint64_t>(a[r])),
                                     static_cast<std::uint64_t>(b[r]));
    CHECK(ids[static_cast<std::size_t>(r)] == static_cast<FeatureId>(h));
  }
  CHECK(ids[0] != ids[1]);
  CHECK(ids[0] != ids[2]);
  CHECK(out == std::vector<index_t>{0, 1, 2, 3});
  // The cross order matters: (b, a) hashes differently.
  const index_t swapped[] = {1, 0};
  std::vector<FeatureId> ids2(3, 0);
  CHECK(kernels::hash_cross_ids(cpu_simd{}, fields, swapped, 2, 3, ids2.data(), out.data()).ok());
  CHECK(ids2[0] != ids[0]);
  // Field b holds 2 ids in row 1 and none in row 2: the first offender (row 1, field 1) is reported.
  const std::vector<FeatureId> b2{5, 5, 6};
  const std::vector<index_t> off2{0, 1, 3, 3};
  const FieldIds bad[] = {{a.data(), off.data()}, {b2.data(), off2.data()}};
  const kernels::CrossIdError e2 = kernels::hash_cross_ids(cpu_scalar{}, bad, cross, 2, 3, ids.data(), out.data());
  CHECK_FALSE(e2.ok());
  CHECK(e2.row == 1);
  CHECK(e2.field == 1);
  CHECK(e2.count == 2);
}

namespace {
// WideLinear over test_schema() with one cross, user × item, hashed into 13 buckets.
WideLinear user_x_item_wide() {
  WideLinear::Options o;
  o.crosses = {{"user", "item"}};
  o.cross_buckets = 13;
  return WideLinear(o);
}
}  // namespace

TEST_CASE("WideLinear forward: bias broadcast from the weights, dense, per-field and cross terms", "[wide]") {
  // bias 0.25, dense weight [2, −1], wide.user[i] = 100 + i, every other table 0 except the cross
  // table, all 1000 (so the bucket of the cross does not matter here):
  //   y_r = 0.25 + 2 d0_r − d1_r + (100 + user_r) + 1000.
  Schema s = test_schema();
  Batch b = test_batch(s);
  WideLinear wide = user_x_item_wide();
  ParamRegistry reg;
  REQUIRE(wide.build(s, reg) == 1);
  ModelParams<double> p;
  p.allocate(reg);
  REQUIRE(reg.find("wide.bias") != nullptr);
  REQUIRE(reg.find("wide.dense_weight") != nullptr);
  p.view(reg.find("wide.bias")->handle)(0, 0) = 0.25;
  p.view(reg.find("wide.dense_weight")->handle)(0, 0) = 2.0;
  p.view(reg.find("wide.dense_weight")->handle)(0, 1) = -1.0;
  REQUIRE(reg.find_table("wide.user") != nullptr);
  REQUIRE(reg.find_table("wide.cross.user_x_item") != nullptr);
  Matrix<double>& user = p.tables[static_cast<std::size_t>(reg.find_table("wide.user")->handle.id)];
  for (index_t i = 0; i < user.rows(); ++i) user(i, 0) = 100.0 + static_cast<double>(i);
  Matrix<double>& cross = p.tables[static_cast<std::size_t>(reg.find_table("wide.cross.user_x_item")->handle.id)];
  for (index_t i = 0; i < cross.rows(); ++i) cross(i, 0) = 1000.0;
  const auto v = b.view();
  const double d0[] = {0.5, -0.2, 1.5, 0.1}, d1[] = {-1.0, 0.3, 0.0, 0.7};
  const double u[] = {0, 4, 2, 0};
  Matrix<double> ys(4, 1, -5.0), yv(4, 1, -5.0);  // the forward overwrites y
  WideLinear::Cache<double> cs, cv;
  wide.forward(cpu_scalar{}, p.weights(), v, ys.view(), cs);
  wide.forward(cpu_simd{}, p.weights(), v, yv.view(), cv);
  for (index_t r = 0; r < 4; ++r) {
    INFO("row " << r);
    const double want = 0.25 + 2 * static_cast<double>(static_cast<float>(d0[r])) -
                        static_cast<double>(static_cast<float>(d1[r])) + 100 + u[r] + 1000;
    CHECK(ys(r, 0) == Approx(want).epsilon(1e-12));
    CHECK(yv(r, 0) == Approx(want).epsilon(1e-12));
  }
  // The cross ids in the Cache: one per row, the hash of (user, item) (rows 0 and 3 share user 0
  // but not the item; rows 0 and 1 share item 1 but not the user).
  REQUIRE(cs.cross_ids.size() == 1);
  CHECK(cs.cross_offsets[0].to_host() == std::vector<index_t>{0, 1, 2, 3, 4});
  CHECK(cs.cross_ids[0].to_host() == cv.cross_ids[0].to_host());
  const std::uint64_t h0 = mix_seed(mix_seed(0x9E3779B97F4A7C15ull, std::uint64_t{0}), std::uint64_t{1});
  CHECK(cs.cross_ids[0].to_host()[0] == static_cast<FeatureId>(h0));
}

TEST_CASE("WideLinear: a crossed field without exactly one id in an example is a clear error", "[wide][errors]") {
  Schema s = test_schema();
  Batch b = test_batch(s);
  WideLinear wide = user_x_item_wide();
  ParamRegistry reg;
  wide.build(s, reg);
  ModelParams<float> p;
  p.initialize(reg, 1);
  // A view whose "user" ids give example 2 two ids (a Batch would refuse them for a one-id field).
  const std::vector<FeatureId> ids{0, 4, 2, 3, 0};
  const std::vector<index_t> off{0, 1, 2, 4, 5};
  BatchView v = b.view();
  v.fields[0] = FieldIds{ids.data(), off.data()};
  v.first_row = 10;
  Matrix<float> y(4, 1);
  WideLinear::Cache<float> c;
  CHECK_THROWS_WITH(wide.forward(cpu_scalar{}, p.weights(), v, y.view(), c),
                    Catch::Contains("WideLinear: cross field 'user' has 2 ids in example 12; expected exactly one"));
}
