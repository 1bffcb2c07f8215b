// Wide & Deep and logistic regression as models: names, gradient checks of the whole body,
// the BCE head on a hand-computed case, the three training phases adding up, and cpu_simd against
// cpu_scalar for a training step (dense and table gradients, predictions).
#include <catch2/catch.hpp>
#include <cmath>

#include "../loss_value.hpp"
#include "ctrnet/heads/regression.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/models/wide_deep.hpp"
#include "ctrnet/testing/gradcheck.hpp"
#include "ctrnet/testing/model_gradcheck.hpp"
#include "simd_parity_checks.hpp"

using namespace ctrnet;

namespace {
Schema small_schema(index_t dim = 3) {
  Schema s;
  s.add_dense("x0").add_dense("x1");
  s.add_categorical("a", 4, dim);
  s.add_categorical("b", 5, dim);
  return s;
}
Batch small_batch(const Schema& s, int n, std::uint64_t seed) {
  Batch b(s);
  Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    std::vector<float> d{float(rng.normal()), float(rng.normal())};
    std::vector<FeatureId> ids{FeatureId(rng.below(4)), FeatureId(rng.below(5))};
    b.add_one_hot(d, ids, rng.bernoulli(0.4) ? 1.f : 0.f, float(0.5 + rng.uniform()));
  }
  return b;
}
}  // namespace

TEST_CASE("Wide & Deep names its parameters like its paper's parts", "[wide_deep]") {
  WideDeepOptions o;
  o.hidden = {8, 4};
  o.crosses = {{"a", "b"}};
  o.cross_buckets = 32;
  auto m = make_wide_deep(small_schema(), o, 3);
  std::vector<std::string> dense, tables;
  for (const auto& p : m.registry().params()) dense.push_back(p.name);
  for (const auto& t : m.registry().tables()) tables.push_back(t.name);
  CHECK(dense == std::vector<std::string>{"wide.dense_weight", "wide.bias", "deep.0.weight", "deep.0.bias",
                                          "deep.1.weight", "deep.1.bias", "logit.weight", "logit.bias"});
  CHECK(tables == std::vector<std::string>{"wide.a", "wide.b", "wide.cross.a_x_b", "embedding.a", "embedding.b"});
}

