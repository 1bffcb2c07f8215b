// Retrieval objectives: pointwise BCE, in-batch sampled softmax (logQ, accidental hits) and mixed
// negative sampling on hand-computed cases; finite-difference gradients of each loss (double,
// cpu_scalar, weighted rows); the streaming frequency estimator on a hand-traced sequence; the
// accidental-hit mask; the cpu_simd softmax kernel against cpu_scalar; and the frequency, logQ and
// accidental-hit kernels behind them on hand-traced cases.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "../loss_value.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/heads/retrieval.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

using namespace ctrnet;

namespace {
Matrix<double> mat(index_t r, index_t c, std::initializer_list<double> v) {
  Matrix<double> m(r, c);
  std::copy(v.begin(), v.end(), m.data());
  return m;
}
double log1pexp(double x) { return std::log1p(std::exp(x)); }

// Central differences of loss(s) against the analytic ds (pre-filled, so accumulation is checked).
template <class F>
void check_loss_gradient(Matrix<double> s, F&& loss) {
  Rng rng(3);
  Matrix<double> ds(s.rows(), s.cols());
  for (index_t i = 0; i < ds.size(); ++i) ds.data()[i] = rng.uniform(-1, 1);
  const Matrix<double> ds0 = ds;
  loss(s, ds.view());
  double diff = 0, sum = 0;
  for (index_t i = 0; i < s.size(); ++i) {
    const double v = s.data()[i];
    s.data()[i] = v + 1e-6;
    const double fp = loss(s, MatrixView<double>{});
    s.data()[i] = v - 1e-6;
    const double fm = loss(s, MatrixView<double>{});
    s.data()[i] = v;
    const double num = (fp - fm) / 2e-6, ana = ds.data()[i] - ds0.data()[i];
    diff += (num - ana) * (num - ana);
    sum += (num + ana) * (num + ana);
  }
  CHECK(sum > 1e-6);
  CHECK(std::sqrt(diff / sum) < 1e-7);
}
}  // namespace

TEST_CASE("In-batch softmax matches a hand-computed case", "[retrieval][loss]") {
  // S = [[1, 0], [2, 3]], no logQ, no mask:
  //   ℓ0 = −1 + log(e¹ + e⁰) = log(1 + e⁻¹) = 0.3132617,  ℓ1 = −3 + log(e² + e³) = log(1 + e⁻¹)
  //   mean = 0.3132617; ds = (softmax − I) / 2: σ(1) = 0.7310586, σ(−1) = 0.2689414
  const Matrix<double> s = mat(2, 2, {1, 0, 2, 3});
  const std::vector<FeatureId> ids{10, 11};
  Matrix<double> ds(2, 2, 0.0);
  InBatchSoftmax loss(InBatchSoftmax::Options{false, false});
  InBatchSoftmax::Workspace<double> ws;
  const double l = test_util::loss_value([&](double* out_) { loss.loss(cpu_scalar{}, s.cview(), ids, nullptr, nullptr, 0.5, ds.view(), ws, out_); });
  CHECK(l == Approx(0.3132617).epsilon(1e-6));
  CHECK(ds(0, 0) == Approx((0.7310586 - 1) / 2).epsilon(1e-6));
  CHECK(ds(0, 1) == Approx(0.2689414 / 2).epsilon(1e-6));
  CHECK(ds(1, 0) == Approx(0.2689414 / 2).epsilon(1e-6));
  CHECK(ds(1, 1) == Approx((0.7310586 - 1) / 2).epsilon(1e-6));
}

