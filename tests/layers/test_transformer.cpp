// TransformerBlock: gradient checks (pre- and post-norm, with the key padding mask, with dropout
// under a fixed mask), the count column passed through, cpu_simd-vs-cpu_scalar parity and
// thread-count invariance.
#include <catch2/catch.hpp>

#include "attention_test_util.hpp"
#include "ctrnet/compose/stack.hpp"
#include "ctrnet/layers/transformer.hpp"

using namespace ctrnet;
using namespace attn_test;

namespace {
TransformerBlock::Options block_options(index_t tokens, index_t heads, bool norm_first, bool masked, double dropout = 0) {
  TransformerBlock::Options o;
  o.tokens = tokens;
  o.heads = heads;
  o.ff_hidden = 6;
  o.norm_first = norm_first;
  o.masked = masked;
  o.dropout = dropout;
  return o;
}
}  // namespace

TEST_CASE("TransformerBlock names its parameters", "[transformer]") {
  TransformerBlock b(block_options(3, 2, false, false));
  ParamRegistry reg;
  REQUIRE(b.build(12, reg) == 12);
  std::vector<std::string> names;
  for (const auto& p : reg.params()) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"attn.qkv.weight", "attn.qkv.bias", "attn.out.weight", "attn.out.bias",
                                          "norm1.weight", "norm1.bias", "ff.0.weight", "ff.0.bias", "ff.1.weight",
                                          "ff.1.bias", "norm2.weight", "norm2.bias"});
}

TEST_CASE("TransformerBlock backward matches finite differences", "[transformer][gradcheck]") {
  for (bool norm_first : {false, true}) {
    auto rep = ctrnet::testing::check_gradients(TransformerBlock(block_options(3, 2, norm_first, false)), 2, 3 * 4);
    INFO("norm_first " << norm_first << "\n" << rep.summary());
    CHECK(rep.ok());
    auto rep_m = gradcheck_on(TransformerBlock(block_options(3, 2, norm_first, true)), random_input(3, 3 * 4 + 1, 4, 3));
    INFO("masked\n" << rep_m.summary());
    CHECK(rep_m.ok());
  }
}

TEST_CASE("TransformerBlock with dropout matches finite differences under its fixed mask", "[transformer][gradcheck]") {
  ctrnet::testing::GradCheckOptions opt;
  opt.ctx.training = true;
  opt.ctx.seed = 3;
  for (bool norm_first : {false, true}) {
    auto rep = ctrnet::testing::check_gradients(TransformerBlock(block_options(3, 1, norm_first, false, 0.3)), 2, 3 * 4, opt);
    INFO("norm_first " << norm_first << "\n" << rep.summary());
    CHECK(rep.ok());
  }
}

TEST_CASE("A stack of masked blocks passes the count column through", "[transformer]") {
  Stack<TransformerBlock> s(2, block_options(3, 2, true, true));
  ParamRegistry reg;
  REQUIRE(s.build(13, reg) == 13);
  CHECK(reg.find("1.norm2.bias") != nullptr);
  ModelParams<double> p;
  p.initialize(reg, 2);
  const Matrix<double> x = random_input(3, 13, 5, 3);
  Matrix<double> y(3, 13);
  Stack<TransformerBlock>::Cache<double> c;
  s.forward(cpu_scalar{}, p.weights(), x.cview(), y.view(), c);
  for (index_t r = 0; r < 3; ++r) CHECK(y(r, 12) == x(r, 12));
  auto rep = gradcheck_on(s, x);
  INFO(rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("TransformerBlock cpu_simd matches cpu_scalar", "[transformer][simd]") {
  for (bool norm_first : {false, true})
    for (bool masked : {false, true}) {
      INFO("norm_first " << norm_first << ", masked " << masked);
      auto o = block_options(7, 2, norm_first, masked, 0.1);
      o.ff_hidden = 0;
      const Matrix<float> x = to_float(random_input(11, 7 * 20 + (masked ? 1 : 0), 6, masked ? 7 : 0));
      check_parity(TransformerBlock(o), x, true, 2, 1e-3, 1e-4);
    }
}

TEST_CASE("TransformerBlock on cpu_simd is bitwise the same on 1 and 2 threads", "[transformer][simd]") {
  auto o = block_options(16, 4, true, false, 0.1);
  o.ff_hidden = 64;
  check_thread_invariance(TransformerBlock(o), to_float(random_input(64, 16 * 32, 7)), true);
}
