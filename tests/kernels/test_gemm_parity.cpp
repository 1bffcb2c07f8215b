// Parity of the cpu_simd GEMM with the cpu_scalar reference: all four transpose combinations,
// alpha/beta variants (beta = 0 over a NaN-filled C), empty/1/odd shapes and shapes straddling
// the cache blocks, strided views (column blocks of wider matrices), float and double; and
// bitwise-identical results for any thread count.
#include "ctrnet/kernels/gemm.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <atomic>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

using ctrnet::ConstMatrixView;
using ctrnet::cpu_scalar;
using ctrnet::cpu_simd;
using ctrnet::index_t;
using ctrnet::Matrix;
using ctrnet::MatrixView;
using ctrnet::kernels::Trans;

namespace {

constexpr Trans kTransCombos[4][2] = {
    {Trans::no, Trans::no}, {Trans::no, Trans::yes}, {Trans::yes, Trans::no}, {Trans::yes, Trans::yes}};

/// A rows x cols view into a wider random matrix: columns [offset, offset + cols) of a
/// [rows, cols + pad] matrix when `strided`, else the whole contiguous matrix.
template <class T>
struct TestMatrix {
  Matrix<T> storage;
  MatrixView<T> view;
  static constexpr index_t kOffset = 3, kPad = 7;

  TestMatrix(index_t rows, index_t cols, bool strided, std::mt19937& rng, T fill_outside = T(-777)) {
    if (rows == 0) strided = false;  // no column block of an empty matrix
    const index_t wide = strided ? cols + kPad : cols;
    storage.resize(rows, wide, fill_outside);
    view = strided ? storage.view().col_block(kOffset, cols) : storage.view();
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (index_t r = 0; r < rows; ++r)
      for (index_t c = 0; c < cols; ++c) view(r, c) = static_cast<T>(u(rng));
  }
  void fill_view(T v) {
    for (index_t r = 0; r < view.rows; ++r)
      for (index_t c = 0; c < view.cols; ++c) view(r, c) = v;
  }
};

template <class T>
struct Tolerance;
template <>
struct Tolerance<float> {
  static constexpr double value = 1e-4;
};
template <>
struct Tolerance<double> {
  static constexpr double value = 1e-10;
};

std::string describe(Trans ta, Trans tb, index_t m, index_t n, index_t k, double alpha, double beta, bool strided) {
  std::ostringstream os;
  os << "op(A)" << (ta == Trans::yes ? "=At" : "=A") << " op(B)" << (tb == Trans::yes ? "=Bt" : "=B") << " m=" << m
     << " n=" << n << " k=" << k << " alpha=" << alpha << " beta=" << beta << (strided ? " strided" : " contiguous");
  return os.str();
}

/// Runs cpu_simd and cpu_scalar on the same data and compares elementwise with
/// |simd - ref| <= tol * s * (1 + |ref|), s = max(1, sqrt(k / 16)) (rounding grows ~ sqrt(k)).
/// beta == 0 fills C with NaN first: it must be overwritten, not scaled. Elements of the wider
/// storage outside C's view must be left untouched.
template <class T>
void check_parity(Trans ta, Trans tb, index_t m, index_t n, index_t k, T alpha, T beta, bool strided,
                  std::mt19937& rng, const cpu_simd& policy = {}) {
  INFO(describe(ta, tb, m, n, k, alpha, beta, strided));
  const bool at = ta == Trans::yes, bt = tb == Trans::yes;
  TestMatrix<T> A(at ? k : m, at ? m : k, strided, rng);
  TestMatrix<T> B(bt ? n : k, bt ? k : n, strided, rng);
  TestMatrix<T> C(m, n, strided, rng);
  if (beta == T(0)) C.fill_view(std::numeric_limits<T>::quiet_NaN());
  Matrix<T> c_ref_storage = C.storage;
  MatrixView<T> c_ref{c_ref_storage.data() + (C.view.data - C.storage.data()), m, n, C.view.stride};

  ctrnet::kernels::gemm(policy, ta, tb, alpha, ConstMatrixView<T>(A.view), ConstMatrixView<T>(B.view), beta, C.view);
  ctrnet::kernels::gemm(cpu_scalar{}, ta, tb, alpha, ConstMatrixView<T>(A.view), ConstMatrixView<T>(B.view), beta,
                        c_ref);

  const double s = std::max(1.0, std::sqrt(static_cast<double>(k) / 16.0));
  const double tol = Tolerance<T>::value * s;
  index_t bad = 0;
  for (index_t r = 0; r < m; ++r) {
    for (index_t c = 0; c < n; ++c) {
      const double got = C.view(r, c), want = c_ref(r, c);
      if (!(std::abs(got - want) <= tol * (1.0 + std::abs(want)))) {
        if (bad++ < 3) UNSCOPED_INFO("C(" << r << "," << c << ") = " << got << ", reference " << want);
      }
    }
  }
  CHECK(bad == 0);
  // Outside the view: the wider storage is unchanged (same as the reference's copy).
  index_t touched = 0;
  for (index_t i = 0; i < C.storage.size(); ++i) {
    const index_t r = i / C.storage.cols(), c = i % C.storage.cols() - (C.view.data - C.storage.data());
    const bool inside = r < m && c >= 0 && c < n;
    if (!inside && std::memcmp(C.storage.data() + i, c_ref_storage.data() + i, sizeof(T)) != 0) ++touched;
  }
  CHECK(touched == 0);
}

template <class T>
void check_all_combos(index_t m, index_t n, index_t k, std::mt19937& rng) {
  const std::tuple<T, T> alpha_beta[] = {{T(1), T(0)}, {T(1), T(1)}, {T(-0.75), T(0.5)}};
  for (const auto& tt : kTransCombos)
    for (const auto& [alpha, beta] : alpha_beta)
      for (bool strided : {false, true}) check_parity<T>(tt[0], tt[1], m, n, k, alpha, beta, strided, rng);
}

// m x n x k shapes: empty, 1, odd, GEMV (m == 1 or n == 1), k == 1, and shapes straddling the
// micro-tile (6 x 16) and cache blocks (KC = 256, MC = 144).
const std::vector<std::tuple<index_t, index_t, index_t>> kShapes = {
    {0, 5, 3},     {4, 0, 3},      {4, 5, 0},    {1, 1, 1},     {7, 13, 5},   {6, 16, 8},     {5, 15, 9},
    {1, 37, 19},   {1, 100, 300},  {29, 1, 31},  {300, 1, 70},  {23, 41, 1},  {2, 2, 2},      {13, 70, 257},
    {65, 129, 300}, {145, 33, 64}, {513, 17, 385}, {64, 256, 256}, {256, 517, 1}};

}  // namespace