TEST_CASE("In-batch softmax subtracts log p̂ of each column (logQ correction)", "[retrieval][loss]") {
  // p̂ = [0.5, 0.25]: z = s − log p̂; row 0: z = [1 + ln 2, 0 + ln 4] → ℓ0 = log(1 + e^{ln 2 − 1}) = log(1 + 2/e)
  // row 1: z = [2 + ln 2, 3 + ln 4] → ℓ1 = log(1 + e^{2 + ln 2 − 3 − ln 4}) = log(1 + 1/(2e))
  const Matrix<double> s = mat(2, 2, {1, 0, 2, 3});
  const double lq[] = {std::log(0.5), std::log(0.25)};
  const double l = test_util::loss_value([&](double* out_) { kernels::sampled_softmax_loss(cpu_scalar{}, s.cview(), lq, {}, nullptr, 1.0, MatrixView<double>{}, out_); });
  CHECK(l == Approx(std::log(1 + 2 / std::exp(1.0)) + std::log(1 + 1 / (2 * std::exp(1.0)))).epsilon(1e-12));
  CHECK(l == Approx(0.5514447 + 0.1688473).epsilon(1e-6));
  // Through InBatchSoftmax and a FrequencyEstimator: with α = 1 the estimate is the last gap.
  FrequencyEstimator f(FrequencyEstimatorOptions{64, 1.0, 0});
  const std::vector<FeatureId> a{1, 2}, b{1};
  f.update(a);  // step 0: both first seen, gap t + 1 = 1
  f.update(b);  // step 1: item 1 gap 1 → p̂ = 1
  f.update(b);  // step 2
  f.update(a);  // step 3: item 1 gap 1 → p̂ = 1; item 2 gap 3 → p̂ = 1/3
  CHECK(f.probability(1) == Approx(1.0));
  CHECK(f.probability(2) == Approx(1.0 / 3));
  InBatchSoftmax ib;
  InBatchSoftmax::Workspace<double> ws;
  const double l2 = test_util::loss_value([&](double* out_) { ib.loss(cpu_scalar{}, s.cview(), a, &f, nullptr, 1.0, MatrixView<double>{}, ws, out_); });
  // z row 0 = [1 − 0, 0 + ln 3], row 1 = [2, 3 + ln 3]
  CHECK(l2 == Approx(log1pexp(std::log(3.0) - 1) + log1pexp(2 - 3 - std::log(3.0))).epsilon(1e-12));
}

TEST_CASE("Accidental hits (same item id) are masked out of the softmax", "[retrieval][loss]") {
  // Both rows hold item 7: each row's only negative is its own item → masked → ℓ = 0, ds = 0.
  const Matrix<double> s = mat(2, 2, {1, 5, 2, 3});
  const std::vector<FeatureId> ids{7, 7};
  Matrix<double> ds(2, 2, 0.0);
  InBatchSoftmax loss(InBatchSoftmax::Options{false, true});
  InBatchSoftmax::Workspace<double> ws;
  CHECK(test_util::loss_value([&](double* out_) { loss.loss(cpu_scalar{}, s.cview(), ids, nullptr, nullptr, 1.0, ds.view(), ws, out_); }) == Approx(0.0).margin(1e-15));
  for (index_t i = 0; i < 4; ++i) CHECK(ds.data()[i] == Approx(0.0).margin(1e-15));

  AccidentalHitMask m;
  const std::vector<FeatureId> cols{4, 2, 4, 9, 2};
  m.build(cols, 3);
  CHECK(m.offsets.to_host() == std::vector<index_t>{0, 1, 2, 3});
  CHECK(m.cols.to_host() == std::vector<index_t>{2, 4, 0});
}

