// Retrieval throughput against the machine peak measured at start-up in this run:
//   topk/<impl>/threads:T/items:N/d:D/queries:Q/k:K   exact top-K of Q queries over N items
//       (fused GEMM + selection, kernels/simd/topk.hpp). queries_per_s = Q / time;
//       GFLOPS = 2·Q·N·D / time (the GEMM flops; the selection is extra work, not counted);
//       peak_share = GFLOPS / measured FMA peak of T threads.
//       impl "gemm_sort" is the naive peer: the full [Q, N] score matrix with kernels::gemm, then
//       std::partial_sort per row (the same result, checked once before timing).
//   train/<objective>/batch:B   training steps of the MovieLens-100k-shaped two-tower model
//       (943 users × 1682 items, the example's fields, dim 64) on synthetic interactions;
//       pairs_per_s = positive pairs trained per second (threads: every core).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "ctrnet/core/peak.hpp"
#include "ctrnet/kernels/gemm.hpp"
#include "ctrnet/two_tower.hpp"

namespace {

using namespace ctrnet;

double g_peak[3] = {0, 0, 0};

const Matrix<float>& items_1m() {
  static Matrix<float> e = [] {
    Matrix<float> m(1000000, 64);
    Rng rng(1);
    for (index_t i = 0; i < m.size(); ++i) m.data()[i] = float(rng.uniform(-1, 1));
    return m;
  }();
  return e;
}
Matrix<float> queries(index_t q) {
  Matrix<float> m(q, 64);
  Rng rng(2);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = float(rng.uniform(-1, 1));
  return m;
}

void bench_topk(benchmark::State& st, int threads, index_t Q, index_t k) {
  const Matrix<float>& e = items_1m();
  const Matrix<float> q = queries(Q);
  cpu_simd p;
  p.max_threads = threads;
  TopK<float> out;
  exact_topk(p, q.cview(), e.cview(), k, out);  // warm-up
  double seconds = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    exact_topk(p, q.cview(), e.cview(), k, out);
    benchmark::DoNotOptimize(out.rows.data());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const double flops = 2.0 * double(Q) * double(e.rows()) * double(e.cols());
  st.counters["peak_share"] = flops * double(st.iterations()) / seconds / 1e9 / g_peak[threads];
  st.counters["queries_per_s"] = benchmark::Counter(double(Q), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["peak_GFLOPS"] = g_peak[threads];
}

void bench_gemm_sort(benchmark::State& st, int threads, index_t Q, index_t k) {
  const Matrix<float>& e = items_1m();
  const Matrix<float> q = queries(Q);
  cpu_simd p;
  p.max_threads = threads;
  Matrix<float> s(Q, e.rows());
  std::vector<index_t> idx(static_cast<std::size_t>(e.rows()));
  Matrix<index_t> rows(Q, k);
  auto run = [&] {
    kernels::gemm(p, kernels::Trans::no, kernels::Trans::yes, 1.f, q.cview(), e.cview(), 0.f, s.view());
    for (index_t r = 0; r < Q; ++r) {
      for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = index_t(i);
      const float* sr = s.data() + r * e.rows();
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                        [&](index_t a, index_t b) { return sr[a] > sr[b] || (sr[a] == sr[b] && a < b); });
      std::copy(idx.begin(), idx.begin() + k, rows.data() + r * k);
    }
  };
  run();
  const TopK<float> fused = exact_topk(p, q.cview(), e.cview(), k);
  if (!std::equal(rows.data(), rows.data() + rows.size(), fused.rows.data())) st.SkipWithError("fused top-K differs from gemm + sort");
  for (auto _ : st) {
    run();
    benchmark::DoNotOptimize(rows.data());
  }
  const double flops = 2.0 * double(Q) * double(e.rows()) * double(e.cols());
  st.counters["queries_per_s"] = benchmark::Counter(double(Q), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["peak_GFLOPS"] = g_peak[threads];
}

// The example's schema and a synthetic interaction set of ml-100k's size (80k training pairs).
struct MlLike {
  RetrievalData data;
  Interactions train;
  MlLike() {
    Schema& s = data.schema;
    auto cat = [&](const char* n, index_t v, const char* t, FieldKind k = FieldKind::categorical) {
      Field f;
      f.name = n;
      f.kind = k;
      f.vocab_size = v;
      f.tower = t;
      if (k == FieldKind::multi_hot) f.pooling = Pooling::mean;
      s.add(f);
    };
    cat("user_id", 943, "query");
    cat("age", 7, "query");
    cat("gender", 2, "query");
    cat("occupation", 21, "query");
    cat("item_id", 1682, "candidate");
    cat("genres", 19, "candidate", FieldKind::multi_hot);
    cat("year", 17, "candidate");
    Batch q(s), it(s);
    Rng rng(3);
    for (index_t u = 0; u < 943; ++u) {
      const std::vector<FeatureId> a{u}, b{FeatureId(rng.below(7))}, c{FeatureId(rng.below(2))}, d{FeatureId(rng.below(21))};
      q.add({}, std::vector<std::span<const FeatureId>>{a, b, c, d, {}, {}, {}}, 1.f);
    }
    for (index_t i = 0; i < 1682; ++i) {
      const std::vector<FeatureId> a{i}, g{FeatureId(rng.below(19)), FeatureId(rng.below(19))}, y{FeatureId(rng.below(17))};
      it.add({}, std::vector<std::span<const FeatureId>>{{}, {}, {}, {}, a, g, y}, 1.f);
    }
    data.queries = InMemoryDataset(s, std::move(q));
    data.items = InMemoryDataset(s, std::move(it));
    for (int r = 0; r < 80000; ++r) {
      const double x = rng.uniform();
      train.add(index_t(rng.below(943)), index_t(x * x * 1682));
    }
  }
};

void bench_train(benchmark::State& st, RetrievalObjective obj, index_t batch) {
  static MlLike ml;
  TwoTowerOptions mo;
  mo.embedding_dim = 64;
  mo.output_dim = 64;
  auto model = make_two_tower_mlp(ml.data.schema, mo, 1);
  TwoTowerTrainerOptions o;
  o.objective = obj;
  o.batch_size = batch;
  o.mixed_negatives = batch;
  o.embedding_optimizer = SparseOptimizerOptions::named("rowwise_adagrad");
  TwoTowerTrainer<TwoTowerMLP> tr(model, o);
  std::vector<index_t> qs(ml.train.query.begin(), ml.train.query.begin() + batch);
  std::vector<index_t> is(ml.train.item.begin(), ml.train.item.begin() + batch);
  tr.train_step(ml.data, qs, is);  // warm-up: workspaces, caches
  index_t off = 0;
  for (auto _ : st) {
    off = (off + batch) % (ml.train.size() - batch);
    std::copy(ml.train.query.begin() + off, ml.train.query.begin() + off + batch, qs.begin());
    std::copy(ml.train.item.begin() + off, ml.train.item.begin() + off + batch, is.begin());
    benchmark::DoNotOptimize(tr.train_step(ml.data, qs, is));
  }
  st.counters["pairs_per_s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  for (int t = 1; t <= 2; ++t) {
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) best = std::max(best, ctrnet::measure_fma_peak_gflops(t));
    g_peak[t] = best;
  }
  std::printf("measured FMA peak: 1 thread %.1f GFLOP/s, 2 threads %.1f GFLOP/s\n", g_peak[1], g_peak[2]);
  for (int t = 1; t <= 2; ++t) {
    benchmark::RegisterBenchmark(("topk/fused/threads:" + std::to_string(t) + "/items:1000000/d:64/queries:256/k:10").c_str(),
                                 bench_topk, t, 256, 10)->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark(("topk/fused/threads:" + std::to_string(t) + "/items:1000000/d:64/queries:256/k:100").c_str(),
                                 bench_topk, t, 256, 100)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  benchmark::RegisterBenchmark("topk/gemm_sort/threads:2/items:1000000/d:64/queries:256/k:10", bench_gemm_sort, 2, 256, 10)
      ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
  for (auto obj : {ctrnet::RetrievalObjective::pointwise, ctrnet::RetrievalObjective::in_batch, ctrnet::RetrievalObjective::mixed})
    benchmark::RegisterBenchmark((std::string("train/") + ctrnet::to_string(obj) + "/batch:256").c_str(), bench_train, obj,
                                 ctrnet::index_t(256))->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
