// Sequential, Parallel (Concat, Sum), Stack, Residual and Named: gradient checks and wiring.
#include <catch2/catch.hpp>

#include "ctrnet/compose/named.hpp"
#include "ctrnet/compose/parallel.hpp"
#include "ctrnet/compose/residual.hpp"
#include "ctrnet/compose/sequential.hpp"
#include "ctrnet/compose/stack.hpp"
#include "ctrnet/layers/activation.hpp"
#include "ctrnet/layers/feature_input.hpp"
#include "ctrnet/layers/linear.hpp"
#include "ctrnet/layers/mlp.hpp"
#include "ctrnet/testing/gradcheck.hpp"

using namespace ctrnet;
using ctrnet::testing::check_gradients;

namespace {
Linear lin(index_t units, Activation a = Activation::identity) { return Linear(units, a); }
}  // namespace

TEST_CASE("Sequential chains layers and backward matches finite differences", "[sequential][gradcheck]") {
  using Net = Sequential<Linear, Tanh, Linear, GELU, Linear>;
  Net net(lin(6), Tanh{}, lin(5), GELU{}, lin(2));
  ParamRegistry reg;
  CHECK(net.build(4, reg) == 2);
  auto rep = check_gradients(net, 3, 4);
  INFO(rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("Parallel<Concat> concatenates branch outputs; gradients match", "[parallel][gradcheck]") {
  using Net = Parallel<Concat, Linear, Sequential<Linear, Sigmoid>, Identity>;
  Net net(lin(3), Sequential<Linear, Sigmoid>(lin(2), Sigmoid{}), Identity{});
  ParamRegistry reg;
  CHECK(net.build(4, reg) == 3 + 2 + 4);
  auto rep = check_gradients(net, 3, 4);
  INFO(rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("Parallel<Sum> adds branch outputs; gradients match; widths must agree", "[parallel][gradcheck]") {
  using Net = Parallel<Sum, Linear, Sequential<Linear, ReLU, Linear>>;
  Net net(lin(3, Activation::tanh), Sequential<Linear, ReLU, Linear>(lin(5), ReLU{}, lin(3)));
  auto rep = check_gradients(net, 4, 6);
  INFO(rep.summary());
  CHECK(rep.ok());

  Parallel<Sum, Linear, Linear> bad(lin(3), lin(4));
  ParamRegistry reg;
  CHECK_THROWS_WITH(bad.build(2, reg), Catch::Contains("branch 1 has width 4 but branch 0 has width 3"));
}

TEST_CASE("Stack repeats a layer a run-time number of times", "[stack][gradcheck]") {
  Stack<Linear> st(3, Linear::Options{.units = 4, .activation = Activation::tanh});
  ParamRegistry reg;
  auto s = reg.scope("cross");
  CHECK(st.build(4, reg) == 4);
  CHECK(st.depth() == 3);
  CHECK(reg.find("cross.2.weight") != nullptr);
  auto rep = check_gradients(Stack<Linear>(3, Linear::Options{.units = 4, .activation = Activation::tanh}), 3, 4);
  INFO(rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("Residual adds the input; gradients match; widths must agree", "[residual][gradcheck]") {
  auto rep = check_gradients(Residual<Linear>(lin(5, Activation::relu)), 4, 5);
  INFO(rep.summary());
  CHECK(rep.ok());
  auto rep2 = check_gradients(Residual<MLP>(MLP({7, 5}, Activation::gelu)), 3, 5);
  INFO(rep2.summary());
  CHECK(rep2.ok());
  Residual<Linear> bad(lin(3));
  ParamRegistry reg;
  CHECK_THROWS_WITH(bad.build(5, reg), Catch::Contains("maps width 5 to 3"));
}

TEST_CASE("Named scopes parameter names", "[named]") {
  Sequential<Named<MLP>, Named<Linear>> net(Named<MLP>("deep", MLP({4, 3})), Named<Linear>("logit", lin(1)));
  ParamRegistry reg;
  net.build(2, reg);
  std::vector<std::string> names;
  for (const auto& p : reg.params()) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"deep.0.weight", "deep.0.bias", "deep.1.weight", "deep.1.bias",
                                          "logit.weight", "logit.bias"});
}

TEST_CASE("Every composition satisfies the layer concept", "[concepts]") {
  STATIC_REQUIRE(DenseLayer<Sequential<Linear, ReLU>>);
  STATIC_REQUIRE(SparseLayer<Sequential<FeatureInput, MLP>>);
  STATIC_REQUIRE(SparseLayer<Parallel<Concat, FeatureInput, FeatureInput>>);
  STATIC_REQUIRE(DenseLayer<Stack<Linear>>);
  STATIC_REQUIRE(DenseLayer<Residual<Linear>>);
  STATIC_REQUIRE(SparseLayer<Named<FeatureInput>>);
  STATIC_REQUIRE(!Layer<int>);
}

TEST_CASE("Unnamed children are scoped by position, as in PyTorch's nn.Sequential", "[sequential]") {
  Sequential<Linear, ReLU, Linear> net(lin(3), ReLU{}, lin(1));
  ParamRegistry reg;
  net.build(2, reg);
  CHECK(reg.find("0.weight") != nullptr);
  CHECK(reg.find("0.bias") != nullptr);
  CHECK(reg.find("2.weight") != nullptr);
  CHECK(reg.params().size() == 4);
}
