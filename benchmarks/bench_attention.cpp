// MultiHeadAttention (self-attention over L tokens of width w, H = max(1, w / 32) heads of 32)
// forward and backward against the FMA peak measured at start-up in this run.
//
//   mha/<pass>/<impl>/L:L/w:W/batch:B
//     pass:  forward, backward (the forward ran before the timed loop; its cache is reused),
//            fwd_bwd (forward then backward: one training step of the layer)
//     impl:  simd_t1 / simd_t2 (cpu_simd, 1 or 2 oneTBB threads); simd_t1_whole / simd_t2_whole
//            (L 32, w 128 only: Options::block_tokens = 0, the whole batch through each step
//            instead of blocks of 512 tokens); scalar (cpu_scalar reference, forward only, L 32,
//            w 128, batch 64)
//   mha_core/<pass>/<variant>_t1/L:L/dh:D/batch:B   the attention core only (no projections), one
//     thread, H = 4 heads of D: `kernel` is the library's (kernels/simd/attention.hpp: the
//     register-blocked small-product kernel on strided views + fused softmax passes), `gemm` the
//     previous library path defined here (the packed GEMM per (example, head) and each of its six
//     products) — the measurement behind the library's choice.
//   Counters: GFLOPS = flops / time with
//     forward  8 N w² (QKV and output projections, N = B·L) + 4 B L² w (Q Kᵀ and P V)
//     backward twice that (a weight and an input gradient per GEMM, dP, dV, dQ, dK)
//   (softmax, bias and copies not counted); peak_share = GFLOPS / measured FMA peak of the threads.
#include <benchmark/benchmark.h>

#include "bench_peaks.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include <xsimd/xsimd.hpp>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/kernels/attention.hpp"
#include "ctrnet/kernels/gemm.hpp"
#include "ctrnet/layers/attention.hpp"

