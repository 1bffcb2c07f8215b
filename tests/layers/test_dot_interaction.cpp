// DotInteraction (DLRM's dot interaction): a hand-computed example in the reference's pair order
// (forward and backward), finite-difference gradient checks in double on cpu_scalar, and cpu_simd
// against cpu_scalar for the kernels (float and double, odd widths, partial register blocks,
// several threads) with results independent of the thread count.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <vector>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/kernels/interaction.hpp"
#include "ctrnet/layers/dot_interaction.hpp"
#include "ctrnet/policy/cpu_simd.hpp"
#include "ctrnet/testing/gradcheck.hpp"

using namespace ctrnet;
using ctrnet::testing::check_gradients;

namespace {

template <class T>
Matrix<T> random_matrix(index_t rows, index_t cols, Rng& rng) {
  Matrix<T> m(rows, cols);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = T(rng.uniform(-1.0, 1.0));
  return m;
}

// |a - b| <= atol + rtol |b| for every element; reports the first failure.
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

template <class T>
bool same_bits(const Matrix<T>& a, const Matrix<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(T) * static_cast<std::size_t>(a.size())) == 0;
}

DotInteraction interaction(index_t dim, bool self, bool keep_first) {
  DotInteraction::Options o;
  o.dim = dim;
  o.self_interaction = self;
  o.keep_first = keep_first;
  return DotInteraction(o);
}

// Three vectors of width 2 in one row: t0 = [1, 2], t1 = [3, -1], t2 = [0.5, 4].
Matrix<double> hand_input() {
  Matrix<double> x(1, 6);
  const double v[] = {1, 2, 3, -1, 0.5, 4};
  for (int i = 0; i < 6; ++i) x(0, i) = v[i];
  return x;
}

