// DLRM's dot interaction (layers/dot_interaction.hpp, kernels/interaction.hpp) against the FMA peak
// and memory bandwidth measured at start-up in this run (best of three each: load only lowers them).
//
//   interaction/<pass>/<impl>/d:D/batch:B        F = 26 embeddings + the bottom output: n = 27 vectors
//     pass:  forward, backward (the forward ran before the timed loop; its cache is reused),
//            fwd_bwd (forward then backward).
//     impl:  simd_t1 / simd_t2   the DotInteraction layer on cpu_simd, 1 or 2 oneTBB threads
//                                (hand-written batched kernel: only the kept triangle is computed)
//            gemm_t1 / gemm_t2   the same layer built from a general GEMM per example instead:
//                                Z = T Tᵀ (full [n, n]) with kernels::gemm, then the triangle copied
//                                out; backward scatters dZ into S = dZ + dZᵀ and runs dT += S T. The
//                                examples are split over the threads (a batched GEMM), each GEMM
//                                single-threaded. The alternative the hand-written kernel must beat.
//            scalar              cpu_scalar, the naive-loop reference (batch 512 only)
//   The layer's output is [t_0 | z] (DLRM's R = cat([x, Zflat])), so forward includes copying t_0
//   and backward adding dy[:, :d] into dt_0, as in the reference.
//   Counters: GFLOPS = the arithmetic of the kept triangle / time: forward 2 P d per example
//   (P = n (n − 1) / 2 = 351 dot products of length d, a multiply and an add each), backward 4 P d
//   (each pair adds g t_j to dt_i and g t_i to dt_j); the GEMM variant is credited the same useful
//   flops although it computes the whole Z. peak_share = GFLOPS / measured FMA peak of the threads
//   used; GBps = compulsory traffic (forward: read x [B, n d], write y [B, d + P]; backward: read
//   x and dy, read and write dx) / time; bw_share = GBps / measured bandwidth of the threads used.
#include <benchmark/benchmark.h>

#include "bench_peaks.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/kernels/gemm.hpp"
#include "ctrnet/layers/dot_interaction.hpp"

namespace {

using ctrnet::index_t;
using ctrnet::Matrix;

double g_peak_gflops[3] = {0.0, 0.0, 0.0};
double g_bandwidth_gbs[3] = {0.0, 0.0, 0.0};
constexpr index_t kVectors = 27;  // F = 26 embeddings + the bottom MLP output

using bench_clock = std::chrono::steady_clock;

void fill_uniform(Matrix<float>& m, std::uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = u(rng);
}

enum class Pass { forward, backward, fwd_bwd };
const char* pass_name(Pass p) { return p == Pass::forward ? "forward" : p == Pass::backward ? "backward" : "fwd_bwd"; }
enum class Impl { layer, gemm };

struct Cost {
  double flops = 0, bytes = 0;
};
Cost cost_of(Pass p, double B, double d) {
  const double n = kVectors, P = n * (n - 1) / 2;
  const Cost f{2 * P * d * B, (n * d + d + P) * B * 4};
  const Cost b{4 * P * d * B, (3 * n * d + d + P) * B * 4};
  if (p == Pass::forward) return f;
  if (p == Pass::backward) return b;
  return {f.flops + b.flops, f.bytes + b.bytes};
}

/// The interaction from a general GEMM per example (see the header comment); examples split over
/// the threads of `policy`, one single-threaded GEMM each.
struct GemmInteraction {
  index_t n = kVectors, d = 0;
  Matrix<float> z, s;  // one [n, n] block per worker: [threads * n, n]

  static int threads_of(const ctrnet::cpu_simd& p) { return ctrnet::kernels::detail::gemm_thread_count(p); }

  template <class F>
  void examples(const ctrnet::cpu_simd& p, index_t rows, F&& f) const {
    const int threads = threads_of(p);
    const index_t chunk = ctrnet::kernels::detail::ceil_div(rows, static_cast<index_t>(threads));
    ctrnet::kernels::detail::run_with_threads(p, threads, [&] {
      ctrnet::kernels::detail::parallel_items(threads, ctrnet::kernels::detail::ceil_div(rows, chunk), [&](index_t i) {
        f(i, i * chunk, std::min(rows, (i + 1) * chunk));
      });
    });
  }

  void forward(const ctrnet::cpu_simd& p, ctrnet::ConstMatrixView<float> x, ctrnet::MatrixView<float> y) {
    using ctrnet::kernels::Trans;
    z.resize(threads_of(p) * n, n);
    examples(p, x.rows, [&](index_t w, index_t b0, index_t b1) {
      const ctrnet::cpu_simd one = ctrnet::single_threaded(p);
      ctrnet::MatrixView<float> zw = z.view().row_block(w * n, n);
      for (index_t b = b0; b < b1; ++b) {
        const ctrnet::ConstMatrixView<float> t(x.row(b), n, d);
        ctrnet::kernels::gemm(one, Trans::no, Trans::yes, 1.f, t, t, 0.f, zw);
        float* yr = y.row(b);
        std::copy(x.row(b), x.row(b) + d, yr);
        index_t q = d;
        for (index_t i = 1; i < n; ++i)
          for (index_t j = 0; j < i; ++j) yr[q++] = zw(i, j);
      }
    });
  }

