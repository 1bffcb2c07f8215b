// MultiHeadAttention (self-attention over L tokens of width w, H = max(1, w / 32) heads of 32)
// forward and backward against the FMA peak measured at start-up in this run.
//
//   mha/<pass>/<impl>/L:L/w:W/batch:B
//     pass:  forward, backward (the forward ran before the timed loop; its cache is reused),
//            fwd_bwd (forward then backward: one training step of the layer)
//     impl:  simd_t1 / simd_t2 (cpu_simd, 1 or 2 oneTBB threads); scalar (cpu_scalar reference,
//            forward only, L 32, w 128, batch 64)
//   mha_core/<pass>/<variant>_t1/L:L/dh:D/batch:B   the attention core only (no projections), one
//     thread, H = 4 heads of D: `kernel` is the library's (kernels/simd/attention.hpp: the packed
//     GEMM per (example, head) on strided views + fused softmax passes), `rows` a hand-written
//     "row combination" kernel defined here (2 rows × 4 vectors of accumulators, K and V
//     transposed into a scratch) — the measurement behind the library's choice.
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
void bench_mha(benchmark::State& st, P policy, int threads, Pass pass, index_t batch, index_t L, index_t w) {
  ctrnet::MultiHeadAttention::Options o;
  o.tokens = L;
  o.heads = heads_of(w);
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

// ----- the attention core as a hand-written "row combination" kernel (comparison only) ----------
// Every small product is out_i = α Σ_j a_ij M_j over rows M_j in L1, two output rows × four
// vectors of accumulators at a time; K and V are transposed once per head into a scratch.
namespace rows {
using ctrnet::kernels::attn_detail::softmax_row;
using ctrnet::kernels::attn_detail::softmax_backward_row;
template <class T>
using vec = xsimd::batch<T>;
/// out_r[0:n] = α Σ_{j<m} a_r[j·inca] M[j·ldm + 0:n] for r < R (OVERWRITES out_r).
template <int R, class T>
inline void combine_rows(index_t n, index_t m, const T* const* a, index_t inca, const T* M, index_t ldm, T alpha,
                         T* const* out) {
  using V = vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  constexpr index_t NV = 4;
  index_t c = 0;
  for (; c + NV * W <= n; c += NV * W) {
    V acc[R][NV];
    for (int r = 0; r < R; ++r)
      for (index_t v = 0; v < NV; ++v) acc[r][v] = V(T(0));
    for (index_t j = 0; j < m; ++j) {
      const T* mj = M + j * ldm + c;
      V mv[NV];
      for (index_t v = 0; v < NV; ++v) mv[v] = V::load_unaligned(mj + v * W);
      for (int r = 0; r < R; ++r) {
        const V av(a[r][j * inca]);
        for (index_t v = 0; v < NV; ++v) acc[r][v] = xsimd::fma(av, mv[v], acc[r][v]);
      }
    }
    const V al(alpha);
    for (int r = 0; r < R; ++r)
      for (index_t v = 0; v < NV; ++v) (al * acc[r][v]).store_unaligned(out[r] + c + v * W);
  }
  for (; c + W <= n; c += W) {
    V acc[R];
    for (int r = 0; r < R; ++r) acc[r] = V(T(0));
    for (index_t j = 0; j < m; ++j) {
      const V mv = V::load_unaligned(M + j * ldm + c);
      for (int r = 0; r < R; ++r) acc[r] = xsimd::fma(V(a[r][j * inca]), mv, acc[r]);
    }
    for (int r = 0; r < R; ++r) (V(alpha) * acc[r]).store_unaligned(out[r] + c);
  }
  for (; c < n; ++c) {
    for (int r = 0; r < R; ++r) {
      T acc = T(0);
      for (index_t j = 0; j < m; ++j) acc = std::fma(a[r][j * inca], M[j * ldm + c], acc);
      out[r][c] = alpha * acc;
    }
  }
}

/// Rows i < rows of out (stride ldo) = α Σ_j A[i·lda_row + j·inca] M_j, two rows at a time.
template <class T>
inline void combine(index_t rows, index_t n, index_t m, const T* A, index_t lda_row, index_t inca, const T* M,
                    index_t ldm, T alpha, T* out, index_t ldo) {
  index_t i = 0;
  for (; i + 2 <= rows; i += 2) {
    const T* a[2] = {A + i * lda_row, A + (i + 1) * lda_row};
    T* o[2] = {out + i * ldo, out + (i + 1) * ldo};
    combine_rows<2>(n, m, a, inca, M, ldm, alpha, o);
  }
  for (; i < rows; ++i) {
    const T* a[1] = {A + i * lda_row};
    T* o[1] = {out + i * ldo};
    combine_rows<1>(n, m, a, inca, M, ldm, alpha, o);
  }
}

/// dst[d, j] = src[j·ld + d] for j < n, d < dh (a [n, dh] block transposed to [dh, L]).
template <class T>
inline void transpose_block(const T* src, index_t ld, index_t n, index_t dh, T* dst, index_t L) {
  for (index_t j = 0; j < n; ++j)
    for (index_t d = 0; d < dh; ++d) dst[d * L + j] = src[j * ld + d];
}


void forward(index_t B, index_t L, index_t H, index_t dh, ConstMatrixView<float> qkv, float* probs, MatrixView<float> ctx,
             float* kt) {
  const index_t w = H * dh, ld = qkv.stride;
  const float scale = 1.f / std::sqrt(float(dh));
  for (index_t b = 0; b < B; ++b) {
    const float* base = qkv.row(b * L);
    for (index_t h = 0; h < H; ++h) {
      float* P = probs + (b * H + h) * L * L;
      transpose_block(base + w + h * dh, ld, L, dh, kt, L);
      combine(L, L, dh, base + h * dh, ld, index_t(1), kt, L, scale, P, L);
      for (index_t i = 0; i < L; ++i) softmax_row(P + i * L, L, L);
      combine(L, dh, L, static_cast<const float*>(P), L, index_t(1), base + 2 * w + h * dh, ld, 1.f,
              ctx.row(b * L) + h * dh, ctx.stride);
    }
  }
}
void backward(index_t B, index_t L, index_t H, index_t dh, ConstMatrixView<float> qkv, const float* probs,
              ConstMatrixView<float> dctx, MatrixView<float> dqkv, float* vt, float* ds) {
  const index_t w = H * dh, ld = qkv.stride, ldd = dqkv.stride;
  const float scale = 1.f / std::sqrt(float(dh));
  for (index_t b = 0; b < B; ++b) {
    const float* base = qkv.row(b * L);
    const float* dc = dctx.row(b * L);
    float* dbase = dqkv.row(b * L);
    for (index_t h = 0; h < H; ++h) {
      const float* P = probs + (b * H + h) * L * L;
      const float* dch = dc + h * dh;
      combine(L, dh, L, P, index_t(1), L, dch, dctx.stride, 1.f, dbase + 2 * w + h * dh, ldd);
      transpose_block(base + 2 * w + h * dh, ld, L, dh, vt, L);
      combine(L, L, dh, dch, dctx.stride, index_t(1), vt, L, 1.f, ds, L);
      for (index_t i = 0; i < L; ++i) softmax_backward_row(P + i * L, ds + i * L, L, L, scale);
      combine(L, dh, L, static_cast<const float*>(ds), L, index_t(1), base + w + h * dh, ld, 1.f, dbase + h * dh, ldd);
      combine(L, dh, L, static_cast<const float*>(ds), index_t(1), L, base + h * dh, ld, 1.f, dbase + w + h * dh, ldd);
    }
  }
}
}  // namespace rows

void bench_core(benchmark::State& st, bool use_rows, Pass pass, index_t batch, index_t L, index_t dh) {
  const index_t H = 4, w = H * dh, N = batch * L;
  ctrnet::cpu_simd p;
  p.max_threads = 1;
  Matrix<float> qkv(N, 3 * w), ctx(N, w), dctx(N, w), dqkv(N, 3 * w), ds(L, L), kt(dh, L);
  fill_uniform(qkv, 5);
  fill_uniform(dctx, 6);
  ctrnet::AlignedVector<float> probs(static_cast<std::size_t>(batch * H * L * L));
  const ctrnet::kernels::AttentionShape shape{batch, L, H, dh};
  const float scale = 1.f / std::sqrt(float(dh));
  auto forward = [&] {
    if (use_rows) rows::forward(batch, L, H, dh, qkv.cview(), probs.data(), ctx.view(), kt.data());
    else ctrnet::kernels::attention_forward(p, shape, scale, qkv.cview(), nullptr, probs.data(), ctx.view());
  };
  auto backward = [&] {
    if (use_rows) rows::backward(batch, L, H, dh, qkv.cview(), probs.data(), dctx.cview(), dqkv.view(), kt.data(), ds.data());
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
  benchmark::RegisterBenchmark("mha/forward/scalar/L:32/w:128/batch:64", [](benchmark::State& st) {
    bench_mha(st, ctrnet::cpu_scalar{}, 1, Pass::forward, 64, 32, 128);
  })->UseRealTime()->MinTime(0.1)->Unit(benchmark::kMillisecond);
  for (index_t dh : {32, 64})
    for (Pass pass : {Pass::forward, Pass::backward})
      for (bool g : {false, true}) {
        const std::string name = std::string("mha_core/") + pass_name(pass) + (g ? "/rows_t1" : "/kernel_t1") +
                                 "/L:32/dh:" + std::to_string(dh) + "/batch:512";
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { bench_core(st, g, pass, 512, 32, dh); })
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
