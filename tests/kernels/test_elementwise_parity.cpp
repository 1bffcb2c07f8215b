// Parity of the cpu_simd element-wise, embedding-bag, loss and dropout kernels with the cpu_scalar
// reference, in float and double: odd widths (1, 7, 17, 33) so the scalar tails run, strided views
// (column blocks of wider matrices whose other columns must stay untouched), backward kernels that
// must ACCUMULATE into pre-filled outputs, extreme activation inputs (±30, ±100: no NaN), the same
// dropout mask bit for bit, and out-of-vocabulary ids raising a ctrnet::Error that names the field.
// Kernels without a cpu_simd overload (copy, fill, broadcast_row, scale, convert, the losses, dropout backward)
// are covered too, so an overload added later is checked from day one.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../loss_value.hpp"
#include "ctrnet/kernels/dropout.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/embedding.hpp"
#include "ctrnet/kernels/loss.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

using namespace ctrnet;

namespace {

constexpr index_t kWidths[] = {1, 7, 17, 33};
constexpr index_t kRows = 5;
constexpr Activation kActivations[] = {Activation::identity, Activation::relu,  Activation::leaky_relu,
                                       Activation::sigmoid,  Activation::tanh, Activation::gelu};
constexpr double kExtremes[] = {30.0, -30.0, 100.0, -100.0, 0.0};

const cpu_scalar kScalar{};
const cpu_simd kSimd{};

/// |a − b| <= atol + rtol·|b|, b the cpu_scalar (or reference) value. Float: xsimd's exp/erf/tanh
/// differ from libm by a few ulp.
template <class T>
struct Tol;
template <>
struct Tol<float> {
  static constexpr double atol = 1e-6, rtol = 1e-5;
};
template <>
struct Tol<double> {
  static constexpr double atol = 1e-12, rtol = 1e-12;
};

/// A [rows, cols] view into a [rows, cols + 7] matrix at column 3 when `strided` (the other columns
/// hold a sentinel that no kernel may touch), else the whole contiguous matrix.
template <class T>
struct Buf {
  static constexpr index_t kOffset = 3, kPad = 7;
  static constexpr T kSentinel = T(-777.25);
  Matrix<T> storage;
  MatrixView<T> view;

  Buf(index_t rows, index_t cols, bool strided) : storage(rows, strided ? cols + kPad : cols, kSentinel) {
    view = strided ? storage.view().col_block(kOffset, cols) : storage.view();
  }
  Buf(const Buf& o) : storage(o.storage) {
    view = {storage.data() + (o.view.data - o.storage.data()), o.view.rows, o.view.cols, o.view.stride};
  }
  Buf& operator=(const Buf&) = delete;