TEST_CASE("Mixed negative sampling matches hand-computed cases", "[retrieval][loss]") {
  // B = 1, B′ = 2: columns [positive 3, sampled 5, sampled 3]; the second sampled item is an
  // accidental hit of the positive → ℓ = −2 + log(e² + e⁰) = log(1 + e⁻²) = 0.1269280.
  const Matrix<double> s = mat(1, 3, {2, 0, 1});
  const std::vector<FeatureId> ids{3, 5, 3};
  MixedNegativeSoftmax mixed(MixedNegativeSoftmax::Options{2, false, true});
  MixedNegativeSoftmax::Workspace<double> ws;
  Matrix<double> ds(1, 3, 0.0);
  CHECK(test_util::loss_value([&](double* out_) { mixed.loss(cpu_scalar{}, s.cview(), ids, nullptr, 10, nullptr, 1.0, ds.view(), ws, out_); }) == Approx(0.1269280).epsilon(1e-6));
  CHECK(ds(0, 2) == 0.0);
  CHECK(ds(0, 1) == Approx(1 / (1 + std::exp(2.0))).epsilon(1e-12));
  // logQ with the mixture: log(p̂_j + B′/N); item 3 has p̂ = 1 (seen at the only step), item 5 was
  // never seen (p̂ = 0), N = 10, B′ = 2 → z = [2 − log 1.2, 0 − log 0.2, 1 − log 1.2] (no mask).
  FrequencyEstimator f(FrequencyEstimatorOptions{64, 0.5, 1});
  const std::vector<FeatureId> pos{3};
  f.update(pos);
  MixedNegativeSoftmax mq(MixedNegativeSoftmax::Options{2, true, false});
  const double z0 = 2 - std::log(1.2), z1 = -std::log(0.2), z2 = 1 - std::log(1.2);
  const double want = -z0 + std::log(std::exp(z0) + std::exp(z1) + std::exp(z2));
  CHECK(test_util::loss_value([&](double* out_) { mq.loss(cpu_scalar{}, s.cview(), ids, &f, 10, nullptr, 1.0, MatrixView<double>{}, ws, out_); }) == Approx(want).epsilon(1e-12));
  // correct_sampled = false: the in-batch column keeps the mixture correction log(p̂ + B′/N), the
  // B′ sampled columns keep their raw scores → z = [2 − log 1.2, 0, 1].
  MixedNegativeSoftmax::Options unc{2, true, false};
  unc.correct_sampled = false;
  const double u0 = 2 - std::log(1.2);
  const double want_unc = -u0 + std::log(std::exp(u0) + std::exp(0.0) + std::exp(1.0));
  CHECK(want_unc != Approx(want));
  CHECK(test_util::loss_value([&](double* out_) { MixedNegativeSoftmax(unc).loss(cpu_scalar{}, s.cview(), ids, &f, 10, nullptr, 1.0, MatrixView<double>{}, ws, out_); }) ==
        Approx(want_unc).epsilon(1e-12));
  // Sampling is uniform over the corpus and reproducible.
  Rng r1(5), r2(5);
  std::vector<index_t> a, b;
  MixedNegativeSoftmax(MixedNegativeSoftmax::Options{1000, true, true}).sample(r1, 7, a);
  MixedNegativeSoftmax(MixedNegativeSoftmax::Options{1000, true, true}).sample(r2, 7, b);
  CHECK(a == b);
  std::vector<int> count(7, 0);
  for (index_t x : a) ++count[static_cast<std::size_t>(x)];
  for (int c : count) CHECK(c > 100);
}

TEST_CASE("Pointwise BCE on labelled pairs matches a hand-computed case", "[retrieval][loss]") {
  // s = [2, −1], y = [1, 0]: ℓ = log(1 + e⁻²) + log(1 + e⁻¹), ds = [σ(2) − 1, σ(−1)] (scale 1)
  const Matrix<double> s = mat(2, 1, {2, -1});
  const float y[] = {1, 0};
  Matrix<double> ds(2, 1, 0.0);
  const double l = test_util::loss_value([&](double* out_) { PointwiseBCE{}.loss(cpu_scalar{}, s.cview(), y, nullptr, 1.0, ds.view(), out_); });
  CHECK(l == Approx(0.1269280 + 0.3132617).epsilon(1e-6));
  CHECK(ds(0, 0) == Approx(1 / (1 + std::exp(-2.0)) - 1).epsilon(1e-12));
  CHECK(ds(1, 0) == Approx(1 / (1 + std::exp(1.0))).epsilon(1e-12));
}

