// Layer-level throughput against the machine peaks measured at start-up in this run (FMA peak and
// streaming memory bandwidth for 1 and 2 threads, best of three each: load only lowers them):
//   linear/<pass>/<impl>/batch:B/d:D   Linear(d → d, bias, relu), x: [B, d], W: [d, d].
//       GFLOPS counts ONLY the GEMM flops, 2·B·d·d per GEMM: forward 1 GEMM (y = x Wᵀ), backward
//       2 GEMMs (dW += dzᵀ x, dx += dz W), forward_backward 3. The bias/relu epilogues, db and
//       the relu-derivative pass are real work in the timing but not counted as flops.
//       peak_share = GFLOPS / measured FMA peak of the threads used.
//   mlp_step/<impl>/in:429/h:<widths>/batch:B   one dense training step of an MLP (relu, plain
//       logit at the end): zero grads, forward, backward (dx included, as an MLP fed by
//       embeddings needs it), Adam over the flat buffer. GFLOPS: GEMM flops only (3 GEMMs per
//       layer); samples_per_s = B / step time.
//   embedding/forward/<ids>/<dist>/dim:D/<impl>   embedding_bag_forward, sum pooling, batch 4096,
//       table [1e6, D]; ids = one id per example ("onehot") or bags of 8 ("bag8"), uniform or
//       Zipf(s = 1.1) over the rows (hot rows scattered over the table). Each iteration takes the
//       next batch of a 2^21-id ring, so consecutive iterations do not re-read the same rows.
//       GBps = (embedding rows read + output written) / time (ids and offsets not counted);
//       bw_share = GBps / measured 1-thread bandwidth (the kernel is single-threaded). Zipf ids hit
//       cache, so their share can exceed 1: it is then a cache rate, not a DRAM rate.
//   embedding/update/<opt>/<ids>/<dist>/dim:D/<impl>   one sparse step of a table: SparseRows
//       clear + embedding_bag_backward (scatter-add of dy: [4096, D]) + <opt>.apply on the
//       touched rows (rowwise_adagrad: RowWiseAdagrad, adagrad: SparseAdagrad).
//       updates_per_s = touched rows / step time; apply_GBps = (table row read + write + optimizer
//       state read + write of the touched rows) / apply time (the SparseRows gradient row, in
//       cache, is not counted); step_GBps = the same bytes / step time; bw_share = apply_GBps /
//       measured bandwidth of the threads used; bwd_frac = share of the step spent in backward.
// Every benchmark allocates and warms up (one untimed call) before its timed loop, so the loop
// runs on reused caches and workspaces.
#include <benchmark/benchmark.h>

#include "bench_peaks.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/core/peak.hpp"
#include "ctrnet/kernels/embedding.hpp"
#include "ctrnet/layers/linear.hpp"
#include "ctrnet/layers/mlp.hpp"
#include "ctrnet/optim/adam.hpp"
#include "ctrnet/optim/sparse.hpp"