  ConstMatrixView<T> cview() const { return view; }
  Buf& randomize(std::mt19937& rng, double lo, double hi) {
    std::uniform_real_distribution<double> u(lo, hi);
    for (index_t r = 0; r < view.rows; ++r)
      for (index_t c = 0; c < view.cols; ++c) view(r, c) = static_cast<T>(u(rng));
    return *this;
  }
  Buf& fill(T v) {
    for (index_t r = 0; r < view.rows; ++r)
      for (index_t c = 0; c < view.cols; ++c) view(r, c) = v;
    return *this;
  }
  /// Puts ±30, ±100 and 0 on every 5th element (in vector bodies and scalar tails alike).
  Buf& add_extremes() {
    for (index_t r = 0; r < view.rows; ++r)
      for (index_t c = 0; c < view.cols; ++c)
        if ((r * view.cols + c) % 5 == 0) view(r, c) = static_cast<T>(kExtremes[(r + c) % 5]);
    return *this;
  }
  /// True when every element outside the view still holds the sentinel.
  bool outside_untouched() const {
    const index_t c0 = view.data - storage.data();
    for (index_t r = 0; r < storage.rows(); ++r)
      for (index_t c = 0; c < storage.cols(); ++c)
        if ((c < c0 || c >= c0 + view.cols) && storage(r, c) != kSentinel) return false;
    return true;
  }
};

/// "" when |a − b| <= atol + rtol·|b| everywhere and neither holds a NaN; else the first offender.
template <class T>
std::string compare(ConstMatrixView<T> a, ConstMatrixView<T> b, double atol = Tol<T>::atol,
                    double rtol = Tol<T>::rtol) {
  if (a.rows != b.rows || a.cols != b.cols) return "shape mismatch";
  for (index_t r = 0; r < a.rows; ++r)
    for (index_t c = 0; c < a.cols; ++c) {
      const double x = static_cast<double>(a(r, c)), y = static_cast<double>(b(r, c));
      if (std::isnan(x) || std::isnan(y) || !(std::abs(x - y) <= atol + rtol * std::abs(y))) {
        std::ostringstream os;
        os.precision(17);
        os << "at (" << r << ", " << c << "): " << x << " vs " << y << " (|diff| " << std::abs(x - y) << ")";
        return os.str();
      }
    }
  return "";
}

/// "" when a and b hold the same bits-for-value numbers (==; no NaN expected).
template <class T>
std::string compare_exact(ConstMatrixView<T> a, ConstMatrixView<T> b) {
  return compare<T>(a, b, 0.0, 0.0);
}

template <class T>
std::string describe(const char* what, index_t rows, index_t cols, bool strided) {
  std::ostringstream os;
  os << what << " <" << (sizeof(T) == 4 ? "float" : "double") << "> [" << rows << ", " << cols << "]"
     << (strided ? " strided" : " contiguous");
  return os.str();
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// kernels/elementwise.hpp
// ------------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("bias_forward and bias_backward: cpu_simd matches cpu_scalar, backward accumulates",
                   "[kernels][simd][elementwise]", float, double) {
  using T = TestType;
  std::mt19937 rng(11);
  for (index_t cols : kWidths)
    for (bool strided : {false, true}) {
      INFO(describe<T>("bias", kRows, cols, strided));
      std::vector<T> b(static_cast<std::size_t>(cols));
      for (auto& v : b) v = static_cast<T>(std::uniform_real_distribution<double>(-1, 1)(rng));

      Buf<T> ys(kRows, cols, strided);
      ys.randomize(rng, -2, 2);
      Buf<T> yv(ys), y0(ys);
      kernels::bias_forward(kScalar, b.data(), ys.view);
      kernels::bias_forward(kSimd, b.data(), yv.view);
      CHECK(compare<T>(yv.cview(), ys.cview()) == "");
      CHECK(yv.outside_untouched());
      for (index_t r = 0; r < kRows; ++r)  // y += b, not y = b
        for (index_t c = 0; c < cols; ++c) CHECK(ys.view(r, c) == y0.view(r, c) + b[static_cast<std::size_t>(c)]);

      Buf<T> dy(kRows, cols, strided);
      dy.randomize(rng, -1, 1);
      std::vector<T> db_prefill(static_cast<std::size_t>(cols));
      for (auto& v : db_prefill) v = static_cast<T>(std::uniform_real_distribution<double>(0.5, 1.5)(rng));
      std::vector<T> dbs = db_prefill, dbv = db_prefill;
      kernels::bias_backward(kScalar, dy.cview(), dbs.data());
      kernels::bias_backward(kSimd, dy.cview(), dbv.data());
      std::vector<T> expected(static_cast<std::size_t>(cols));
      for (index_t c = 0; c < cols; ++c) {
        double s = static_cast<double>(db_prefill[static_cast<std::size_t>(c)]);
        for (index_t r = 0; r < kRows; ++r) s += static_cast<double>(dy.view(r, c));
        expected[static_cast<std::size_t>(c)] = static_cast<T>(s);
      }
      const ConstMatrixView<T> es(expected.data(), 1, cols), ss(dbs.data(), 1, cols), sv(dbv.data(), 1, cols);
      CHECK(compare<T>(sv, ss) == "");
      CHECK(compare<T>(ss, es) == "");  // db += Σ_r dy, on top of the pre-filled values
      CHECK(compare<T>(sv, es) == "");
    }
}

TEMPLATE_TEST_CASE("activation_forward: cpu_simd matches cpu_scalar for all activations, no NaN at ±30 and ±100",
                   "[kernels][simd][elementwise]", float, double) {
  using T = TestType;
  std::mt19937 rng(12);
  for (Activation a : kActivations)
    for (T alpha : {T(0.01), T(0.2)})
      for (index_t cols : kWidths)
        for (bool strided : {false, true}) {
          INFO(describe<T>(to_string(a), kRows, cols, strided) << " alpha " << alpha);
          Buf<T> x(kRows, cols, strided);
          x.randomize(rng, -4, 4).add_extremes();
          Buf<T> ys(kRows, cols, strided), yv(kRows, cols, strided);
          kernels::activation_forward(kScalar, a, alpha, x.cview(), ys.view);
          kernels::activation_forward(kSimd, a, alpha, x.cview(), yv.view);
          CHECK(compare<T>(ys.cview(), ys.cview()) == "");  // no NaN in the reference
          CHECK(compare<T>(yv.cview(), ys.cview()) == "");
          CHECK(yv.outside_untouched());

          // In place: x and y the same memory.
          Buf<T> inplace(x);
          kernels::activation_forward(kSimd, a, alpha, inplace.cview(), inplace.view);
          CHECK(compare<T>(inplace.cview(), ys.cview()) == "");
          CHECK(inplace.outside_untouched());
        }
}

TEMPLATE_TEST_CASE("activation_backward: cpu_simd matches cpu_scalar for all activations and accumulates into dx",
                   "[kernels][simd][elementwise]", float, double) {
  using T = TestType;
  std::mt19937 rng(13);
  for (Activation a : kActivations)
    for (T alpha : {T(0.01), T(0.2)})
      for (index_t cols : kWidths)
        for (bool strided : {false, true}) {
          INFO(describe<T>(to_string(a), kRows, cols, strided) << " alpha " << alpha);
          Buf<T> x(kRows, cols, strided);
          x.randomize(rng, -4, 4).add_extremes();
          Buf<T> y(kRows, cols, strided);
          kernels::activation_forward(kScalar, a, alpha, x.cview(), y.view);
          Buf<T> dy(kRows, cols, strided);
          dy.randomize(rng, -1, 1);
          Buf<T> dx_prefill(kRows, cols, strided);
          dx_prefill.randomize(rng, 0.5, 1.5);

          // The kernels may be given an empty x when the derivative only needs y.
          const ConstMatrixView<T> xin = derivative_needs_input(a) ? x.cview() : ConstMatrixView<T>{};
          Buf<T> dxs(dx_prefill), dxv(dx_prefill);
          kernels::activation_backward(kScalar, a, alpha, xin, y.cview(), dy.cview(), dxs.view);
          kernels::activation_backward(kSimd, a, alpha, xin, y.cview(), dy.cview(), dxv.view);
          CHECK(compare<T>(dxv.cview(), dxs.cview()) == "");  // also: no NaN in either
          CHECK(dxv.outside_untouched());

          Buf<T> expected(dx_prefill);  // dx += f'(x) ⊙ dy
          for (index_t r = 0; r < kRows; ++r)
            for (index_t c = 0; c < cols; ++c)
              expected.view(r, c) += activation_derivative(a, x.view(r, c), y.view(r, c), alpha) * dy.view(r, c);
          CHECK(compare<T>(dxs.cview(), expected.cview()) == "");
          CHECK(compare<T>(dxv.cview(), expected.cview()) == "");
        }
}

TEMPLATE_TEST_CASE("axpy, copy, fill, scale: cpu_simd matches cpu_scalar on strided odd widths",
                   "[kernels][simd][elementwise]", float, double) {
  using T = TestType;
  std::mt19937 rng(14);
  for (index_t cols : kWidths)
    for (bool strided : {false, true}) {
      INFO(describe<T>("axpy/copy/fill/scale", kRows, cols, strided));
      Buf<T> x(kRows, cols, strided), y(kRows, cols, strided);
      x.randomize(rng, -1, 1);
      y.randomize(rng, -1, 1);
      const T alpha = T(-0.75);

      Buf<T> ys(y), yv(y), expected(y);
      kernels::axpy(kScalar, alpha, x.cview(), ys.view);
      kernels::axpy(kSimd, alpha, x.cview(), yv.view);
      for (index_t r = 0; r < kRows; ++r)
        for (index_t c = 0; c < cols; ++c) expected.view(r, c) += alpha * x.view(r, c);
      CHECK(compare<T>(yv.cview(), ys.cview()) == "");
      CHECK(compare<T>(ys.cview(), expected.cview()) == "");  // y += alpha x
      CHECK(yv.outside_untouched());

      Buf<T> cs(y), cv(y);
      kernels::copy(kScalar, x.cview(), cs.view);
      kernels::copy(kSimd, x.cview(), cv.view);
      CHECK(compare_exact<T>(cv.cview(), x.cview()) == "");
      CHECK(compare_exact<T>(cs.cview(), x.cview()) == "");
      CHECK(cv.outside_untouched());

      Buf<T> fs(y), fv(y);
      kernels::fill(kScalar, T(2.5), fs.view);
      kernels::fill(kSimd, T(2.5), fv.view);
      CHECK(compare_exact<T>(fv.cview(), fs.cview()) == "");
      CHECK(fs.view(kRows - 1, cols - 1) == T(2.5));
      CHECK(fv.outside_untouched());

      Buf<T> ss(y), sv(y);
      kernels::scale(kScalar, T(-3), ss.view);
      kernels::scale(kSimd, T(-3), sv.view);
      CHECK(compare_exact<T>(sv.cview(), ss.cview()) == "");
      CHECK(ss.view(0, 0) == T(-3) * y.view(0, 0));
      CHECK(sv.outside_untouched());
    }
}

TEMPLATE_TEST_CASE("broadcast_row: every row becomes b; cpu_simd matches cpu_scalar on strided odd widths",
                   "[kernels][simd][elementwise]", float, double) {
  using T = TestType;
  // Hand-computed: b = [1.5, −2] over 3 rows → [[1.5, −2], [1.5, −2], [1.5, −2]], whatever y held.
  {
    const T b[] = {T(1.5), T(-2)};
    Buf<T> y(3, 2, true);
    y.fill(T(9));
    kernels::broadcast_row(kScalar, b, y.view);
    for (index_t r = 0; r < 3; ++r) {
      CHECK(y.view(r, 0) == T(1.5));
      CHECK(y.view(r, 1) == T(-2));
    }
    CHECK(y.outside_untouched());
  }
  std::mt19937 rng(15);
  for (index_t cols : kWidths)
    for (bool strided : {false, true}) {
      INFO(describe<T>("broadcast_row", kRows, cols, strided));
      Buf<T> b(1, cols, false), y(kRows, cols, strided);
      b.randomize(rng, -1, 1);
      y.randomize(rng, -1, 1);
      Buf<T> ys(y), yv(y);
      kernels::broadcast_row(kScalar, b.view.data, ys.view);
      kernels::broadcast_row(kSimd, b.view.data, yv.view);
      CHECK(compare_exact<T>(yv.cview(), ys.cview()) == "");
      for (index_t r = 0; r < kRows; ++r)
        CHECK(compare_exact<T>(ys.cview().row_block(r, 1), b.cview()) == "");
      CHECK(ys.outside_untouched());
      CHECK(yv.outside_untouched());
    }
}

TEMPLATE_TEST_CASE("convert: cpu_simd matches cpu_scalar from float and from double", "[kernels][simd][elementwise]",
                   float, double) {
  using T = TestType;
  std::mt19937 rng(15);
  for (index_t cols : kWidths)
    for (bool strided : {false, true}) {
      INFO(describe<T>("convert to", kRows, cols, strided));
      Buf<float> xf(kRows, cols, strided);
      xf.randomize(rng, -1e3, 1e3);
      Buf<double> xd(kRows, cols, strided);
      xd.randomize(rng, -1e3, 1e3);
      Buf<T> s1(kRows, cols, strided), v1(kRows, cols, strided), s2(kRows, cols, strided), v2(kRows, cols, strided);
      kernels::convert(kScalar, xf.cview(), s1.view);
      kernels::convert(kSimd, xf.cview(), v1.view);
      kernels::convert(kScalar, xd.cview(), s2.view);
      kernels::convert(kSimd, xd.cview(), v2.view);
      CHECK(compare_exact<T>(v1.cview(), s1.cview()) == "");
      CHECK(compare_exact<T>(v2.cview(), s2.cview()) == "");
      CHECK(v1.outside_untouched());
      CHECK(v2.outside_untouched());
      CHECK(s1.view(0, 0) == static_cast<T>(xf.view(0, 0)));
      CHECK(s2.view(kRows - 1, cols - 1) == static_cast<T>(xd.view(kRows - 1, cols - 1)));
    }
}

// ------------------------------------------------------------------------------------------------
// kernels/embedding.hpp
// ------------------------------------------------------------------------------------------------

namespace {

/// Bags of ids for one field: example r has ids[offsets[r] .. offsets[r + 1]).
struct Bags {
  std::vector<FeatureId> ids;
  std::vector<index_t> offsets{0};
  index_t rows() const { return static_cast<index_t>(offsets.size()) - 1; }
  FieldIds view() const { return {ids.data(), offsets.data()}; }
};

/// Bag sizes cover empty bags, one id (the one-hot path), repeated ids, and a bag longer than one
/// chunk of the SIMD kernel (32 ids). Vocabulary ids lie in [0, vocab); hashed ids are any int64.
Bags make_bags(bool hashed, index_t vocab, std::mt19937& rng) {
  Bags b;
  std::uniform_int_distribution<FeatureId> any(std::numeric_limits<FeatureId>::min(),
                                               std::numeric_limits<FeatureId>::max());
  std::uniform_int_distribution<FeatureId> in_vocab(0, vocab - 1);
  for (index_t n : {0, 1, 2, 3, 0, 40, 1, 5, 70, 1}) {
    for (index_t k = 0; k < n; ++k) b.ids.push_back(hashed ? any(rng) : in_vocab(rng));
    if (n >= 3) b.ids[b.ids.size() - 1] = b.ids[b.ids.size() - 3];  // a repeated id in the bag
    b.offsets.push_back(static_cast<index_t>(b.ids.size()));
  }
  return b;
}

Field make_field(bool hashed, index_t rows) {
  Field f;
  f.name = hashed ? "C14_hashed" : "C7_vocab";
  f.kind = FieldKind::multi_hot;
  if (hashed) {
    f.hash_buckets = rows;
    f.hash_seed = 1234;
  } else {
    f.vocab_size = rows;
  }
  return f;
}

}  // namespace

TEMPLATE_TEST_CASE("embedding_bag_forward: cpu_simd equals cpu_scalar bit for bit (sum, mean, empty, hashed, vocab)",
                   "[kernels][simd][embedding]", float, double) {
  using T = TestType;
  std::mt19937 rng(21);
  constexpr index_t kVocab = 29;
  constexpr index_t kFirstRow = 100;
  for (bool hashed : {false, true})
    for (Pooling pooling : {Pooling::sum, Pooling::mean})
      for (index_t dim : kWidths)
        for (bool strided : {false, true}) {
          const Field field = make_field(hashed, kVocab);
          const IdMapper map(field);
          const Bags bags = make_bags(hashed, kVocab, rng);
          INFO(describe<T>(hashed ? "hashed" : "vocab", bags.rows(), dim, strided)
               << (pooling == Pooling::mean ? " mean" : " sum"));
          Matrix<T> table(kVocab, dim);
          {
            std::uniform_real_distribution<double> u(-1, 1);
            for (index_t i = 0; i < table.size(); ++i) table.data()[i] = static_cast<T>(u(rng));
            table(0, 0) = T(-0.0);  // 0 + (-0) is +0 in cpu_scalar: the SIMD kernel must agree
          }
          Buf<T> ys(bags.rows(), dim, strided);
          ys.fill(std::numeric_limits<T>::quiet_NaN());  // y is overwritten, not accumulated
          Buf<T> yv(ys);
          kernels::embedding_bag_forward(kScalar, table, bags.view(), map, pooling, kFirstRow, ys.view);
          kernels::embedding_bag_forward(kSimd, table, bags.view(), map, pooling, kFirstRow, yv.view);
          CHECK(compare_exact<T>(yv.cview(), ys.cview()) == "");
          for (index_t r = 0; r < ys.view.rows; ++r)
            for (index_t j = 0; j < dim; ++j) CHECK(std::signbit(yv.view(r, j)) == std::signbit(ys.view(r, j)));
          CHECK(ys.outside_untouched());
          CHECK(yv.outside_untouched());

          // Independent reference: Σ_k E[map(i_k)] (/ n for mean), 0 for an empty bag.
          Buf<T> expected(bags.rows(), dim, strided);
          for (index_t r = 0; r < bags.rows(); ++r) {
            const auto ids = bags.view().of(r);
            for (index_t j = 0; j < dim; ++j) {
              double s = 0;
              for (FeatureId id : ids) s += static_cast<double>(table(map(id, r), j));
              if (pooling == Pooling::mean && !ids.empty()) s /= static_cast<double>(ids.size());
              expected.view(r, j) = static_cast<T>(s);
            }
          }
          CHECK(compare<T>(ys.cview(), expected.cview(), 1e-5, 1e-5) == "");
        }
}

TEMPLATE_TEST_CASE("embedding_bag_backward: cpu_simd matches cpu_scalar, same rows in the same order, accumulates",
                   "[kernels][simd][embedding]", float, double) {
  using T = TestType;
  std::mt19937 rng(22);
  constexpr index_t kVocab = 29;
  for (bool hashed : {false, true})
    for (Pooling pooling : {Pooling::sum, Pooling::mean})
      for (index_t dim : kWidths)
        for (bool strided : {false, true}) {
          const Field field = make_field(hashed, kVocab);
          const IdMapper map(field);
          const Bags bags = make_bags(hashed, kVocab, rng);
          INFO(describe<T>(hashed ? "hashed" : "vocab", bags.rows(), dim, strided)
               << (pooling == Pooling::mean ? " mean" : " sum"));
          Buf<T> dy(bags.rows(), dim, strided);
          dy.randomize(rng, -1, 1);

          // Pre-touched rows with non-zero values: one the batch also touches, one it does not.
          const FeatureId touched = map(bags.view().of(1)[0], 1);
          const FeatureId untouched = (touched + 1) % kVocab;
          std::map<FeatureId, std::vector<double>> expected;
          SparseRows<T> gs, gv;
          gs.reset(dim);
          gv.reset(dim);
          for (FeatureId id : {untouched, touched}) {
            T* a = gs.row(id);
            T* b = gv.row(id);
            auto& e = expected[id];
            e.resize(static_cast<std::size_t>(dim));
            for (index_t j = 0; j < dim; ++j) {
              a[j] = b[j] = static_cast<T>(0.5 + 0.01 * static_cast<double>(j + id));
              e[static_cast<std::size_t>(j)] = static_cast<double>(a[j]);
            }
          }
          kernels::embedding_bag_backward(kScalar, bags.view(), map, pooling, 0, dy.cview(), gs);
          kernels::embedding_bag_backward(kSimd, bags.view(), map, pooling, 0, dy.cview(), gv);

          REQUIRE(gv.download_ids() == gs.download_ids());  // same rows, same order of first touch
          for (index_t i = 0; i < gs.size(); ++i) {
            INFO("gradient row " << gs.id(i));
            CHECK(compare<T>(ConstMatrixView<T>(gv.values(i), 1, dim), ConstMatrixView<T>(gs.values(i), 1, dim)) ==
                  "");
          }

          // Independent reference: grad[map(i_k)] += s·dy[r] on top of the pre-filled rows.
          for (index_t r = 0; r < bags.rows(); ++r) {
            const auto ids = bags.view().of(r);
            if (ids.empty()) continue;
            const double s = pooling == Pooling::mean ? 1.0 / static_cast<double>(ids.size()) : 1.0;
            for (FeatureId id : ids) {
              auto& e = expected[map(id, r)];
              e.resize(static_cast<std::size_t>(dim), 0.0);
              for (index_t j = 0; j < dim; ++j) e[static_cast<std::size_t>(j)] += s * static_cast<double>(dy.view(r, j));
            }
          }
          REQUIRE(static_cast<std::size_t>(gs.size()) == expected.size());
          for (index_t i = 0; i < gs.size(); ++i) {
            INFO("gradient row " << gs.id(i));
            std::vector<T> e(expected[gs.id(i)].begin(), expected[gs.id(i)].end());
            CHECK(compare<T>(ConstMatrixView<T>(gs.values(i), 1, dim), ConstMatrixView<T>(e.data(), 1, dim), 1e-5,
                             1e-5) == "");
          }
        }
}

TEST_CASE("embedding_bag_forward on cpu_simd: an id outside the vocabulary throws ctrnet::Error naming the field",
          "[kernels][simd][embedding]") {
  const Field field = make_field(false, 10);
  const IdMapper map(field);
  Matrix<float> table(10, 17, 0.25f);
  Matrix<float> y(3, 17);
  // One-id bags (the SIMD one-hot path) and a longer bag (the chunked path), negative and too large.
  const std::vector<std::vector<FeatureId>> cases = {{3, 10, 4}, {3, -1, 4}, {3, 4, 0, 1, 2, 10, 5}};
  for (const auto& bad : cases) {
    Bags bags;
    if (bad.size() == 3) {
      for (FeatureId id : bad) {
        bags.ids.push_back(id);
        bags.offsets.push_back(static_cast<index_t>(bags.ids.size()));
      }
    } else {  // rows: {3}, {4, 0, 1, 2, 10}, {5}
      bags.ids = bad;
      bags.offsets = {0, 1, 6, 7};
    }
    const FeatureId wrong = bad.size() == 3 ? bad[1] : FeatureId(10);
    INFO("bad id " << wrong);
    try {
      kernels::embedding_bag_forward(kSimd, table, bags.view(), map, Pooling::sum, 40, y.view());
      FAIL("no ctrnet::Error thrown");
    } catch (const Error& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find("'C7_vocab'") != std::string::npos);
      CHECK(msg.find("id " + std::to_string(wrong)) != std::string::npos);
      CHECK(msg.find("example 41") != std::string::npos);  // first_row + r
    }
    SparseRows<float> g;
    g.reset(17);
    CHECK_THROWS_AS(kernels::embedding_bag_backward(kSimd, bags.view(), map, Pooling::mean, 40, y.cview(), g), Error);
  }
}

