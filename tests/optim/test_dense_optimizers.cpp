// Tests for the dense optimizers (optim/sgd.hpp, adam.hpp, adagrad.hpp, ftrl.hpp, dense.hpp): the
// first steps against values worked out by hand (float and double, cpu_scalar and cpu_simd), the
// named state, the run-time wrapper DenseOptimizer and the errors raised for bad options.
#include <catch2/catch.hpp>

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "ctrnet/optim/dense.hpp"
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

/// |a − b| <= atol + rtol |b|, b the expected value.
template <class T>
bool close(T a, double b) {
  return std::abs(static_cast<double>(a) - b) <= Tol<T>::atol + Tol<T>::rtol * std::abs(b);
}

template <class T>
void check_values(const std::vector<T>& got, const std::vector<double>& want) {
  REQUIRE(got.size() % want.size() == 0);
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", expected " << want[i % want.size()]);
    CHECK(close(got[i], want[i % want.size()]));
  }
}

/// `pattern` repeated `copies` times: copies > 8 makes cpu_simd run its vector body, not only the tail.
template <class T>
std::vector<T> tile(const std::vector<double>& pattern, int copies) {
  std::vector<T> out;
  for (int c = 0; c < copies; ++c)
    for (double x : pattern) out.push_back(static_cast<T>(x));
  return out;
}

/// Runs the same hand-computed check on cpu_scalar (one copy) and cpu_simd (19 copies, odd length).
template <class F>
void for_each_policy(F&& f) {
  SECTION("cpu_scalar") { f(cpu_scalar{}, 1); }
  SECTION("cpu_simd") { f(cpu_simd{}, 19); }
}

template <class O, class P, class T>
void step(O& opt, const P& p, std::vector<T>& theta, const std::vector<T>& g) {
  opt.step(p, std::span<T>(theta), std::span<const T>(g));
}

