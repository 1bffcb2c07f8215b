// cpu_simd optimizer kernels against the cpu_scalar reference on odd-sized buffers (vector body +
// scalar tail), and bitwise independence of the thread count (max_threads = 1 vs the default arena)
// for dense buffers larger than one parallel chunk and for sparse updates of many rows.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "ctrnet/optim/dense.hpp"
#include "ctrnet/optim/sparse.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

using namespace ctrnet;

namespace {

template <class T>
struct Tol;
template <>
struct Tol<float> {
  static constexpr double rtol = 1e-6, atol = 1e-7;
};
template <>
struct Tol<double> {
  static constexpr double rtol = 1e-13, atol = 1e-15;
};

/// max over i of |a_i − b_i| / (atol·max(1, max_k |b_k|) + rtol |b_i|); <= 1 passes. The kernels
/// differ only in FMA contraction, so an element that is a small difference of larger terms (FTRL's
/// z, a parameter crossing 0) gets the absolute part, scaled by the tensor's magnitude.
template <class T>
double worst(std::span<const T> a, std::span<const T> b) {
  double scale = 1.0;
  for (T x : b) scale = std::max(scale, std::abs(double(x)));
  double w = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(double(a[i]) - double(b[i]));
    w = std::max(w, d / (Tol<T>::atol * scale + Tol<T>::rtol * std::abs(double(b[i]))));
  }
  return w;
}

template <class T>
std::vector<T> random_vector(std::size_t n, double lo, double hi, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

/// Runs `steps` steps of two copies of a dense optimizer under policies pa and pb; returns values
/// and all state of both.
template <class T, class P1, class P2>
void run_pair(const DenseOptimizerOptions& o, std::size_t n, int steps, const P1& pa, const P2& pb,
              std::vector<std::vector<T>>& out_a, std::vector<std::vector<T>>& out_b) {
  DenseOptimizer<T> a(o), b(o);
  auto va = random_vector<T>(n, -1.0, 1.0, 1);
  auto vb = va;
  for (int s = 0; s < steps; ++s) {
    auto g = random_vector<T>(n, -0.5, 0.5, 100 + static_cast<unsigned>(s));
    for (std::size_t i = 0; i < n; i += 7) g[i] = T(0);  // some zero gradients
    a.step(pa, std::span<T>(va), std::span<const T>(g));
    b.step(pb, std::span<T>(vb), std::span<const T>(g));
  }
  out_a = {va};
  out_b = {vb};
  for (auto& s : a.state()) out_a.emplace_back(s.values.begin(), s.values.end());
  for (auto& s : b.state()) out_b.emplace_back(s.values.begin(), s.values.end());
}

std::vector<DenseOptimizerOptions> dense_configs() {
  std::vector<DenseOptimizerOptions> c;
  DenseOptimizerOptions o;
  o.kind = DenseKind::sgd, o.lr = 0.05, o.momentum = 0.9, o.weight_decay = 1e-3;
  c.push_back(o);
  o = {};
  o.kind = DenseKind::sgd, o.lr = 0.05, o.momentum = 0.8, o.nesterov = true;
  c.push_back(o);
  o = {};
  o.kind = DenseKind::sgd, o.lr = 0.05, o.momentum = 0.8, o.dampening = 0.3;
  c.push_back(o);
  o = {};
  o.kind = DenseKind::sgd, o.lr = 0.05;
  c.push_back(o);
  o = {};
  o.kind = DenseKind::adam, o.lr = 0.01;
  c.push_back(o);
  o = {};
  o.kind = DenseKind::adam, o.lr = 0.01, o.weight_decay = 0.01, o.beta1 = 0.3;  // lerp weight >= 0.5 branch
  c.push_back(o);
  o = {};
  o.kind = DenseKind::adamw, o.lr = 0.01, o.weight_decay = 0.05;
  c.push_back(o);
  o = {};
  o.kind = DenseKind::adagrad, o.lr = 0.05, o.weight_decay = 1e-3, o.initial_accumulator = 0.1;
  c.push_back(o);
  o = {};
  o.kind = DenseKind::ftrl, o.lr = 0.1, o.l1 = 0.05, o.l2 = 0.01;
  c.push_back(o);
  return c;
}

}  // namespace

TEMPLATE_TEST_CASE("Dense optimizer kernels: cpu_simd matches cpu_scalar on an odd-sized buffer",
                   "[optim][simd]", float, double) {
  using T = TestType;
  for (const auto& o : dense_configs()) {
    INFO("optimizer " << to_string(o.kind) << ", momentum " << o.momentum << ", nesterov " << o.nesterov);
    std::vector<std::vector<T>> a, b;
    run_pair<T>(o, 1001, 5, cpu_simd{}, cpu_scalar{}, a, b);
    REQUIRE(a.size() == b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
      INFO("tensor " << k << " (0 = values, then state)");
      CHECK(worst<T>(a[k], b[k]) <= 1.0);
    }
  }
}