// ------------------------------------------------------------------------------------------------
// kernels/loss.hpp
// ------------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("bce_with_logits and squared_error: cpu_simd matches cpu_scalar and a reference, dz accumulates",
                   "[kernels][simd][loss]", float, double) {
  using T = TestType;
  std::mt19937 rng(31);
  const double scale = 0.25;
  for (index_t rows : kWidths)
    for (bool weighted : {false, true})
      for (bool strided : {false, true}) {
        INFO(describe<T>(weighted ? "loss, weighted" : "loss", rows, 1, strided));
        Buf<T> z(rows, 1, strided);
        z.randomize(rng, -6, 6).add_extremes();  // logits ±30, ±100 must stay finite
        std::vector<float> labels(static_cast<std::size_t>(rows)), weights(static_cast<std::size_t>(rows));
        for (index_t r = 0; r < rows; ++r) {
          labels[static_cast<std::size_t>(r)] = r % 3 == 2 ? 0.3f : static_cast<float>(r % 2);
          weights[static_cast<std::size_t>(r)] = 0.5f + 0.1f * static_cast<float>(r);
        }
        const float* w = weighted ? weights.data() : nullptr;
        Buf<T> dz_prefill(rows, 1, strided);
        dz_prefill.randomize(rng, 0.5, 1.5);

        // Independent references.
        double bce_ref = 0, se_ref = 0;
        Buf<T> bce_dz_ref(dz_prefill), se_dz_ref(dz_prefill);
        for (index_t r = 0; r < rows; ++r) {
          const double x = static_cast<double>(z.view(r, 0)), y = labels[static_cast<std::size_t>(r)];
          const double wr = (w ? w[r] : 1.0) * scale;
          const double softplus = x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));  // log(1 + e^x)
          bce_ref += wr * (softplus - x * y);
          bce_dz_ref.view(r, 0) += static_cast<T>(wr * (1.0 / (1.0 + std::exp(-x)) - y));
          se_ref += wr * (x - y) * (x - y);
          se_dz_ref.view(r, 0) += static_cast<T>(wr * 2.0 * (x - y));
        }

        Buf<T> dzs(dz_prefill), dzv(dz_prefill);
        const double ls = test_util::loss_value([&](double* out_) { kernels::bce_with_logits(kScalar, z.cview(), labels.data(), w, scale, dzs.view, out_); });
        const double lv = test_util::loss_value([&](double* out_) { kernels::bce_with_logits(kSimd, z.cview(), labels.data(), w, scale, dzv.view, out_); });
        CHECK(std::isfinite(ls));
        CHECK(std::abs(lv - ls) <= 1e-12 * (1 + std::abs(ls)));
        CHECK(std::abs(ls - bce_ref) <= 1e-12 * (1 + std::abs(bce_ref)));
        CHECK(compare<T>(dzv.cview(), dzs.cview()) == "");
        CHECK(compare<T>(dzs.cview(), bce_dz_ref.cview()) == "");
        CHECK(dzv.outside_untouched());
        // An empty dz: the loss only.
        CHECK(test_util::loss_value([&](double* out_) { kernels::bce_with_logits(kSimd, z.cview(), labels.data(), w, scale, MatrixView<T>{}, out_); }) == lv);

        Buf<T> ses(dz_prefill), sev(dz_prefill);
        const double qs = test_util::loss_value([&](double* out_) { kernels::squared_error(kScalar, z.cview(), labels.data(), w, scale, ses.view, out_); });
        const double qv = test_util::loss_value([&](double* out_) { kernels::squared_error(kSimd, z.cview(), labels.data(), w, scale, sev.view, out_); });
        CHECK(std::abs(qv - qs) <= 1e-12 * (1 + std::abs(qs)));
        CHECK(std::abs(qs - se_ref) <= 1e-12 * (1 + std::abs(se_ref)));
        CHECK(compare<T>(sev.cview(), ses.cview()) == "");
        CHECK(compare<T>(ses.cview(), se_dz_ref.cview()) == "");
        CHECK(sev.outside_untouched());
      }
}

