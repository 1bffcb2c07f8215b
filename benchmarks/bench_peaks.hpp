// The machine peaks that bench_attention, bench_cross, bench_interaction and bench_layers measure at
// start-up and report results against (bench_gemm and bench_retrieval measure the FMA peak with
// their own loop; docs/benchmarks.md): FMA peak and streaming memory bandwidth on 1 and 2 threads,
// the best of three measurements each (a busy machine only ever lowers a measurement). Printed,
// and added to the benchmark context.
#pragma once
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "ctrnet/core/peak.hpp"

namespace ctrnet_bench {

struct Peaks {
  double gflops[3] = {0.0, 0.0, 0.0};  ///< [t]: measured FMA peak on t = 1, 2 threads
  double gbs[3] = {0.0, 0.0, 0.0};     ///< [t]: measured streaming bandwidth on t = 1, 2 threads
};

inline Peaks measure_peaks() {
  Peaks p;
  for (int rep = 0; rep < 3; ++rep)
    for (int t : {1, 2}) {
      p.gflops[t] = std::max(p.gflops[t], ctrnet::measure_fma_peak_gflops(t));
      p.gbs[t] = std::max(p.gbs[t], ctrnet::measure_memory_bandwidth_gbs(t));
    }
  std::printf("measured FMA peak: %.1f GFLOP/s (1 thread), %.1f GFLOP/s (2 threads)\n", p.gflops[1], p.gflops[2]);
  std::printf("measured memory bandwidth (read + write): %.1f GB/s (1 thread), %.1f GB/s (2 threads)\n", p.gbs[1],
              p.gbs[2]);
  benchmark::AddCustomContext("fma_peak_gflops_1t", std::to_string(p.gflops[1]));
  benchmark::AddCustomContext("fma_peak_gflops_2t", std::to_string(p.gflops[2]));
  benchmark::AddCustomContext("memory_bandwidth_gbs_1t", std::to_string(p.gbs[1]));
  benchmark::AddCustomContext("memory_bandwidth_gbs_2t", std::to_string(p.gbs[2]));
  return p;
}

}  // namespace ctrnet_bench
