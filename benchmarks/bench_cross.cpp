// Cross-layer kernels of DCN / DCN-V2 against the FMA peak and memory bandwidth measured at start-up
// in this run (best of three each: load only lowers them).
//
//   cross/<layer>/<pass>/<impl>/d:D/batch:B
//     layer: v1 (CrossV1), v2_full (CrossV2, W [d, d]), v2_r64 (CrossV2, U V with rank 64),
//            mix_k4_r64 (CrossMix, 4 experts of rank 64, relu).
//     pass:  forward, backward (the forward ran before the timed loop; its cache is reused),
//            fwd_bwd (one training step of the layer: forward then backward).
//     impl:  scalar (cpu_scalar, the naive-loop reference; forward and backward, every shape but
//            d 1024 x batch 4096), simd_t1 / simd_t2 (cpu_simd, 1 or 2 oneTBB threads).
//   Counters: GFLOPS = the layer's arithmetic (GEMM flops 2·m·n·k each plus the element-wise
//   epilogue flops, formulas in flops_of below) / time; peak_share = GFLOPS / measured FMA peak of
//   the threads used; GBps = the layer's compulsory traffic (each input, weight and output matrix
//   read or written once) / time; bw_share = GBps / measured bandwidth of the threads used.
//   CrossV1 is a GEMV-shaped layer (bandwidth bound): read its bw_share, not its peak_share.
//
// Every benchmark warms up (one untimed step) before its timed loop, so workspaces and packing
// buffers are allocated and the timed loop reuses them, as a trainer does.
#include <benchmark/benchmark.h>

#include "bench_peaks.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/core/peak.hpp"
#include "ctrnet/layers/cross.hpp"