// ------------------------------------------------------------------------------------------------
// kernels/dropout.hpp
// ------------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("dropout_forward: cpu_simd draws the same mask as cpu_scalar, bit for bit, for any row split",
                   "[kernels][simd][dropout]", float, double) {
  using T = TestType;
  std::mt19937 rng(41);
  constexpr std::uint64_t kSeed = 7, kStep = 3, kLayer = 2;
  constexpr index_t kFirstRow = 100;
  // Row counts below, at and between multiples of the 2/4/8 lanes; widths past one 64-column chunk.
  for (index_t rows : {1, 3, 4, 5, 9, 13})
    for (index_t cols : {1, 7, 17, 33, 70})
      for (double p : {0.0, 0.1, 0.5, 0.9})
        for (bool strided : {false, true}) {
          INFO(describe<T>("dropout", rows, cols, strided) << " p " << p);
          Buf<T> x(rows, cols, strided);
          x.randomize(rng, -1, 1);
          Buf<T> ms(rows, cols, strided), ys(rows, cols, strided), mv(ms), yv(ys);
          kernels::dropout_forward(kScalar, p, kSeed, kStep, kLayer, kFirstRow, x.cview(), ms.view, ys.view);
          kernels::dropout_forward(kSimd, p, kSeed, kStep, kLayer, kFirstRow, x.cview(), mv.view, yv.view);
          CHECK(compare_exact<T>(mv.cview(), ms.cview()) == "");
          CHECK(compare_exact<T>(yv.cview(), ys.cview()) == "");
          CHECK(mv.outside_untouched());
          CHECK(yv.outside_untouched());

          // Mask values are 0 or 1/(1-p); y = x ⊙ mask.
          const T keep = T(1.0 / (1.0 - p));
          index_t dropped = 0;
          for (index_t r = 0; r < rows; ++r)
            for (index_t c = 0; c < cols; ++c) {
              const T m = ms.view(r, c);
              CHECK((m == T(0) || m == keep));
              CHECK(ys.view(r, c) == x.view(r, c) * m);
              dropped += m == T(0);
            }
          if (p == 0.0) CHECK(dropped == 0);
          if (rows * cols >= 300) CHECK(std::abs(static_cast<double>(dropped) / static_cast<double>(rows * cols) - p) < 0.1);

          // In place (x and y the same memory).
          Buf<T> inplace(x), mi(ms);
          kernels::dropout_forward(kSimd, p, kSeed, kStep, kLayer, kFirstRow, inplace.cview(), mi.view, inplace.view);
          CHECK(compare_exact<T>(inplace.cview(), ys.cview()) == "");
          CHECK(compare_exact<T>(mi.cview(), ms.cview()) == "");

          // Two shards [0, s) and [s, rows) with their own first_row give the same mask.
          if (rows > 1) {
            const index_t s = rows / 2 + 1;
            Buf<T> m2(ms), y2(ys);
            m2.fill(T(-1));
            kernels::dropout_forward(kSimd, p, kSeed, kStep, kLayer, kFirstRow, x.cview().row_block(0, s),
                                     m2.view.row_block(0, s), y2.view.row_block(0, s));
            kernels::dropout_forward(kSimd, p, kSeed, kStep, kLayer, kFirstRow + s, x.cview().row_block(s, rows - s),
                                     m2.view.row_block(s, rows - s), y2.view.row_block(s, rows - s));
            CHECK(compare_exact<T>(m2.cview(), ms.cview()) == "");
          }
        }
}