TEMPLATE_TEST_CASE("Dense optimizer kernels: the result does not depend on the thread count", "[optim][simd]",
                   float, double) {
  using T = TestType;
  cpu_simd one;
  one.max_threads = 1;
  for (const auto& o : dense_configs()) {
    INFO("optimizer " << to_string(o.kind));
    std::vector<std::vector<T>> a, b;
    run_pair<T>(o, 100003, 3, one, cpu_simd{}, a, b);  // > 6 chunks of 16384
    for (std::size_t k = 0; k < a.size(); ++k) CHECK(bitwise_equal(a[k], b[k]));
  }
}

namespace {

/// A table [rows, dim] and a sparse gradient touching `touched` distinct rows (a fixed shuffle).
template <class T>
void make_sparse(index_t rows, index_t dim, index_t touched, unsigned seed, SparseRows<T>& g) {
  std::vector<FeatureId> ids(static_cast<std::size_t>(rows));
  for (index_t r = 0; r < rows; ++r) ids[static_cast<std::size_t>(r)] = r;
  std::mt19937_64 rng(seed);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::uniform_real_distribution<double> d(-0.5, 0.5);
  g.reset(dim);
  for (index_t i = 0; i < touched; ++i) {
    T* row = g.row(ids[static_cast<std::size_t>(i)]);
    for (index_t j = 0; j < dim; ++j) row[j] = static_cast<T>(d(rng));
  }
}

std::vector<SparseOptimizerOptions> sparse_configs() {
  std::vector<SparseOptimizerOptions> c;
  for (auto k : {SparseKind::sgd, SparseKind::adagrad, SparseKind::rowwise_adagrad, SparseKind::lazy_adam,
                 SparseKind::ftrl}) {
    SparseOptimizerOptions o;
    o.kind = k;
    o.initial_accumulator = 0.05;
    o.l1 = 0.01;
    c.push_back(o);
  }
  return c;
}

template <class T, class P1, class P2>
void run_sparse_pair(const SparseOptimizerOptions& o, index_t rows, index_t dim, index_t touched, const P1& pa,
                     const P2& pb, std::vector<std::vector<T>>& out_a, std::vector<std::vector<T>>& out_b) {
  SparseOptimizer<T> a(o), b(o);
  Matrix<T> ta(rows, dim), tb(rows, dim);
  auto init = random_vector<T>(static_cast<std::size_t>(rows * dim), -0.1, 0.1, 7);
  std::copy(init.begin(), init.end(), ta.data());
  std::copy(init.begin(), init.end(), tb.data());
  SparseRows<T> g;
  for (int s = 0; s < 4; ++s) {
    make_sparse<T>(rows, dim, touched, 50 + static_cast<unsigned>(s), g);
    a.apply(pa, ta, g);
    b.apply(pb, tb, g);
  }
  out_a = {std::vector<T>(ta.data(), ta.data() + ta.size())};
  out_b = {std::vector<T>(tb.data(), tb.data() + tb.size())};
  for (auto& s : a.state()) out_a.emplace_back(s.values.begin(), s.values.end());
  for (auto& s : b.state()) out_b.emplace_back(s.values.begin(), s.values.end());
}

}  // namespace

TEMPLATE_TEST_CASE("Sparse optimizer kernels: cpu_simd matches cpu_scalar", "[optim][simd][sparse]", float,
                   double) {
  using T = TestType;
  for (const auto& o : sparse_configs()) {
    INFO("sparse optimizer " << to_string(o.kind));
    std::vector<std::vector<T>> a, b;
    run_sparse_pair<T>(o, 301, 37, 150, cpu_simd{}, cpu_scalar{}, a, b);
    REQUIRE(a.size() == b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
      INFO("tensor " << k);
      CHECK(worst<T>(a[k], b[k]) <= 1.0);
    }
  }
}

TEMPLATE_TEST_CASE("Sparse optimizer kernels: the result does not depend on the thread count",
                   "[optim][simd][sparse]", float, double) {
  using T = TestType;
  cpu_simd one;
  one.max_threads = 1;
  for (const auto& o : sparse_configs()) {
    INFO("sparse optimizer " << to_string(o.kind));
    std::vector<std::vector<T>> a, b;
    run_sparse_pair<T>(o, 5000, 33, 3000, one, cpu_simd{}, a, b);  // 99000 touched elements: parallel rows
    for (std::size_t k = 0; k < a.size(); ++k) CHECK(bitwise_equal(a[k], b[k]));
  }
}
