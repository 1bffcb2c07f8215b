// GEMM throughput for the three GEMMs of a Linear layer (x: [batch, in], W: [out, in]):
//   forward          NT: y  = x  · Wᵀ   m = batch, n = out, k = in
//   backward_data    NN: dx = dy · W    m = batch, n = in,  k = out
//   backward_weights TN: dW = dyᵀ · x   m = out,   n = in,  k = batch
// with in = out = d, for ctrnet cpu_simd (1 and 2 threads), Eigen, OpenBLAS (when built with
// CTRNET_HAVE_OPENBLAS) and the scalar reference (small shapes only). Each reports GFLOPS
// (2 * batch * d * d flops per call) and peak_share = GFLOPS / measured FMA peak of the threads used.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/peak.hpp"
#include "ctrnet/kernels/gemm.hpp"
#include "peers/eigen_gemm.hpp"

#if defined(CTRNET_HAVE_OPENBLAS)
#include <cblas.h>
#endif

namespace {

using ctrnet::ConstMatrixView;
using ctrnet::index_t;
using ctrnet::Matrix;
using ctrnet::MatrixView;
using ctrnet::kernels::Trans;

double g_peak_gflops[3] = {0.0, 0.0, 0.0};  // [t]: measured FMA peak on t = 1, 2 threads

enum class LinearGemm { forward, backward_data, backward_weights };

const char* gemm_name(LinearGemm g) {
  switch (g) {
    case LinearGemm::forward: return "forward_NT";
    case LinearGemm::backward_data: return "backward_data_NN";
    default: return "backward_weights_TN";
  }
}

/// Operands of one Linear GEMM: C = op(A) · op(B) with the Linear shapes above.
struct Problem {
  Trans ta = Trans::no, tb = Trans::no;
  Matrix<float> a, b, c;
  index_t m = 0, n = 0, k = 0;

  Problem(LinearGemm g, index_t batch, index_t d) {
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    auto random = [&](index_t r, index_t c) {
      Matrix<float> x(r, c);
      for (index_t i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
      return x;
    };
    switch (g) {
      case LinearGemm::forward:  // y[batch, d] = x[batch, d] · W[d, d]ᵀ
        ta = Trans::no, tb = Trans::yes, a = random(batch, d), b = random(d, d), c = Matrix<float>(batch, d);
        m = batch, n = d, k = d;
        break;
      case LinearGemm::backward_data:  // dx[batch, d] = dy[batch, d] · W[d, d]
        ta = Trans::no, tb = Trans::no, a = random(batch, d), b = random(d, d), c = Matrix<float>(batch, d);
        m = batch, n = d, k = d;
        break;
      case LinearGemm::backward_weights:  // dW[d, d] = dy[batch, d]ᵀ · x[batch, d]
        ta = Trans::yes, tb = Trans::no, a = random(batch, d), b = random(batch, d), c = Matrix<float>(d, d);
        m = d, n = d, k = batch;
        break;
    }
  }
  double flops() const { return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k); }
};

using Runner = std::function<void(Problem&)>;

void run_gemm(benchmark::State& state, LinearGemm g, index_t batch, index_t d, int threads, const Runner& run) {
  Problem p(g, batch, d);
  run(p);  // warm-up: first-call allocations, page faults, thread start-up
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    run(p);
    benchmark::DoNotOptimize(p.c.data());
    benchmark::ClobberMemory();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
#if defined(CTRNET_HAVE_OPENBLAS) && defined(OPENBLAS_VERSION)
  if (threads > 1) {
    // OpenBLAS workers spin for a while after a call: let them go to sleep before the next run.
    openblas_set_num_threads(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
#endif
  // Wall-clock rate over the timed loop (the same real time the benchmark reports).
  const double gflops = p.flops() * static_cast<double>(state.iterations()) / seconds / 1e9;
  state.counters["GFLOPS"] = gflops;
  state.counters["peak_share"] = gflops / g_peak_gflops[threads];
}

Runner ctrnet_simd(int threads) {
  return [threads](Problem& p) {
    ctrnet::cpu_simd policy;
    policy.max_threads = threads;
    ctrnet::kernels::gemm(policy, p.ta, p.tb, 1.f, p.a.cview(), p.b.cview(), 0.f, p.c.view());
  };
}

Runner ctrnet_scalar() {
  return [](Problem& p) {
    ctrnet::kernels::gemm(ctrnet::cpu_scalar{}, p.ta, p.tb, 1.f, p.a.cview(), p.b.cview(), 0.f, p.c.view());
  };
}

Runner eigen() {
  return [](Problem& p) { ctrnet_bench::gemm_eigen(p.ta, p.tb, 1.f, p.a.cview(), p.b.cview(), 0.f, p.c.view()); };
}

#if defined(CTRNET_HAVE_OPENBLAS)
Runner openblas(int threads) {
  return [threads](Problem& p) {
#if defined(OPENBLAS_VERSION)
    openblas_set_num_threads(threads);
#else
    (void)threads;
#endif
    cblas_sgemm(CblasRowMajor, p.ta == Trans::yes ? CblasTrans : CblasNoTrans,
                p.tb == Trans::yes ? CblasTrans : CblasNoTrans, static_cast<int>(p.m), static_cast<int>(p.n),
                static_cast<int>(p.k), 1.f, p.a.data(), static_cast<int>(p.a.cols()), p.b.data(),
                static_cast<int>(p.b.cols()), 0.f, p.c.data(), static_cast<int>(p.c.cols()));
  };
}
#endif

void register_all() {
  for (index_t batch : {1, 64, 512, 4096}) {
    for (index_t d : {256, 512, 1024}) {
      for (LinearGemm g : {LinearGemm::forward, LinearGemm::backward_data, LinearGemm::backward_weights}) {
        auto add = [&](const std::string& impl, int threads, Runner run) {
          const std::string name = std::string("gemm/") + gemm_name(g) + "/" + impl + "/batch:" +
                                   std::to_string(batch) + "/d:" + std::to_string(d);
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { run_gemm(st, g, batch, d, threads, run); })
              ->UseRealTime()
              ->MinTime(0.2)
              ->Unit(benchmark::kMicrosecond);
        };
        add("ctrnet_t1", 1, ctrnet_simd(1));
        add("ctrnet_t2", 2, ctrnet_simd(2));
        add("eigen", 1, eigen());
#if defined(CTRNET_HAVE_OPENBLAS)
        add("openblas_t1", 1, openblas(1));
        add("openblas_t2", 2, openblas(2));
#endif
        if (batch <= 64 && d == 256) add("scalar", 1, ctrnet_scalar());
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
#if defined(CTRNET_HAVE_OPENBLAS) && defined(OPENBLAS_VERSION)
  openblas_set_num_threads(1);
#endif
  // The best of three measurements: a busy machine only ever makes a measurement lower.
  for (int rep = 0; rep < 3; ++rep) {
    g_peak_gflops[1] = std::max(g_peak_gflops[1], ctrnet::measure_fma_peak_gflops(1));
    g_peak_gflops[2] = std::max(g_peak_gflops[2], ctrnet::measure_fma_peak_gflops(2));
  }
  std::printf("measured FMA peak: %.1f GFLOP/s (1 thread), %.1f GFLOP/s (2 threads)\n", g_peak_gflops[1],
              g_peak_gflops[2]);
  benchmark::AddCustomContext("fma_peak_gflops_1t", std::to_string(g_peak_gflops[1]));
  benchmark::AddCustomContext("fma_peak_gflops_2t", std::to_string(g_peak_gflops[2]));
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