TEMPLATE_TEST_CASE("dropout_backward: cpu_simd matches cpu_scalar and accumulates into dx", "[kernels][simd][dropout]",
                   float, double) {
  using T = TestType;
  std::mt19937 rng(42);
  for (index_t cols : kWidths)
    for (bool strided : {false, true}) {
      INFO(describe<T>("dropout_backward", kRows, cols, strided));
      Buf<T> x(kRows, cols, strided), mask(kRows, cols, strided), y(kRows, cols, strided);
      x.randomize(rng, -1, 1);
      kernels::dropout_forward(kScalar, 0.3, 1, 2, 3, 0, x.cview(), mask.view, y.view);
      Buf<T> dy(kRows, cols, strided), dx(kRows, cols, strided);
      dy.randomize(rng, -1, 1);
      dx.randomize(rng, 0.5, 1.5);
      Buf<T> dxs(dx), dxv(dx), expected(dx);
      kernels::dropout_backward(kScalar, mask.cview(), dy.cview(), dxs.view);
      kernels::dropout_backward(kSimd, mask.cview(), dy.cview(), dxv.view);
      for (index_t r = 0; r < kRows; ++r)
        for (index_t c = 0; c < cols; ++c) expected.view(r, c) += dy.view(r, c) * mask.view(r, c);
      CHECK(compare<T>(dxv.cview(), dxs.cview()) == "");
      CHECK(compare<T>(dxs.cview(), expected.cview()) == "");
      CHECK(dxv.outside_untouched());
    }
}

