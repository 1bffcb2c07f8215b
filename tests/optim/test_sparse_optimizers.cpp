// Tests for the embedding-table optimizers (optim/sparse.hpp) and ModelOptimizer: only touched rows
// change (untouched rows and their state stay bitwise equal), hand-computed first steps, row-wise
// Adagrad's single accumulator per row, FTRL's exact zeros, lazy Adam vs dense Adam on a row
// touched every step, the SparseOptimizer wrapper and the errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "ctrnet/optim/dense.hpp"
#include "ctrnet/optim/model_optimizer.hpp"
#include "ctrnet/optim/sparse.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

using namespace ctrnet;

namespace {

template <class T>
struct Tol;
template <>
struct Tol<float> {
  static constexpr double rtol = 1e-5, atol = 1e-7;
};
template <>
struct Tol<double> {
  static constexpr double rtol = 1e-12, atol = 1e-15;
};

template <class T>
bool close(T a, double b) {
  return std::abs(static_cast<double>(a) - b) <= Tol<T>::atol + Tol<T>::rtol * std::abs(b);
}

template <class T>
void check_row(const Matrix<T>& m, index_t r, const std::vector<double>& want) {
  REQUIRE(static_cast<std::size_t>(m.cols()) == want.size());
  for (index_t j = 0; j < m.cols(); ++j) {
    INFO("row " << r << ", col " << j << ": got " << m(r, j) << ", expected " << want[static_cast<std::size_t>(j)]);
    CHECK(close(m(r, j), want[static_cast<std::size_t>(j)]));
  }
}

/// Table [rows, dim] with row r filled from `row_values` (the same for every row).
template <class T>
Matrix<T> table_of(index_t rows, const std::vector<double>& row_values) {
  Matrix<T> m(rows, static_cast<index_t>(row_values.size()));
  for (index_t r = 0; r < rows; ++r)
    for (index_t j = 0; j < m.cols(); ++j) m(r, j) = static_cast<T>(row_values[static_cast<std::size_t>(j)]);
  return m;
}

template <class T>
void set_row(SparseRows<T>& g, FeatureId id, const std::vector<double>& v) {
  T* row = g.row(id);
  for (std::size_t j = 0; j < v.size(); ++j) row[j] = static_cast<T>(v[j]);
}

template <class T>
std::vector<T> state_of(OptimizerState<T> s, const std::string& name) {
  for (auto& t : s)
    if (t.name == name) return std::vector<T>(t.values.begin(), t.values.end());
  FAIL("no state named " << name);
  return {};
}

template <class T>
bool rows_bitwise_equal(const Matrix<T>& a, const Matrix<T>& b, index_t r) {
  return std::memcmp(a.data() + r * a.cols(), b.data() + r * b.cols(), static_cast<std::size_t>(a.cols()) * sizeof(T)) == 0;
}

template <class F>
void for_each_policy(F&& f) {
  SECTION("cpu_scalar") { f(cpu_scalar{}); }
  SECTION("cpu_simd") { f(cpu_simd{}); }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Only touched rows change
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("Sparse optimizers change only the touched rows and their state", "[optim][sparse]", float,
                   double) {
  using T = TestType;
  for (auto kind : {SparseKind::sgd, SparseKind::adagrad, SparseKind::rowwise_adagrad, SparseKind::lazy_adam,
                    SparseKind::ftrl}) {
    INFO("sparse optimizer " << to_string(kind));
    for_each_policy([&](const auto& p) {
      SparseOptimizerOptions o;
      o.kind = kind;
      o.initial_accumulator = 0.1;
      SparseOptimizer<T> opt(o);
      const index_t rows = 50, dim = 21;  // odd dim: vector body + tail
      Matrix<T> table(rows, dim);
      for (index_t i = 0; i < table.size(); ++i) table.data()[i] = static_cast<T>(0.01 * double(i % 97) - 0.3);
      const Matrix<T> before = table;
      opt.init(rows, dim);
      std::vector<std::vector<T>> state_before;
      for (auto& s : opt.state()) state_before.emplace_back(s.values.begin(), s.values.end());

      const std::vector<FeatureId> touched{3, 17, 42, 8};
      SparseRows<T> g;
      g.reset(dim);
      for (FeatureId id : touched) {
        T* row = g.row(id);
        for (index_t j = 0; j < dim; ++j) row[j] = static_cast<T>(0.1 + 0.01 * double(j) - 0.02 * double(id % 5));
      }
      opt.apply(p, table, g);
      opt.apply(p, table, g);
      CHECK(opt.step_count() == 2);

      auto is_touched = [&](index_t r) { return std::find(touched.begin(), touched.end(), r) != touched.end(); };
      for (index_t r = 0; r < rows; ++r) {
        INFO("row " << r);
        if (is_touched(r))
          CHECK_FALSE(rows_bitwise_equal(table, before, r));
        else
          CHECK(rows_bitwise_equal(table, before, r));
      }
      const auto state_after = opt.state();
      REQUIRE(state_after.size() == state_before.size());
      for (std::size_t k = 0; k < state_after.size(); ++k) {
        const auto& s = state_after[k];
        const index_t per_row = s.shape.size() == 2 ? s.shape[1] : 1;
        REQUIRE(static_cast<index_t>(s.values.size()) == rows * per_row);
        for (index_t r = 0; r < rows; ++r) {
          const bool same = std::memcmp(s.values.data() + r * per_row, state_before[k].data() + r * per_row,
                                        static_cast<std::size_t>(per_row) * sizeof(T)) == 0;
          INFO("state " << s.name << ", row " << r);
          CHECK(same == !is_touched(r));
        }
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Hand-computed steps
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("Sparse SGD and sparse Adagrad match hand-computed steps", "[optim][sparse]", float, double) {
  using T = TestType;
  for_each_policy([](const auto& p) {
    {
      // lr = 0.1: θ_r -= 0.1 g_r. Row 2 = [1, -1], g = [0.5, -2] -> [0.95, -0.8]
      SparseSgd<T> opt({.lr = 0.1});
      auto table = table_of<T>(4, {1.0, -1.0});
      SparseRows<T> g;
      g.reset(2);
      set_row(g, 2, {0.5, -2.0});
      opt.apply(p, table, g);
      check_row(table, 2, {0.95, -0.8});
      check_row(table, 0, {1.0, -1.0});
    }
    {
      // lr = 0.1, G0 = 0.1, ε = 1e-10; rows start at [1, -1] (the dense Adagrad example, per row)
      // step 1: row 1, g = [0.3, -0.4]: G = [0.19, 0.26];  θ = [1 - 0.03/√0.19, -1 + 0.04/√0.26] = [0.9311752799, -0.9215535460]
      // step 2: rows 1 and 3, g = [0.1, 0.2]:
      //   row 1: G = [0.2, 0.3];  θ = [0.9088146001, -0.9580683831]
      //   row 3 (first touch): G = [0.11, 0.14];  θ = [1 - 0.01/√0.11, -1 - 0.02/√0.14] = [0.9698488655, -1.0534522484]
      SparseAdagrad<T> opt({.lr = 0.1, .initial_accumulator = 0.1});
      auto table = table_of<T>(5, {1.0, -1.0});
      SparseRows<T> g;
      g.reset(2);
      set_row(g, 1, {0.3, -0.4});
      opt.apply(p, table, g);
      check_row(table, 1, {0.93117527985462095, -0.921553545960111});
      g.clear();
      set_row(g, 3, {0.1, 0.2});
      set_row(g, 1, {0.1, 0.2});
      opt.apply(p, table, g);
      check_row(table, 1, {0.90881460008462305, -0.95806838312045541});
      check_row(table, 3, {0.96984886555131455, -1.0534522483681992});
      const auto sum = state_of(opt.state(), "sum");
      CHECK(close(sum[1 * 2 + 0], 0.2));
      CHECK(close(sum[3 * 2 + 1], 0.14));
      CHECK(sum[0] == T(0.1));  // untouched row keeps G0
    }
  });
}

TEMPLATE_TEST_CASE("Row-wise Adagrad keeps one accumulator per row and matches hand-computed steps",
                   "[optim][sparse]", float, double) {
  using T = TestType;
  for_each_policy([](const auto& p) {
    // lr = 0.1, ε = 1e-8, G0 = 0, row 4 = [1, -1, 0.5]
    // step 1, g = [0.3, -0.4, 0]: G = (0.09 + 0.16 + 0)/3 = 0.0833333;  lr/(√G + ε) = 0.1/0.2886751 = 0.3464102
    //   θ = [1 - 0.1039230, -1 + 0.1385641, 0.5] = [0.8960769551, -0.8614359402, 0.5]
    // step 2, g = [0.1, 0.2, -0.2]: G = 0.0833333 + 0.09/3 = 0.1133333;  multiplier = 0.1/0.3366502 = 0.2970443
    //   θ = [0.8663725297, -0.9208447910, 0.5594088508]
    RowWiseAdagrad<T> opt({.lr = 0.1});
    auto table = table_of<T>(6, {1.0, -1.0, 0.5});
    SparseRows<T> g;
    g.reset(3);
    set_row(g, 4, {0.3, -0.4, 0.0});
    opt.apply(p, table, g);
    check_row(table, 4, {0.89607695514586724, -0.86143594019448965, 0.5});
    g.clear();
    set_row(g, 4, {0.1, 0.2, -0.2});
    opt.apply(p, table, g);
    check_row(table, 4, {0.86637252973891993, -0.92084479100838428, 0.55940885081389463});

    auto st = opt.state();
    REQUIRE(st.size() == 1);
    CHECK(st[0].name == "sum");
    CHECK(st[0].shape == std::vector<index_t>{6});  // one accumulator per row, not per element
    REQUIRE(st[0].values.size() == 6);
    CHECK(close(st[0].values[4], 0.11333333333333334));
    for (index_t r : {0, 1, 2, 3, 5}) CHECK(st[0].values[static_cast<std::size_t>(r)] == T(0));
  });
}

TEMPLATE_TEST_CASE("Lazy Adam matches hand-computed steps with a global step count", "[optim][sparse]", float,
                   double) {
  using T = TestType;
  for_each_policy([](const auto& p) {
    // lr = 0.1, β1 = 0.9, β2 = 0.999, ε = 1e-8 (added to √v, as PyTorch SparseAdam)
    // step 1, row 0 = [1, -0.5], g = [0.2, -0.1]: m = 0.1 g, v = 0.001 g²;  step size = 0.1 √0.001 / 0.1 = 0.0316228
    //   θ -= 0.0316228 · 0.1 g / (0.0316228 |g| + 1e-8) = 0.1 g / (|g| + 3.16e-7)
    //   θ = [1 - 0.1·0.2/0.200000316, -0.5 + 0.1·0.1/0.100000316] = [0.9000001581, -0.4000003162]
    // step 2, row 0, g = [0.1, 0.3]: m = [0.028, 0.021], v = [4.996e-5, 9.999e-5];
    //   step size = 0.1 √0.001999 / 0.19 = 0.0235317;  θ = [0.8067823261, -0.4494192501]
    // step 3, row 2 = [0, 0] touched for the first time, g = [0.5, -0.25]: its m = 0.1 g, v = 0.001 g², but the
    //   bias correction uses the global t = 3: step size = 0.1 √(1 - 0.999³)/(1 - 0.9³) = 0.0202010597
    //   θ = -0.0202010597 · 0.1 g / (√0.001 |g| + 1e-8) = [-0.0638813195, 0.0638812791]
    LazyAdam<T> opt({.lr = 0.1});
    Matrix<T> table(3, 2, T(0));
    table(0, 0) = T(1), table(0, 1) = T(-0.5);
    SparseRows<T> g;
    g.reset(2);
    set_row(g, 0, {0.2, -0.1});
    opt.apply(p, table, g);
    check_row(table, 0, {0.90000015811363301, -0.40000031622676602});
    g.clear();
    set_row(g, 0, {0.1, 0.3});
    opt.apply(p, table, g);
    check_row(table, 0, {0.806782326115178, -0.44941925013506968});
    const auto m = state_of(opt.state(), "exp_avg");
    CHECK(close(m[0], 0.028));
    CHECK(close(m[1], 0.021));
    g.clear();
    set_row(g, 2, {0.5, -0.25});
    opt.apply(p, table, g);
    CHECK(opt.step_count() == 3);
    check_row(table, 2, {-0.063881319537757631, 0.063881279135714801});
    check_row(table, 0, {0.806782326115178, -0.44941925013506968});  // not touched at step 3: unchanged
    check_row(table, 1, {0.0, 0.0});
  });
}

TEMPLATE_TEST_CASE("Sparse FTRL matches the hand-computed dense example per row and gives exact zeros",
                   "[optim][sparse][ftrl]", float, double) {
  using T = TestType;
  for_each_policy([](const auto& p) {
    // α = 0.1, β = 1, λ1 = 0.1, λ2 = 0.5: the FTRL example of test_dense_optimizers.cpp on row 1 of a table.
    SparseFtrl<T> opt({.alpha = 0.1, .beta = 1.0, .l1 = 0.1, .l2 = 0.5});
    Matrix<T> table(3, 3, T(0));
    SparseRows<T> g;
    g.reset(3);
    set_row(g, 1, {1.0, -0.2, 0.05});
    opt.apply(p, table, g);
    check_row(table, 1, {-0.043902439024390244, 0.008, 0.0});
    g.clear();
    set_row(g, 1, {0.5, 0.1, -0.02});
    opt.apply(p, table, g);
    check_row(table, 1, {-0.066964808092151209, 0.00014828311401405243, 0.0});
    CHECK(table(1, 2) == T(0));  // weak coordinate: exactly zero
    for (index_t r : {0, 2})
      for (index_t j = 0; j < 3; ++j) CHECK(table(r, j) == T(0));
  });
}

TEMPLATE_TEST_CASE("Lazy Adam matches dense Adam on a row touched every step", "[optim][sparse]", float, double) {
  using T = TestType;
  // With ε → 0 the two formulas are the same (lr/bc1 · m/(√v/√bc2) = lr √bc2/bc1 · m/√v); with the
  // default ε = 1e-8 they differ only by where ε enters (≈ ε/√v̂ relative).
  for (double eps : {1e-14, 1e-8}) {
    INFO("eps " << eps);
    const double tol = eps < 1e-10 ? (std::is_same_v<T, float> ? 2e-5 : 1e-9) : 1e-4;
    LazyAdam<T> lazy({.lr = 0.01, .eps = eps});
    Adam<T> dense({.lr = 0.01, .eps = eps});
    const index_t dim = 13;
    Matrix<T> table(4, dim, T(0));
    std::vector<T> theta(static_cast<std::size_t>(dim), T(0));
    for (index_t j = 0; j < dim; ++j) theta[static_cast<std::size_t>(j)] = table(2, j) = static_cast<T>(0.1 * double(j) - 0.5);
    SparseRows<T> g;
    g.reset(dim);
    for (int s = 0; s < 20; ++s) {
      g.clear();
      T* row = g.row(2);
      for (index_t j = 0; j < dim; ++j) row[j] = static_cast<T>(std::sin(0.7 * double(s) + 0.3 * double(j)));
      std::vector<T> dense_g(row, row + dim);  // copy now: row() below may move the buffer
      if (s % 3 == 0) set_row(g, 0, std::vector<double>(static_cast<std::size_t>(dim), 0.1));  // another row, sometimes
      lazy.apply(cpu_simd{}, table, g);
      dense.step(cpu_scalar{}, std::span<T>(theta), std::span<const T>(dense_g));
    }
    for (index_t j = 0; j < dim; ++j) {
      const double a = double(table(2, j)), b = double(theta[static_cast<std::size_t>(j)]);
      INFO("col " << j << ": lazy " << a << ", dense " << b);
      CHECK(std::abs(a - b) <= tol * (std::abs(b) + 0.01));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Wrapper, errors, ModelOptimizer
// ---------------------------------------------------------------------------------------------

TEST_CASE("SparseOptimizer picks the optimizer by name and matches it exactly", "[optim][sparse]") {
  CHECK(parse_sparse_kind("sgd") == SparseKind::sgd);
  CHECK(parse_sparse_kind("Adagrad") == SparseKind::adagrad);
  CHECK(parse_sparse_kind("rowwise_adagrad") == SparseKind::rowwise_adagrad);
  CHECK(parse_sparse_kind("row-wise-adagrad") == SparseKind::rowwise_adagrad);
  CHECK(parse_sparse_kind("lazy_adam") == SparseKind::lazy_adam);
  CHECK(parse_sparse_kind("sparse_adam") == SparseKind::lazy_adam);
  CHECK(parse_sparse_kind("FTRL") == SparseKind::ftrl);
  CHECK_THROWS_AS(parse_sparse_kind("adam"), Error);
  CHECK_THROWS_WITH(SparseOptimizer<float>("momentum"), Catch::Contains("unknown sparse optimizer 'momentum'"));

  SparseOptimizer<float> w("rowwise_adagrad");
  CHECK(w.name() == "rowwise_adagrad");
  CHECK(w.lr() == 1e-2);
  CHECK_FALSE(w.initialized());

  SparseOptimizerOptions o = SparseOptimizerOptions::named("lazy_adam");
  o.lr = 0.05;
  SparseOptimizer<float> a(o);
  LazyAdam<float> b({.lr = 0.05});
  Matrix<float> ta(10, 5, 0.5f), tb(10, 5, 0.5f);
  SparseRows<float> g;
  g.reset(5);
  set_row(g, 7, {0.1, -0.2, 0.3, -0.4, 0.5});
  set_row(g, 2, {1.0, 1.0, -1.0, 0.0, 0.25});
  for (int s = 0; s < 3; ++s) {
    a.apply(cpu_simd{}, ta, g);
    b.apply(cpu_simd{}, tb, g);
  }
  CHECK(a.initialized());
  CHECK(std::memcmp(ta.data(), tb.data(), sizeof(float) * 50) == 0);
  CHECK(a.step_count() == 3);
  a.set_lr(0.01);
  CHECK(a.lr() == 0.01);
}

TEST_CASE("Sparse optimizers reject bad options and bad gradients with ctrnet::Error", "[optim][sparse][errors]") {
  CHECK_THROWS_AS(SparseSgd<float>({.lr = 0.0}), Error);
  CHECK_THROWS_AS(SparseAdagrad<float>({.lr = -1.0}), Error);
  CHECK_THROWS_AS(SparseAdagrad<float>({.lr = 0.1, .eps = 0.0}), Error);
  CHECK_THROWS_AS(RowWiseAdagrad<float>({.lr = 0.1, .initial_accumulator = -1.0}), Error);
  CHECK_THROWS_AS(LazyAdam<float>({.lr = 0.0}), Error);
  CHECK_THROWS_WITH(LazyAdam<float>({.beta1 = 1.0}), Catch::Contains("beta1 must be in [0, 1)"));
  CHECK_THROWS_AS(LazyAdam<float>({.beta2 = -0.5}), Error);
  CHECK_THROWS_AS(SparseFtrl<float>({.alpha = -0.1}), Error);
  SparseOptimizerOptions o = SparseOptimizerOptions::named("lazy_adam");
  o.lr = 0.0;
  CHECK_THROWS_AS(SparseOptimizer<float>(o), Error);

  SparseAdagrad<float> opt;
  Matrix<float> table(4, 3, 0.0f);
  SparseRows<float> g;
  g.reset(3);
  set_row(g, 4, {1.0, 1.0, 1.0});  // row 4 of a 4-row table
  CHECK_THROWS_WITH(opt.apply(cpu_scalar{}, table, g), Catch::Contains("outside the table"));
  CHECK(table(3, 0) == 0.0f);  // nothing was written
  SparseRows<float> wrong_dim;
  wrong_dim.reset(2);
  set_row(wrong_dim, 0, {1.0, 1.0});
  CHECK_THROWS_WITH(opt.apply(cpu_scalar{}, table, wrong_dim), Catch::Contains("has dim 2"));
  Matrix<float> other(5, 3, 0.0f);
  CHECK_THROWS_AS(opt.apply(cpu_scalar{}, other, wrong_dim), Error);  // state is for [4, 3]
  SparseRows<float> empty;
  CHECK_NOTHROW(opt.apply(cpu_scalar{}, table, empty));  // nothing touched: fine
}

TEST_CASE("ModelOptimizer updates the dense buffer and each table with its own optimizer", "[optim][model]") {
  ParamRegistry reg;
  const ParamHandle w = reg.add("linear.weight", 2, 3, Init::zeros());
  const TableHandle wide = reg.add_table("wide.C1", 10, 1, Init::zeros());
  const TableHandle deep = reg.add_table("embedding.C1", 10, 4, Init::zeros());

  ModelOptimizerOptions o;
  o.dense = DenseOptimizerOptions::named("adamw");
  o.dense.lr = 0.1;
  o.tables = SparseOptimizerOptions::named("rowwise_adagrad");
  o.tables.lr = 0.1;
  SparseOptimizerOptions ftrl = SparseOptimizerOptions::named("ftrl");
  ftrl.l1 = 0.5;
  o.per_table = {{"wide.C1", ftrl}};
  ModelOptimizer<double> opt(o);
  opt.init(reg);
  CHECK(opt.table(wide.id).kind() == SparseKind::ftrl);
  CHECK(opt.table(deep.id).kind() == SparseKind::rowwise_adagrad);
  CHECK(opt.dense().kind() == DenseKind::adamw);

  ModelParams<double> params;
  params.allocate(reg);
  ModelGrads<double> grads;
  grads.allocate(reg);
  grads.view(w)(0, 0) = 1.0;
  grads.tables[static_cast<std::size_t>(wide.id)].row(3)[0] = 0.2;  // weak: |z| = 0.2 <= λ1
  grads.tables[static_cast<std::size_t>(wide.id)].row(5)[0] = 2.0;  // strong
  double* e = grads.tables[static_cast<std::size_t>(deep.id)].row(7);
  e[0] = 1.0, e[1] = -1.0, e[2] = 1.0, e[3] = -1.0;
  opt.step(cpu_simd{}, params, grads);

  CHECK(close(params.view(w)(0, 0), -0.1 / (1.0 + 1e-8)));  // Adam step 1: -lr g/(|g| + ε), θ0 = 0
  CHECK(params.view(w)(0, 1) == 0.0);
  CHECK(params.tables[static_cast<std::size_t>(wide.id)](3, 0) == 0.0);
  CHECK(params.tables[static_cast<std::size_t>(wide.id)](5, 0) < 0.0);
  // row-wise Adagrad: G = mean g² = 1;  θ = -0.1/(1 + 1e-8) g
  CHECK(close(params.tables[static_cast<std::size_t>(deep.id)](7, 1), 0.1 / (1.0 + 1e-8)));
  CHECK(params.tables[static_cast<std::size_t>(deep.id)](6, 1) == 0.0);
  CHECK(opt.step_count() == 1);

  opt.set_lr_scale(0.5);
  CHECK(opt.dense().lr() == 0.05);
  CHECK(opt.table(deep.id).lr() == 0.05);
  CHECK(opt.table(wide.id).lr() == 0.05);  // FTRL's default α = 0.1, scaled

  auto st = opt.state();
  std::vector<std::string> names;
  for (auto& s : st) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{"dense.exp_avg", "dense.exp_avg_sq", "wide.C1.z", "wide.C1.n",
                                          "embedding.C1.sum"});

  ModelOptimizerOptions bad = o;
  bad.per_table = {{"no.such.table", ftrl}};
  ModelOptimizer<double> bad_opt(bad);
  CHECK_THROWS_WITH(bad_opt.init(reg), Catch::Contains("'no.such.table'"));
}

TEST_CASE("kernels::sparse_rows_add and first_id_outside: hand-computed cases", "[optim][sparse][kernels]") {
  SparseRows<float> dst, src;
  dst.reset(2);
  src.reset(2);
  float* d3 = dst.row(3);
  d3[0] = 1.0f;
  d3[1] = 2.0f;
  float* s5 = src.row(5);
  s5[0] = 10.0f;
  s5[1] = 20.0f;
  float* s3 = src.row(3);
  s3[0] = 0.5f;
  s3[1] = 0.25f;
  // dst += src in src's row order: row 3 summed in place, row 5 appended after it.
  kernels::sparse_rows_add(cpu_simd{}, dst, src);
  CHECK(dst.download_ids() == std::vector<FeatureId>{3, 5});
  CHECK(dst.download_values() == std::vector<float>{1.5f, 2.25f, 10.0f, 20.0f});
  CHECK(src.download_ids() == std::vector<FeatureId>{5, 3});  // the source is left as it was

  CHECK(kernels::first_id_outside(cpu_scalar{}, dst, 6) == 2);  // none: size()
  CHECK(kernels::first_id_outside(cpu_scalar{}, dst, 5) == 1);  // id 5 is outside [0, 5)
  CHECK(kernels::first_id_outside(cpu_scalar{}, dst, 3) == 0);
}
