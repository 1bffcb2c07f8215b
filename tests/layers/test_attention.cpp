// MultiHeadAttention and TokenPooling: a hand-computed attention example, gradient checks (with
// and without the key padding mask), padding keys having no influence, cpu_simd-vs-cpu_scalar
// parity (head widths with and without SIMD tails; the attention kernels alone on the edge shapes
// of their register blocks) and thread-count invariance.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "attention_test_util.hpp"
#include "ctrnet/layers/attention.hpp"
#include "ctrnet/layers/token_pooling.hpp"

using namespace ctrnet;
using namespace attn_test;

namespace {
MultiHeadAttention mha(index_t tokens, index_t heads, bool masked = false) {
  MultiHeadAttention::Options o;
  o.tokens = tokens;
  o.heads = heads;
  o.masked = masked;
  return MultiHeadAttention(o);
}
TokenPooling pool(index_t tokens, TokenPoolingMode m, bool masked = false) { return TokenPooling({tokens, m, masked}); }
}  // namespace

TEST_CASE("MultiHeadAttention forward matches a hand-computed example", "[attention]") {
  // One head, w = 2, L = 2, identity projections (W_in = [I; I; I], W_out = I, zero biases):
  // Q = K = V = X = [[1, 0], [0, 2]], scale 1/√2.
  //   s_0 = [1, 0]/√2 → p_0 = softmax([0.7071, 0]); s_1 = [0, 4]/√2 → p_1 = softmax([0, 2.8284])
  //   y_i = p_i0 [1, 0] + p_i1 [0, 2]
  auto layer = mha(2, 1);
  ParamRegistry reg;
  REQUIRE(layer.build(4, reg) == 4);
  REQUIRE(reg.params().size() == 4);
  CHECK(reg.params()[0].name == "qkv.weight");
  CHECK(reg.params()[3].name == "out.bias");
  ModelParams<double> p;
  p.initialize(reg, 1);
  auto win = p.view(layer.in_projection().weight());
  auto wout = p.view(layer.out_projection().weight());
  for (index_t r = 0; r < 6; ++r)
    for (index_t c = 0; c < 2; ++c) win(r, c) = (r % 2 == c) ? 1.0 : 0.0;
  for (index_t r = 0; r < 2; ++r)
    for (index_t c = 0; c < 2; ++c) wout(r, c) = r == c ? 1.0 : 0.0;
  Matrix<double> x(1, 4), y(1, 4);
  x(0, 0) = 1, x(0, 1) = 0, x(0, 2) = 0, x(0, 3) = 2;
  MultiHeadAttention::Cache<double> c;
  layer.forward(cpu_scalar{}, p.weights(), x.cview(), y.view(), c);
  const double a = std::exp(1 / std::sqrt(2.0)), p00 = a / (a + 1);
  const double e = std::exp(4 / std::sqrt(2.0)), p11 = e / (1 + e);
  CHECK(y(0, 0) == Approx(p00));
  CHECK(y(0, 1) == Approx(2 * (1 - p00)));
  CHECK(y(0, 2) == Approx(1 - p11));
  CHECK(y(0, 3) == Approx(2 * p11));
}

TEST_CASE("MultiHeadAttention backward matches finite differences", "[attention][gradcheck]") {
  for (index_t heads : {1, 2}) {
    auto rep = ctrnet::testing::check_gradients(mha(3, heads), 2, 3 * 4);
    INFO("heads " << heads << "\n" << rep.summary());
    CHECK(rep.ok());
  }
}

