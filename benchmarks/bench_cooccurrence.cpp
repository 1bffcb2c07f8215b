// Session co-occurrence counting and the item-CF baselines on synthetic sessions (a skewed item
// popularity, YooChoose-like session lengths):
//
//   cooccurrence/count/window:W/threads:T     count_cooccurrence of S sessions; counters:
//       pairs_per_s   event pairs counted per second (each contributes to one canonical pair)
//       events_per_s  session events per second
//   cooccurrence/count_bounded/threads:T      the same with max_pairs = 1/4 of the distinct pairs
//                                             (pruning after each group of sessions)
//   itemcf/cosine_all/threads:T               CosineRecommender::recommend_all(20) over every item
//   itemcf/count_all/threads:T                CooccurrenceRecommender::recommend_all(20)
// Counting is hash-table (memory latency) bound; there is no FLOP peak to compare with.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/data/cooccurrence.hpp"
#include "ctrnet/serve/item_cf.hpp"

namespace {

using ctrnet::index_t;

// 40,000 sessions of 1 + geometric(1/4) events (mean ~4, tail to ~60) over 20,000 items whose
// popularity is skewed (the square of a uniform); about 160,000 events.
const std::vector<ctrnet::Session>& sessions() {
  static const std::vector<ctrnet::Session> s = [] {
    ctrnet::Rng rng(2024);
    std::vector<ctrnet::Session> out;
    for (int k = 0; k < 40000; ++k) {
      ctrnet::Session x;
      x.id = k;
      do {
        const double u = rng.uniform();
        x.items.push_back(static_cast<std::int64_t>(u * u * 20000.0));
        x.times.push_back(static_cast<double>(x.items.size()));
        x.actions.push_back(0);
      } while (rng.uniform() < 0.75 && x.items.size() < 60);
      out.push_back(std::move(x));
    }
    return out;
  }();
  return s;
}

std::int64_t contributions(index_t window) {
  std::int64_t c = 0;
  for (const auto& x : sessions()) {
    const auto n = static_cast<std::int64_t>(x.items.size());
    for (std::int64_t i = 0; i < n; ++i) c += std::min<std::int64_t>(n - 1 - i, window > 0 ? window : n);
  }
  return c;
}

void count(benchmark::State& state, bool bounded) {
  ctrnet::CooccurrenceOptions o;
  o.window = state.range(0);
  o.threads = static_cast<int>(state.range(1));
  if (bounded) o.max_pairs = ctrnet::count_cooccurrence(sessions(), o).num_pairs() / 8;  // 1/4 of the canonical pairs
  std::int64_t events = 0;
  for (const auto& x : sessions()) events += static_cast<std::int64_t>(x.items.size());
  for (auto _ : state) {
    ctrnet::CooccurrenceTable t = ctrnet::count_cooccurrence(sessions(), o);
    benchmark::DoNotOptimize(t.total());
  }
  state.counters["pairs_per_s"] =
      benchmark::Counter(static_cast<double>(contributions(o.window)), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_count(benchmark::State& state) { count(state, false); }
void BM_count_bounded(benchmark::State& state) { count(state, true); }

template <class Rec>
void lists(benchmark::State& state) {
  ctrnet::CooccurrenceOptions o;
  const ctrnet::CooccurrenceTable t = ctrnet::count_cooccurrence(sessions(), o);
  const Rec r(t);
  for (auto _ : state) {
    ctrnet::RecommendationLists l = r.recommend_all(20, static_cast<int>(state.range(0)));
    benchmark::DoNotOptimize(l.items.data());
  }
  state.counters["items_per_s"] =
      benchmark::Counter(static_cast<double>(t.num_items()), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_count)->Name("cooccurrence/count")->ArgNames({"window", "threads"})
    ->Args({5, 1})->Args({5, 2})->Args({0, 1})->Args({0, 2})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_count_bounded)->Name("cooccurrence/count_bounded")->ArgNames({"window", "threads"})
    ->Args({5, 1})->Args({5, 2})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(lists<ctrnet::CosineRecommender>)->Name("itemcf/cosine_all")->ArgNames({"threads"})
    ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(lists<ctrnet::CooccurrenceRecommender>)->Name("itemcf/count_all")->ArgNames({"threads"})
    ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
