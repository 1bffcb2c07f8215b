// DotSimilarity and CosineSimilarity: hand-computed scores, finite-difference gradients of the
// score matrix and of paired scores (double, cpu_scalar; gradients are accumulated), and
// cpu_simd against cpu_scalar for the retrieval kernels (L2 normalisation, paired dot) and for
// both similarities' forward and backward.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/layers/similarity.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

using namespace ctrnet;

namespace {
template <class T>
Matrix<T> random_matrix(index_t rows, index_t cols, Rng& rng, double lo = -1.0, double hi = 1.0) {
  Matrix<T> m(rows, cols);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = T(rng.uniform(lo, hi));
  return m;
}
template <class T>
bool close(ConstMatrixView<T> a, ConstMatrixView<T> b, double rtol, double atol) {
  if (a.rows != b.rows || a.cols != b.cols) return false;
  for (index_t r = 0; r < a.rows; ++r)
    for (index_t c = 0; c < a.cols; ++c)
      if (!(std::abs(double(a(r, c)) - double(b(r, c))) <= atol + rtol * std::abs(double(b(r, c))))) {
        UNSCOPED_INFO("mismatch at (" << r << ", " << c << "): " << a(r, c) << " vs " << b(r, c));
        return false;
      }
  return true;
}
double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d += (a[i] - b[i]) * (a[i] - b[i]), s += (a[i] + b[i]) * (a[i] + b[i]);
  return s < 1e-24 ? std::sqrt(d) : std::sqrt(d / s);
}

// Checks dq, dc of f(q, c) = <S(q, c), G> against central differences; `pairs` selects the
// paired form. dq and dc are pre-filled to prove accumulation.
template <class Sim>
void check_similarity_gradients(const Sim& sim, bool pairs, index_t b, index_t n, index_t d, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<double> q = random_matrix<double>(b, d, rng), c = random_matrix<double>(pairs ? b : n, d, rng);
  const index_t cols = pairs ? 1 : n;
  Matrix<double> g = random_matrix<double>(b, cols, rng);
  const cpu_scalar p;
  auto f = [&] {
    typename Sim::template Cache<double> cache;
    Matrix<double> s(b, cols);
    if (pairs) sim.forward_pairs(p, q.cview(), c.cview(), s.view(), cache);
    else sim.forward(p, q.cview(), c.cview(), s.view(), cache);
    double v = 0;
    for (index_t i = 0; i < s.size(); ++i) v += s.data()[i] * g.data()[i];
    return v;
  };
  Matrix<double> dq = random_matrix<double>(b, d, rng), dc = random_matrix<double>(c.rows(), d, rng);
  const Matrix<double> dq0 = dq, dc0 = dc;
  {
    typename Sim::template Cache<double> cache;
    Matrix<double> s(b, cols);
    if (pairs) {
      sim.forward_pairs(p, q.cview(), c.cview(), s.view(), cache);
      sim.backward_pairs(p, cache, g.cview(), dq.view(), dc.view());
    } else {
      sim.forward(p, q.cview(), c.cview(), s.view(), cache);
      sim.backward(p, cache, g.cview(), dq.view(), dc.view());
    }
  }
  for (auto [x, dx, dx0, what] : {std::tuple{&q, &dq, &dq0, "dq"}, std::tuple{&c, &dc, &dc0, "dc"}}) {
    std::vector<double> ana, num;
    for (index_t i = 0; i < x->size(); ++i) {
      ana.push_back(dx->data()[i] - dx0->data()[i]);
      const double v = x->data()[i];
      x->data()[i] = v + 1e-6;
      const double fp = f();
      x->data()[i] = v - 1e-6;
      const double fm = f();
      x->data()[i] = v;
      num.push_back((fp - fm) / 2e-6);
    }
    INFO(Sim::name << (pairs ? " pairs " : " matrix ") << what);
    CHECK(rel_error(ana, num) < 1e-7);
  }
}
}  // namespace