namespace {

using ctrnet::index_t;
using ctrnet::Matrix;

double g_peak_gflops[3] = {0.0, 0.0, 0.0};
double g_bandwidth_gbs[3] = {0.0, 0.0, 0.0};

using bench_clock = std::chrono::steady_clock;

void fill_uniform(Matrix<float>& m, std::uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = u(rng);
}

enum class Pass { forward, backward, fwd_bwd };
const char* pass_name(Pass p) { return p == Pass::forward ? "forward" : p == Pass::backward ? "backward" : "fwd_bwd"; }

enum class Kind { v1, v2_full, v2_r64, mix };
const char* kind_name(Kind k) {
  switch (k) {
    case Kind::v1: return "v1";
    case Kind::v2_full: return "v2_full";
    case Kind::v2_r64: return "v2_r64";
    default: return "mix_k4_r64";
  }
}
constexpr index_t kRank = 64;
constexpr index_t kExperts = 4;

struct Cost {
  double flops = 0;  // arithmetic
  double bytes = 0;  // compulsory traffic, float32
};

/// Flops and compulsory bytes of one pass of a cross layer with input width d on a batch of B.
/// GEMM: 2·m·n·k. Element-wise (per element of [B, d]): forward x0 ⊙ (t + b) + x_l: 3 flops;
/// backward dt = dy ⊙ x0, db += dt, dx0 += dy ⊙ (t + b), dx_l += dy: 6 flops.
Cost cost_of(Kind k, Pass p, double B, double d) {
  const double bd = B * d;
  Cost f, b;  // forward, backward
  // Element-wise traffic: forward reads x0, x_l, t and writes y; backward reads x0, t, dy and
  // reads+writes dx0, dx_l and writes dt.
  f.flops = 3 * bd;
  f.bytes = 4 * bd * 4;
  b.flops = 6 * bd;
  b.bytes = 8 * bd * 4;
  switch (k) {
    case Kind::v1:  // s = X_l w (GEMV), ds = Σ dy ⊙ x0, dw += dsᵀ X_l, dx_l += ds w
      f.flops += 2 * bd;
      b.flops += 2 * bd + 2 * bd;
      b.bytes += bd * 4;  // X_l read again for dw
      break;
    case Kind::v2_full:
      f.flops += 2 * bd * d;
      f.bytes += d * d * 4;
      b.flops += 4 * bd * d;
      b.bytes += (2 * d * d + bd) * 4;  // W read, dW read+write (x2 counted as 2), X_l re-read
      break;
    case Kind::v2_r64: {
      const double r = std::min<double>(kRank, d);
      f.flops += 4 * bd * r;
      f.bytes += (2 * d * r + 2 * B * r) * 4;
      b.flops += 8 * bd * r;
      b.bytes += (4 * d * r + 2 * B * r + bd) * 4;
      break;
    }
    case Kind::mix: {
      const double K = kExperts, r = kRank;
      // V (stacked), C_i, U_i, gates, σ twice, gated sum (2 K flops per output element).
      f.flops += 2 * B * d * K * r + 2 * B * K * r * r + 2 * B * K * r * d + 2 * B * d * K + 2 * K * bd;
      f.bytes += ((K * r * d) * 2 + K * r * r + K * bd + 4 * B * K * r) * 4;
      // Backward: every GEMM twice (weight and input gradient), the gated sum's backward 3 K flops
      // per element (dE = g dt, dg += dt E).
      b.flops += 2 * (2 * B * d * K * r + 2 * B * K * r * r + 2 * B * K * r * d + 2 * B * d * K) + 3 * K * bd;
      b.bytes += ((K * r * d) * 4 + 2 * K * r * r + 2 * K * bd + 8 * B * K * r) * 4;
      break;
    }
  }
  if (p == Pass::forward) return f;
  if (p == Pass::backward) return b;
  return {f.flops + b.flops, f.bytes + b.bytes};
}

template <class Layer>
Layer make_layer(Kind k) {
  if constexpr (std::is_same_v<Layer, ctrnet::CrossV1>) {
    return ctrnet::CrossV1{};
  } else if constexpr (std::is_same_v<Layer, ctrnet::CrossV2>) {
    return ctrnet::CrossV2(k == Kind::v2_r64 ? kRank : 0);
  } else {
    ctrnet::CrossMix::Options o;
    o.experts = kExperts;
    o.rank = kRank;
    return ctrnet::CrossMix(o);
  }
}

template <class Layer, class P>
void bench_cross(benchmark::State& st, Kind kind, P policy, int threads, Pass pass, index_t batch, index_t d) {
  ctrnet::ParamRegistry reg;
  Layer layer = make_layer<Layer>(kind);
  {
    auto s = reg.scope("cross");
    layer.build(d, reg);
  }
  ctrnet::ModelParams<float> params;
  params.initialize(reg, 1);
  ctrnet::ModelGrads<float> grads;
  grads.allocate(reg);
  Matrix<float> x0(batch, d), xl(batch, d), y(batch, d), dy(batch, d), dx0(batch, d), dxl(batch, d);
  fill_uniform(x0, 2);
  fill_uniform(xl, 3);
  fill_uniform(dy, 4, -1e-3f, 1e-3f);
  typename Layer::template Cache<float> cache;
  const ctrnet::Weights<float> w = params.weights();
  const ctrnet::Gradients<float> g = grads.gradients();
  // backward accumulates into the gradients and dx0 / dx_l, as in training (where the trainer
  // zeroes them per step); dy is small, so nothing approaches overflow in any iteration count.
  auto forward = [&] { layer.forward(policy, w, x0.cview(), xl.cview(), y.view(), cache); };
  auto backward = [&] { layer.backward(policy, w, cache, dy.cview(), dx0.view(), dxl.view(), g); };
  forward();
  backward();
  const auto t0 = bench_clock::now();
  for (auto _ : st) {
    if (pass != Pass::backward) forward();
    if (pass != Pass::forward) backward();
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dxl.data());
    benchmark::DoNotOptimize(grads.dense.data());
    benchmark::ClobberMemory();
  }
  const double seconds = std::chrono::duration<double>(bench_clock::now() - t0).count();
  const Cost c = cost_of(kind, pass, static_cast<double>(batch), static_cast<double>(d));
  const double n = static_cast<double>(st.iterations());
  const double gflops = c.flops * n / seconds / 1e9;
  const double gbps = c.bytes * n / seconds / 1e9;
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

template <class Layer>
void register_kind(Kind kind) {
  for (index_t d : {64, 429, 1024}) {
    for (index_t batch : {1, 64, 512, 4096}) {
      for (Pass pass : {Pass::forward, Pass::backward, Pass::fwd_bwd}) {
        auto name = [&](const char* impl) {
          return std::string("cross/") + kind_name(kind) + "/" + pass_name(pass) + "/" + impl +
                 "/d:" + std::to_string(d) + "/batch:" + std::to_string(batch);
        };
        for (int t : {1, 2}) {
          benchmark::RegisterBenchmark(name(t == 1 ? "simd_t1" : "simd_t2").c_str(), [=](benchmark::State& st) {
            bench_cross<Layer>(st, kind, simd_policy(t), t, pass, batch, d);
          })
              ->UseRealTime()
              ->MinTime(0.1)
              ->Unit(benchmark::kMicrosecond);
        }
        // The naive-loop reference, forward and backward; not at d = 1024, batch 4096, where one
        // scalar iteration of the mixture takes over a minute.
        if (pass != Pass::fwd_bwd && !(d == 1024 && batch == 4096)) {
          benchmark::RegisterBenchmark(name("scalar").c_str(), [=](benchmark::State& st) {
            bench_cross<Layer>(st, kind, ctrnet::cpu_scalar{}, 1, pass, batch, d);
          })
              ->UseRealTime()
              ->MinTime(0.05)
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const ctrnet_bench::Peaks peaks = ctrnet_bench::measure_peaks();
  std::copy(std::begin(peaks.gflops), std::end(peaks.gflops), g_peak_gflops);
  std::copy(std::begin(peaks.gbs), std::end(peaks.gbs), g_bandwidth_gbs);
  register_kind<ctrnet::CrossV1>(Kind::v1);
  register_kind<ctrnet::CrossV2>(Kind::v2_full);
  register_kind<ctrnet::CrossV2>(Kind::v2_r64);
  register_kind<ctrnet::CrossMix>(Kind::mix);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
