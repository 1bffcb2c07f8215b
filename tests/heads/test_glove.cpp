// GloveHead (Pennington et al. 2014): a hand-computed loss and gradient, a finite-difference
// gradient check in double, error messages, and recovery of log X_AB on a planted low-rank
// co-occurrence matrix X_AB = exp(w_A·w̃_B + b_A + b̃_B) by a small model (per-item embedding and
// bias tables, ItemPairBody) trained with the GloVe loss alone.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "../loss_value.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/heads/glove.hpp"
#include "ctrnet/layers/embedding.hpp"
#include "ctrnet/models/item_to_item.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"
#include "ctrnet/train/trainer.hpp"

using namespace ctrnet;

namespace {
// A batch with no fields: only labels (unused), weights and the count column targets[0].
struct CountBatch {
  std::vector<float> labels, weights, counts;
  BatchView view() const {
    BatchView v;
    v.size = static_cast<index_t>(counts.size());
    v.labels = labels.data();
    v.weights = weights.data();
    v.targets = {counts.data()};
    return v;
  }
};
}  // namespace

TEST_CASE("GloVe weighting function f(x) = min(1, (x/x_max)^α)", "[heads][glove]") {
  CHECK(glove_weight(0.0) == 0.0);
  CHECK(glove_weight(100.0) == 1.0);
  CHECK(glove_weight(1000.0) == 1.0);
  CHECK(glove_weight(10.0) == Approx(std::pow(0.1, 0.75)));
  CHECK(glove_weight(2.0, GloveOptions{4.0, 0.5}) == Approx(std::sqrt(0.5)));
}

TEST_CASE("GloVe head loss and gradient match a hand-computed case", "[heads][glove]") {
  CountBatch cb{{0, 0, 0, 0}, {1.0f, 1.0f, 0.5f, 2.0f}, {0.0f, 10.0f, 100.0f, 400.0f}};
  const BatchView b = cb.view();
  Matrix<double> z(4, 1), dz(4, 1, 0.0);
  z(0, 0) = 1.0;
  z(1, 0) = 0.5;
  z(2, 0) = 2.0;
  z(3, 0) = -1.0;
  GloveHead h(HeadOptions{2.0, 1});
  const double norm = 4.0, s = 2.0 / norm;
  const double f1 = std::pow(10.0 / 100.0, 0.75);
  const double e1 = 0.5 - std::log(10.0), e2 = 2.0 - std::log(100.0), e3 = -1.0 - std::log(400.0);
  const double want = s * (1.0 * f1 * e1 * e1 + 0.5 * 1.0 * e2 * e2 + 2.0 * 1.0 * e3 * e3);
  const double got = test_util::loss_value([&](double* out_) { h.loss(cpu_scalar{}, z.cview(), b, norm, dz.view(), out_); });
  CHECK(got == Approx(want).epsilon(1e-12));
  CHECK(dz(0, 0) == 0.0);  // X = 0: no contribution
  CHECK(dz(1, 0) == Approx(s * 1.0 * f1 * 2.0 * e1).epsilon(1e-12));
  CHECK(dz(2, 0) == Approx(s * 0.5 * 2.0 * e2).epsilon(1e-12));
  CHECK(dz(3, 0) == Approx(s * 2.0 * 2.0 * e3).epsilon(1e-12));

  Matrix<double> out(4, 1);
  h.predict(cpu_scalar{}, z.cview(), out.view());
  CHECK(out(3, 0) == -1.0);

  // Weight 0 (the one-output model): nothing, not even the count check.
  Matrix<double> dz0(4, 1, 0.0);
  CHECK(test_util::loss_value([&](double* out_) { GloveHead(HeadOptions{0.0, 1}).loss(cpu_scalar{}, z.cview(), b, norm, dz0.view(), out_); }) == 0.0);
  CHECK(dz0(1, 0) == 0.0);
}