TEST_CASE("DotSimilarity forward matches a hand-computed score matrix", "[similarity]") {
  // q = [[1, 2], [0, 1]], c = [[3, 1], [1, -1], [2, 2]], τ = 0.5:
  // q cᵀ = [[5, -1, 6], [1, -1, 2]]  →  S = [[10, -2, 12], [2, -2, 4]]
  Matrix<double> q(2, 2), c(3, 2), s(2, 3);
  const double qv[] = {1, 2, 0, 1}, cv[] = {3, 1, 1, -1, 2, 2};
  std::copy(qv, qv + 4, q.data());
  std::copy(cv, cv + 6, c.data());
  DotSimilarity sim(0.5);
  DotSimilarity::Cache<double> cache;
  sim.forward(cpu_scalar{}, q.cview(), c.cview(), s.view(), cache);
  const double want[] = {10, -2, 12, 2, -2, 4};
  for (int i = 0; i < 6; ++i) CHECK(s.data()[i] == want[i]);
  Matrix<double> sp(2, 1);
  sim.forward_pairs(cpu_scalar{}, q.cview(), c.cview().row_block(0, 2), sp.view(), cache);
  CHECK(sp(0, 0) == 10);
  CHECK(sp(1, 0) == -2);
  // Serving vectors: ⟨q/τ, c⟩ is the similarity.
  Matrix<double> e(2, 2);
  sim.encode_query(cpu_scalar{}, q.cview(), e.view());
  CHECK(e(0, 1) == 4);
}

TEST_CASE("CosineSimilarity forward matches a hand-computed score matrix", "[similarity]") {
  // q = [3, 4] → q̂ = [0.6, 0.8]; c = [[1, 0], [0, 2], [-3, -4]] → ĉ = [[1, 0], [0, 1], [-0.6, -0.8]]
  // τ = 0.1: S = [6, 8, -10]
  Matrix<double> q(1, 2), c(3, 2), s(1, 3);
  q(0, 0) = 3, q(0, 1) = 4;
  const double cv[] = {1, 0, 0, 2, -3, -4};
  std::copy(cv, cv + 6, c.data());
  CosineSimilarity sim(0.1);
  CosineSimilarity::Cache<double> cache;
  sim.forward(cpu_scalar{}, q.cview(), c.cview(), s.view(), cache);
  CHECK(s(0, 0) == Approx(6).epsilon(1e-12));
  CHECK(s(0, 1) == Approx(8).epsilon(1e-12));
  CHECK(s(0, 2) == Approx(-10).epsilon(1e-12));
  // A zero vector is clamped, not divided by zero.
  Matrix<double> z(1, 2, 0.0), sz(1, 3);
  sim.forward(cpu_scalar{}, z.cview(), c.cview(), sz.view(), cache);
  for (int j = 0; j < 3; ++j) CHECK(sz(0, j) == 0.0);
}

TEST_CASE("Similarity options are validated", "[similarity][errors]") {
  CHECK_THROWS_WITH(DotSimilarity(0.0), Catch::Contains("temperature must be positive"));
  CHECK_THROWS_WITH(CosineSimilarity(-1.0), Catch::Contains("temperature must be positive"));
  Matrix<float> q(2, 3), c(2, 4), s(2, 2);
  DotSimilarity::Cache<float> cache;
  CHECK_THROWS_WITH(DotSimilarity().forward(cpu_scalar{}, q.cview(), c.cview(), s.view(), cache),
                    Catch::Contains("3 columns but candidates have 4"));
}

TEST_CASE("DotSimilarity backward matches finite differences", "[similarity][gradcheck]") {
  check_similarity_gradients(DotSimilarity(0.7), false, 4, 5, 3, 1);
  check_similarity_gradients(DotSimilarity(0.7), true, 4, 4, 3, 2);
}

TEST_CASE("CosineSimilarity backward matches finite differences", "[similarity][gradcheck]") {
  check_similarity_gradients(CosineSimilarity(0.2), false, 4, 6, 5, 3);
  check_similarity_gradients(CosineSimilarity(0.2), true, 5, 5, 3, 4);
}

