// Shared helpers of the attention-layer tests: a gradient check on a given input (for inputs
// with a count column) and a cpu_simd-vs-cpu_scalar parity check of forward and backward.
#pragma once
#include <catch2/catch.hpp>
#include <cmath>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/policy/cpu_simd.hpp"
#include "ctrnet/testing/gradcheck.hpp"

namespace attn_test {
using namespace ctrnet;

/// Random [rows, cols] input; with `tokens` > 0 the last column is a count in [1, tokens].
inline Matrix<double> random_input(index_t rows, index_t cols, std::uint64_t seed, index_t tokens = 0) {
  Rng rng(seed);
  Matrix<double> x(rows, cols);
  for (index_t i = 0; i < x.size(); ++i) x.data()[i] = rng.uniform(-1.0, 1.0);
  if (tokens > 0)
    for (index_t r = 0; r < rows; ++r) x(r, cols - 1) = double(1 + (r * 7 + 3) % tokens);
  return x;
}

/// Gradient check of a dense layer on the given input x.
template <class L>
ctrnet::testing::GradCheckReport gradcheck_on(L layer, const Matrix<double>& x, ctrnet::testing::GradCheckOptions opt = {}) {
  ParamRegistry reg;
  const index_t out = layer.build(x.cols(), reg);
  ModelParams<double> params;
  params.initialize(reg, opt.seed);
  Rng rng(opt.seed + 1);
  for (auto& v : params.dense) v = rng.uniform(-0.5, 0.5);
  ctrnet::testing::detail::CheckInput<Dense> in;
  in.x = x;
  return ctrnet::testing::detail::run_gradcheck<L, Dense>(layer, reg, params, in, out, opt);
}

inline bool close(const float* a, const float* b, index_t n, double rtol, double atol, const char* what) {
  for (index_t i = 0; i < n; ++i)
    if (!(std::abs(double(a[i]) - double(b[i])) <= atol + rtol * std::abs(double(b[i])))) {
      UNSCOPED_INFO(what << ": mismatch at " << i << ": simd " << a[i] << " vs scalar " << b[i]);
      return false;
    }
  return true;
}

/// Forward (training or not) and backward in float on cpu_simd (threads) and cpu_scalar from the
/// same parameters and input; compares y, dx and every gradient.
template <class L>
void check_parity(L layer, const Matrix<float>& x, bool training = false, int threads = 0, double rtol = 2e-4,
                  double atol = 2e-5) {
  ParamRegistry reg;
  const index_t out = layer.build(x.cols(), reg);
  ModelParams<float> params;
  params.initialize(reg, 7);
  Rng rng(11);
  for (auto& v : params.dense) v = float(rng.uniform(-0.5, 0.5));
  Matrix<float> dy(x.rows(), out);
  for (index_t i = 0; i < dy.size(); ++i) dy.data()[i] = float(rng.uniform(-1.0, 1.0));
  Context ctx;
  ctx.training = training;
  ctx.seed = 5;
  ctx.step = 3;
  ctx.first_row = 17;
  auto run = [&](const auto& pol, Matrix<float>& y, Matrix<float>& dx, ModelGrads<float>& g) {
    typename L::template Cache<float> c;
    y.resize(x.rows(), out, 0.f);
    layer.forward(pol, params.weights(), x.cview(), y.view(), c, ctx);
    dx.resize(x.rows(), x.cols(), 0.f);
    g.allocate(reg);
    layer.backward(pol, params.weights(), c, dy.cview(), dx.view(), g.gradients());
  };
  Matrix<float> ys, dxs, yv, dxv;
  ModelGrads<float> gs, gv;
  run(cpu_scalar{}, ys, dxs, gs);
  cpu_simd simd;
  simd.max_threads = threads;
  run(simd, yv, dxv, gv);
  CHECK(close(yv.data(), ys.data(), ys.size(), rtol, atol, "output"));
  CHECK(close(dxv.data(), dxs.data(), dxs.size(), rtol, atol, "input gradient"));
  for (const auto& p : reg.params()) {
    INFO("parameter " << p.name);
    CHECK(close(gv.dense.data() + p.handle.offset, gs.dense.data() + p.handle.offset, p.handle.size(), rtol, atol * 10,
                p.name.c_str()));
  }
}

/// cpu_simd forward + backward on 1 and on 2 threads give bitwise the same results.
template <class L>
void check_thread_invariance(L layer, const Matrix<float>& x, bool training = false) {
  ParamRegistry reg;
  const index_t out = layer.build(x.cols(), reg);
  ModelParams<float> params;
  params.initialize(reg, 7);
  Rng rng(13);
  for (auto& v : params.dense) v = float(rng.uniform(-0.5, 0.5));
  Matrix<float> dy(x.rows(), out);
  for (index_t i = 0; i < dy.size(); ++i) dy.data()[i] = float(rng.uniform(-1.0, 1.0));
  Context ctx;
  ctx.training = training;
  ctx.seed = 9;
  auto run = [&](int threads, Matrix<float>& y, Matrix<float>& dx, ModelGrads<float>& g) {
    cpu_simd pol;
    pol.max_threads = threads;
    typename L::template Cache<float> c;
    y.resize(x.rows(), out, 0.f);
    layer.forward(pol, params.weights(), x.cview(), y.view(), c, ctx);
    dx.resize(x.rows(), x.cols(), 0.f);
    g.allocate(reg);
    layer.backward(pol, params.weights(), c, dy.cview(), dx.view(), g.gradients());
  };
  Matrix<float> y1, dx1, y2, dx2;
  ModelGrads<float> g1, g2;
  run(1, y1, dx1, g1);
  run(2, y2, dx2, g2);
  CHECK(close(y2.data(), y1.data(), y1.size(), 0.0, 0.0, "output"));
  CHECK(close(dx2.data(), dx1.data(), dx1.size(), 0.0, 0.0, "input gradient"));
  CHECK(close(g2.dense.data(), g1.dense.data(), index_t(g1.dense.size()), 0.0, 0.0, "gradients"));
}

inline Matrix<float> to_float(const Matrix<double>& x) {
  Matrix<float> f(x.rows(), x.cols());
  for (index_t i = 0; i < x.size(); ++i) f.data()[i] = float(x.data()[i]);
  return f;
}
}  // namespace attn_test