TEST_CASE("Retrieval losses: gradients match finite differences", "[retrieval][loss][gradcheck]") {
  Rng rng(17);
  const float w[] = {0.5f, 2.f, 1.f, 1.5f};
  SECTION("in-batch, logQ + accidental hits") {
    Matrix<double> s(4, 4);
    for (index_t i = 0; i < 16; ++i) s.data()[i] = rng.uniform(-2, 2);
    const std::vector<FeatureId> ids{1, 2, 1, 3};  // rows 0 and 2 share an item
    FrequencyEstimator f(FrequencyEstimatorOptions{128, 0.3, 0});
    f.update(ids);
    f.update(std::vector<FeatureId>{2, 3});
    f.update(ids);
    InBatchSoftmax loss;
    InBatchSoftmax::Workspace<double> ws;
    check_loss_gradient(s, [&](const Matrix<double>& m, MatrixView<double> ds) {
      return test_util::loss_value([&](double* out_) { loss.loss(cpu_scalar{}, m.cview(), ids, &f, w, 0.2, ds, ws, out_); });
    });
  }
  SECTION("mixed negatives") {
    Matrix<double> s(3, 7);
    for (index_t i = 0; i < s.size(); ++i) s.data()[i] = rng.uniform(-2, 2);
    const std::vector<FeatureId> ids{4, 5, 6, 9, 4, 0, 1};  // column 4 hits row 0's item
    FrequencyEstimator f;
    f.update(std::vector<FeatureId>{4, 5, 6});
    MixedNegativeSoftmax loss(MixedNegativeSoftmax::Options{4, true, true});
    MixedNegativeSoftmax::Workspace<double> ws;
    check_loss_gradient(s, [&](const Matrix<double>& m, MatrixView<double> ds) {
      return test_util::loss_value([&](double* out_) { loss.loss(cpu_scalar{}, m.cview(), ids, &f, 12, w, 0.25, ds, ws, out_); });
    });
  }
  SECTION("pointwise") {
    Matrix<double> s(4, 1);
    for (index_t i = 0; i < 4; ++i) s.data()[i] = rng.uniform(-3, 3);
    const float y[] = {1, 0, 0, 1};
    check_loss_gradient(s, [&](const Matrix<double>& m, MatrixView<double> ds) {
      return test_util::loss_value([&](double* out_) { PointwiseBCE{}.loss(cpu_scalar{}, m.cview(), y, w, 0.3, ds, out_); });
    });
  }
}

TEST_CASE("Sampled softmax: cpu_simd matches cpu_scalar", "[retrieval][loss][simd]") {
  Rng rng(23);
  for (auto [rows, cols] : {std::pair<index_t, index_t>{5, 5}, {13, 37}, {300, 420}}) {
    Matrix<float> s(rows, cols);
    for (index_t i = 0; i < s.size(); ++i) s.data()[i] = float(rng.uniform(-8, 8));
    std::vector<FeatureId> ids(static_cast<std::size_t>(cols));
    for (auto& id : ids) id = FeatureId(rng.below(static_cast<std::uint64_t>(cols / 2 + 1)));  // many hits
    std::vector<float> lq(static_cast<std::size_t>(cols)), w(static_cast<std::size_t>(rows));
    for (auto& v : lq) v = float(std::log(rng.uniform(0.01, 1.0)));
    for (auto& v : w) v = float(rng.uniform(0.5, 2.0));
    AccidentalHitMask mask;
    mask.build(ids, rows);
    Matrix<float> d1(rows, cols, 0.5f), d2(rows, cols, 0.5f);
    const double l1 = test_util::loss_value([&](double* out_) { kernels::sampled_softmax_loss(cpu_scalar{}, s.cview(), lq.data(), mask.view(), w.data(), 0.01, d1.view(), out_); });
    const double l2 = test_util::loss_value([&](double* out_) { kernels::sampled_softmax_loss(cpu_simd{}, s.cview(), lq.data(), mask.view(), w.data(), 0.01, d2.view(), out_); });
    CHECK(l2 == Approx(l1).epsilon(1e-5));
    for (index_t i = 0; i < d1.size(); ++i) REQUIRE(std::abs(d1.data()[i] - d2.data()[i]) <= 1e-6 + 1e-4 * std::abs(d1.data()[i]));
  }
}

