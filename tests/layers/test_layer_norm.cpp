// LayerNorm: a hand-computed example, gradient checks (whole rows and per token), parity of
// cpu_simd with cpu_scalar, and independence of the thread count.
#include <catch2/catch.hpp>

#include "attention_test_util.hpp"
#include "ctrnet/layers/layer_norm.hpp"

using namespace ctrnet;
using namespace attn_test;

TEST_CASE("LayerNorm forward matches a hand-computed example", "[layer_norm]") {
  // x = [1, 2, 3, 6]: μ = 3, σ² = (4 + 1 + 0 + 9) / 4 = 3.5, x̂ = (x − 3) / √(3.5 + ε)
  LayerNorm ln(0, 1e-5);
  ParamRegistry reg;
  REQUIRE(ln.build(4, reg) == 4);
  REQUIRE(reg.params().size() == 2);
  CHECK(reg.params()[0].name == "weight");
  ModelParams<double> p;
  p.initialize(reg, 1);
  p.view(ln.weight())(0, 1) = 2.0;  // γ = [1, 2, 1, 1]
  p.view(ln.bias())(0, 3) = 0.5;    // β = [0, 0, 0, 0.5]
  Matrix<double> x(1, 4), y(1, 4);
  x(0, 0) = 1, x(0, 1) = 2, x(0, 2) = 3, x(0, 3) = 6;
  LayerNorm::Cache<double> c;
  ln.forward(cpu_scalar{}, p.weights(), x.cview(), y.view(), c);
  const double r = 1.0 / std::sqrt(3.5 + 1e-5);
  CHECK(y(0, 0) == Approx(-2 * r));
  CHECK(y(0, 1) == Approx(2 * -1 * r));
  CHECK(y(0, 2) == Approx(0.0).margin(1e-12));
  CHECK(y(0, 3) == Approx(3 * r + 0.5));
}

TEST_CASE("LayerNorm backward matches finite differences", "[layer_norm][gradcheck]") {
  for (index_t width : {0, 3}) {
    auto rep = ctrnet::testing::check_gradients(LayerNorm(width), 4, 6);
    INFO("width " << width << "\n" << rep.summary());
    CHECK(rep.ok());
  }
}

TEST_CASE("LayerNorm cpu_simd matches cpu_scalar, any thread count", "[layer_norm][simd]") {
  // odd widths exercise the scalar tails; 300 rows × 4 tokens cross the 64-row blocks of dγ
  for (index_t width : {5, 16, 37}) {
    const Matrix<float> x = to_float(random_input(300, 4 * width, 3));
    for (int threads : {1, 2}) {
      INFO("width " << width << ", threads " << threads);
      check_parity(LayerNorm(width), x, false, threads);
    }
  }
}

TEST_CASE("LayerNorm on cpu_simd is bitwise the same on 1 and 2 threads", "[layer_norm][simd]") {
  check_thread_invariance(LayerNorm(32), to_float(random_input(2048, 4 * 32, 5)));
}