namespace {

using ctrnet::Activation;
using ctrnet::FeatureId;
using ctrnet::index_t;
using ctrnet::Matrix;

double g_peak_gflops[3] = {0.0, 0.0, 0.0};    // [t]: measured FMA peak on t = 1, 2 threads
double g_bandwidth_gbs[3] = {0.0, 0.0, 0.0};  // [t]: measured streaming bandwidth on t = 1, 2 threads

using bench_clock = std::chrono::steady_clock;

double seconds_between(bench_clock::time_point a, bench_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void fill_uniform(Matrix<float>& m, std::uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = u(rng);
}

ctrnet::cpu_simd simd_policy(int threads) {
  ctrnet::cpu_simd p;
  p.max_threads = threads;
  return p;
}

// ---------------------------------------------------------------------------------------------
// 1. Linear
// ---------------------------------------------------------------------------------------------

enum class Pass { forward, backward, forward_backward };

const char* pass_name(Pass p) {
  switch (p) {
    case Pass::forward: return "forward";
    case Pass::backward: return "backward";
    default: return "forward_backward";
  }
}

int gemms_of(Pass p) { return p == Pass::forward ? 1 : p == Pass::backward ? 2 : 3; }

/// Linear(d → d, bias, relu) on x: [batch, d]; `policy` is cpu_simd (max_threads set) or cpu_scalar.
template <class P>
void bench_linear(benchmark::State& st, P policy, int threads, Pass pass, index_t batch, index_t d) {
  ctrnet::ParamRegistry reg;
  ctrnet::Linear::Options o;
  o.units = d;
  o.activation = Activation::relu;
  ctrnet::Linear lin(o);
  {
    auto s = reg.scope("linear");
    lin.build(d, reg);
  }
  ctrnet::ModelParams<float> params;
  params.initialize(reg, 1);
  ctrnet::ModelGrads<float> grads;
  grads.allocate(reg);
  Matrix<float> x(batch, d), y(batch, d), dy(batch, d), dx(batch, d);
  fill_uniform(x, 2);
  fill_uniform(dy, 3);
  ctrnet::Linear::Cache<float> cache;
  const ctrnet::Weights<float> w = params.weights();
  const ctrnet::Gradients<float> g = grads.gradients();
  // backward accumulates into dW, db and dx (as in training, where the trainer zeroes them per
  // step); the values stay far from overflow for any iteration count a benchmark reaches.
  auto forward = [&] { lin.forward(policy, w, x.cview(), y.view(), cache); };
  auto backward = [&] { lin.backward(policy, w, cache, dy.cview(), dx.view(), g); };

  forward();  // warm-up: workspaces, packing buffers, thread arenas, page faults
  backward();
  const auto t0 = bench_clock::now();
  for (auto _ : st) {
    if (pass != Pass::backward) forward();
    if (pass != Pass::forward) backward();
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
    benchmark::DoNotOptimize(grads.dense.data());
    benchmark::ClobberMemory();
  }
  const double seconds = seconds_between(t0, bench_clock::now());
  const double flops = 2.0 * static_cast<double>(batch) * static_cast<double>(d) * static_cast<double>(d) *
                       gemms_of(pass) * static_cast<double>(st.iterations());
  const double gflops = flops / seconds / 1e9;
  st.counters["GFLOPS"] = gflops;
  st.counters["peak_share"] = gflops / g_peak_gflops[threads];
}

void register_linear() {
  for (index_t batch : {1, 64, 512, 4096}) {
    for (index_t d : {256, 512, 1024}) {
      for (Pass pass : {Pass::forward, Pass::backward, Pass::forward_backward}) {
        auto name = [&](const char* impl) {
          return std::string("linear/") + pass_name(pass) + "/" + impl + "/batch:" + std::to_string(batch) +
                 "/d:" + std::to_string(d);
        };
        for (int t : {1, 2}) {
          benchmark::RegisterBenchmark(name(t == 1 ? "ctrnet_t1" : "ctrnet_t2").c_str(),
                                       [=](benchmark::State& st) { bench_linear(st, simd_policy(t), t, pass, batch, d); })
              ->UseRealTime()
              ->MinTime(0.2)
              ->Unit(benchmark::kMicrosecond);
        }
        if (batch <= 64 && d == 256) {  // the naive-loop peer, small shapes only
          benchmark::RegisterBenchmark(name("scalar").c_str(), [=](benchmark::State& st) {
            bench_linear(st, ctrnet::cpu_scalar{}, 1, pass, batch, d);
          })
              ->UseRealTime()
              ->MinTime(0.2)
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 2. MLP training step
// ---------------------------------------------------------------------------------------------

constexpr index_t kMlpInput = 429;  // the Criteo x0 width (13 dense + 26 x 16 embeddings)

std::string widths_name(const std::vector<index_t>& widths) {
  std::string s;
  for (index_t wd : widths) {
    if (!s.empty()) s += '-';
    s += std::to_string(wd);
  }
  return s;
}

void bench_mlp_step(benchmark::State& st, int threads, std::vector<index_t> widths, index_t batch) {
  ctrnet::ParamRegistry reg;
  ctrnet::MLP::Options o;
  o.widths = widths;
  o.activation = Activation::relu;
  o.last_activation = Activation::identity;  // a plain logit
  ctrnet::MLP mlp(o);
  {
    auto s = reg.scope("mlp");
    mlp.build(kMlpInput, reg);
  }
  ctrnet::ModelParams<float> params;
  params.initialize(reg, 7);
  ctrnet::ModelGrads<float> grads;
  grads.allocate(reg);
  ctrnet::Adam<float> adam;
  adam.init(reg.dense_size());
  const index_t out = widths.back();
  Matrix<float> x(batch, kMlpInput), y(batch, out), dy(batch, out), dx(batch, kMlpInput);
  fill_uniform(x, 11);
  fill_uniform(dy, 12, -0.01f, 0.01f);  // stands in for the loss gradient
  ctrnet::MLP::Cache<float> cache;
  ctrnet::Context ctx;
  ctx.training = true;
  const ctrnet::cpu_simd policy = simd_policy(threads);

  auto step = [&] {
    grads.zero();
    dx.set_zero();
    mlp.forward(policy, params.weights(), x.cview(), y.view(), cache, ctx);
    mlp.backward(policy, params.weights(), cache, dy.cview(), dx.view(), grads.gradients());
    adam.step(policy, std::span<float>(params.dense.data(), params.dense.size()),
              std::span<const float>(grads.dense.data(), grads.dense.size()));
  };
  step();  // warm-up: caches sized, Adam state touched
  const auto t0 = bench_clock::now();
  for (auto _ : st) {
    step();
    benchmark::DoNotOptimize(params.dense.data());
    benchmark::DoNotOptimize(dx.data());
    benchmark::ClobberMemory();
  }
  const double seconds = seconds_between(t0, bench_clock::now());
  double flops_per_step = 0.0;
  index_t in = kMlpInput;
  for (index_t wd : widths) {
    flops_per_step += 3.0 * 2.0 * static_cast<double>(batch) * static_cast<double>(in) * static_cast<double>(wd);
    in = wd;
  }
  const double iters = static_cast<double>(st.iterations());
  const double gflops = flops_per_step * iters / seconds / 1e9;
  st.counters["GFLOPS"] = gflops;
  st.counters["peak_share"] = gflops / g_peak_gflops[threads];
  st.counters["samples_per_s"] = static_cast<double>(batch) * iters / seconds;
}

void register_mlp() {
  const std::vector<std::vector<index_t>> stacks = {{512, 256, 1}, {1024, 512, 256, 1}};
  for (const auto& widths : stacks) {
    for (index_t batch : {64, 512, 4096}) {
      for (int t : {1, 2}) {
        const std::string name = std::string("mlp_step/ctrnet_t") + std::to_string(t) + "/in:" +
                                 std::to_string(kMlpInput) + "/h:" + widths_name(widths) + "/batch:" +
                                 std::to_string(batch);
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { bench_mlp_step(st, t, widths, batch); })
            ->UseRealTime()
            ->MinTime(0.2)
            ->Unit(benchmark::kMicrosecond);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Embedding bags
// ---------------------------------------------------------------------------------------------

constexpr index_t kTableRows = 1'000'000;
constexpr index_t kEmbBatch = 4096;
constexpr std::size_t kRingIds = std::size_t(1) << 21;  // 16 MiB of ids; 512 one-hot / 64 bag-8 batches
constexpr double kZipfS = 1.1;

enum class Dist { uniform, zipf };
const char* dist_name(Dist d) { return d == Dist::uniform ? "uniform" : "zipf"; }

/// A ring of ids and the offsets of one-id and 8-id bags over it (absolute, as FieldIds wants).
struct IdRing {
  std::vector<FeatureId> ids;
  std::vector<index_t> offsets1, offsets8;
  const index_t* offsets(index_t bag) const { return bag == 1 ? offsets1.data() : offsets8.data(); }
  index_t batches(index_t bag) const { return static_cast<index_t>(ids.size()) / (bag * kEmbBatch); }
};

IdRing make_ring(Dist dist) {
  IdRing r;
  r.ids.resize(kRingIds);
  std::mt19937_64 rng(dist == Dist::uniform ? 101 : 202);
  if (dist == Dist::uniform) {
    std::uniform_int_distribution<FeatureId> u(0, kTableRows - 1);
    for (auto& id : r.ids) id = u(rng);
  } else {
    // Inverse CDF of P(rank k) ∝ 1/(k+1)^s; rank k lives at row (k·7919 + 13) mod rows (a
    // bijection: gcd(7919, 10^6) = 1), so hot rows are scattered as after hashing.
    std::vector<double> cdf(static_cast<std::size_t>(kTableRows));
    double acc = 0.0;
    for (index_t k = 0; k < kTableRows; ++k) cdf[static_cast<std::size_t>(k)] = acc += std::pow(double(k + 1), -kZipfS);
    std::uniform_real_distribution<double> u(0.0, acc);
    for (auto& id : r.ids) {
      const auto k = static_cast<FeatureId>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
      id = (std::min<FeatureId>(k, kTableRows - 1) * 7919 + 13) % kTableRows;
    }
  }
  for (index_t bag : {1, 8}) {
    auto& off = bag == 1 ? r.offsets1 : r.offsets8;
    off.resize(kRingIds / static_cast<std::size_t>(bag) + 1);
    for (std::size_t i = 0; i < off.size(); ++i) off[i] = static_cast<index_t>(i) * bag;
  }
  return r;
}

const IdRing& id_ring(Dist dist) {
  static const IdRing uniform = make_ring(Dist::uniform);
  static const IdRing zipf = make_ring(Dist::zipf);
  return dist == Dist::uniform ? uniform : zipf;
}

/// One table [1e6, dim] shared by the benchmarks of that dim (registered together, so only one
/// table is alive at a time). A cheap deterministic fill: the values do not affect the timing.
Matrix<float>& shared_table(index_t dim) {
  static Matrix<float> table;
  static index_t built_dim = 0;
  if (built_dim != dim) {
    table = Matrix<float>();
    table.resize(kTableRows, dim);
    float* p = table.data();
    for (index_t i = 0; i < table.size(); ++i)
      p[i] = 0.05f * (static_cast<float>((static_cast<std::uint64_t>(i) * 2654435761u) % 2001u) / 1000.f - 1.f);
    built_dim = dim;
  }
  return table;
}

const ctrnet::Field& table_field() {
  static const ctrnet::Field f = [] {
    ctrnet::Field x;
    x.name = "bench";
    x.kind = ctrnet::FieldKind::categorical;
    x.vocab_size = kTableRows;
    return x;
  }();
  return f;
}

template <class P>
void bench_embedding_forward(benchmark::State& st, P policy, Dist dist, index_t bag, index_t dim) {
  Matrix<float>& table = shared_table(dim);
  const IdRing& ring = id_ring(dist);
  const ctrnet::IdMapper map(table_field());
  Matrix<float> y(kEmbBatch, dim);
  const index_t batches = ring.batches(bag);
  index_t b = 0;
  auto run = [&] {
    const ctrnet::FieldIds ids{ring.ids.data(), ring.offsets(bag) + b * kEmbBatch};
    ctrnet::kernels::embedding_bag_forward(policy, table, ids, map, ctrnet::Pooling::sum, 0, y.view());
    if (++b == batches) b = 0;
  };
  run();  // warm-up
  const auto t0 = bench_clock::now();
  for (auto _ : st) {
    run();
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double seconds = seconds_between(t0, bench_clock::now());
  const double iters = static_cast<double>(st.iterations());
  const double bytes = static_cast<double>((kEmbBatch * bag + kEmbBatch) * dim) * sizeof(float) * iters;
  st.counters["GBps"] = bytes / seconds / 1e9;
  st.counters["bw_share"] = bytes / seconds / 1e9 / g_bandwidth_gbs[1];
  st.counters["ids_per_s"] = static_cast<double>(kEmbBatch * bag) * iters / seconds;
}

enum class SparseOpt { rowwise_adagrad, adagrad };
const char* opt_name(SparseOpt o) { return o == SparseOpt::rowwise_adagrad ? "rowwise_adagrad" : "adagrad"; }

template <class Opt, class P>
void bench_embedding_update(benchmark::State& st, P policy, int threads, Dist dist, index_t bag, index_t dim,
                            double state_floats_per_row) {
  Matrix<float>& table = shared_table(dim);
  const IdRing& ring = id_ring(dist);
  const ctrnet::IdMapper map(table_field());
  Opt opt;
  opt.init(kTableRows, dim);  // optimizer state allocated (and faulted in) outside the loop
  ctrnet::SparseRows<float> grad;
  grad.reset(dim);
  Matrix<float> dy(kEmbBatch, dim);
  fill_uniform(dy, 31, -1e-3f, 1e-3f);
  const index_t batches = ring.batches(bag);
  index_t b = 0;
  double bwd_s = 0.0, apply_s = 0.0, touched = 0.0;
  auto run = [&] {
    const ctrnet::FieldIds ids{ring.ids.data(), ring.offsets(bag) + b * kEmbBatch};
    const auto t0 = bench_clock::now();
    grad.clear();
    ctrnet::kernels::embedding_bag_backward(policy, ids, map, ctrnet::Pooling::sum, 0, dy.cview(), grad);
    const auto t1 = bench_clock::now();
    opt.apply(policy, table, grad);
    const auto t2 = bench_clock::now();
    bwd_s += seconds_between(t0, t1);
    apply_s += seconds_between(t1, t2);
    touched += static_cast<double>(grad.size());
    if (++b == batches) b = 0;
  };
  // Warm-up: two steps grow the SparseRows hash table and value buffer to their steady size.
  run();
  run();
  bwd_s = apply_s = touched = 0.0;
  const auto t0 = bench_clock::now();
  for (auto _ : st) {
    run();
    benchmark::DoNotOptimize(table.data());
    benchmark::ClobberMemory();
  }
  const double seconds = seconds_between(t0, bench_clock::now());
  const double bytes_per_row = (2.0 * static_cast<double>(dim) + 2.0 * state_floats_per_row) * sizeof(float);
  const double bytes = touched * bytes_per_row;
  const double iters = static_cast<double>(st.iterations());
  st.counters["rows_per_step"] = touched / iters;
  st.counters["updates_per_s"] = touched / seconds;
  st.counters["apply_GBps"] = bytes / apply_s / 1e9;
  st.counters["step_GBps"] = bytes / seconds / 1e9;
  st.counters["bw_share"] = bytes / apply_s / 1e9 / g_bandwidth_gbs[threads];
  st.counters["bwd_frac"] = bwd_s / (bwd_s + apply_s);
}

template <class P>
void register_update(const std::string& impl, P policy, int threads, SparseOpt o, Dist dist, index_t bag, index_t dim) {
  const std::string name = std::string("embedding/update/") + opt_name(o) + "/" + (bag == 1 ? "onehot" : "bag8") +
                           "/" + dist_name(dist) + "/dim:" + std::to_string(dim) + "/" + impl;
  benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
    if (o == SparseOpt::rowwise_adagrad)
      bench_embedding_update<ctrnet::RowWiseAdagrad<float>>(st, policy, threads, dist, bag, dim, 1.0);
    else
      bench_embedding_update<ctrnet::SparseAdagrad<float>>(st, policy, threads, dist, bag, dim, double(dim));
  })
      ->UseRealTime()
      ->MinTime(0.2)
      ->Unit(benchmark::kMicrosecond);
}

void register_embedding() {
  for (index_t dim : {16, 64, 128}) {  // dim outermost: one shared table alive at a time
    for (index_t bag : {1, 8}) {
      for (Dist dist : {Dist::uniform, Dist::zipf}) {
        auto name = [&](const char* impl) {
          return std::string("embedding/forward/") + (bag == 1 ? "onehot" : "bag8") + "/" + dist_name(dist) +
                 "/dim:" + std::to_string(dim) + "/" + impl;
        };
        // The cpu_simd embedding kernels are single-threaded by design: one thread only.
        benchmark::RegisterBenchmark(name("ctrnet").c_str(), [=](benchmark::State& st) {
          bench_embedding_forward(st, simd_policy(1), dist, bag, dim);
        })
            ->UseRealTime()
            ->MinTime(0.2)
            ->Unit(benchmark::kMicrosecond);
        if (dim == 64) {
          benchmark::RegisterBenchmark(name("scalar").c_str(), [=](benchmark::State& st) {
            bench_embedding_forward(st, ctrnet::cpu_scalar{}, dist, bag, dim);
          })
              ->UseRealTime()
              ->MinTime(0.2)
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
    for (SparseOpt o : {SparseOpt::rowwise_adagrad, SparseOpt::adagrad}) {
      for (index_t bag : {1, 8}) {
        for (Dist dist : {Dist::uniform, Dist::zipf}) {
          register_update("ctrnet_t1", simd_policy(1), 1, o, dist, bag, dim);
          register_update("ctrnet_t2", simd_policy(2), 2, o, dist, bag, dim);
          if (dim == 64 && dist == Dist::uniform) register_update("scalar", ctrnet::cpu_scalar{}, 1, o, dist, bag, dim);
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The best of three measurements: a busy machine only ever makes a measurement lower.
  const ctrnet_bench::Peaks peaks = ctrnet_bench::measure_peaks();
  std::copy(std::begin(peaks.gflops), std::end(peaks.gflops), g_peak_gflops);
  std::copy(std::begin(peaks.gbs), std::end(peaks.gbs), g_bandwidth_gbs);
  register_linear();
  register_mlp();
  register_embedding();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
