// Concurrent inference on one const model (issue 15, "Claims that tests check"): many threads
// encoding or predicting at once, each with its own Cache, must give bitwise the outputs of a
// serial run. Shared by tests/models/test_dcn.cpp and test_two_tower.cpp.
#pragma once
#include <algorithm>
#include <cstring>
#include <latch>
#include <limits>
#include <thread>
#include <vector>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/data/batch.hpp"

namespace ctrnet::concurrency_test {

/// Runs `encode(rows_view, out_block, cache)` over the rows of `all` in ranges of `range` rows:
/// first serially (a fresh Cache per range), then from `threads` std::threads at once, thread t
/// taking ranges t, t + threads, ... with its own Cache (re-used across its ranges) and its own
/// output, for `rounds` rounds that start together. Returns how many (round, thread, range)
/// outputs differ bitwise from the serial run: 0 when inference keeps no state in the model.
template <class Cache, class Encode>
int concurrent_mismatches(const BatchView& all, index_t width, Encode encode, int threads = 8, index_t range = 2,
                          int rounds = 50) {
  const index_t rows = all.size;
  const index_t ranges = (rows + range - 1) / range;
  auto rows_of = [&](index_t i) { return std::min(range, rows - i * range); };
  Matrix<float> serial(rows, width);
  for (index_t i = 0; i < ranges; ++i) {
    Cache c;
    encode(all.rows(i * range, rows_of(i)), serial.view().row_block(i * range, rows_of(i)), c);
  }
  std::vector<Matrix<float>> outs;
  for (int t = 0; t < threads; ++t) outs.emplace_back(rows, width);
  std::vector<int> mismatches(static_cast<std::size_t>(threads), 0);
  for (int round = 0; round < rounds; ++round) {
    std::latch start(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        Matrix<float>& out = outs[static_cast<std::size_t>(t)];
        out.set_all(std::numeric_limits<float>::quiet_NaN());
        Cache c;
        start.arrive_and_wait();
        for (index_t i = t; i < ranges; i += threads)
          encode(all.rows(i * range, rows_of(i)), out.view().row_block(i * range, rows_of(i)), c);
        for (index_t i = t; i < ranges; i += threads)
          if (std::memcmp(&out(i * range, 0), &serial(i * range, 0),
                          sizeof(float) * static_cast<std::size_t>(rows_of(i) * width)) != 0)
            ++mismatches[static_cast<std::size_t>(t)];
      });
    for (auto& th : pool) th.join();
  }
  int total = 0;
  for (int x : mismatches) total += x;
  return total;
}

}  // namespace ctrnet::concurrency_test
