// End-to-end DCN-V2 (stacked) on Criteo-shaped synthetic data: training steps and inference.
//   Model: 13 dense fields + 26 categorical fields with tables of 100 000 rows and embedding 16
//   (x0 width 13 + 26·16 = 429), 3 full-rank CrossV2 layers, MLP 512-256 (relu), a logit, BCE.
//   Optimizers: Adam (lr 1e-3) on the dense parameters, lazy (sparse) Adam on the tables, as the
//   PyTorch peer uses torch.optim.Adam and torch.optim.SparseAdam.
//   Data: SyntheticCTR (data/synthetic.hpp) with 100 000 ids per field, Zipf(1.1) ids; a ring of
//   65 536 pre-generated examples, each iteration takes the next batch of it.
//
//   dcn_v2/train/batch:B/threads:T/shards:S   Trainer::train_step (S gradient shards per batch,
//       the trainer's determinism unit, "auto" = the default shards = 0: one per 256 rows, at most
//       8; T oneTBB threads). samples_per_s = B / step time.
//   dcn_v2/predict/batch:B/threads:T          Model::predict (probabilities), samples_per_s and
//       the time per call (batch 1: the serving latency, reported in microseconds).
//
// The PyTorch peer (benchmarks/peers/torch_dcn.py) builds the same model and prints both side by
// side with the ratio when given this binary's --benchmark_out JSON.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "ctrnet/data/synthetic.hpp"
#include "ctrnet/models/dcn.hpp"
#include "ctrnet/train/trainer.hpp"

namespace {

using ctrnet::index_t;

constexpr index_t kVocab = 100000;
constexpr index_t kRing = 65536;

struct Data {
  ctrnet::SyntheticCTR gen;
  ctrnet::Batch ring;
  explicit Data(const ctrnet::SyntheticOptions& o) : gen(o) { gen.generate(kRing, ctrnet::synthetic_train, ring); }
};

const Data& data() {
  static const Data d([] {
    ctrnet::SyntheticOptions o;
    o.vocab_size = kVocab;
    return o;
  }());
  return d;
}

ctrnet::DCNOptions model_options() {
  ctrnet::DCNOptions o;
  o.embedding_dim = 16;
  o.cross_depth = 3;
  o.rank = 0;
  o.hidden = {512, 256};
  return o;
}

void bench_train(benchmark::State& st, index_t batch, int threads, index_t shards) {
  const Data& d = data();
  auto model = ctrnet::make_dcn_v2_stacked(d.gen.schema(), model_options(), 1);
  ctrnet::TrainerOptions to;
  to.batch_size = batch;
  to.threads = threads;
  to.shards = shards;
  to.optimizer.kind = ctrnet::DenseKind::adam;
  to.optimizer.lr = 1e-3;
  to.embedding_optimizer.kind = ctrnet::SparseKind::lazy_adam;
  to.embedding_optimizer.lr = 1e-3;
  to.progress = ctrnet::ProgressMode::never;
  ctrnet::Trainer<ctrnet::DCNv2Stacked> trainer(model, to);
  const ctrnet::BatchView all = d.ring.view();
  index_t next = 0;
  auto step = [&] {
    if (next + batch > kRing) next = 0;
    const double loss = trainer.train_step(all.rows(next, batch));
    next += batch;
    return loss;
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: workspaces, optimizer state, thread arenas
  double loss = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) loss = step();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  st.counters["samples_per_s"] = static_cast<double>(batch) * static_cast<double>(st.iterations()) / s;
  st.counters["loss"] = loss;
}

void bench_predict(benchmark::State& st, index_t batch, int threads) {
  const Data& d = data();
  auto model = ctrnet::make_dcn_v2_stacked(d.gen.schema(), model_options(), 1);
  ctrnet::cpu_simd policy;
  policy.max_threads = threads;
  ctrnet::DCNv2Stacked::Cache cache;
  ctrnet::Matrix<float> out(batch, 1);
  const ctrnet::BatchView all = d.ring.view();
  ctrnet::BatchView view;
  index_t next = 0;
  auto run = [&] {
    if (next + batch > kRing) next = 0;
    all.rows(next, batch, view);
    model.predict(policy, view, out.view(), cache);
    next += batch;
  };
  for (int i = 0; i < 3; ++i) run();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) {
    run();
    benchmark::DoNotOptimize(out.data());
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  st.counters["samples_per_s"] = static_cast<double>(batch) * static_cast<double>(st.iterations()) / s;
  st.counters["us_per_call"] = s / static_cast<double>(st.iterations()) * 1e6;
}

void register_all() {
  for (index_t batch : {512, 4096})
    for (int t : {1, 2})
      for (index_t shards : t == 1 ? std::vector<index_t>{0, 8, 1} : std::vector<index_t>{0, 8, index_t(t), 1}) {
        const std::string name = "dcn_v2/train/batch:" + std::to_string(batch) + "/threads:" + std::to_string(t) +
                                 "/shards:" + (shards == 0 ? std::string("auto") : std::to_string(shards));
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { bench_train(st, batch, t, shards); })
            ->UseRealTime()
            ->MinTime(1.0)
            ->Unit(benchmark::kMillisecond);
      }
  for (index_t batch : {1, 512, 4096})
    for (int t : {1, 2}) {
      const std::string name = "dcn_v2/predict/batch:" + std::to_string(batch) + "/threads:" + std::to_string(t);
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { bench_predict(st, batch, t); })
          ->UseRealTime()
          ->MinTime(0.5)
          ->Unit(benchmark::kMicrosecond);
    }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