TEST_CASE("GloVe head gradient matches finite differences (double)", "[heads][glove][gradcheck]") {
  Rng rng(11);
  const index_t n = 9;
  CountBatch cb;
  for (index_t r = 0; r < n; ++r) {
    cb.labels.push_back(0.0f);
    cb.weights.push_back(static_cast<float>(rng.uniform(0.2, 2.0)));
    cb.counts.push_back(r % 3 == 0 ? 0.0f : static_cast<float>(rng.uniform(0.5, 300.0)));
  }
  const BatchView b = cb.view();
  Matrix<double> z(n, 1), dz(n, 1);
  for (index_t r = 0; r < n; ++r) z(r, 0) = rng.uniform(-2.0, 5.0);
  for (index_t r = 0; r < n; ++r) dz(r, 0) = rng.uniform(-1.0, 1.0);  // pre-filled: checks accumulation
  const Matrix<double> dz0 = dz;
  const GloveHead h(HeadOptions{0.7, 1}, GloveOptions{50.0, 0.6});
  test_util::loss_value([&](double* out_) { h.loss(cpu_scalar{}, z.cview(), b, 3.5, dz.view(), out_); });
  for (index_t r = 0; r < n; ++r) {
    const double x = z(r, 0);
    z(r, 0) = x + 1e-6;
    const double fp = test_util::loss_value([&](double* out_) { h.loss(cpu_scalar{}, z.cview(), b, 3.5, MatrixView<double>{}, out_); });
    z(r, 0) = x - 1e-6;
    const double fm = test_util::loss_value([&](double* out_) { h.loss(cpu_scalar{}, z.cview(), b, 3.5, MatrixView<double>{}, out_); });
    z(r, 0) = x;
    CHECK(dz(r, 0) - dz0(r, 0) == Approx((fp - fm) / 2e-6).margin(1e-7));
  }
}

TEST_CASE("GloVe head rejects bad counts and options", "[heads][glove][errors]") {
  CountBatch cb{{0}, {1.0f}, {-1.0f}};
  Matrix<double> z(1, 1, 0.0), dz(1, 1, 0.0);
  CHECK_THROWS_WITH(test_util::loss_value([&](double* out_) { GloveHead(HeadOptions{1.0, 1}).loss(cpu_scalar{}, z.cview(), cb.view(), 1.0, dz.view(), out_); }),
                    Catch::Contains("co-occurrence count of row 0 is -1"));
  CHECK_THROWS_WITH(test_util::loss_value([&](double* out_) { GloveHead(HeadOptions{1.0, 2}).loss(cpu_scalar{}, z.cview(), cb.view(), 1.0, dz.view(), out_); }),
                    Catch::Contains("target 2 requested but the batch has 1 extra targets"));
  CHECK_THROWS_WITH(GloveHead(HeadOptions{1.0, 1}, GloveOptions{0.0, 0.75}), Catch::Contains("x_max must be positive"));
}

TEST_CASE("GloVe loss recovers log X of a planted low-rank co-occurrence matrix", "[heads][glove][quality]") {
  // Planted: X_AB = exp(w_A·w̃_B + b_A + b̃_B), N = 24 items, rank 3.
  const index_t N = 24, rank = 3;
  Rng rng(2024);
  std::vector<double> w(N * rank), wt(N * rank), ba(N), bb(N);
  for (auto& x : w) x = rng.normal() * 0.6;
  for (auto& x : wt) x = rng.normal() * 0.6;
  for (auto& x : ba) x = 1.0 + 0.5 * rng.normal();
  for (auto& x : bb) x = 1.0 + 0.5 * rng.normal();
  auto log_x = [&](index_t a, index_t c) {
    double s = ba[a] + bb[c];
    for (index_t k = 0; k < rank; ++k) s += w[a * rank + k] * wt[c * rank + k];
    return s;
  };

  Schema schema;
  schema.add_categorical("item_a", N, rank);
  schema.add_categorical("item_b", N, rank);
  using Body = ItemPairBody<Tower<Embedding>, Tower<Embedding>>;
  Body::Options bo;
  bo.relevance_bias = false;
  Model<Body, BinaryHead, GloveHead> m(Body(Tower<Embedding>("a", Embedding("item_a")),
                                            Tower<Embedding>("b", Embedding("item_b")), bo),
                                       BinaryHead(HeadOptions{0.0, 0}), GloveHead(HeadOptions{1.0, 1}));
  m.build(schema, 5);

  Batch batch;
  batch.reset(schema, 1);
  for (index_t a = 0; a < N; ++a)
    for (index_t c = 0; c < N; ++c) {
      const FeatureId ids[2] = {a, c};
      batch.add_one_hot({}, ids, 0.0f);
      batch.targets[0].push_back(static_cast<float>(std::exp(log_x(a, c))));
    }
  TrainerOptions to;
  to.threads = 1;
  to.shards = 2;
  to.embedding_optimizer.kind = SparseKind::lazy_adam;
  to.embedding_optimizer.lr = 0.03;
  Trainer<decltype(m), cpu_scalar> trainer(m, to);
  const BatchView v = batch.view();
  const double first = trainer.train_step(v);
  double last = first;
  for (int step = 0; step < 1500; ++step) last = trainer.train_step(v);
  CHECK(last < 1e-3 * first);

  Matrix<float> out(v.size, 2);
  decltype(m)::Cache c;
  m.predict(cpu_scalar{}, v, out.view(), c);
  double sq = 0.0, worst = 0.0;
  for (index_t a = 0; a < N; ++a)
    for (index_t b = 0; b < N; ++b) {
      const double e = out(a * N + b, 1) - log_x(a, b);
      sq += e * e;
      worst = std::max(worst, std::abs(e));
    }
  const double rms = std::sqrt(sq / static_cast<double>(N * N));
  INFO("rms residual " << rms << ", worst " << worst);
  CHECK(rms < 0.02);
  CHECK(worst < 0.1);
}