TEST_CASE("Wide & Deep body backward matches finite differences", "[wide_deep][gradcheck]") {
  WideDeepOptions o;
  o.hidden = {6, 4};
  o.embedding_dim = 3;
  o.crosses = {{"a", "b"}};
  o.cross_buckets = 11;
  o.activation = Activation::tanh;  // smooth, so central differences are exact enough
  Schema s = small_schema();
  Batch b = small_batch(s, 6, 1);
  auto rep = ctrnet::testing::check_gradients(make_wide_deep_body(o), s, b.view());
  INFO(rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("Wide & Deep and logistic regression training step: cpu_simd matches cpu_scalar",
          "[wide_deep][logistic_regression][simd]") {
  // Embeddings 8 wide (deep input 2 + 2 × 8 = 18) and 37 rows: full SIMD registers and tails.
  const Schema s = small_schema(8);
  const Batch b = small_batch(s, 37, 3);
  Context ctx;
  ctx.training = true;  // the deep part's dropout draws the same mask on both policies
  ctx.seed = 5;
  {
    WideDeepOptions o;
    o.embedding_dim = 8;
    o.hidden = {16, 7};
    o.dropout = 0.1;
    o.crosses = {{"a", "b"}};
    o.cross_buckets = 13;
    auto m = make_wide_deep(s, o, 2);
    testing::randomize_params(m, 4);  // the wide part starts at zero
    INFO("WideDeep");
    parity_test::check_model_simd_parity(m, b.view(), ctx);
  }
  {
    LogisticRegressionOptions o;
    o.crosses = {{"a", "b"}};
    o.cross_buckets = 13;
    auto m = make_logistic_regression(s, o, 2);
    testing::randomize_params(m, 6);
    INFO("LogisticRegression");
    parity_test::check_model_simd_parity(m, b.view(), ctx);
  }
}

TEST_CASE("Binary cross-entropy with logits matches a hand-computed case", "[heads]") {
  // z = [2, -1], y = [1, 0], w = [1, 3]; normalizer Σw = 4.
  // ℓ1 = log(1 + e^-2) = 0.126928, ℓ2 = log(1 + e^-1) = 0.313262
  // loss = (1·0.126928 + 3·0.313262) / 4 = 0.266678
  // dz1 = 1·(σ(2) − 1)/4 = −0.029800, dz2 = 3·σ(−1)/4 = 3·0.268941/4 = 0.201706
  Batch b;
  Schema s;
  b.reset(s);
  b.add_one_hot({}, {}, 1.f, 1.f);
  b.add_one_hot({}, {}, 0.f, 3.f);
  Matrix<double> z(2, 1), dz(2, 1, 0.0);
  z(0, 0) = 2;
  z(1, 0) = -1;
  BinaryHead h;
  const double loss = test_util::loss_value([&](double* out_) { h.loss(cpu_scalar{}, z.cview(), b.view(), 4.0, dz.view(), out_); });
  CHECK(loss == Approx((std::log1p(std::exp(-2.0)) + 3 * std::log1p(std::exp(-1.0))) / 4).epsilon(1e-12));
  CHECK(loss == Approx(0.266678).epsilon(1e-5));
  CHECK(dz(0, 0) == Approx((1 / (1 + std::exp(-2.0)) - 1) / 4).epsilon(1e-12));
  CHECK(dz(1, 0) == Approx(3 * (1 / (1 + std::exp(1.0))) / 4).epsilon(1e-12));
  // Extreme logits stay finite.
  z(0, 0) = 1000;
  z(1, 0) = -1000;
  const double l2 = test_util::loss_value([&](double* out_) { h.loss(cpu_scalar{}, z.cview(), b.view(), 4.0, MatrixView<double>{}, out_); });
  CHECK(std::isfinite(l2));
  CHECK(l2 == Approx(0.0).margin(1e-12));
}

TEST_CASE("Squared error head matches a hand-computed case", "[heads]") {
  Batch b;
  Schema s;
  b.reset(s);
  b.add_one_hot({}, {}, 1.5f, 1.f);
  b.add_one_hot({}, {}, -1.f, 1.f);
  Matrix<double> z(2, 1), dz(2, 1, 0.0);
  z(0, 0) = 2;   // e = 0.5
  z(1, 0) = 0;   // e = 1
  RegressionHead h;
  CHECK(test_util::loss_value([&](double* out_) { h.loss(cpu_scalar{}, z.cview(), b.view(), 2.0, dz.view(), out_); }) == Approx((0.25 + 1.0) / 2));
  CHECK(dz(0, 0) == Approx(0.5));
  CHECK(dz(1, 0) == Approx(1.0));
}

TEST_CASE("Model loss gradient matches finite differences of the mean loss", "[model][gradcheck]") {
  Schema s = small_schema();
  Batch b = small_batch(s, 5, 7);
  WideDeepOptions o;
  o.hidden = {4};
  o.embedding_dim = 2;
  o.activation = Activation::tanh;
  BasicModel<double, WideDeepBody, BinaryHead> m(make_wide_deep_body(o), BinaryHead{});
  m.build(s, 11);
  testing::randomize_params(m, 5);  // every dense parameter and table entry
  const auto check = testing::check_model_loss_gradient(m, b.view());
  CHECK(std::isfinite(check.loss));
  CHECK(check.loss_recomputed == Approx(check.loss).epsilon(1e-14));
  INFO("relative error " << check.error << " over " << check.entries << " entries");
  CHECK(check.error < 1e-6);
  CHECK(check.norm > 1e-6);
}

TEST_CASE("Logistic regression predicts σ of its linear score", "[logistic_regression]") {
  Schema s = small_schema();
  auto m = make_logistic_regression(s);
  Batch b = small_batch(s, 3, 2);
  Matrix<float> out(3, 1);
  decltype(m)::Cache c;
  m.predict(cpu_simd{}, b.view(), out.view(), c);
  for (int r = 0; r < 3; ++r) CHECK(out(r, 0) == 0.5f);  // all parameters start at zero
}

TEST_CASE("A model must be built before use", "[model][errors]") {
  WideDeep m;
  Schema s = small_schema();
  Batch b = small_batch(s, 2, 1);
  WideDeep::Cache c;
  Matrix<float> out(2, 1);
  CHECK_THROWS_WITH(m.predict(cpu_scalar{}, b.view(), out.view(), c), Catch::Contains("call build(schema, seed)"));
}