namespace {

using ctrnet::index_t;
using ctrnet::Matrix;
using ctrnet::MatrixView;
using ctrnet::ConstMatrixView;

double g_peak_gflops[3] = {0.0, 0.0, 0.0};
using bench_clock = std::chrono::steady_clock;

void fill_uniform(Matrix<float>& m, std::uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = u(rng);
}

enum class Pass { forward, backward, fwd_bwd };
const char* pass_name(Pass p) { return p == Pass::forward ? "forward" : p == Pass::backward ? "backward" : "fwd_bwd"; }

double flops_of(Pass p, double B, double L, double w, bool projections = true) {
  const double f = (projections ? 8 * B * L * w * w : 0.0) + 4 * B * L * L * w;
  return p == Pass::forward ? f : p == Pass::backward ? 2 * f : 3 * f;
}

index_t heads_of(index_t w) { return std::max<index_t>(1, w / 32); }

template <class F>
void timed_loop(benchmark::State& st, F&& step, double flops, int threads) {
  step();  // warm-up: workspaces allocated, as in a trainer's steady state
  const auto t0 = bench_clock::now();
  for (auto _ : st) {
    step();
    benchmark::ClobberMemory();
  }
  const double seconds = std::chrono::duration<double>(bench_clock::now() - t0).count();
  const double gflops = flops * static_cast<double>(st.iterations()) / seconds / 1e9;
  st.counters["GFLOPS"] = gflops;
  st.counters["peak_share"] = gflops / g_peak_gflops[threads];
}

template <class P>
void bench_mha(benchmark::State& st, P policy, int threads, Pass pass, index_t batch, index_t L, index_t w,
               bool whole = false) {
  ctrnet::MultiHeadAttention::Options o;
  o.tokens = L;
  o.heads = heads_of(w);
  if (whole) o.block_tokens = 0;
  ctrnet::MultiHeadAttention layer(o);
  ctrnet::ParamRegistry reg;
  layer.build(L * w, reg);
  ctrnet::ModelParams<float> params;
  params.initialize(reg, 1);
  ctrnet::ModelGrads<float> grads;
  grads.allocate(reg);
  Matrix<float> x(batch, L * w), y(batch, L * w), dy(batch, L * w), dx(batch, L * w, 0.f);
  fill_uniform(x, 2);
  fill_uniform(dy, 4, -1e-3f, 1e-3f);
  ctrnet::MultiHeadAttention::Cache<float> cache;
  const auto W = params.weights();
  const auto G = grads.gradients();
  auto forward = [&] { layer.forward(policy, W, x.cview(), y.view(), cache); };
  auto backward = [&] { layer.backward(policy, W, cache, dy.cview(), dx.view(), G); };
  if (pass == Pass::backward) forward();
  timed_loop(
      st,
      [&] {
        if (pass != Pass::backward) forward();
        if (pass != Pass::forward) backward();
        benchmark::DoNotOptimize(y.data());
        benchmark::DoNotOptimize(dx.data());
      },
      flops_of(pass, double(batch), double(L), double(w)), threads);
}

// ----- the previous library core (comparison only): the packed GEMM per (example, head) -------
// kernels/simd/gemm.hpp called single-threaded on strided views of the QKV matrix for each of the
// six small products, with the same fused softmax passes; what kernels/simd/attention.hpp did
// before its register-blocked small-product kernel.
namespace old_gemm {
using ctrnet::kernels::Trans;
using ctrnet::kernels::attn_detail::softmax_row;
using ctrnet::kernels::attn_detail::softmax_backward_row;

void forward(const ctrnet::kernels::AttentionShape& s, float scale, ConstMatrixView<float> qkv, float* probs,
             MatrixView<float> ctx) {
  const index_t L = s.tokens, dh = s.head_dim, w = s.width(), n = L;
  ctrnet::cpu_simd p1;
  p1.max_threads = 1;
  for (index_t b = 0; b < s.batch; ++b)
    for (index_t h = 0; h < s.heads; ++h) {
      float* P = probs + (b * s.heads + h) * L * L;
      const ConstMatrixView<float> Q(qkv.row(b * L) + h * dh, L, dh, qkv.stride);
      const ConstMatrixView<float> K(qkv.row(b * L) + w + h * dh, n, dh, qkv.stride);
      const ConstMatrixView<float> V(qkv.row(b * L) + 2 * w + h * dh, n, dh, qkv.stride);
      const MatrixView<float> S(P, L, n, L);
      ctrnet::kernels::gemm(p1, Trans::no, Trans::yes, scale, Q, K, 0.f, S);
      for (index_t i = 0; i < L; ++i) softmax_row(P + i * L, P + i * L, n, L);
      ctrnet::kernels::gemm(p1, Trans::no, Trans::no, 1.f, ConstMatrixView<float>(S), V, 0.f,
                            MatrixView<float>(ctx.row(b * L) + h * dh, L, dh, ctx.stride));
    }
}
void backward(const ctrnet::kernels::AttentionShape& s, float scale, ConstMatrixView<float> qkv, const float* probs,
              ConstMatrixView<float> dctx, MatrixView<float> dqkv, float* ds) {
  const index_t L = s.tokens, dh = s.head_dim, w = s.width(), n = L;
  ctrnet::cpu_simd p1;
  p1.max_threads = 1;
  for (index_t b = 0; b < s.batch; ++b)
    for (index_t h = 0; h < s.heads; ++h) {
      const ConstMatrixView<float> P(probs + (b * s.heads + h) * L * L, L, n, L);
      const ConstMatrixView<float> Q(qkv.row(b * L) + h * dh, L, dh, qkv.stride);
      const ConstMatrixView<float> K(qkv.row(b * L) + w + h * dh, n, dh, qkv.stride);
      const ConstMatrixView<float> V(qkv.row(b * L) + 2 * w + h * dh, n, dh, qkv.stride);
      const ConstMatrixView<float> dC(dctx.row(b * L) + h * dh, L, dh, dctx.stride);
      auto part = [&](index_t k, index_t rows) {
        return MatrixView<float>(dqkv.row(b * L) + k * w + h * dh, rows, dh, dqkv.stride);
      };
      const MatrixView<float> dS(ds, L, n, L);
      ctrnet::kernels::gemm(p1, Trans::yes, Trans::no, 1.f, P, dC, 0.f, part(2, n));
      ctrnet::kernels::gemm(p1, Trans::no, Trans::yes, 1.f, dC, V, 0.f, dS);
      for (index_t i = 0; i < L; ++i) softmax_backward_row(P.row(i), ds + i * L, n, L, scale);
      ctrnet::kernels::gemm(p1, Trans::no, Trans::no, 1.f, ConstMatrixView<float>(dS), K, 0.f, part(0, L));
      ctrnet::kernels::gemm(p1, Trans::yes, Trans::no, 1.f, ConstMatrixView<float>(dS), Q, 0.f, part(1, n));
    }
}
}  // namespace old_gemm

void bench_core(benchmark::State& st, bool use_old, Pass pass, index_t batch, index_t L, index_t dh) {
  const index_t H = 4, w = H * dh, N = batch * L;
  ctrnet::cpu_simd p;
  p.max_threads = 1;
  Matrix<float> qkv(N, 3 * w), ctx(N, w), dctx(N, w), dqkv(N, 3 * w), ds(L, L);
  fill_uniform(qkv, 5);
  fill_uniform(dctx, 6);
  ctrnet::AlignedVector<float> probs(static_cast<std::size_t>(batch * H * L * L));
  const ctrnet::kernels::AttentionShape shape{batch, L, H, dh};
  const float scale = 1.f / std::sqrt(float(dh));
  auto forward = [&] {
    if (use_old) old_gemm::forward(shape, scale, qkv.cview(), probs.data(), ctx.view());
    else ctrnet::kernels::attention_forward(p, shape, scale, qkv.cview(), nullptr, probs.data(), ctx.view());
  };
  auto backward = [&] {
    if (use_old) old_gemm::backward(shape, scale, qkv.cview(), probs.data(), dctx.cview(), dqkv.view(), ds.data());
    else ctrnet::kernels::attention_backward(p, shape, scale, qkv.cview(), nullptr, probs.data(), dctx.cview(), dqkv.view());
  };
  if (pass == Pass::backward) forward();
  timed_loop(
      st,
      [&] {
        if (pass != Pass::backward) forward();
        if (pass != Pass::forward) backward();
        benchmark::DoNotOptimize(ctx.data());
        benchmark::DoNotOptimize(dqkv.data());
      },
      flops_of(pass, double(batch), double(L), double(w), false), 1);
}

ctrnet::cpu_simd simd_policy(int threads) {
  ctrnet::cpu_simd p;
  p.max_threads = threads;
  return p;
}

void register_all() {
  const index_t batch = 512;
  for (index_t L : {8, 32, 64})
    for (index_t w : {32, 128, 256})
      for (Pass pass : {Pass::forward, Pass::backward, Pass::fwd_bwd})
        for (int t : {1, 2}) {
          const std::string name = std::string("mha/") + pass_name(pass) + "/simd_t" + std::to_string(t) + "/L:" +
                                   std::to_string(L) + "/w:" + std::to_string(w) + "/batch:" + std::to_string(batch);
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
            bench_mha(st, simd_policy(t), t, pass, batch, L, w);
          })->UseRealTime()->MinTime(0.2)->Unit(benchmark::kMillisecond);
        }
  for (Pass pass : {Pass::forward, Pass::backward, Pass::fwd_bwd})
    for (int t : {1, 2}) {
      const std::string name = std::string("mha/") + pass_name(pass) + "/simd_t" + std::to_string(t) +
                               "_whole/L:32/w:128/batch:" + std::to_string(batch);
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
        bench_mha(st, simd_policy(t), t, pass, batch, 32, 128, true);
      })->UseRealTime()->MinTime(0.2)->Unit(benchmark::kMillisecond);
    }
  benchmark::RegisterBenchmark("mha/forward/scalar/L:32/w:128/batch:64", [](benchmark::State& st) {
    bench_mha(st, ctrnet::cpu_scalar{}, 1, Pass::forward, 64, 32, 128);
  })->UseRealTime()->MinTime(0.1)->Unit(benchmark::kMillisecond);
  for (index_t L : {8, 32, 64})
    for (index_t dh : {32, 64})
      for (Pass pass : {Pass::forward, Pass::backward, Pass::fwd_bwd})
        for (bool g : {false, true}) {
          const std::string name = std::string("mha_core/") + pass_name(pass) + (g ? "/gemm_t1" : "/kernel_t1") +
                                   "/L:" + std::to_string(L) + "/dh:" + std::to_string(dh) + "/batch:512";
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { bench_core(st, g, pass, 512, L, dh); })
            ->UseRealTime()
            ->MinTime(0.2)
            ->Unit(benchmark::kMillisecond);
      }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const ctrnet_bench::Peaks peaks = ctrnet_bench::measure_peaks();
  std::copy(std::begin(peaks.gflops), std::end(peaks.gflops), g_peak_gflops);
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