template <class T>
std::vector<T> state_of(OptimizerState<T> s, const std::string& name) {
  for (auto& t : s)
    if (t.name == name) return std::vector<T>(t.values.begin(), t.values.end());
  FAIL("no state named " << name);
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SGD
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("SGD with momentum matches hand-computed steps", "[optim][sgd]", float, double) {
  using T = TestType;
  for_each_policy([](const auto& p, int k) {
    // lr = 0.1, μ = 0.9, θ0 = [1, -2], g1 = [0.5, -1], g2 = [0.25, 0.5]
    // step 1: v = g1 = [0.5, -1];  θ = θ0 - 0.1 v = [0.95, -1.9]
    // step 2: v = 0.9 [0.5, -1] + [0.25, 0.5] = [0.7, -0.4];  θ = [0.95 - 0.07, -1.9 + 0.04] = [0.88, -1.86]
    Sgd<T> opt({.lr = 0.1, .momentum = 0.9});
    auto theta = tile<T>({1.0, -2.0}, k);
    step(opt, p, theta, tile<T>({0.5, -1.0}, k));
    check_values(theta, {0.95, -1.9});
    check_values(state_of(opt.state(), "momentum_buffer"), {0.5, -1.0});
    step(opt, p, theta, tile<T>({0.25, 0.5}, k));
    check_values(theta, {0.88, -1.86});
    check_values(state_of(opt.state(), "momentum_buffer"), {0.7, -0.4});
    CHECK(opt.step_count() == 2);
  });
}

TEMPLATE_TEST_CASE("SGD Nesterov, dampening and weight decay match hand-computed steps", "[optim][sgd]", float,
                   double) {
  using T = TestType;
  for_each_policy([](const auto& p, int k) {
    const auto g1 = tile<T>({0.5, -1.0}, k), g2 = tile<T>({0.25, 0.5}, k);
    {
      // Nesterov, lr = 0.1, μ = 0.9:
      // step 1: v = g1;  d = g1 + 0.9 v = [0.95, -1.9];  θ = [1 - 0.095, -2 + 0.19] = [0.905, -1.81]
      // step 2: v = [0.7, -0.4];  d = g2 + 0.9 v = [0.88, 0.14];  θ = [0.905 - 0.088, -1.81 - 0.014] = [0.817, -1.824]
      Sgd<T> opt({.lr = 0.1, .momentum = 0.9, .nesterov = true});
      auto theta = tile<T>({1.0, -2.0}, k);
      step(opt, p, theta, g1);
      check_values(theta, {0.905, -1.81});
      step(opt, p, theta, g2);
      check_values(theta, {0.817, -1.824});
    }
    {
      // Dampening τ = 0.5 (ignored at the first step, as PyTorch):
      // step 1: v = g1;  θ = [0.95, -1.9]
      // step 2: v = 0.9 [0.5, -1] + 0.5 [0.25, 0.5] = [0.575, -0.65];  θ = [0.95 - 0.0575, -1.9 + 0.065] = [0.8925, -1.835]
      Sgd<T> opt({.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
      auto theta = tile<T>({1.0, -2.0}, k);
      step(opt, p, theta, g1);
      check_values(theta, {0.95, -1.9});
      step(opt, p, theta, g2);
      check_values(theta, {0.8925, -1.835});
    }
    {
      // No momentum, weight decay λ = 0.1: d = g + 0.1 θ
      // step 1: d = [0.5 + 0.1, -1 - 0.2] = [0.6, -1.2];  θ = [0.94, -1.88]
      // step 2: d = [0.25 + 0.094, 0.5 - 0.188] = [0.344, 0.312];  θ = [0.9056, -1.9112]
      Sgd<T> opt({.lr = 0.1, .weight_decay = 0.1});
      auto theta = tile<T>({1.0, -2.0}, k);
      step(opt, p, theta, g1);
      check_values(theta, {0.94, -1.88});
      step(opt, p, theta, g2);
      check_values(theta, {0.9056, -1.9112});
      CHECK(opt.state().empty());
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Adam / AdamW
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("Adam matches hand-computed steps", "[optim][adam]", float, double) {
  using T = TestType;
  for_each_policy([](const auto& p, int k) {
    // lr = 0.1, β1 = 0.9, β2 = 0.999, ε = 1e-8, θ0 = [1, -0.5]
    // step 1, g = [0.2, -0.1]: m = 0.1 g = [0.02, -0.01];  v = 0.001 g² = [4e-5, 1e-5]
    //   m̂ = m / 0.1 = g, v̂ = v / 0.001 = g²  =>  θ -= 0.1 g / (|g| + 1e-8)
    //   θ = [1 - 0.1·0.2/0.20000001, -0.5 + 0.1·0.1/0.10000001] = [0.900000005, -0.40000001]
    // step 2, g = [0.1, 0.3]: m = 0.9 m + 0.1 g = [0.028, 0.021];  v = 0.999 v + 0.001 g² = [4.996e-5, 9.999e-5]
    //   1 - β1² = 0.19, 1 - β2² = 0.001999:  m̂ = [0.1473684, 0.1105263],  v̂ = [0.02499250, 0.05002001]
    //   √v̂ = [0.1580902, 0.2236515];  θ -= 0.1 m̂/(√v̂ + ε) = [0.0932182, 0.0494190]
    //   θ = [0.8067820470, -0.4494189911]
    // step 3, g = [-0.3, 0.05]: m = [-0.0048, 0.0239];  v = [1.3991004e-4, 1.0239001e-4];
    //   1 - β1³ = 0.271, 1 - β2³ = 0.002997001:  θ = [0.8149797264, -0.4971327067]
    Adam<T> opt({.lr = 0.1});
    auto theta = tile<T>({1.0, -0.5}, k);
    step(opt, p, theta, tile<T>({0.2, -0.1}, k));
    check_values(theta, {0.90000000499999975, -0.400000009999999});
    check_values(state_of(opt.state(), "exp_avg"), {0.02, -0.01});
    check_values(state_of(opt.state(), "exp_avg_sq"), {4e-5, 1e-5});
    step(opt, p, theta, tile<T>({0.1, 0.3}, k));
    check_values(theta, {0.80678204701536515, -0.44941899112006578});
    check_values(state_of(opt.state(), "exp_avg"), {0.028, 0.021});
    check_values(state_of(opt.state(), "exp_avg_sq"), {4.996e-5, 9.999e-5});
    step(opt, p, theta, tile<T>({-0.3, 0.05}, k));
    check_values(theta, {0.81497972642103418, -0.49713270674212057});
    check_values(state_of(opt.state(), "exp_avg"), {-0.0048, 0.0239});
    check_values(state_of(opt.state(), "exp_avg_sq"), {1.3991004e-4, 1.0239001e-4});
    CHECK(opt.step_count() == 3);
  });
}

TEMPLATE_TEST_CASE("Adam with L2 weight decay and AdamW with decoupled decay match hand-computed steps",
                   "[optim][adam]", float, double) {
  using T = TestType;
  for_each_policy([](const auto& p, int k) {
    const auto g1 = tile<T>({0.2, -0.1}, k), g2 = tile<T>({0.1, 0.3}, k);
    {
      // Adam, λ = 0.1 (L2): g' = g + 0.1 θ
      // step 1: g' = [0.2 + 0.1, -0.1 - 0.05] = [0.3, -0.15];  θ -= 0.1 g'/(|g'| + ε)
      //   θ = [1 - 0.1·0.3/0.30000001, -0.5 + 0.1·0.15/0.15000001] = [0.9000000033, -0.4000000067]
      // step 2: g' = [0.1 + 0.09, 0.3 - 0.04] = [0.19, 0.26];  m = [0.046, 0.0125];  v = [6.6e-5, 8.7235e-5]
      //   θ = [0.8035709052, -0.4309923650]
      Adam<T> opt({.lr = 0.1, .weight_decay = 0.1});
      auto theta = tile<T>({1.0, -0.5}, k);
      step(opt, p, theta, g1);
      check_values(theta, {0.90000000333333322, -0.40000000666666622});
      step(opt, p, theta, g2);
      check_values(theta, {0.80357090523924994, -0.43099236502164148});
    }
    {
      // AdamW, λ = 0.1: θ *= 1 - 0.1·0.1 = 0.99 before each Adam update (the moments see g only)
      // step 1: θ = [0.99 - 0.099999995, -0.495 + 0.09999999] = [0.890000005, -0.39500001]
      // step 2: θ = 0.99 θ - [0.0932182, 0.0494190] = [0.7878820470, -0.4404689910]
      AdamW<T> opt({.lr = 0.1, .weight_decay = 0.1});
      CHECK(opt.options().decoupled);
      auto theta = tile<T>({1.0, -0.5}, k);
      step(opt, p, theta, g1);
      check_values(theta, {0.89000000499999975, -0.395000009999999});
      step(opt, p, theta, g2);
      check_values(theta, {0.78788204696536516, -0.44046899102006579});
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Adagrad
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("Adagrad matches hand-computed steps", "[optim][adagrad]", float, double) {
  using T = TestType;
  for_each_policy([](const auto& p, int k) {
    {
      // lr = 0.1, G0 = 0.1, ε = 1e-10, θ0 = [1, -1]
      // step 1, g = [0.3, -0.4]: G = [0.19, 0.26];  θ = [1 - 0.03/√0.19, -1 + 0.04/√0.26]
      //   = [1 - 0.03/0.4358899, -1 + 0.04/0.5099020] = [0.9311752799, -0.9215535460]
      // step 2, g = [0.1, 0.2]: G = [0.2, 0.3];  θ = [θ - 0.01/0.4472136, θ - 0.02/0.5477226] = [0.9088146001, -0.9580683831]
      // step 3, g = [-0.2, 0]: G = [0.24, 0.3];  θ = [θ + 0.02/0.4898979, unchanged] = [0.9496394291, -0.9580683831]
      Adagrad<T> opt({.lr = 0.1, .initial_accumulator = 0.1});
      auto theta = tile<T>({1.0, -1.0}, k);
      step(opt, p, theta, tile<T>({0.3, -0.4}, k));
      check_values(theta, {0.93117527985462095, -0.921553545960111});
      check_values(state_of(opt.state(), "sum"), {0.19, 0.26});
      step(opt, p, theta, tile<T>({0.1, 0.2}, k));
      check_values(theta, {0.90881460008462305, -0.95806838312045541});
      step(opt, p, theta, tile<T>({-0.2, 0.0}, k));
      check_values(theta, {0.94963942912267602, -0.95806838312045541});
      check_values(state_of(opt.state(), "sum"), {0.24, 0.3});
    }
    {
      // lr_decay = 0.5, λ = 0.1, G0 = 0: lr_t = 0.1 / (1 + 0.5 (t - 1)); g' = g + 0.1 θ
      // step 1: g' = [0.4, -0.5];  G = g'²;  θ -= 0.1 g'/(|g'| + 1e-10) = [0.900000000025, -0.90000000002]
      // step 2: lr_2 = 0.1/1.5;  g' = [0.19, 0.11];  G = [0.1961, 0.2621]
      //   θ = [0.9 - 0.0666667·0.19/0.4428318, -0.9 - 0.0666667·0.11/0.5119570] = [0.8713962124, -0.9143241189]
      Adagrad<T> opt({.lr = 0.1, .lr_decay = 0.5, .weight_decay = 0.1});
      auto theta = tile<T>({1.0, -1.0}, k);
      step(opt, p, theta, tile<T>({0.3, -0.4}, k));
      check_values(theta, {0.900000000025, -0.90000000002});
      step(opt, p, theta, tile<T>({0.1, 0.2}, k));
      check_values(theta, {0.87139621239326636, -0.91432411886196166});
    }
  });
}

// ---------------------------------------------------------------------------------------------
// FTRL-Proximal
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("FTRL-Proximal matches hand-computed steps and gives exact zeros", "[optim][ftrl]", float,
                   double) {
  using T = TestType;
  for_each_policy([](const auto& p, int k) {
    // α = 0.1, β = 1, λ1 = 0.1, λ2 = 0.5, θ0 = z0 = n0 = 0
    // step 1, g = [1, -0.2, 0.05]: n = 0 so σ = |g|/α and σθ = 0:  z = g;  n = g² = [1, 0.04, 0.0025]
    //   θ0 = -(1 - 0.1) / ((1 + 1)/0.1 + 0.5) = -0.9/20.5 = -0.0439024390
    //   θ1 = -(-0.2 + 0.1) / ((1 + 0.2)/0.1 + 0.5) = 0.1/12.5 = 0.008
    //   θ2 = 0 since |z| = 0.05 <= λ1
    // step 2, g = [0.5, 0.1, -0.02]:
    //   coord 0: σ = (√1.25 - 1)/0.1 = 1.1803399;  z = 1 + 0.5 + 1.1803399·0.0439024 = 1.5518198;  n = 1.25
    //            θ = -(1.5518198 - 0.1)/((1 + 1.1180340)/0.1 + 0.5) = -0.0669648081
    //   coord 1: σ = (√0.05 - 0.2)/0.1 = 0.2360680;  z = -0.2 + 0.1 - 0.2360680·0.008 = -0.1018885;  n = 0.05
    //            θ = -(-0.1018885 + 0.1)/((1 + 0.2236068)/0.1 + 0.5) = 0.000148283114
    //   coord 2: z = 0.05 - 0.02 - σ·0 = 0.03 -> θ = 0 (still weak)
    // step 3, g = [-2, 0.3, 0.01]: θ = [-0.0071076485, -0.0068733715, 0];  z = [0.3374870, 0.1978882, 0.04]
    Ftrl<T> opt({.alpha = 0.1, .beta = 1.0, .l1 = 0.1, .l2 = 0.5});
    auto theta = tile<T>({0.0, 0.0, 0.0}, k);
    step(opt, p, theta, tile<T>({1.0, -0.2, 0.05}, k));
    check_values(theta, {-0.043902439024390244, 0.008, 0.0});
    check_values(state_of(opt.state(), "z"), {1.0, -0.2, 0.05});
    check_values(state_of(opt.state(), "n"), {1.0, 0.04, 0.0025});
    step(opt, p, theta, tile<T>({0.5, 0.1, -0.02}, k));
    check_values(theta, {-0.066964808092151209, 0.00014828311401405243, 0.0});
    check_values(state_of(opt.state(), "z"), {1.5518197999389782, -0.10188854381999832, 0.03});
    step(opt, p, theta, tile<T>({-2.0, 0.3, 0.01}, k));
    check_values(theta, {-0.00710764847899051, -0.0068733715490779558, 0.0});
    check_values(state_of(opt.state(), "z"), {0.33748699486995913, 0.19788820269396792, 0.04});
    check_values(state_of(opt.state(), "n"), {5.25, 0.14, 0.003});
    for (std::size_t i = 2; i < theta.size(); i += 3) CHECK(theta[i] == T(0));  // exactly zero, not tiny
  });
}

TEMPLATE_TEST_CASE("FTRL with l1 > 0 keeps weak coordinates exactly zero over many steps", "[optim][ftrl]", float,
                   double) {
  using T = TestType;
  // Coordinates whose gradients sum to at most λ1 in magnitude never leave 0: with θ = 0 we have
  // σθ = 0, so z = Σ g, and |z| <= λ1 => θ = 0 exactly. Strong coordinates become non-zero.
  Ftrl<T> opt({.alpha = 0.05, .beta = 1.0, .l1 = 1.0, .l2 = 0.1});
  std::vector<T> theta(64, T(0)), g(64);
  for (int s = 0; s < 20; ++s) {
    for (std::size_t i = 0; i < g.size(); ++i)
      g[i] = (i % 2 == 0) ? T(((s % 2) ? -0.09 : 0.09) * (1.0 + 0.01 * double(i))) : T(0.3);
    step(opt, cpu_simd{}, theta, g);
  }
  for (std::size_t i = 0; i < theta.size(); ++i) {
    if (i % 2 == 0)
      CHECK(theta[i] == T(0));
    else
      CHECK(theta[i] < T(0));
  }
}

// ---------------------------------------------------------------------------------------------
// Interface: lazy init, lr, step count, the wrapper
// ---------------------------------------------------------------------------------------------

TEST_CASE("Dense optimizers check sizes, create state lazily and expose lr and step count", "[optim]") {
  Adam<double> opt({.lr = 0.1});
  CHECK_FALSE(opt.initialized());
  std::vector<double> theta{1.0, -0.5}, g{0.2, -0.1};
  step(opt, cpu_scalar{}, theta, g);
  CHECK(opt.initialized());
  CHECK(opt.size() == 2);
  std::vector<double> other(3, 0.0), other_g(3, 0.0);
  CHECK_THROWS_AS(step(opt, cpu_scalar{}, other, other_g), Error);  // state is for 2 parameters
  std::vector<double> short_g{0.1};
  CHECK_THROWS_AS(opt.step(cpu_scalar{}, std::span<double>(theta), std::span<const double>(short_g)), Error);

  opt.set_lr(0.05);
  CHECK(opt.lr() == 0.05);
  opt.set_lr(0.0);  // allowed at run time (warm-up from 0)
  CHECK_THROWS_AS(opt.set_lr(-1.0), Error);
  CHECK_THROWS_AS(opt.set_lr(std::nan("")), Error);
  opt.set_step_count(10);
  CHECK(opt.step_count() == 10);
  CHECK_THROWS_AS(opt.set_step_count(-1), Error);

  // init() resets: a fresh Adam and an init()-ed one give the same first step.
  opt.set_lr(0.1);
  opt.init(2);
  std::vector<double> theta2{1.0, -0.5};
  step(opt, cpu_scalar{}, theta2, g);
  CHECK(close(theta2[0], 0.90000000499999975));
}

TEMPLATE_TEST_CASE("DenseOptimizer picks the optimizer by name and matches it exactly", "[optim][dense]", float,
                   double) {
  using T = TestType;
  CHECK(parse_dense_kind("sgd") == DenseKind::sgd);
  CHECK(parse_dense_kind("AdamW") == DenseKind::adamw);
  CHECK(parse_dense_kind("ADAGRAD") == DenseKind::adagrad);
  CHECK(parse_dense_kind("ftrl") == DenseKind::ftrl);
  CHECK_THROWS_AS(parse_dense_kind("adamax"), Error);
  CHECK_THROWS_WITH(DenseOptimizer<T>("rmsprop"), Catch::Contains("unknown dense optimizer 'rmsprop'"));

  DenseOptimizer<T> w("adamw");
  CHECK(w.kind() == DenseKind::adamw);
  CHECK(w.name() == "adamw");
  CHECK(w.lr() == 1e-3);
  CHECK(w.template get<Adam<T>>().options().weight_decay == 1e-2);  // PyTorch's AdamW default
  CHECK(w.template get<Adam<T>>().options().decoupled);

  const std::vector<T> g1{T(0.2), T(-0.1), T(0.3)}, g2{T(0.1), T(0.3), T(-0.2)};
  auto run = [&](auto& opt) {
    std::vector<T> theta{T(1), T(-0.5), T(0.25)};
    step(opt, cpu_simd{}, theta, g1);
    step(opt, cpu_simd{}, theta, g2);
    return theta;
  };
  {
    DenseOptimizerOptions o;
    o.kind = DenseKind::sgd;
    o.lr = 0.1;
    o.momentum = 0.9;
    o.nesterov = true;
    DenseOptimizer<T> a(o);
    Sgd<T> b({.lr = 0.1, .momentum = 0.9, .nesterov = true});
    CHECK(run(a) == run(b));
    CHECK(a.step_count() == 2);
    CHECK(a.state().size() == 1);
  }
  {
    DenseOptimizerOptions o = DenseOptimizerOptions::named("adam");
    o.lr = 0.01;
    DenseOptimizer<T> a(o);
    Adam<T> b({.lr = 0.01});
    CHECK(run(a) == run(b));
    CHECK(a.state().size() == 2);
  }
  {
    DenseOptimizerOptions o = DenseOptimizerOptions::named("adagrad");
    o.initial_accumulator = 0.1;
    DenseOptimizer<T> a(o);
    Adagrad<T> b({.lr = 1e-2, .initial_accumulator = 0.1});
    CHECK(run(a) == run(b));
  }
  {
    DenseOptimizerOptions o = DenseOptimizerOptions::named("ftrl");
    o.l1 = 0.01;
    DenseOptimizer<T> a(o);
    Ftrl<T> b({.alpha = 0.1, .beta = 1.0, .l1 = 0.01});
    CHECK(run(a) == run(b));
    CHECK(a.state()[0].name == "z");
    CHECK(a.state()[1].name == "n");
  }
}

TEST_CASE("Optimizers reject bad options with ctrnet::Error", "[optim][errors]") {
  CHECK_THROWS_AS(Sgd<float>({.lr = 0.0}), Error);
  CHECK_THROWS_AS(Sgd<float>({.lr = -0.1}), Error);
  CHECK_THROWS_AS(Sgd<float>({.lr = 0.1, .momentum = 1.0}), Error);
  CHECK_THROWS_AS(Sgd<float>({.lr = 0.1, .momentum = -0.5}), Error);
  CHECK_THROWS_AS(Sgd<float>({.lr = 0.1, .nesterov = true}), Error);  // no momentum
  CHECK_THROWS_AS(Sgd<float>({.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}), Error);
  CHECK_THROWS_AS(Sgd<float>({.lr = 0.1, .weight_decay = -1.0}), Error);

  CHECK_THROWS_WITH(Adam<float>({.lr = 0.0}), Catch::Contains("learning rate must be"));
  CHECK_THROWS_AS(Adam<float>({.lr = std::nan("")}), Error);
  CHECK_THROWS_WITH(Adam<float>({.beta1 = 1.0}), Catch::Contains("beta1 must be in [0, 1)"));
  CHECK_THROWS_AS(Adam<float>({.beta1 = -0.1}), Error);
  CHECK_THROWS_AS(Adam<float>({.beta2 = 1.5}), Error);
  CHECK_THROWS_AS(Adam<float>({.eps = 0.0}), Error);
  CHECK_THROWS_AS(Adam<float>({.weight_decay = -0.01}), Error);
  CHECK_THROWS_AS(AdamW<float>({.lr = -1.0}), Error);
  CHECK_THROWS_AS(AdamW<float>({.beta2 = 1.0}), Error);
  CHECK_NOTHROW(Adam<float>({.beta1 = 0.0}));

  CHECK_THROWS_AS(Adagrad<double>({.lr = 0.0}), Error);
  CHECK_THROWS_AS(Adagrad<double>({.lr = 0.1, .lr_decay = -1.0}), Error);
  CHECK_THROWS_AS(Adagrad<double>({.lr = 0.1, .initial_accumulator = -1.0}), Error);
  CHECK_THROWS_AS(Adagrad<double>({.lr = 0.1, .eps = 0.0}), Error);

  CHECK_THROWS_AS(Ftrl<double>({.alpha = 0.0}), Error);
  CHECK_THROWS_AS(Ftrl<double>({.alpha = 0.1, .l1 = -1.0}), Error);
  CHECK_THROWS_AS(Ftrl<double>({.alpha = 0.1, .beta = 0.0}), Error);  // would divide by zero when n = 0
  CHECK_NOTHROW(Ftrl<double>({.alpha = 0.1, .beta = 0.0, .l2 = 1.0}));

  DenseOptimizerOptions o;
  o.kind = DenseKind::adam;
  o.lr = 0.0;
  CHECK_THROWS_AS(DenseOptimizer<float>(o), Error);
  o.lr.reset();
  o.beta2 = 1.0;
  CHECK_THROWS_AS(DenseOptimizer<float>(o), Error);
  o = DenseOptimizerOptions::named("ftrl");
  o.weight_decay = 0.1;
  CHECK_THROWS_WITH(DenseOptimizer<float>(o), Catch::Contains("use l2"));
}

TEST_CASE("FTRL with alpha set to 0 leaves values and state unchanged", "[optim][ftrl]") {
  Ftrl<double> opt({.alpha = 0.1});
  std::vector<double> theta{0.5, -0.5}, g{1.0, -1.0};
  opt.set_lr(0.0);
  step(opt, cpu_scalar{}, theta, g);
  CHECK(theta == std::vector<double>{0.5, -0.5});
  CHECK(state_of(opt.state(), "n") == std::vector<double>{0.0, 0.0});
  CHECK(opt.step_count() == 1);
}
