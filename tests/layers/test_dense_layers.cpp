// Gradient checks (double, cpu_scalar) for the dense layers: Linear, activations, Dropout, MLP.
#include <catch2/catch.hpp>

#include "ctrnet/layers/activation.hpp"
#include "ctrnet/layers/dropout.hpp"
#include "ctrnet/layers/linear.hpp"
#include "ctrnet/layers/mlp.hpp"
#include "ctrnet/testing/gradcheck.hpp"

using namespace ctrnet;
using ctrnet::testing::check_gradients;

TEST_CASE("Linear backward matches finite differences for every activation", "[linear][gradcheck]") {
  for (Activation a : {Activation::identity, Activation::relu, Activation::leaky_relu, Activation::sigmoid,
                       Activation::tanh, Activation::gelu}) {
    Linear::Options o;
    o.units = 5;
    o.activation = a;
    auto rep = check_gradients(Linear(o), 4, 7);
    INFO(to_string(a) << "\n" << rep.summary());
    CHECK(rep.ok());
  }
}

TEST_CASE("Linear without bias declares only a weight", "[linear]") {
  Linear::Options o;
  o.units = 3;
  o.bias = false;
  Linear l(o);
  ParamRegistry reg;
  CHECK(l.build(4, reg) == 3);
  REQUIRE(reg.params().size() == 1);
  CHECK(reg.params()[0].name == "weight");
  auto rep = check_gradients(Linear(o), 3, 4);
  INFO(rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("Linear forward matches a hand-computed example", "[linear]") {
  Linear l(Linear::Options{.units = 2});
  ParamRegistry reg;
  l.build(3, reg);
  ModelParams<double> p;
  p.initialize(reg, 1);
  auto W = p.view(l.weight());
  // W = [[1, 2, 3], [-1, 0, 1]], b = [0.5, -0.5]
  double wv[] = {1, 2, 3, -1, 0, 1};
  for (int i = 0; i < 6; ++i) W.data[i] = wv[i];
  p.view(l.bias())(0, 0) = 0.5;
  p.view(l.bias())(0, 1) = -0.5;
  Matrix<double> x(1, 3);
  x(0, 0) = 1; x(0, 1) = 1; x(0, 2) = 2;
  Matrix<double> y(1, 2);
  Linear::Cache<double> c;
  l.forward(cpu_scalar{}, p.weights(), x.cview(), y.view(), c);
  CHECK(y(0, 0) == Approx(1 + 2 + 6 + 0.5));
  CHECK(y(0, 1) == Approx(-1 + 0 + 2 - 0.5));
}

TEST_CASE("Activation layers backward match finite differences", "[activation][gradcheck]") {
  auto check = [](auto layer) {
    auto rep = check_gradients(layer, 3, 6);
    INFO(rep.summary());
    CHECK(rep.ok());
  };
  check(ReLU{});
  check(LeakyReLU{0.2});
  check(Sigmoid{});
  check(Tanh{});
  check(GELU{});
  check(Identity{});
}

TEST_CASE("Dropout backward matches finite differences with its fixed mask", "[dropout][gradcheck]") {
  ctrnet::testing::GradCheckOptions opt;
  opt.ctx.training = true;
  opt.ctx.seed = 7;
  auto rep = check_gradients(Dropout(0.4), 5, 8, opt);
  INFO(rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("Dropout is the identity at inference and drops about p in training", "[dropout]") {
  Dropout d(0.3);
  ParamRegistry reg;
  d.build(100, reg);
  Matrix<float> x(50, 100, 1.0f), y(50, 100);
  Dropout::Cache<float> c;
  ModelParams<float> p;
  d.forward(cpu_scalar{}, p.weights(), x.cview(), y.view(), c, Context{});
  for (index_t i = 0; i < y.size(); ++i) REQUIRE(y.data()[i] == 1.0f);
  Context ctx{.training = true, .seed = 3};
  d.forward(cpu_scalar{}, p.weights(), x.cview(), y.view(), c, ctx);
  index_t zeros = 0;
  for (index_t i = 0; i < y.size(); ++i) {
    if (y.data()[i] == 0.0f) ++zeros;
    else REQUIRE(y.data()[i] == Approx(1.0 / 0.7));
  }
  CHECK(double(zeros) / double(y.size()) == Approx(0.3).margin(0.03));
}

TEST_CASE("Dropout masks depend on the global row, not on how the batch is split", "[dropout]") {
  Dropout d(0.5);
  ParamRegistry reg;
  d.build(16, reg);
  ModelParams<float> p;
  Matrix<float> x(8, 16, 1.0f), full(8, 16), part(4, 16);
  Dropout::Cache<float> c;
  d.forward(cpu_scalar{}, p.weights(), x.cview(), full.view(), c, Context{.training = true, .seed = 9, .step = 2});
  d.forward(cpu_scalar{}, p.weights(), x.cview().row_block(4, 4), part.view(), c,
            Context{.training = true, .seed = 9, .step = 2, .first_row = 4});
  for (index_t r = 0; r < 4; ++r)
    for (index_t j = 0; j < 16; ++j) REQUIRE(part(r, j) == full(r + 4, j));
}

TEST_CASE("MLP backward matches finite differences, with and without dropout", "[mlp][gradcheck]") {
  for (Activation a : {Activation::relu, Activation::gelu, Activation::tanh}) {
    MLP::Options o;
    o.widths = {6, 5, 3};
    o.activation = a;
    auto rep = check_gradients(MLP(o), 4, 7);
    INFO(to_string(a) << "\n" << rep.summary());
    CHECK(rep.ok());
  }
  MLP::Options o;
  o.widths = {6, 4};
  o.dropout = 0.3;
  o.last_activation = Activation::identity;
  ctrnet::testing::GradCheckOptions opt;
  opt.ctx.training = true;
  auto rep = check_gradients(MLP(o), 5, 3, opt);
  INFO(rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("MLP names its parameters by layer index", "[mlp]") {
  MLP m(std::vector<index_t>{4, 2});
  ParamRegistry reg;
  auto s = reg.scope("deep");
  CHECK(m.build(3, reg) == 2);
  REQUIRE(reg.params().size() == 4);
  CHECK(reg.params()[0].name == "deep.0.weight");
  CHECK(reg.params()[3].name == "deep.1.bias");
}