  void backward(const ctrnet::cpu_simd& p, ctrnet::ConstMatrixView<float> x, ctrnet::ConstMatrixView<float> dy,
                ctrnet::MatrixView<float> dx) {
    using ctrnet::kernels::Trans;
    s.resize(threads_of(p) * n, n, 0.f);  // the diagonal stays 0
    examples(p, x.rows, [&](index_t w, index_t b0, index_t b1) {
      const ctrnet::cpu_simd one = ctrnet::single_threaded(p);
      ctrnet::MatrixView<float> sw = s.view().row_block(w * n, n);
      for (index_t b = b0; b < b1; ++b) {
        const float* g = dy.row(b);
        float* dxr = dx.row(b);
        for (index_t k = 0; k < d; ++k) dxr[k] += g[k];
        index_t q = d;
        for (index_t i = 1; i < n; ++i)
          for (index_t j = 0; j < i; ++j) sw(i, j) = sw(j, i) = g[q++];
        const ctrnet::ConstMatrixView<float> t(x.row(b), n, d);
        ctrnet::kernels::gemm(one, Trans::no, Trans::no, 1.f, ctrnet::ConstMatrixView<float>(sw), t, 1.f, ctrnet::MatrixView<float>(dxr, n, d));
      }
    });
  }
};

template <class P>
void bench_interaction(benchmark::State& st, Impl impl, P policy, int threads, Pass pass, index_t batch, index_t d) {
  ctrnet::DotInteraction::Options o;
  o.dim = d;
  ctrnet::DotInteraction layer(o);
  ctrnet::ParamRegistry reg;
  const index_t out = layer.build(kVectors * d, reg);
  Matrix<float> x(batch, kVectors * d), y(batch, out), dy(batch, out), dx(batch, kVectors * d, 0.f);
  fill_uniform(x, 2);
  fill_uniform(dy, 4, -1e-3f, 1e-3f);
  ctrnet::DotInteraction::Cache<float> cache;
  GemmInteraction gi;
  gi.d = d;
  auto forward = [&] {
    if constexpr (std::is_same_v<P, ctrnet::cpu_simd>) {
      if (impl == Impl::gemm) return gi.forward(policy, x.cview(), y.view());
    }
    layer.forward(policy, ctrnet::Weights<float>{}, x.cview(), y.view(), cache);
  };
  auto backward = [&] {
    if constexpr (std::is_same_v<P, ctrnet::cpu_simd>) {
      if (impl == Impl::gemm) return gi.backward(policy, x.cview(), dy.cview(), dx.view());
    }
    layer.backward(policy, ctrnet::Weights<float>{}, cache, dy.cview(), dx.view(), ctrnet::Gradients<float>{});
  };
  forward();
  backward();
  const auto t0 = bench_clock::now();
  for (auto _ : st) {
    if (pass != Pass::backward) forward();
    if (pass != Pass::forward) backward();
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
    benchmark::ClobberMemory();
  }
  const double seconds = std::chrono::duration<double>(bench_clock::now() - t0).count();
  const Cost c = cost_of(pass, static_cast<double>(batch), static_cast<double>(d));
  const double n = static_cast<double>(st.iterations());
  const double gflops = c.flops * n / seconds / 1e9, gbps = c.bytes * n / seconds / 1e9;
  st.counters["GFLOPS"] = gflops;
  st.counters["peak_share"] = gflops / g_peak_gflops[threads];
  st.counters["GBps"] = gbps;
  st.counters["bw_share"] = gbps / g_bandwidth_gbs[threads];
}

ctrnet::cpu_simd simd_policy(int threads) {
  ctrnet::cpu_simd p;
  p.max_threads = threads;
  return p;
}

void register_all() {
  for (index_t d : {16, 32, 64, 128})
    for (index_t batch : {512, 4096})
      for (Pass pass : {Pass::forward, Pass::backward, Pass::fwd_bwd}) {
        auto name = [&](const std::string& impl) {
          return std::string("interaction/") + pass_name(pass) + "/" + impl + "/d:" + std::to_string(d) +
                 "/batch:" + std::to_string(batch);
        };
        for (int t : {1, 2})
          for (Impl impl : {Impl::layer, Impl::gemm}) {
            const std::string tag = std::string(impl == Impl::layer ? "simd_t" : "gemm_t") + std::to_string(t);
            benchmark::RegisterBenchmark(name(tag).c_str(), [=](benchmark::State& st) {
              bench_interaction(st, impl, simd_policy(t), t, pass, batch, d);
            })
                ->UseRealTime()
                ->MinTime(0.1)
                ->Unit(benchmark::kMicrosecond);
          }
        if (pass != Pass::fwd_bwd && batch == 512)
          benchmark::RegisterBenchmark(name("scalar").c_str(), [=](benchmark::State& st) {
            bench_interaction(st, Impl::layer, ctrnet::cpu_scalar{}, 1, pass, batch, d);
          })
              ->UseRealTime()
              ->MinTime(0.05)
              ->Unit(benchmark::kMicrosecond);
      }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const ctrnet_bench::Peaks peaks = ctrnet_bench::measure_peaks();
  std::copy(std::begin(peaks.gflops), std::end(peaks.gflops), g_peak_gflops);
  std::copy(std::begin(peaks.gbs), std::end(peaks.gbs), g_bandwidth_gbs);
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