TEST_CASE("cpu_simd gemm matches the scalar reference (float)", "[kernels][gemm]") {
  std::mt19937 rng(12345);
  for (const auto& [m, n, k] : kShapes) check_all_combos<float>(m, n, k, rng);
}

TEST_CASE("cpu_simd gemm matches the scalar reference (double)", "[kernels][gemm]") {
  std::mt19937 rng(54321);
  for (const auto& [m, n, k] : kShapes) check_all_combos<double>(m, n, k, rng);
}

TEST_CASE("cpu_simd gemm matches the reference with any max_threads", "[kernels][gemm][threads]") {
  std::mt19937 rng(777);
  for (int threads : {1, 2, 3}) {
    cpu_simd policy;
    policy.max_threads = threads;
    for (const auto& tt : kTransCombos) check_parity<float>(tt[0], tt[1], 200, 150, 300, 1.f, 0.5f, true, rng, policy);
  }
}

TEST_CASE("cpu_simd gemm beta == 0 overwrites C and alpha == 0 only scales C", "[kernels][gemm]") {
  std::mt19937 rng(99);
  TestMatrix<float> A(9, 11, false, rng), B(11, 20, false, rng), C(9, 20, false, rng);
  C.fill_view(std::numeric_limits<float>::quiet_NaN());
  ctrnet::kernels::gemm(cpu_simd{}, Trans::no, Trans::no, 0.f, ConstMatrixView<float>(A.view),
                        ConstMatrixView<float>(B.view), 0.f, C.view);
  for (index_t i = 0; i < C.view.size(); ++i) REQUIRE(C.storage.data()[i] == 0.f);
  C.fill_view(2.f);
  ctrnet::kernels::gemm(cpu_simd{}, Trans::no, Trans::no, 0.f, ConstMatrixView<float>(A.view),
                        ConstMatrixView<float>(B.view), 0.5f, C.view);
  for (index_t i = 0; i < C.view.size(); ++i) REQUIRE(C.storage.data()[i] == 1.f);
}

