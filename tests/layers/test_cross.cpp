// Cross layers of DCN / DCN-V2 (CrossNet<CrossV1>, CrossNet<CrossV2> full and low rank, CrossNet<CrossMix>):
// gradient checks in double on cpu_scalar, hand-computed 3-dimensional examples, low rank with
// U V = W equal to full rank, and cpu_simd against cpu_scalar for every cross kernel and for the
// whole network's forward and backward (float, odd widths).
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/kernels/cross.hpp"
#include "ctrnet/layers/cross.hpp"
#include "ctrnet/policy/cpu_simd.hpp"
#include "ctrnet/testing/gradcheck.hpp"

using namespace ctrnet;
using ctrnet::testing::check_gradients;

namespace {

template <class T>
Matrix<T> random_matrix(index_t rows, index_t cols, Rng& rng, double lo = -1.0, double hi = 1.0) {
  Matrix<T> m(rows, cols);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = T(rng.uniform(lo, hi));
  return m;
}

// |a - b| <= atol + rtol |b| for every element; reports the first failure.
template <class T>
bool close(ConstMatrixView<T> a, ConstMatrixView<T> b, double rtol = 1e-4, double atol = 1e-5) {
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
bool close(const std::vector<T>& a, const std::vector<T>& b, double rtol = 1e-4, double atol = 1e-5) {
  return a.size() == b.size() &&
         close<T>(ConstMatrixView<T>(a.data(), 1, index_t(a.size())), ConstMatrixView<T>(b.data(), 1, index_t(b.size())),
                  rtol, atol);
}

CrossNet<CrossV2> v2_net(index_t depth, index_t rank) {
  CrossNet<CrossV2>::Options o;
  o.depth = depth;
  o.layer.rank = rank;
  return CrossNet<CrossV2>(o);
}
CrossNet<CrossV1> v1_net(index_t depth) { return CrossNet<CrossV1>(CrossNet<CrossV1>::Options{depth, {}}); }
CrossNet<CrossMix> mix_net(index_t depth, index_t experts, index_t rank, Activation a) {
  CrossNet<CrossMix>::Options o;
  o.depth = depth;
  o.layer.experts = experts;
  o.layer.rank = rank;
  o.layer.activation = a;
  return CrossNet<CrossMix>(o);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Gradient checks
// ---------------------------------------------------------------------------------------------

TEST_CASE("CrossNet<CrossV1> backward matches finite differences", "[cross][gradcheck]") {
  for (index_t depth : {1, 3}) {
    auto rep = check_gradients(v1_net(depth), 4, 5);
    INFO("depth " << depth << "\n" << rep.summary());
    CHECK(rep.ok());
  }
}

TEST_CASE("CrossNet<CrossV2> backward matches finite differences, full and low rank", "[cross][gradcheck]") {
  for (index_t depth : {1, 3})
    for (index_t rank : {0, 2}) {
      auto rep = check_gradients(v2_net(depth, rank), 4, 5);
      INFO("depth " << depth << ", rank " << rank << "\n" << rep.summary());
      CHECK(rep.ok());
    }
}

TEST_CASE("CrossNet<CrossMix> backward matches finite differences", "[cross][gradcheck]") {
  for (index_t depth : {1, 3}) {
    auto rep = check_gradients(mix_net(depth, 3, 2, Activation::tanh), 4, 5);
    INFO("depth " << depth << "\n" << rep.summary());
    CHECK(rep.ok());
  }
  // ReLU: central differences are exact away from the kinks, which random inputs almost surely avoid.
  auto rep = check_gradients(mix_net(2, 2, 3, Activation::relu), 3, 4);
  INFO("relu\n" << rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("CrossNet backward without an input gradient still fills the parameter gradients", "[cross][gradcheck]") {
  ctrnet::testing::GradCheckOptions opt;
  opt.check_input = false;
  auto rep = check_gradients(v2_net(2, 0), 3, 4, opt);
  INFO(rep.summary());
  CHECK(rep.ok());
  auto rep1 = check_gradients(v1_net(2), 3, 4, opt);
  INFO(rep1.summary());
  CHECK(rep1.ok());
}

// ---------------------------------------------------------------------------------------------
// Hand-computed examples
// ---------------------------------------------------------------------------------------------

TEST_CASE("CrossV2 forward matches a hand-computed example", "[cross]") {
  // x0 = [1, 2, -1], W = [[1, 0, 1], [0, 1, 0], [2, 0, -1]], b = [0.5, -1, 0]
  // layer 0 (x_0 = x0):  W x0 = [1 - 1, 2, 2 + 1] = [0, 2, 3];  + b = [0.5, 1, 3]
  //   x0 ⊙ (W x0 + b) = [0.5, 2, -3];  x_1 = [0.5, 2, -3] + [1, 2, -1] = [1.5, 4, -4]
  auto net = v2_net(1, 0);
  ParamRegistry reg;
  REQUIRE(net.build(3, reg) == 3);
  REQUIRE(reg.params().size() == 2);
  CHECK(reg.params()[0].name == "0.weight");
  CHECK(reg.params()[1].name == "0.bias");
  ModelParams<double> p;
  p.initialize(reg, 1);
  const double wv[] = {1, 0, 1, 0, 1, 0, 2, 0, -1}, bv[] = {0.5, -1, 0};
  for (int i = 0; i < 9; ++i) p.view(net.layer(0).weight()).data[i] = wv[i];
  for (int i = 0; i < 3; ++i) p.view(net.layer(0).bias()).data[i] = bv[i];
  Matrix<double> x(1, 3), y(1, 3);
  x(0, 0) = 1; x(0, 1) = 2; x(0, 2) = -1;
  CrossNet<CrossV2>::Cache<double> c;
  net.forward(cpu_scalar{}, p.weights(), x.cview(), y.view(), c);
  CHECK(y(0, 0) == Approx(1.5));
  CHECK(y(0, 1) == Approx(4.0));
  CHECK(y(0, 2) == Approx(-4.0));
}

TEST_CASE("CrossV1 forward matches a hand-computed example, two layers over the same x0", "[cross]") {
  // x0 = [1, 2, -1]; both layers: w = [1, -1, 2], b = [0.5, 0, -1]
  // layer 0: s = x0ᵀ w = 1 - 2 - 2 = -3;  x_1 = x0·(-3) + b + x0 = [-3+0.5+1, -6+0+2, 3-1-1] = [-1.5, -4, 1]
  // layer 1: s = x_1ᵀ w = -1.5 + 4 + 2 = 4.5;
  //          x_2 = x0·4.5 + b + x_1 = [4.5+0.5-1.5, 9+0-4, -4.5-1+1] = [3.5, 5, -4.5]
  auto net = v1_net(2);
  ParamRegistry reg;
  REQUIRE(net.build(3, reg) == 3);
  REQUIRE(reg.params().size() == 4);
  CHECK(reg.params()[2].name == "1.weight");
  CHECK(reg.params()[3].name == "1.bias");
  ModelParams<double> p;
  p.initialize(reg, 1);
  const double wv[] = {1, -1, 2}, bv[] = {0.5, 0, -1};
  for (index_t l = 0; l < 2; ++l)
    for (int i = 0; i < 3; ++i) {
      p.view(net.layer(l).weight()).data[i] = wv[i];
      p.view(net.layer(l).bias()).data[i] = bv[i];
    }
  Matrix<double> x(1, 3), y(1, 3);
  x(0, 0) = 1; x(0, 1) = 2; x(0, 2) = -1;
  CrossNet<CrossV1>::Cache<double> c;
  net.forward(cpu_scalar{}, p.weights(), x.cview(), y.view(), c);
  CHECK(y(0, 0) == Approx(3.5));
  CHECK(y(0, 1) == Approx(5.0));
  CHECK(y(0, 2) == Approx(-4.5));
}

TEST_CASE("CrossMix forward matches a hand-computed example", "[cross]") {
  // d = 3, K = 2 experts of rank 1, σ = ReLU, x0 = x_0 = [1, 2, -1]
  // gates: G = [[0, 0, 0], [ln 3, 0, 0]] -> logits [0, ln 3] -> g = softmax = [1/4, 3/4]
  // expert 1: V_1 = [1, 0, 0] -> 1, σ -> 1; C_1 = [2] -> 2, σ -> 2; U_1 = [1, 0, 1]ᵀ -> E_1 = [2, 0, 2]
  // expert 2: V_2 = [0, 1, 0] -> 2, σ -> 2; C_2 = [-1] -> -2, σ -> 0; U_2 = [1, 1, 1]ᵀ -> E_2 = [0, 0, 0]
  // t = 1/4 [2, 0, 2] + 3/4 [0, 0, 0] = [0.5, 0, 0.5];  b = [0, 1, 0] -> t + b = [0.5, 1, 0.5]
  // x0 ⊙ (t + b) = [0.5, 2, -0.5];  x_1 = [0.5, 2, -0.5] + [1, 2, -1] = [1.5, 4, -1.5]
  auto net = mix_net(1, 2, 1, Activation::relu);
  ParamRegistry reg;
  REQUIRE(net.build(3, reg) == 3);
  std::vector<std::string> names;
  for (const auto& i : reg.params()) names.push_back(i.name);
  CHECK(names == std::vector<std::string>{"0.gate", "0.v", "0.c", "0.u", "0.bias"});
  ModelParams<double> p;
  p.initialize(reg, 1);
  const auto& l = net.layer(0);
  const double gv[] = {0, 0, 0, std::log(3.0), 0, 0}, vv[] = {1, 0, 0, 0, 1, 0}, cv[] = {2, -1},
               uv[] = {1, 0, 1, 1, 1, 1}, bv[] = {0, 1, 0};
  for (int i = 0; i < 6; ++i) {
    p.view(l.gate()).data[i] = gv[i];
    p.view(l.v()).data[i] = vv[i];
    p.view(l.u()).data[i] = uv[i];
  }
  for (int i = 0; i < 2; ++i) p.view(l.c()).data[i] = cv[i];
  for (int i = 0; i < 3; ++i) p.view(l.bias()).data[i] = bv[i];
  Matrix<double> x(1, 3), y(1, 3);
  x(0, 0) = 1; x(0, 1) = 2; x(0, 2) = -1;
  CrossNet<CrossMix>::Cache<double> c;
  net.forward(cpu_scalar{}, p.weights(), x.cview(), y.view(), c);
  CHECK(y(0, 0) == Approx(1.5));
  CHECK(y(0, 1) == Approx(4.0));
  CHECK(y(0, 2) == Approx(-1.5));
}

TEST_CASE("Low-rank CrossV2 with r = d and U V = W equals full rank", "[cross]") {
  const index_t d = 4, rows = 6, depth = 2;
  auto full = v2_net(depth, 0);
  auto low = v2_net(depth, d);
  ParamRegistry rf, rl;
  full.build(d, rf);
  low.build(d, rl);
  CHECK(rl.params()[0].name == "0.u");
  CHECK(rl.params()[1].name == "0.v");
  CHECK(rl.params()[2].name == "0.bias");
  ModelParams<double> pf, pl;
  pf.initialize(rf, 1);
  pl.initialize(rl, 1);
  Rng rng(3);
  for (index_t l = 0; l < depth; ++l) {
    auto U = pl.view(low.layer(l).u()), V = pl.view(low.layer(l).v()), W = pf.view(full.layer(l).weight());
    for (index_t i = 0; i < U.size(); ++i) U.data[i] = rng.uniform(-1, 1);
    for (index_t i = 0; i < V.size(); ++i) V.data[i] = rng.uniform(-1, 1);
    for (index_t i = 0; i < d; ++i)
      for (index_t j = 0; j < d; ++j) {
        double s = 0;
        for (index_t k = 0; k < d; ++k) s += U(i, k) * V(k, j);
        W(i, j) = s;
      }
    auto bl = pl.view(low.layer(l).bias()), bf = pf.view(full.layer(l).bias());
    for (index_t j = 0; j < d; ++j) bl.data[j] = bf.data[j] = rng.uniform(-1, 1);
  }
  Matrix<double> x = random_matrix<double>(rows, d, rng), dy = random_matrix<double>(rows, d, rng);
  Matrix<double> yf(rows, d), yl(rows, d), dxf(rows, d, 0.0), dxl(rows, d, 0.0);
  CrossNet<CrossV2>::Cache<double> cf, cl;
  full.forward(cpu_scalar{}, pf.weights(), x.cview(), yf.view(), cf);
  low.forward(cpu_scalar{}, pl.weights(), x.cview(), yl.view(), cl);
  CHECK(close<double>(yl.cview(), yf.cview(), 1e-10, 1e-12));
  ModelGrads<double> gf, gl;
  gf.allocate(rf);
  gl.allocate(rl);
  full.backward(cpu_scalar{}, pf.weights(), cf, dy.cview(), dxf.view(), gf.gradients());
  low.backward(cpu_scalar{}, pl.weights(), cl, dy.cview(), dxl.view(), gl.gradients());
  CHECK(close<double>(dxl.cview(), dxf.cview(), 1e-10, 1e-12));
  for (index_t l = 0; l < depth; ++l)
    CHECK(close<double>(gl.view(low.layer(l).bias()), gf.view(full.layer(l).bias()), 1e-10, 1e-12));
}

TEST_CASE("CrossNet rejects a depth below 1", "[cross][errors]") {
  ParamRegistry reg;
  auto s = reg.scope("cross");
  auto net = v2_net(0, 0);
  CHECK_THROWS_WITH(net.build(3, reg), Catch::Contains("depth must be at least 1"));
  auto neg = v2_net(1, -2);
  CHECK_THROWS_WITH(neg.build(3, reg), Catch::Contains("rank must be >= 0"));
}

// ---------------------------------------------------------------------------------------------
// cpu_simd against cpu_scalar
// ---------------------------------------------------------------------------------------------

TEST_CASE("cpu_simd cross kernels match cpu_scalar", "[cross][simd]") {
  for (index_t d : {7, 33}) {
    INFO("d = " << d);
    const index_t rows = 5;
    Rng rng(static_cast<std::uint64_t>(d));
    Matrix<float> x0 = random_matrix<float>(rows, d, rng), t = random_matrix<float>(rows, d, rng),
                  xl = random_matrix<float>(rows, d, rng), dy = random_matrix<float>(rows, d, rng),
                  s = random_matrix<float>(rows, 1, rng);
    std::vector<float> b(static_cast<std::size_t>(d));
    for (auto& v : b) v = float(rng.uniform(-1, 1));
    const cpu_scalar ps;
    const cpu_simd pv;
    for (bool with_bias : {true, false}) {
      const float* bp = with_bias ? b.data() : nullptr;
      Matrix<float> ya(rows, d), yb(rows, d);
      kernels::cross_v2_forward(ps, x0.cview(), t.cview(), bp, xl.cview(), ya.view());
      kernels::cross_v2_forward(pv, x0.cview(), t.cview(), bp, xl.cview(), yb.view());
      CHECK(close<float>(yb.cview(), ya.cview()));
      // Backward: pre-filled accumulators prove +=.
      Matrix<float> dta(rows, d, 7.f), dtb(rows, d, -7.f);
      Matrix<float> dx0a = random_matrix<float>(rows, d, rng), dxla = random_matrix<float>(rows, d, rng);
      Matrix<float> dx0b = dx0a, dxlb = dxla;
      std::vector<float> dba(static_cast<std::size_t>(d), 0.25f), dbb = dba;
      kernels::cross_v2_backward_data(ps, x0.cview(), t.cview(), bp, dy.cview(), dta.view(), dba.data(), dx0a.view(),
                                      dxla.view());
      kernels::cross_v2_backward_data(pv, x0.cview(), t.cview(), bp, dy.cview(), dtb.view(), dbb.data(), dx0b.view(),
                                      dxlb.view());
      CHECK(close<float>(dtb.cview(), dta.cview()));
      CHECK(close<float>(dx0b.cview(), dx0a.cview()));
      CHECK(close<float>(dxlb.cview(), dxla.cview()));
      CHECK(close(dbb, dba));
    }
    Matrix<float> ya(rows, d), yb(rows, d);
    kernels::cross_v1_forward(ps, x0.cview(), s.cview(), b.data(), xl.cview(), ya.view());
    kernels::cross_v1_forward(pv, x0.cview(), s.cview(), b.data(), xl.cview(), yb.view());
    CHECK(close<float>(yb.cview(), ya.cview()));
    Matrix<float> dsa(rows, 1, 3.f), dsb(rows, 1, -3.f);
    Matrix<float> dx0a = random_matrix<float>(rows, d, rng), dxla = random_matrix<float>(rows, d, rng);
    Matrix<float> dx0b = dx0a, dxlb = dxla;
    std::vector<float> dba(static_cast<std::size_t>(d), -0.5f), dbb = dba;
    kernels::cross_v1_backward_data(ps, x0.cview(), s.cview(), dy.cview(), dsa.view(), dba.data(), dx0a.view(),
                                    dxla.view());
    kernels::cross_v1_backward_data(pv, x0.cview(), s.cview(), dy.cview(), dsb.view(), dbb.data(), dx0b.view(),
                                    dxlb.view());
    CHECK(close<float>(dsb.cview(), dsa.cview()));
    CHECK(close<float>(dx0b.cview(), dx0a.cview()));
    CHECK(close<float>(dxlb.cview(), dxla.cview()));
    CHECK(close(dbb, dba));
    // Empty dx0 / dxl views are skipped.
    kernels::cross_v1_backward_data(pv, x0.cview(), s.cview(), dy.cview(), dsb.view(), dbb.data(), MatrixView<float>{},
                                    MatrixView<float>{});
    Matrix<float> dt(rows, d);
    kernels::cross_v2_backward_data(pv, x0.cview(), t.cview(), b.data(), dy.cview(), dt.view(), dbb.data(),
                                    MatrixView<float>{}, MatrixView<float>{});
  }
}

namespace {
template <class Net>
void check_net_parity(Net net, index_t d) {
  const index_t rows = 9;
  ParamRegistry reg;
  net.build(d, reg);
  ModelParams<float> params;
  params.initialize(reg, 5);
  Rng rng(static_cast<std::uint64_t>(d) + 100);
  for (auto& v : params.dense) v = float(rng.uniform(-0.5, 0.5));
  Matrix<float> x = random_matrix<float>(rows, d, rng), dy = random_matrix<float>(rows, d, rng);
  Matrix<float> ya(rows, d), yb(rows, d), dxa(rows, d, 0.f), dxb(rows, d, 0.f);
  typename Net::template Cache<float> ca, cb;
  ModelGrads<float> ga, gb;
  ga.allocate(reg);
  gb.allocate(reg);
  net.forward(cpu_scalar{}, params.weights(), x.cview(), ya.view(), ca);
  net.forward(cpu_simd{}, params.weights(), x.cview(), yb.view(), cb);
  CHECK(close<float>(yb.cview(), ya.cview()));
  net.backward(cpu_scalar{}, params.weights(), ca, dy.cview(), dxa.view(), ga.gradients());
  net.backward(cpu_simd{}, params.weights(), cb, dy.cview(), dxb.view(), gb.gradients());
  CHECK(close<float>(dxb.cview(), dxa.cview()));
  for (const auto& info : reg.params()) {
    INFO(info.name);
    CHECK(close<float>(gb.view(info.handle), ga.view(info.handle)));
  }
}
}  // namespace

TEST_CASE("CrossNet forward and backward on cpu_simd match cpu_scalar", "[cross][simd]") {
  for (index_t d : {7, 33}) {
    INFO("d = " << d);
    check_net_parity(v1_net(3), d);
    check_net_parity(v2_net(3, 0), d);
    check_net_parity(v2_net(3, 3), d);
    check_net_parity(mix_net(3, 3, 4, Activation::relu), d);
    check_net_parity(mix_net(2, 2, 5, Activation::tanh), d);
  }
}

TEST_CASE("cpu_simd mixture kernels match cpu_scalar", "[cross][simd]") {
  for (index_t d : {5, 37}) {
    INFO("d = " << d);
    const index_t rows = 6, K = 3;
    Rng rng(static_cast<std::uint64_t>(d) + 7);
    Matrix<float> logits = random_matrix<float>(rows, K, rng), g(rows, K);
    kernels::softmax_rows_forward(cpu_scalar{}, logits.cview(), g.view());
    Matrix<float> E = random_matrix<float>(rows, K * d, rng), dt = random_matrix<float>(rows, d, rng);
    Matrix<float> ta(rows, d), tb(rows, d, 9.f);
    kernels::mixture_combine_forward(cpu_scalar{}, g.cview(), E.cview(), ta.view());
    kernels::mixture_combine_forward(cpu_simd{}, g.cview(), E.cview(), tb.view());
    CHECK(close<float>(tb.cview(), ta.cview()));
    Matrix<float> dEa(rows, K * d), dEb(rows, K * d, 5.f), dga(rows, K), dgb(rows, K, -5.f);
    kernels::mixture_combine_backward(cpu_scalar{}, g.cview(), E.cview(), dt.cview(), dEa.view(), dga.view());
    kernels::mixture_combine_backward(cpu_simd{}, g.cview(), E.cview(), dt.cview(), dEb.view(), dgb.view());
    CHECK(close<float>(dEb.cview(), dEa.cview()));
    CHECK(close<float>(dgb.cview(), dga.cview()));
  }
}

namespace {
/// Runs a CrossNet forward + backward on cpu_simd with `threads` threads; returns y, dx and the
/// gradients concatenated.
template <class Net>
std::vector<float> simd_run(const Net& net, const ParamRegistry& reg, const ModelParams<float>& params,
                            const Matrix<float>& x, const Matrix<float>& dy, int threads) {
  cpu_simd p;
  p.max_threads = threads;
  Matrix<float> y(x.rows(), x.cols()), dx(x.rows(), x.cols(), 0.f);
  typename Net::template Cache<float> c;
  ModelGrads<float> g;
  g.allocate(reg);
  net.forward(p, params.weights(), x.cview(), y.view(), c);
  net.backward(p, params.weights(), c, dy.cview(), dx.view(), g.gradients());
  std::vector<float> out(y.data(), y.data() + y.size());
  out.insert(out.end(), dx.data(), dx.data() + dx.size());
  out.insert(out.end(), g.dense.begin(), g.dense.end());
  return out;
}
}  // namespace

TEST_CASE("Cross layers on cpu_simd: multi-block GEMM epilogues and threaded kernels", "[cross][simd][threads]") {
  // 300 x 250 = 75k elements: the element-wise kernels split columns over threads, and the fused
  // GEMM epilogue runs on several row blocks of T. 128 x 520: one bias block of rows (the bias
  // gradient must not be summed by two threads at once). Results must match cpu_scalar and be
  // bitwise identical for 1 and 2 threads.
  index_t rows = 300, d = 250;
  auto check = [&](auto net) {
    ParamRegistry reg;
    net.build(d, reg);
    ModelParams<float> params;
    params.initialize(reg, 11);
    Rng rng(1234);
    Matrix<float> x = random_matrix<float>(rows, d, rng), dy = random_matrix<float>(rows, d, rng);
    const auto one = simd_run(net, reg, params, x, dy, 1);
    const auto two = simd_run(net, reg, params, x, dy, 2);
    CHECK(one == two);
    Matrix<float> y(rows, d), dx(rows, d, 0.f);
    typename decltype(net)::template Cache<float> c;
    ModelGrads<float> g;
    g.allocate(reg);
    net.forward(cpu_scalar{}, params.weights(), x.cview(), y.view(), c);
    net.backward(cpu_scalar{}, params.weights(), c, dy.cview(), dx.view(), g.gradients());
    std::vector<float> ref(y.data(), y.data() + y.size());
    ref.insert(ref.end(), dx.data(), dx.data() + dx.size());
    ref.insert(ref.end(), g.dense.begin(), g.dense.end());
    REQUIRE(ref.size() == one.size());
    double worst = 0;
    for (std::size_t i = 0; i < ref.size(); ++i)
      worst = std::max(worst, std::abs(double(one[i]) - ref[i]) / (1.0 + std::abs(double(ref[i]))));
    CHECK(worst < 2e-4);
  };
  check(v2_net(2, 0));
  check(v2_net(2, 16));
  check(mix_net(2, 8, 3, Activation::relu));
  check(v1_net(2));
  rows = 128;
  d = 520;
  for (int rep = 0; rep < 5; ++rep) check(v2_net(2, 0));
}
