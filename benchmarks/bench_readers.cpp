// Criteo TSV reader throughput (MB/s of input) on 1 and 2 parser threads, against the raw read
// speed of the same file in the same run (fread in 8 MB blocks, the page cache warm) and the line
// splitting alone. The input is a ~100 MB synthetic Criteo-format file written to /tmp at start
// (CTRNET_BENCH_MB overrides the size): 40 tab-separated fields with the real data's shape
// (small and large integers, ~20% empty dense values, 8-hex-digit hashes, ~10% empty ones).
//
//   build/h_data/benchmarks/bench_readers --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/data/readers/criteo.hpp"

namespace {

std::string g_path;
std::size_t g_bytes = 0;

void write_synthetic(const std::string& path, std::size_t target_bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::perror("bench_readers: cannot write the input file");
    std::exit(1);
  }
  ctrnet::Rng rng(2024);
  static const char* hex = "0123456789abcdef";
  std::string line;
  std::size_t written = 0;
  while (written < target_bytes) {
    line.clear();
    line += rng.bernoulli(0.22) ? '1' : '0';
    for (int i = 0; i < 13; ++i) {
      line += '\t';
      if (rng.bernoulli(0.2)) continue;
      const double u = rng.uniform();
      const long v = u < 0.6 ? static_cast<long>(rng.below(20)) : u < 0.95 ? static_cast<long>(rng.below(5000))
                                                                            : static_cast<long>(rng.below(3000000));
      line += std::to_string(i == 1 && rng.bernoulli(0.1) ? -v : v);
    }
    for (int i = 0; i < 26; ++i) {
      line += '\t';
      if (rng.bernoulli(0.1)) continue;
      std::uint64_t h = rng.next_u64();
      for (int k = 0; k < 8; ++k, h >>= 4) line += hex[h & 15];
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), f);
    written += line.size();
  }
  std::fclose(f);
  g_bytes = written;
}

void BM_RawRead(benchmark::State& state) {
  std::vector<char> buf(8u << 20);
  for (auto _ : state) {
    std::FILE* f = std::fopen(g_path.c_str(), "rb");
    std::size_t got, total = 0;
    unsigned sum = 0;
    while ((got = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
      total += got;
      for (std::size_t i = 0; i < got; i += 4096) sum += static_cast<unsigned char>(buf[i]);
    }
    std::fclose(f);
    benchmark::DoNotOptimize(sum);
    benchmark::DoNotOptimize(total);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * g_bytes));
}

void BM_LineSplit(benchmark::State& state) {
  for (auto _ : state) {
    ctrnet::LineSource src(g_path);
    ctrnet::LineChunk c;
    std::int64_t lines = 0;
    while (src.next(c)) lines += c.size();
    benchmark::DoNotOptimize(lines);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * g_bytes));
}

void BM_CriteoParse(benchmark::State& state) {
  ctrnet::ReaderOptions ro;
  ro.threads = static_cast<int>(state.range(0));
  std::int64_t rows = 0;
  for (auto _ : state) {
    ctrnet::CriteoReader reader = ctrnet::open_criteo(g_path, {}, ro);
    ctrnet::Batch b;
    rows = 0;
    while (reader.next_batch(b, 65536) > 0) rows += b.size();
    benchmark::DoNotOptimize(b.labels.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * g_bytes));
  state.counters["rows"] = static_cast<double>(rows);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(rows) * static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

BENCHMARK(BM_RawRead)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK(BM_LineSplit)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK(BM_CriteoParse)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const char* mb = std::getenv("CTRNET_BENCH_MB");
  const std::size_t target = static_cast<std::size_t>(mb ? std::atol(mb) : 100) << 20;
  g_path = "/tmp/ctrnet_bench_criteo_" + std::to_string(::getpid()) + ".tsv";
  write_synthetic(g_path, target);
  std::printf("input: %s, %.1f MB of synthetic Criteo TSV\n", g_path.c_str(), static_cast<double>(g_bytes) / 1e6);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::remove(g_path.c_str());
  return 0;
}