TEMPLATE_TEST_CASE("bias_activation_forward: cpu_simd matches cpu_scalar and the two-pass form", "[parity][elementwise]",
                   float, double) {
  using T = TestType;
  std::mt19937 rng(123);
  for (index_t cols : kWidths)
    for (bool strided : {false, true})
      for (Activation a : kActivations)
        for (bool with_bias : {true, false}) {
          INFO(describe<T>("bias_activation_forward", kRows, cols, strided) << " " << to_string(a) << " bias "
                                                                           << with_bias);
          Buf<T> z(kRows, cols, strided);
          z.randomize(rng, -3, 3).add_extremes();
          std::vector<T> b(static_cast<std::size_t>(cols));
          for (auto& v : b) v = static_cast<T>(std::uniform_real_distribution<double>(-1, 1)(rng));
          const T* bp = with_bias ? b.data() : nullptr;
          Buf<T> z_scalar(z), z_simd(z), z_two(z), y_scalar(kRows, cols, strided), y_simd(kRows, cols, strided),
              y_two(kRows, cols, strided);
          kernels::bias_activation_forward(kScalar, a, T(0.1), bp, z_scalar.view, y_scalar.view);
          kernels::bias_activation_forward(kSimd, a, T(0.1), bp, z_simd.view, y_simd.view);
          if (bp) kernels::bias_forward(kScalar, bp, z_two.view);
          kernels::activation_forward(kScalar, a, T(0.1), z_two.cview(), y_two.view);
          CHECK(compare_exact<T>(z_scalar.cview(), z_two.cview()) == "");
          CHECK(compare_exact<T>(y_scalar.cview(), y_two.cview()) == "");
          CHECK(compare<T>(z_simd.cview(), z_scalar.cview()) == "");
          CHECK(compare<T>(y_simd.cview(), y_scalar.cview()) == "");
          CHECK(y_simd.outside_untouched());
          // In place (y aliases z), as Linear runs it when f' needs only y.
          Buf<T> inplace(z);
          kernels::bias_activation_forward(kSimd, a, T(0.1), bp, inplace.view, inplace.view);
          CHECK(compare<T>(inplace.cview(), y_scalar.cview()) == "");
        }
}