template <class P>
Matrix<double> run_forward(const P& p, const DotInteraction& layer, const Matrix<double>& x) {
  Matrix<double> y(x.rows(), layer.out_dim());
  DotInteraction::Cache<double> c;
  layer.forward(p, Weights<double>{}, x.cview(), y.view(), c);
  return y;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Hand-computed examples, in the order of dlrm_s_pytorch.py's interact_features:
//   li, lj = [i for i in range(n) for j in range(i + offset)], [j for i in range(n) for j in range(i + offset)]
// ---------------------------------------------------------------------------------------------

TEST_CASE("DotInteraction forward matches a hand-computed example in the reference pair order", "[interaction]") {
  // <t1, t0> = 3 − 2 = 1;  <t2, t0> = 0.5 + 8 = 8.5;  <t2, t1> = 1.5 − 4 = −2.5
  // diagonal: <t0, t0> = 5, <t1, t1> = 10, <t2, t2> = 16.25
  const Matrix<double> x = hand_input();
  ParamRegistry reg;
  for (int simd = 0; simd < 2; ++simd) {
    INFO((simd ? "cpu_simd" : "cpu_scalar"));
    {
      auto layer = interaction(2, false, true);
      REQUIRE(layer.build(6, reg) == 2 + 3);
      const auto y = simd ? run_forward(cpu_simd{}, layer, x) : run_forward(cpu_scalar{}, layer, x);
      const double want[] = {1, 2, 1, 8.5, -2.5};  // [t0 | (1,0), (2,0), (2,1)]
      for (int i = 0; i < 5; ++i) CHECK(y(0, i) == Approx(want[i]));
    }
    {
      auto layer = interaction(2, true, true);
      REQUIRE(layer.build(6, reg) == 2 + 6);
      const auto y = simd ? run_forward(cpu_simd{}, layer, x) : run_forward(cpu_scalar{}, layer, x);
      const double want[] = {1, 2, 5, 1, 10, 8.5, -2.5, 16.25};  // [t0 | (0,0), (1,0), (1,1), (2,0), (2,1), (2,2)]
      for (int i = 0; i < 8; ++i) CHECK(y(0, i) == Approx(want[i]));
    }
    {
      auto layer = interaction(2, false, false);
      REQUIRE(layer.build(6, reg) == 3);
      const auto y = simd ? run_forward(cpu_simd{}, layer, x) : run_forward(cpu_scalar{}, layer, x);
      CHECK(y(0, 0) == Approx(1));
      CHECK(y(0, 1) == Approx(8.5));
      CHECK(y(0, 2) == Approx(-2.5));
    }
  }
}

TEST_CASE("DotInteraction backward matches a hand-computed example", "[interaction]") {
  // dy = [0.5, 0.5 | dz_10 = 1, dz_20 = 2, dz_21 = −1]
  //   dt0 = [0.5, 0.5] + dz_10 t1 + dz_20 t2 = [0.5, 0.5] + [3, −1] + [1, 8] = [4.5, 7.5]
  //   dt1 = dz_10 t0 + dz_21 t2 = [1, 2] − [0.5, 4] = [0.5, −2]
  //   dt2 = dz_20 t0 + dz_21 t1 = [2, 4] − [3, −1] = [−1, 5]
  // dx starts at 1 everywhere: backward accumulates.
  const Matrix<double> x = hand_input();
  auto layer = interaction(2, false, true);
  ParamRegistry reg;
  layer.build(6, reg);
  Matrix<double> dy(1, 5);
  const double g[] = {0.5, 0.5, 1, 2, -1};
  for (int i = 0; i < 5; ++i) dy(0, i) = g[i];
  const double want[] = {4.5, 7.5, 0.5, -2, -1, 5};
  for (int simd = 0; simd < 2; ++simd) {
    INFO((simd ? "cpu_simd" : "cpu_scalar"));
    Matrix<double> y(1, 5), dx(1, 6, 1.0);
    DotInteraction::Cache<double> c;
    if (simd) {
      layer.forward(cpu_simd{}, Weights<double>{}, x.cview(), y.view(), c);
      layer.backward(cpu_simd{}, Weights<double>{}, c, dy.cview(), dx.view(), Gradients<double>{});
    } else {
      layer.forward(cpu_scalar{}, Weights<double>{}, x.cview(), y.view(), c);
      layer.backward(cpu_scalar{}, Weights<double>{}, c, dy.cview(), dx.view(), Gradients<double>{});
    }
    for (int i = 0; i < 6; ++i) CHECK(dx(0, i) == Approx(1 + want[i]));
  }
}

TEST_CASE("DotInteraction rejects widths that are not whole vectors", "[interaction]") {
  ParamRegistry reg;
  auto layer = interaction(4, false, true);
  CHECK_THROWS_WITH(layer.build(10, reg), Catch::Contains("not a positive multiple"));
  auto one = interaction(4, false, true);
  CHECK_THROWS_WITH(one.build(4, reg), Catch::Contains("no pairs"));
  auto no_dim = interaction(0, false, true);
  CHECK_THROWS_WITH(no_dim.build(4, reg), Catch::Contains("dim"));
  auto self_one = interaction(4, true, false);
  CHECK(self_one.build(4, reg) == 1);  // one vector with itself: <t0, t0>
}

// ---------------------------------------------------------------------------------------------
// Gradient checks
// ---------------------------------------------------------------------------------------------

TEST_CASE("DotInteraction backward matches finite differences", "[interaction][gradcheck]") {
  for (bool self : {false, true})
    for (bool keep : {false, true})
      for (index_t n : {2, 5}) {
        auto rep = check_gradients(interaction(3, self, keep), 4, n * 3);
        INFO("self " << self << ", keep_first " << keep << ", n " << n << "\n" << rep.summary());
        CHECK(rep.ok());
      }
}

// ---------------------------------------------------------------------------------------------
// cpu_simd against cpu_scalar
// ---------------------------------------------------------------------------------------------

template <class T>
void check_kernel_parity(index_t rows, index_t n, index_t d, bool self, double rtol, double atol) {
  INFO("rows " << rows << ", n " << n << ", d " << d << ", self " << self);
  Rng rng(static_cast<std::uint64_t>(rows * 1000 + n * 10 + d));
  const index_t P = kernels::interaction_pairs(n, self);
  const Matrix<T> x = random_matrix<T>(rows, n * d, rng);
  const Matrix<T> dz = random_matrix<T>(rows, P, rng);
  const Matrix<T> dx0 = random_matrix<T>(rows, n * d, rng);
  Matrix<T> z_ref(rows, P), z_simd(rows, P), dx_ref = dx0, dx_simd = dx0;
  kernels::dot_interaction_forward(cpu_scalar{}, x.cview(), n, self, z_ref.view());
  kernels::dot_interaction_forward(cpu_simd{}, x.cview(), n, self, z_simd.view());
  CHECK(close<T>(z_simd.cview(), z_ref.cview(), rtol, atol));
  kernels::dot_interaction_backward_data(cpu_scalar{}, x.cview(), n, self, dz.cview(), dx_ref.view());
  kernels::dot_interaction_backward_data(cpu_simd{}, x.cview(), n, self, dz.cview(), dx_simd.view());
  CHECK(close<T>(dx_simd.cview(), dx_ref.cview(), rtol, atol));
}

TEST_CASE("dot interaction kernels: cpu_simd matches cpu_scalar", "[interaction][simd]") {
  // d below, at and above the register width (tails), n with full and partial groups of pairs and
  // partial row tiles in backward.
  for (bool self : {false, true})
    for (index_t n : {2, 3, 9, 27})
      for (index_t d : {1, 3, 8, 13, 16, 24, 37, 64}) {
        check_kernel_parity<float>(3, n, d, self, 1e-4, 1e-5);
        check_kernel_parity<double>(2, n, d, self, 1e-12, 1e-13);
      }
}

TEST_CASE("dot interaction kernels: results do not depend on the number of threads", "[interaction][simd]") {
  // Large enough to run on several oneTBB workers: 300 x 351 pairs x 16.
  const index_t rows = 300, n = 27, d = 16, P = kernels::interaction_pairs(n, false);
  Rng rng(5);
  const Matrix<float> x = random_matrix<float>(rows, n * d, rng);
  const Matrix<float> dz = random_matrix<float>(rows, P, rng);
  Matrix<float> z1(rows, P), z4(rows, P), dx1(rows, n * d, 0.f), dx4(rows, n * d, 0.f), z_ref(rows, P);
  cpu_simd one, four;
  one.max_threads = 1;
  four.max_threads = 4;
  kernels::dot_interaction_forward(one, x.cview(), n, false, z1.view());
  kernels::dot_interaction_forward(four, x.cview(), n, false, z4.view());
  kernels::dot_interaction_backward_data(one, x.cview(), n, false, dz.cview(), dx1.view());
  kernels::dot_interaction_backward_data(four, x.cview(), n, false, dz.cview(), dx4.view());
  CHECK(same_bits(z1, z4));
  CHECK(same_bits(dx1, dx4));
  kernels::dot_interaction_forward(cpu_scalar{}, x.cview(), n, false, z_ref.view());
  CHECK(close<float>(z4.cview(), z_ref.cview(), 1e-4, 1e-5));
}

TEST_CASE("DotInteraction layer: cpu_simd matches cpu_scalar, forward and backward", "[interaction][simd]") {
  for (bool self : {false, true}) {
    INFO("self " << self);
    const index_t rows = 7, n = 11, d = 5;
    auto layer = interaction(d, self, true);
    ParamRegistry reg;
    const index_t out = layer.build(n * d, reg);
    Rng rng(3);
    const Matrix<float> x = random_matrix<float>(rows, n * d, rng);
    const Matrix<float> dy = random_matrix<float>(rows, out, rng);
    Matrix<float> y0(rows, out), y1(rows, out), dx0(rows, n * d, 0.5f), dx1(rows, n * d, 0.5f);
    DotInteraction::Cache<float> c0, c1;
    layer.forward(cpu_scalar{}, Weights<float>{}, x.cview(), y0.view(), c0);
    layer.forward(cpu_simd{}, Weights<float>{}, x.cview(), y1.view(), c1);
    CHECK(close<float>(y1.cview(), y0.cview(), 1e-4, 1e-5));
    layer.backward(cpu_scalar{}, Weights<float>{}, c0, dy.cview(), dx0.view(), Gradients<float>{});
    layer.backward(cpu_simd{}, Weights<float>{}, c1, dy.cview(), dx1.view(), Gradients<float>{});
    CHECK(close<float>(dx1.cview(), dx0.cview(), 1e-4, 1e-5));
  }
}
