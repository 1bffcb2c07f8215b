// Gradient shards: the determinism unit of every trainer (Trainer, TwoTowerTrainer).
//
// A batch is cut into S shards; each runs forward/backward with its own cache and gradient buffer
// on a oneTBB worker, and the shard gradients are summed in shard order, g_0 + g_1 + ... + g_{S−1},
// for every element. S depends on the batch and the options only, never on the thread count, so a
// run gives the same bits on 1 or 16 threads.
//
// Choosing S. Each shard costs a gradient buffer to zero and to add up, and its weight-gradient
// GEMMs see fewer rows (a 64-row shard writes the whole dW of a layer for 64 rows of work). With
// shards = 0 (the default) S grows with the batch: one shard per kAutoShardRows rows, at most
// kMaxAutoShards — 2 shards at batch 512, 8 from batch 2048. A fixed count (shards > 0) is kept as
// asked, e.g. to match a run made with it. Either way S ≤ the number of row groups (a shard holds
// at least one whole group). docs/benchmarks.md ("The default shard count") has the measurements.
#pragma once
#include <algorithm>
#include <cstddef>
#include <type_traits>

#include <tbb/parallel_for.h>

#include "ctrnet/core/params.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/sparse_rows.hpp"

namespace ctrnet {

/// shards = 0: one shard per this many rows of a batch ...
inline constexpr index_t kAutoShardRows = 256;
/// ... and at most this many.
inline constexpr index_t kMaxAutoShards = 8;

/// The shards of a batch of `rows` rows in `groups` row groups: `shards` (> 0) or, for 0,
/// clamp(rows / kAutoShardRows, 1, kMaxAutoShards); never more than `groups`, never fewer than 1.
inline index_t shard_count(index_t shards, index_t rows, index_t groups) {
  const index_t s = shards > 0 ? shards : std::clamp<index_t>(rows / kAutoShardRows, 1, kMaxAutoShards);
  return std::max<index_t>(1, std::min(s, groups));
}

/// The most shards any batch can use: the gradient buffers a trainer allocates.
inline index_t max_shard_count(index_t shards) { return shards > 0 ? shards : kMaxAutoShards; }

/// g_0 += g_1 + ... + g_{S−1} in shard order for every element: parallel over chunks of the dense
/// buffer (which keeps the per-element order), then the sparse rows table by table. grads_of(s)
/// returns shard s's ModelGrads. Call inside the trainer's task arena.
template <class P, class GradsOf>
void reduce_shard_gradients(const P& policy, index_t S, GradsOf&& grads_of) {
  auto& g0 = grads_of(index_t(0));
  using T = std::remove_cvref_t<decltype(*g0.dense.data())>;
  const index_t size = static_cast<index_t>(g0.dense.size());
  const index_t chunk = 1 << 14;
  tbb::parallel_for(index_t(0), (size + chunk - 1) / chunk, [&](index_t c) {
    const index_t b = c * chunk, e = std::min(size, b + chunk);
    const MatrixView<T> dst(g0.dense.data() + b, 1, e - b);
    for (index_t s = 1; s < S; ++s)
      kernels::axpy(policy, T(1), ConstMatrixView<T>(grads_of(s).dense.data() + b, 1, e - b), dst);
  });
  tbb::parallel_for(std::size_t(0), g0.tables.size(), [&](std::size_t t) {
    for (index_t s = 1; s < S; ++s) kernels::sparse_rows_add(policy, g0.tables[t], grads_of(s).tables[t]);
  });
}

}  // namespace ctrnet