TEST_CASE("MultiHeadAttention with a key padding mask matches finite differences", "[attention][gradcheck]") {
  const Matrix<double> x = random_input(3, 4 * 4 + 1, 21, 4);  // counts 4, 3, 2 (see random_input)
  auto rep = gradcheck_on(mha(4, 2, true), x);
  INFO(rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("MultiHeadAttention in several blocks of examples matches finite differences", "[attention][gradcheck]") {
  // 128 tokens: forward and backward run in blocks of 4 examples (about 512 tokens), so a batch
  // of 5 is two blocks (4 + 1) whose weight gradients add up.
  const Matrix<double> x = random_input(5, 128 * 2 + 1, 23, 128);
  auto rep = gradcheck_on(mha(128, 1, true), x);
  INFO(rep.summary());
  CHECK(rep.ok());
  check_parity(mha(128, 2, true), to_float(random_input(9, 128 * 4 + 1, 24, 128)), false, 2, 5e-4, 5e-5);
}

TEST_CASE("Padding tokens do not change the outputs of valid tokens", "[attention]") {
  auto layer = mha(4, 2, true);
  ParamRegistry reg;
  layer.build(4 * 4 + 1, reg);
  ModelParams<double> p;
  p.initialize(reg, 3);
  Matrix<double> x = random_input(1, 17, 4);
  x(0, 16) = 2;  // two valid tokens
  Matrix<double> y1(1, 16), y2(1, 16);
  MultiHeadAttention::Cache<double> c;
  layer.forward(cpu_scalar{}, p.weights(), x.cview(), y1.view(), c);
  for (index_t k = 8; k < 16; ++k) x(0, k) += 5.0;  // change the padding tokens
  layer.forward(cpu_scalar{}, p.weights(), x.cview(), y2.view(), c);
  for (index_t k = 0; k < 8; ++k) CHECK(y1(0, k) == Approx(y2(0, k)).epsilon(1e-12));
}

TEST_CASE("MultiHeadAttention cpu_simd matches cpu_scalar", "[attention][simd]") {
  // head widths 32 (full vectors), 5 and 12 (tails), tokens 9 (odd rows, odd key counts)
  struct Case { index_t tokens, width, heads; bool masked; };
  for (const Case k : {Case{9, 64, 2, false}, Case{9, 10, 2, true}, Case{6, 36, 3, true}, Case{33, 32, 1, false}}) {
    INFO("tokens " << k.tokens << ", width " << k.width << ", heads " << k.heads << ", masked " << k.masked);
    const Matrix<float> x = to_float(random_input(13, k.tokens * k.width + (k.masked ? 1 : 0), 8, k.masked ? k.tokens : 0));
    check_parity(mha(k.tokens, k.heads, k.masked), x, false, 2, 5e-4, 5e-5);
  }
}

TEST_CASE("Attention kernels: cpu_simd matches cpu_scalar on the edges of the register blocks", "[attention][simd]") {
  // The cpu_simd core computes every product in tiles of 6 rows × 2 vectors (8 floats each):
  // token counts around multiples of 6 and 8 (1, 5, 7, 8, 13, 33, 64), head widths 8, 16, 32, 64
  // (whole vectors) and 5, 12 (scalar and vector tails), key counts from 1 (one valid key) to L.
  struct Case { index_t tokens, heads, head_dim; };
  const Case cases[] = {{1, 1, 8}, {5, 2, 16}, {7, 1, 32}, {8, 3, 8}, {13, 2, 64}, {32, 4, 32},
                        {33, 1, 16}, {9, 2, 12}, {20, 1, 5}, {64, 2, 32}};
  for (const Case k : cases)
    for (bool masked : {false, true}) {
      INFO("tokens " << k.tokens << ", heads " << k.heads << ", head width " << k.head_dim << ", masked " << masked);
      const index_t B = 7, L = k.tokens, w = k.heads * k.head_dim;
      const kernels::AttentionShape shape{B, L, k.heads, k.head_dim};
      std::vector<index_t> counts(static_cast<std::size_t>(B));
      for (index_t b = 0; b < B; ++b) counts[static_cast<std::size_t>(b)] = b == 0 ? 1 : b == 1 ? L : 1 + (b * 5 + 2) % L;
      const index_t* cp = masked ? counts.data() : nullptr;
      Rng rng(static_cast<std::uint64_t>(L * 100 + k.head_dim));
      // the QKV and context matrices as column blocks of wider matrices (row strides > widths)
      Matrix<float> qkv(B * L, 3 * w + 3), dctx(B * L, w + 1);
      for (index_t i = 0; i < qkv.size(); ++i) qkv.data()[i] = float(rng.uniform(-2.0, 2.0));
      for (index_t i = 0; i < dctx.size(); ++i) dctx.data()[i] = float(rng.uniform(-1.0, 1.0));
      const float scale = 1.f / std::sqrt(float(k.head_dim));
      const auto qv = qkv.cview().col_block(0, 3 * w);
      const auto dcv = dctx.cview().col_block(0, w);
      auto run = [&](const auto& pol, std::vector<float>& probs, Matrix<float>& ctx, Matrix<float>& dqkv) {
        probs.assign(static_cast<std::size_t>(B * k.heads * L * L), -7.f);
        ctx.resize(B * L, w + 2, -7.f);
        dqkv.resize(B * L, 3 * w + 1, -7.f);
        kernels::attention_forward(pol, shape, scale, qv, cp, probs.data(), ctx.view().col_block(0, w));
        kernels::attention_backward(pol, shape, scale, qv, cp, probs.data(), dcv, dqkv.view().col_block(0, 3 * w));
      };
      std::vector<float> ps, pv;
      Matrix<float> cs, cv, ds, dv;
      run(cpu_scalar{}, ps, cs, ds);
      cpu_simd simd;
      simd.max_threads = 1;
      run(simd, pv, cv, dv);
      CHECK(close(pv.data(), ps.data(), index_t(ps.size()), 1e-4, 1e-6, "probabilities"));
      CHECK(close(cv.data(), cs.data(), cs.size(), 2e-4, 2e-5, "context (and untouched columns)"));
      CHECK(close(dv.data(), ds.data(), ds.size(), 2e-4, 2e-5, "QKV gradient (and untouched columns)"));
      if (masked)  // masked keys: probability 0 and no K, V gradient, in both policies
        for (index_t b = 0; b < B; ++b)
          for (index_t j = counts[static_cast<std::size_t>(b)]; j < L; ++j) {
            CHECK(pv[static_cast<std::size_t>(((b * k.heads) * L + 0) * L + j)] == 0.f);
            CHECK(dv(b * L + j, w) == 0.f);
            CHECK(dv(b * L + j, 3 * w - 1) == 0.f);
          }
    }
}

TEST_CASE("Attention kernels: cpu_simd matches cpu_scalar in double", "[attention][simd]") {
  // 4 doubles per vector: tiles of 6 rows × 8 columns; 13 tokens, head width 12 (a 1-vector tail).
  const index_t B = 3, L = 13, H = 2, dh = 12, w = H * dh;
  const kernels::AttentionShape shape{B, L, H, dh};
  const index_t counts[] = {13, 5, 1};
  Rng rng(77);
  Matrix<double> qkv(B * L, 3 * w), dctx(B * L, w);
  for (index_t i = 0; i < qkv.size(); ++i) qkv.data()[i] = rng.uniform(-2.0, 2.0);
  for (index_t i = 0; i < dctx.size(); ++i) dctx.data()[i] = rng.uniform(-1.0, 1.0);
  auto run = [&](const auto& pol, std::vector<double>& probs, Matrix<double>& ctx, Matrix<double>& dqkv) {
    probs.assign(static_cast<std::size_t>(B * H * L * L), -7.0);
    ctx.resize(B * L, w, -7.0);
    dqkv.resize(B * L, 3 * w, -7.0);
    kernels::attention_forward(pol, shape, 0.3, qkv.cview(), counts, probs.data(), ctx.view());
    kernels::attention_backward(pol, shape, 0.3, qkv.cview(), counts, probs.data(), dctx.cview(), dqkv.view());
  };
  std::vector<double> ps, pv;
  Matrix<double> cs, cv, ds, dv;
  run(cpu_scalar{}, ps, cs, ds);
  cpu_simd simd;
  simd.max_threads = 1;
  run(simd, pv, cv, dv);
  for (std::size_t i = 0; i < ps.size(); ++i) REQUIRE(pv[i] == Approx(ps[i]).margin(1e-12));
  for (index_t i = 0; i < cs.size(); ++i) REQUIRE(cv.data()[i] == Approx(cs.data()[i]).margin(1e-12));
  for (index_t i = 0; i < ds.size(); ++i) REQUIRE(dv.data()[i] == Approx(ds.data()[i]).margin(1e-12));
}

TEST_CASE("MultiHeadAttention on cpu_simd is bitwise the same on 1 and 2 threads", "[attention][simd]") {
  check_thread_invariance(mha(16, 4, true), to_float(random_input(96, 16 * 32 + 1, 9, 16)));
}

TEST_CASE("TokenPooling forward matches hand-computed examples", "[pooling]") {
  // tokens [1, -2], [3, 0], [-1, 5], count 2 (masked): mean [2, -1], max [3, 0], first [1, -2]
  Matrix<double> x(1, 7);
  const double v[] = {1, -2, 3, 0, -1, 5, 2};
  for (int i = 0; i < 7; ++i) x(0, i) = v[i];
  auto run = [&](TokenPoolingMode m) {
    auto layer = pool(3, m, true);
    ParamRegistry reg;
    REQUIRE(layer.build(7, reg) == 2);
    Matrix<double> y(1, 2);
    TokenPooling::Cache<double> c;
    layer.forward(cpu_scalar{}, Weights<double>{}, x.cview(), y.view(), c);
    return std::pair{y(0, 0), y(0, 1)};
  };
  CHECK(run(TokenPoolingMode::mean) == std::pair{2.0, -1.0});
  CHECK(run(TokenPoolingMode::max) == std::pair{3.0, 0.0});
  CHECK(run(TokenPoolingMode::first) == std::pair{1.0, -2.0});
}

TEST_CASE("TokenPooling backward matches finite differences", "[pooling][gradcheck]") {
  for (TokenPoolingMode m : {TokenPoolingMode::mean, TokenPoolingMode::max, TokenPoolingMode::first}) {
    INFO(to_string(m));
    auto rep = ctrnet::testing::check_gradients(pool(4, m), 3, 4 * 3);
    INFO(rep.summary());
    CHECK(rep.ok());
    auto rep_m = gradcheck_on(pool(4, m, true), random_input(3, 4 * 3 + 1, 2, 4));
    INFO("masked\n" << rep_m.summary());
    CHECK(rep_m.ok());
    check_parity(pool(4, m, true), to_float(random_input(5, 4 * 3 + 1, 2, 4)));
  }
}