TEST_CASE("Retrieval kernels: frequency_update and frequency_log_q on a hand-traced case", "[retrieval][kernels]") {
  // 4 buckets, α = 0.5. Step 0: items [1, 1]: the first 1 is new → B = 0 + 1 = 1, A = 0; the
  // duplicate has gap 0 → B = 0.5·1 + 0.5·0 = 0.5. Step 3: item 1 → B = 0.5·0.5 + 0.5·3 = 1.75.
  const index_t H = 4;
  const std::uint64_t seed = 9;
  std::vector<std::int64_t> last(H, -1);
  std::vector<double> gap(H, 0.0);
  const FeatureId s0[] = {1, 1}, s3[] = {1};
  kernels::frequency_update(cpu_scalar{}, s0, 2, 0, 0.5, seed, H, last.data(), gap.data());
  const std::size_t h1 = kernels::frequency_bucket(seed, H, 1);
  CHECK(last[h1] == 0);
  CHECK(gap[h1] == 0.5);
  kernels::frequency_update(cpu_simd{}, s3, 1, 3, 0.5, seed, H, last.data(), gap.data());
  CHECK(last[h1] == 3);
  CHECK(gap[h1] == 1.75);
  // p̂(1) = 1 / 1.75; an item in another, unseen bucket has p̂ = 0.
  FeatureId unseen = 2;
  while (kernels::frequency_bucket(seed, H, unseen) == h1) ++unseen;
  const kernels::FrequencyBuckets f{last.data(), gap.data(), H, seed};
  const FeatureId ids[] = {1, unseen, 1};
  double lq[3] = {-9, -9, -9};
  // In-batch (uniform 0): the unseen item in column 1 has q = 0 → reported, column 0 written.
  CHECK(kernels::frequency_log_q(cpu_scalar{}, f, ids, 3, 3, 0.0, lq) == 1);
  CHECK(lq[0] == std::log(1 / 1.75));
  // Mixture with u = 0.25: q = [1/1.75 + 0.25, 0.25, 1/1.75 + 0.25].
  CHECK(kernels::frequency_log_q(cpu_scalar{}, f, ids, 3, 3, 0.25, lq) == -1);
  CHECK(lq[0] == std::log(1 / 1.75 + 0.25));
  CHECK(lq[1] == std::log(0.25));
  CHECK(lq[2] == lq[0]);
  // Only the first column corrected: the others are 0 and never checked (u = 0 would fail them).
  float lqf[3] = {-9, -9, -9};
  CHECK(kernels::frequency_log_q(cpu_simd{}, f, ids, 3, 1, 0.0, lqf) == -1);
  CHECK(lqf[0] == static_cast<float>(std::log(1 / 1.75)));
  CHECK(lqf[1] == 0.0f);
  CHECK(lqf[2] == 0.0f);
  // The estimator routes through the same kernels.
  FrequencyEstimator est(FrequencyEstimatorOptions{H, 0.5, seed});
  est.update(cpu_simd{}, std::vector<FeatureId>{1, 1});
  est.update(std::vector<FeatureId>{});  // steps 1 and 2 see no item
  est.update(std::vector<FeatureId>{});
  est.update(std::vector<FeatureId>{1});
  CHECK(est.steps() == 4);
  CHECK(est.probability(1) == 1 / 1.75);
  CHECK(est.probability(unseen) == 0.0);
  CHECK(est.buckets().buckets == H);
}