TEST_CASE("cpu_simd gemm is bitwise identical for max_threads 1, 2 and 0", "[kernels][gemm][threads]") {
  // Shapes large enough to run in parallel: packed path with several k blocks and both row and
  // column splits, and the two GEMV paths.
  const std::vector<std::tuple<index_t, index_t, index_t>> shapes = {
      {300, 260, 530}, {40, 1000, 300}, {1, 3001, 1500}, {2900, 1, 1500}, {700, 800, 1}};
  std::mt19937 rng(2024);
  for (const auto& [m, n, k] : shapes) {
    for (const auto& tt : kTransCombos) {
      const Trans ta = tt[0], tb = tt[1];
      INFO(describe(ta, tb, m, n, k, 1.0, 0.5, true));
      const bool at = ta == Trans::yes, bt = tb == Trans::yes;
      TestMatrix<float> A(at ? k : m, at ? m : k, true, rng);
      TestMatrix<float> B(bt ? n : k, bt ? k : n, true, rng);
      TestMatrix<float> C0(m, n, true, rng);
      std::vector<Matrix<float>> results;
      for (int threads : {1, 2, 0}) {
        Matrix<float> storage = C0.storage;
        MatrixView<float> c{storage.data() + (C0.view.data - C0.storage.data()), m, n, C0.view.stride};
        cpu_simd policy;
        policy.max_threads = threads;
        ctrnet::kernels::gemm(policy, ta, tb, 1.f, ConstMatrixView<float>(A.view), ConstMatrixView<float>(B.view),
                              0.5f, c);
        results.push_back(std::move(storage));
      }
      const std::size_t bytes = static_cast<std::size_t>(results[0].size()) * sizeof(float);
      CHECK(std::memcmp(results[0].data(), results[1].data(), bytes) == 0);
      CHECK(std::memcmp(results[0].data(), results[2].data(), bytes) == 0);
    }
  }
}

TEST_CASE("gemm_epilogue visits every element of C exactly once, after it is final", "[kernels][gemm][epilogue]") {
  // Shapes hit every path: GEMV (m == 1, n == 1), rank-1 (k == 1), k == 0, one block, and
  // several row/column blocks with 1 and 2 threads.
  const std::tuple<index_t, index_t, index_t> shapes[] = {{1, 37, 20},  {41, 1, 20},   {50, 30, 1},   {9, 9, 0},
                                                          {13, 17, 11}, {300, 70, 33}, {97, 4100, 5}, {1000, 90, 300}};
  std::mt19937 rng(99);
  for (const auto& [m, n, k] : shapes) {
    for (int threads : {1, 2}) {
      INFO("m=" << m << " n=" << n << " k=" << k << " threads=" << threads);
      cpu_simd p;
      p.max_threads = threads;
      TestMatrix<float> A(m, k, false, rng), B(k, n, false, rng);
      Matrix<float> ref(m, n), C(m, n);
      const ConstMatrixView<float> a = A.view, b = B.view;
      ctrnet::kernels::gemm(cpu_scalar{}, Trans::no, Trans::no, 1.f, a, b, 0.f, ref.view());
      // Blocks may run concurrently, each touching only its own elements (no Catch2 macro in them:
      // Catch2 is not thread-safe).
      Matrix<float> seen(m, n, 0.f), snapshot(m, n, 0.f);
      std::atomic<bool> in_bounds{true};
      const MatrixView<float> c = C.view();
      ctrnet::kernels::gemm_epilogue(p, Trans::no, Trans::no, 1.f, a, b, 0.f, c,
                                     [&](index_t r0, index_t r1, index_t c0, index_t c1) {
                                       if (!(r0 >= 0 && r0 < r1 && r1 <= m && c0 >= 0 && c0 < c1 && c1 <= n)) {
                                         in_bounds = false;
                                         return;
                                       }
                                       for (index_t i = r0; i < r1; ++i)
                                         for (index_t j = c0; j < c1; ++j) {
                                           seen(i, j) += 1.f;
                                           snapshot(i, j) = c(i, j);  // the value the epilogue sees
                                         }
                                     });
      CHECK(in_bounds);
      bool once = true, final_values = true;
      for (index_t i = 0; i < m; ++i)
        for (index_t j = 0; j < n; ++j) {
          once = once && seen(i, j) == 1.f;
          final_values = final_values && snapshot(i, j) == C(i, j) &&
                         std::abs(C(i, j) - ref(i, j)) <= 1e-4f * (1.f + std::abs(ref(i, j)));
        }
      CHECK(once);
      CHECK(final_values);
    }
  }
}