TEMPLATE_TEST_CASE("activation_bias_backward: overwrites dz, accumulates db; cpu_simd matches cpu_scalar and the two-pass form",
                   "[parity][elementwise]", float, double) {
  using T = TestType;
  std::mt19937 rng(321);
  for (index_t cols : kWidths)
    for (bool strided : {false, true})
      for (Activation a : kActivations)
        for (bool with_bias : {true, false}) {
          INFO(describe<T>("activation_bias_backward", kRows, cols, strided) << " " << to_string(a) << " bias "
                                                                            << with_bias);
          Buf<T> x(kRows, cols, strided);
          x.randomize(rng, -4, 4).add_extremes();
          Buf<T> y(kRows, cols, strided);
          kernels::activation_forward(kScalar, a, T(0.1), x.cview(), y.view);
          Buf<T> dy(kRows, cols, strided);
          dy.randomize(rng, -1, 1);
          const ConstMatrixView<T> xin = derivative_needs_input(a) ? x.cview() : ConstMatrixView<T>{};
          Buf<T> prefill(kRows, cols, strided);
          prefill.randomize(rng, 5, 6);  // dz is overwritten: the prefill must not survive
          Buf<T> dzs(prefill), dzv(prefill), dz_two(kRows, cols, strided);
          std::vector<T> dbs(static_cast<std::size_t>(cols), T(0.5)), dbv = dbs, db_two = dbs;
          T* ps = with_bias ? dbs.data() : nullptr;
          T* pv = with_bias ? dbv.data() : nullptr;
          kernels::activation_bias_backward(kScalar, a, T(0.1), xin, y.cview(), dy.cview(), dzs.view, ps);
          kernels::activation_bias_backward(kSimd, a, T(0.1), xin, y.cview(), dy.cview(), dzv.view, pv);
          // Two-pass reference: dz = 0 + f'(x) ⊙ dy, then db += Σ dz.
          kernels::fill(kScalar, T(0), dz_two.view);
          kernels::activation_backward(kScalar, a, T(0.1), xin, y.cview(), dy.cview(), dz_two.view);
          if (with_bias) kernels::bias_backward(kScalar, dz_two.cview(), db_two.data());
          CHECK(compare_exact<T>(dzs.cview(), dz_two.cview()) == "");
          CHECK(compare<T>(dzv.cview(), dzs.cview()) == "");
          CHECK(dzv.outside_untouched());
          if (with_bias) {
            CHECK(dbs == db_two);
            for (std::size_t c = 0; c < dbs.size(); ++c) CHECK(std::abs(double(dbv[c]) - dbs[c]) <= 1e-5 * (1 + std::abs(double(dbs[c]))));
          } else {
            CHECK(dbs == std::vector<T>(static_cast<std::size_t>(cols), T(0.5)));
          }
        }
}