TEST_CASE("Retrieval kernels: accidental-hit mask in two passes on a hand-computed case", "[retrieval][kernels]") {
  // ids = [4, 2, 4, 9, 2, 4], rows = 4. Sorted by (id, column): 2@1, 2@4, 4@0, 4@2, 4@5, 9@3 →
  // order = [1, 4, 0, 2, 5, 3]; groups: {1, 4} at [0, 2), {0, 2, 5} at [2, 5), 9 alone.
  // Row 0 masks 2, 5; row 1 masks 4; row 2 masks 0, 5; row 3 (item 9) nothing.
  const FeatureId ids[] = {4, 2, 4, 9, 2, 4};
  std::vector<index_t> order(6), group_of(4), group_end(4), offsets(5);
  const index_t hits = kernels::accidental_hit_offsets(cpu_scalar{}, ids, 6, 4, order.data(), group_of.data(),
                                                       group_end.data(), offsets.data());
  CHECK(hits == 5);
  CHECK(order == std::vector<index_t>{1, 4, 0, 2, 5, 3});
  CHECK(group_of == std::vector<index_t>{2, 0, 2, -1});
  CHECK(group_end == std::vector<index_t>{5, 2, 5, -1});
  CHECK(offsets == std::vector<index_t>{0, 2, 3, 5, 5});
  std::vector<index_t> cols(static_cast<std::size_t>(hits), -1);
  kernels::accidental_hit_columns(cpu_simd{}, order.data(), group_of.data(), group_end.data(), offsets.data(), 4,
                                  cols.data());
  CHECK(cols == std::vector<index_t>{2, 5, 4, 0, 5});
  // Through AccidentalHitMask on either policy: the same arrays, sized to the hits.
  AccidentalHitMask m1, m2;
  m1.build(cpu_simd{}, std::vector<FeatureId>(ids, ids + 6), 4);
  m2.build(std::vector<FeatureId>(ids, ids + 6), 4);
  CHECK(m1.offsets.to_host() == offsets);
  CHECK(m1.cols.to_host() == cols);
  CHECK(m2.cols.to_host() == cols);
  // No hits at all: empty columns, zero offsets.
  const FeatureId uniq[] = {1, 2, 3};
  m1.build(std::vector<FeatureId>(uniq, uniq + 3), 3);
  CHECK(m1.offsets.to_host() == std::vector<index_t>{0, 0, 0, 0});
  CHECK(m1.cols.empty());
}

TEST_CASE("Retrieval losses keep their error messages (unseen item, too few columns)", "[retrieval][errors]") {
  const Matrix<double> s = mat(2, 2, {1, 0, 2, 3});
  const std::vector<FeatureId> ids{10, 11};
  FrequencyEstimator f(FrequencyEstimatorOptions{1024, 0.5, 0});
  f.update(std::vector<FeatureId>{10});
  InBatchSoftmax ib;
  InBatchSoftmax::Workspace<double> ws;
  if (kernels::frequency_bucket(0, 1024, 10) != kernels::frequency_bucket(0, 1024, 11)) {
    CHECK_THROWS_WITH(test_util::loss_value([&](double* out_) { ib.loss(cpu_simd{}, s.cview(), ids, &f, nullptr, 1.0, MatrixView<double>{}, ws, out_); }),
                      Catch::Contains("InBatchSoftmax: item 11 has no frequency estimate; update the estimator"));
    const Matrix<double> s3 = mat(2, 3, {1, 0, 2, 3, 1, 1});
    const std::vector<FeatureId> ids3{10, 11, 12};
    MixedNegativeSoftmax mixed(MixedNegativeSoftmax::Options{1, true, false});
    // B′ = 1 of N = 10 → u = 0.1 > 0: every column has q > 0, no error.
    CHECK_NOTHROW(test_util::loss_value([&](double* out_) { mixed.loss(cpu_scalar{}, s3.cview(), ids3, &f, 10, nullptr, 1.0, MatrixView<double>{}, ws, out_); }));
    // B = B + B′ columns (B′ = 0): item 11 has q = 0.
    CHECK_THROWS_WITH(test_util::loss_value([&](double* out_) { mixed.loss(cpu_scalar{}, s.cview(), ids, &f, 10, nullptr, 1.0, MatrixView<double>{}, ws, out_); }),
                      Catch::Contains("MixedNegativeSoftmax: item 11 has no frequency estimate and B' = 0"));
  }
  AccidentalHitMask m;
  CHECK_THROWS_WITH(m.build(ids, 3), Catch::Contains("accidental-hit mask: 3 rows but only 2 columns"));
}
