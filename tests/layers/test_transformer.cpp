// TransformerBlock: gradient checks (pre- and post-norm, with the key padding mask, with dropout
// under a fixed mask), the count column passed through, cpu_simd-vs-cpu_scalar parity and
// thread-count invariance. The token kernels (kernels/tokens.hpp) of the count column and of
// TokenPooling on hand-computed cases, and the count errors of the layers that read it.
#include <catch2/catch.hpp>
#include <limits>

#include "attention_test_util.hpp"
#include "ctrnet/compose/stack.hpp"
#include "ctrnet/kernels/tokens.hpp"
#include "ctrnet/layers/token_pooling.hpp"
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

TEST_CASE("read_token_counts rounds the count column and names its caller in errors", "[transformer][kernels]") {
  // [B = 3, 2 tokens of width 1 + count]
  Matrix<double> x(3, 3);
  x(0, 2) = 2.0;
  x(1, 2) = 1.4;  // rounds to 1
  x(2, 2) = 1.6;  // rounds to 2
  index_t counts[3] = {-1, -1, -1};
  kernels::read_token_counts(cpu_scalar{}, x.cview(), 2, 2, counts, "TokenPooling");
  CHECK(counts[0] == 2);
  CHECK(counts[1] == 1);
  CHECK(counts[2] == 2);
  index_t simd_counts[3] = {-1, -1, -1};
  kernels::read_token_counts(cpu_simd{}, x.cview(), 2, 2, simd_counts, "TokenPooling");
  CHECK(std::equal(counts, counts + 3, simd_counts));

  x(1, 2) = 0.0;
  CHECK_THROWS_WITH(kernels::read_token_counts(cpu_scalar{}, x.cview(), 2, 2, counts, "who"),
                    "who: example 1 has a valid-token count of 0 (expected an integer in [1, 2])");
  x(1, 2) = 1.0;
  x(2, 2) = 2.6;
  CHECK_THROWS_WITH(kernels::read_token_counts(cpu_scalar{}, x.cview(), 2, 2, counts, "who"),
                    "who: example 2 has a valid-token count of 2.6 (expected an integer in [1, 2])");
  x(2, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(kernels::read_token_counts(cpu_scalar{}, x.cview(), 2, 2, counts, "who"),
                    Catch::StartsWith("who: example 2 has a valid-token count of "));
}

TEST_CASE("A bad count column names the layer that read it", "[transformer]") {
  // TransformerBlock (its attention) and TokenPooling over 3 tokens of width 2 + count.
  Matrix<double> x = random_input(2, 7, 3, 3);
  x(1, 6) = 4.0;
  {
    TransformerBlock b(block_options(3, 2, false, true));
    ParamRegistry reg;
    REQUIRE(b.build(7, reg) == 7);
    ModelParams<double> p;
    p.initialize(reg, 1);
    Matrix<double> y(2, 7);
    TransformerBlock::Cache<double> c;
    CHECK_THROWS_WITH(b.forward(cpu_scalar{}, p.weights(), x.cview(), y.view(), c),
                      "attention: example 1 has a valid-token count of 4 (expected an integer in [1, 3])");
  }
  {
    TokenPooling pool({3, TokenPoolingMode::mean, true});
    ParamRegistry reg;
    REQUIRE(pool.build(7, reg) == 2);
    ModelParams<double> p;
    p.initialize(reg, 1);
    Matrix<double> y(2, 2);
    TokenPooling::Cache<double> c;
    CHECK_THROWS_WITH(pool.forward(cpu_scalar{}, p.weights(), x.cview(), y.view(), c),
                      "TokenPooling: example 1 has a valid-token count of 4 (expected an integer in [1, 3])");
  }
}

namespace {
// Two examples of 3 tokens of width 2 and a count column:
//   example 0: [1, 5], [3, 5], [2, 9], n = 2 (the third token is padding)
//   example 1: [4, −1], [4, −2], [0, −1], n = 3
Matrix<double> pool_input() {
  Matrix<double> x(2, 7);
  const double v[2][7] = {{1, 5, 3, 5, 2, 9, 2}, {4, -1, 4, -2, 0, -1, 3}};
  for (index_t r = 0; r < 2; ++r)
    for (index_t c = 0; c < 7; ++c) x(r, c) = v[r][c];
  return x;
}
template <class P>
void check_token_pooling_kernels(const P& p) {
  const Matrix<double> x = pool_input();
  const index_t counts[2] = {2, 3};
  Matrix<double> dy(2, 2);
  dy(0, 0) = 10, dy(0, 1) = 20, dy(1, 0) = 30, dy(1, 1) = 60;
  const double third = 1.0 / 3.0;
  Matrix<double> y(2, 2, -7.0);
  index_t argmax[4] = {-1, -1, -1, -1};
  SECTION("mean over the valid tokens") {
    kernels::token_pool_forward(p, TokenPoolingMode::mean, 3, counts, x.cview(), y.view(), nullptr);
    CHECK(y(0, 0) == 2.0);
    CHECK(y(0, 1) == 5.0);
    CHECK(y(1, 0) == 8.0 * third);
    CHECK(y(1, 1) == -4.0 * third);
    Matrix<double> dx(2, 7, 1.0);  // accumulated into
    kernels::token_pool_backward(p, TokenPoolingMode::mean, 3, counts, nullptr, dy.cview(), dx.view());
    const double e0[7] = {6, 11, 6, 11, 1, 1, 1};  // padding token and count column: no gradient
    const double e1[7] = {1 + third * 30, 1 + third * 60, 1 + third * 30, 1 + third * 60, 1 + third * 30,
                          1 + third * 60, 1};
    for (index_t c = 0; c < 7; ++c) {
      CHECK(dx(0, c) == e0[c]);
      CHECK(dx(1, c) == e1[c]);
    }
  }
  SECTION("mean over every token without counts") {
    kernels::token_pool_forward(p, TokenPoolingMode::mean, 3, nullptr, x.cview(), y.view(), nullptr);
    CHECK(y(0, 0) == 6.0 * third);
    CHECK(y(0, 1) == 19.0 * third);
  }
  SECTION("max: the first maximum wins ties, padding is skipped") {
    kernels::token_pool_forward(p, TokenPoolingMode::max, 3, counts, x.cview(), y.view(), argmax);
    CHECK(y(0, 0) == 3.0);
    CHECK(y(0, 1) == 5.0);
    CHECK(y(1, 0) == 4.0);
    CHECK(y(1, 1) == -1.0);
    // example 0: 3 at token 1; 5 at tokens 0 and 1 → 0 (9 at token 2 is padding)
    // example 1: 4 at tokens 0 and 1 → 0; −1 at tokens 0 and 2 → 0
    CHECK(argmax[0] == 1);
    CHECK(argmax[1] == 0);
    CHECK(argmax[2] == 0);
    CHECK(argmax[3] == 0);
    Matrix<double> dx(2, 7, 0.0);
    kernels::token_pool_backward(p, TokenPoolingMode::max, 3, counts, argmax, dy.cview(), dx.view());
    const double e0[7] = {0, 20, 10, 0, 0, 0, 0};
    const double e1[7] = {30, 60, 0, 0, 0, 0, 0};
    for (index_t c = 0; c < 7; ++c) {
      CHECK(dx(0, c) == e0[c]);
      CHECK(dx(1, c) == e1[c]);
    }
  }
  SECTION("first token") {
    kernels::token_pool_forward(p, TokenPoolingMode::first, 3, counts, x.cview(), y.view(), nullptr);
    CHECK(y(0, 0) == 1.0);
    CHECK(y(0, 1) == 5.0);
    CHECK(y(1, 0) == 4.0);
    CHECK(y(1, 1) == -1.0);
    Matrix<double> dx(2, 7, 1.0);
    kernels::token_pool_backward(p, TokenPoolingMode::first, 3, counts, nullptr, dy.cview(), dx.view());
    const double e0[7] = {11, 21, 1, 1, 1, 1, 1};
    const double e1[7] = {31, 61, 1, 1, 1, 1, 1};
    for (index_t c = 0; c < 7; ++c) {
      CHECK(dx(0, c) == e0[c]);
      CHECK(dx(1, c) == e1[c]);
    }
  }
}
}  // namespace

TEST_CASE("token_pool_forward / backward on a hand-computed case (cpu_scalar)", "[transformer][kernels]") {
  check_token_pooling_kernels(cpu_scalar{});
}

TEST_CASE("token_pool_forward / backward on a hand-computed case (cpu_simd)", "[transformer][kernels][simd]") {
  check_token_pooling_kernels(cpu_simd{});
}

TEST_CASE("TokenPooling reads the count column and pools with the kernels", "[transformer]") {
  const Matrix<double> x = pool_input();
  for (TokenPoolingMode mode : {TokenPoolingMode::mean, TokenPoolingMode::max, TokenPoolingMode::first}) {
    INFO(to_string(mode));
    TokenPooling pool({3, mode, true});
    ParamRegistry reg;
    REQUIRE(pool.build(7, reg) == 2);
    ModelParams<double> p;
    p.initialize(reg, 1);
    Matrix<double> y(2, 2), expect(2, 2);
    TokenPooling::Cache<double> c;
    pool.forward(cpu_scalar{}, p.weights(), x.cview(), y.view(), c);
    const index_t counts[2] = {2, 3};
    index_t argmax[4];
    kernels::token_pool_forward(cpu_scalar{}, mode, 3, counts, x.cview(), expect.view(), argmax);
    for (index_t i = 0; i < 4; ++i) CHECK(y.data()[i] == expect.data()[i]);
  }
}
