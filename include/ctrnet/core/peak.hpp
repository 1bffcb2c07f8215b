// Measured machine peaks, so benchmarks can report the share of what this CPU can actually do:
//   FMA peak  = lanes * 2 flop * (independent FMAs retired per second), register resident;
//   bandwidth = bytes read + bytes written per second by a streaming scale-copy dst = s * src.
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include "ctrnet/core/aligned.hpp"

namespace ctrnet {

namespace detail {

using peak_clock = std::chrono::steady_clock;

inline double seconds_since(peak_clock::time_point t0) {
  return std::chrono::duration<double>(peak_clock::now() - t0).count();
}

/// Runs `iters` iterations of kChains independent FMA chains acc_i = acc_i * m + a and returns a
/// value derived from every chain, so the compiler must keep all of them. kChains = 12 covers
/// FMA latency (4-5 cycles) x throughput (2 per cycle) on current x86 cores with room to spare.
inline float fma_chains(std::int64_t iters, float seed) {
  using batch = xsimd::batch<float>;
  constexpr int kChains = 12;
  const batch m(0.999999f);
  const batch a(1e-7f);
  batch acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = batch(seed + 0.001f * static_cast<float>(c));
  for (std::int64_t i = 0; i < iters; ++i) {
    // Fully unrolled by the compiler: kChains independent FMAs per iteration, all in registers.
    for (int c = 0; c < kChains; ++c) acc[c] = xsimd::fma(acc[c], m, a);
  }
  batch s = acc[0];
  for (int c = 1; c < kChains; ++c) s += acc[c];
  return xsimd::hadd(s);
}

/// Flops of one fma_chains iteration: 12 chains * lanes * 2.
inline double fma_chain_flops_per_iter() { return 12.0 * static_cast<double>(xsimd::batch<float>::size) * 2.0; }

/// Iteration count that takes roughly `seconds` on this core (calibrated, after a warm-up that
/// also lets the clock ramp up).
inline std::int64_t calibrate_fma_iters(double seconds) {
  volatile float sink = 0.f;
  std::int64_t iters = 1 << 16;
  for (;;) {
    const auto t0 = peak_clock::now();
    sink = sink + fma_chains(iters, 1.f);
    const double dt = seconds_since(t0);
    if (dt > 0.01) return std::max<std::int64_t>(1, static_cast<std::int64_t>(static_cast<double>(iters) * seconds / dt));
    iters *= 2;
  }
}

/// Runs `body(t)` for t in [0, threads) concurrently on oneTBB workers (an arena of `threads`).
/// A bounded spin barrier makes the bodies start together; if the scheduler runs them one after
/// another anyway, the barrier gives up after 200 ms and the measurement is simply lower.
template <class F>
void run_on_threads(int threads, F&& body) {
  if (threads <= 1) {
    body(0);
    return;
  }
  tbb::task_arena arena(threads);
  std::atomic<int> arrived{0};
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<int>(0, threads, 1), [&](const tbb::blocked_range<int>& r) {
      for (int t = r.begin(); t != r.end(); ++t) {
        arrived.fetch_add(1);
        const auto t0 = peak_clock::now();
        while (arrived.load() < threads && seconds_since(t0) < 0.2) std::this_thread::yield();
        body(t);
      }
    }, tbb::simple_partitioner());
  });
}

}  // namespace detail

/// \brief Measured FMA peak in GFLOP/s on `threads` threads (2 flops per FMA lane, float,
/// widest SIMD the build targets). Each thread runs ~100 ms of register-resident independent
/// FMAs: a calibration/warm-up, then 40 trials of ~2 ms of which the best is reported (the best,
/// not the mean: other processes and interrupts only ever make a trial slower, and short trials
/// are more likely to run undisturbed on a busy machine).
inline double measure_fma_peak_gflops(int threads = 1) {
  threads = std::max(1, threads);
  const std::int64_t iters = detail::calibrate_fma_iters(0.002);
  const double flops = detail::fma_chain_flops_per_iter() * static_cast<double>(iters) * threads;
  double best = 0.0;
  std::atomic<float> sink{0.f};
  for (int trial = 0; trial < 40; ++trial) {
    const auto t0 = detail::peak_clock::now();
    detail::run_on_threads(threads, [&](int t) {
      const float v = detail::fma_chains(iters, 1.f + static_cast<float>(t));
      sink.store(sink.load() + v);
    });
    best = std::max(best, flops / detail::seconds_since(t0) / 1e9);
  }
  return sink.load() == -1.f ? 0.0 : best;  // (the comparison keeps the result alive)
}

/// \brief Measured streaming memory bandwidth in GB/s (1e9 bytes/s) on `threads` threads:
/// scale-copy dst = s * src between the two halves of a 256 MiB buffer, counting bytes read +
/// bytes written; best of four passes after a warm-up pass that also faults the pages in.
inline double measure_memory_bandwidth_gbs(int threads = 1) {
  threads = std::max(1, threads);
  using batch = xsimd::batch<float>;
  constexpr std::size_t kBytes = std::size_t(256) << 20;
  const std::size_t n = kBytes / sizeof(float) / 2;  // floats per half
  AlignedVector<float> buf(2 * n, 1.0f);
  float* src = buf.data();
  float* dst = buf.data() + n;
  const std::size_t chunk = (n / static_cast<std::size_t>(threads)) / batch::size * batch::size;

  auto pass = [&](float s) {
    detail::run_on_threads(threads, [&](int t) {
      const std::size_t b = chunk * static_cast<std::size_t>(t);
      const std::size_t e = (t == threads - 1) ? n : b + chunk;
      const batch sv(s);
      std::size_t i = b;
      for (; i + batch::size <= e; i += batch::size) (sv * batch::load_aligned(src + i)).store_aligned(dst + i);
      for (; i < e; ++i) dst[i] = s * src[i];
    });
  };

  pass(1.0f);  // warm-up
  double best = 0.0;
  for (int rep = 0; rep < 4; ++rep) {
    const auto t0 = detail::peak_clock::now();
    pass(rep % 2 ? 1.0f : -1.0f);
    best = std::max(best, 2.0 * static_cast<double>(n * sizeof(float)) / detail::seconds_since(t0) / 1e9);
  }
  return dst[n / 2] == 12345.f ? 0.0 : best;
}

}  // namespace ctrnet