TEST_CASE("kernels::glove_loss: hand-computed case, null weights, accumulation, row numbers",
          "[heads][glove][kernels]") {
  // x_max = 4, α = 1/2: f(0) = 0, f(1) = 1/2, f(4) = f(16) = 1. scale 0.5, weights null (= 1).
  const std::vector<float> counts{0.0f, 1.0f, 4.0f, 16.0f};
  Matrix<double> z(4, 1), dz(4, 1, 1.0);  // dz pre-filled with 1: the kernel accumulates
  z(0, 0) = 3.0;                          // X = 0: skipped (log 0 never taken)
  z(1, 0) = 2.0;                          // e = 2
  z(2, 0) = 1.0 + std::log(4.0);          // e = 1
  z(3, 0) = std::log(16.0) - 2.0;         // e = −2
  // ℓ = 0.5 · (½·2² + 1·1² + 1·(−2)²) = 3.5;  dz_r += 0.5 · f · 2e.
  const double got = test_util::loss_value([&](double* out_) { kernels::glove_loss(cpu_scalar{}, z.cview(), counts.data(), nullptr, 0.5, 4.0, 0.5, 0, dz.view(), out_); });
  CHECK(got == Approx(3.5).epsilon(1e-14));
  CHECK(dz(0, 0) == 1.0);
  CHECK(dz(1, 0) == Approx(2.0).epsilon(1e-14));
  CHECK(dz(2, 0) == Approx(2.0).epsilon(1e-14));
  CHECK(dz(3, 0) == Approx(-1.0).epsilon(1e-14));
  // No gradient requested: the same loss, nothing written.
  CHECK(test_util::loss_value([&](double* out_) { kernels::glove_loss(cpu_scalar{}, z.cview(), counts.data(), nullptr, 0.5, 4.0, 0.5, 0, MatrixView<double>{}, out_); }) ==
        got);
  // Per-row weights (float) scale each row; float logits.
  const std::vector<float> w{9.0f, 2.0f, 0.5f, 0.0f};
  Matrix<float> zf(4, 1), dzf(4, 1, 0.0f);
  for (index_t r = 0; r < 4; ++r) zf(r, 0) = static_cast<float>(z(r, 0));
  const double gw =
      test_util::loss_value([&](double* out_) { kernels::glove_loss(cpu_scalar{}, zf.cview(), counts.data(), w.data(), 0.5, 4.0, 0.5, 0, dzf.view(), out_); });
  CHECK(gw == Approx(0.5 * (2.0 * 0.5 * 4.0 + 0.5 * 1.0)).epsilon(1e-6));
  CHECK(dzf(0, 0) == 0.0f);
  CHECK(dzf(1, 0) == Approx(2.0));
  CHECK(dzf(2, 0) == Approx(0.5));
  CHECK(dzf(3, 0) == 0.0f);
  // The count check names the batch row: first_row + r.
  const std::vector<float> bad{2.0f, -0.5f};
  Matrix<double> z2(2, 1, 0.0);
  CHECK_THROWS_WITH(test_util::loss_value([&](double* out_) { kernels::glove_loss(cpu_scalar{}, z2.cview(), bad.data(), nullptr, 1.0, 100.0, 0.75, 7,
                                        MatrixView<double>{}, out_); }),
                    Catch::Contains("GloveHead: the co-occurrence count of row 8 is -0.5"));
  const std::vector<float> nan{std::nanf("")};
  CHECK_THROWS_WITH(test_util::loss_value([&](double* out_) { kernels::glove_loss(cpu_scalar{}, z2.cview().row_block(0, 1), nan.data(), nullptr, 1.0, 100.0,
                                        0.75, 3, MatrixView<double>{}, out_); }),
                    Catch::Contains("co-occurrence count of row 3 is nan; expected a finite count >= 0"));
}