TEST_CASE("L2 normalisation kernels: cpu_simd matches cpu_scalar", "[similarity][simd]") {
  Rng rng(9);
  for (index_t d : {1, 7, 8, 19, 64}) {
    Matrix<float> x = random_matrix<float>(37, d, rng), dy = random_matrix<float>(37, d, rng);
    x.view().row_block(3, 1).data[0] = 0.f;
    for (index_t c = 0; c < d; ++c) x(5, c) = 0.f;  // a zero row: the clamped branch
    Matrix<float> y1(37, d), y2(37, d), dx1 = random_matrix<float>(37, d, rng);
    Matrix<float> dx2 = dx1;
    std::vector<float> n1(37), n2(37);
    kernels::l2_normalize_forward(cpu_scalar{}, x.cview(), y1.view(), n1.data(), 1e-12f);
    kernels::l2_normalize_forward(cpu_simd{}, x.cview(), y2.view(), n2.data(), 1e-12f);
    CHECK(close<float>(y1.cview(), y2.cview(), 1e-5, 1e-6));
    kernels::l2_normalize_backward(cpu_scalar{}, y1.cview(), n1.data(), dy.cview(), dx1.view(), 1e-12f);
    kernels::l2_normalize_backward(cpu_simd{}, y2.cview(), n2.data(), dy.cview(), dx2.view(), 1e-12f);
    CHECK(close<float>(dx1.cview(), dx2.cview(), 1e-4, 1e-4));
    Matrix<float> s1(37, 1), s2(37, 1);
    kernels::row_dot(cpu_scalar{}, 0.5f, x.cview(), dy.cview(), s1.view());
    kernels::row_dot(cpu_simd{}, 0.5f, x.cview(), dy.cview(), s2.view());
    CHECK(close<float>(s1.cview(), s2.cview(), 1e-5, 1e-6));
    Matrix<float> a1 = y1, a2 = y1;
    kernels::row_scale_add(cpu_scalar{}, 2.f, s1.cview(), dy.cview(), a1.view());
    kernels::row_scale_add(cpu_simd{}, 2.f, s1.cview(), dy.cview(), a2.view());
    CHECK(close<float>(a1.cview(), a2.cview(), 1e-5, 1e-6));
  }
  // Rows past the parallel threshold (oneTBB split).
  Matrix<float> big = random_matrix<float>(3000, 64, rng), y1(3000, 64), y2(3000, 64);
  std::vector<float> n1(3000), n2(3000);
  kernels::l2_normalize_forward(cpu_scalar{}, big.cview(), y1.view(), n1.data(), 1e-12f);
  kernels::l2_normalize_forward(cpu_simd{}, big.cview(), y2.view(), n2.data(), 1e-12f);
  CHECK(close<float>(y1.cview(), y2.cview(), 1e-5, 1e-6));
}

TEST_CASE("Similarities: cpu_simd forward and backward match cpu_scalar", "[similarity][simd]") {
  Rng rng(11);
  auto run = [&](const auto& sim) {
    using Sim = std::decay_t<decltype(sim)>;
    Matrix<float> q = random_matrix<float>(33, 20, rng), c = random_matrix<float>(41, 20, rng);
    Matrix<float> ds = random_matrix<float>(33, 41, rng);
    Matrix<float> s1(33, 41), s2(33, 41), dq1(33, 20, 0.f), dq2(33, 20, 0.f), dc1(41, 20, 0.f), dc2(41, 20, 0.f);
    typename Sim::template Cache<float> c1, c2;
    sim.forward(cpu_scalar{}, q.cview(), c.cview(), s1.view(), c1);
    sim.forward(cpu_simd{}, q.cview(), c.cview(), s2.view(), c2);
    CHECK(close<float>(s1.cview(), s2.cview(), 1e-4, 1e-4));
    sim.backward(cpu_scalar{}, c1, ds.cview(), dq1.view(), dc1.view());
    sim.backward(cpu_simd{}, c2, ds.cview(), dq2.view(), dc2.view());
    CHECK(close<float>(dq1.cview(), dq2.cview(), 1e-4, 1e-3));
    CHECK(close<float>(dc1.cview(), dc2.cview(), 1e-4, 1e-3));
  };
  run(DotSimilarity(0.5));
  run(CosineSimilarity(0.1));
}
