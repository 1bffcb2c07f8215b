// Kernels over a sparse gradient (core/params.hpp: SparseRows, the ids and rows arrays of one
// embedding table's gradient):
//   sparse_rows_add(dst, src)        dst += src, row by row in src's order (the shard reduction:
//                                    train/shards.hpp); a row of an id new to dst is appended
//   first_id_outside(g, rows)        index of the first id outside [0, rows), g.size() when none
//                                    (the optimizers' argument check)
// The CPU bodies use SparseRows' host index; a device backend sorts the (id, row) pairs and
// reduces each id's run in order, which gives the same sums in the same order.
#pragma once
#include "ctrnet/core/params.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

template <class T>
void sparse_rows_add(const cpu_scalar& policy, SparseRows<T>& dst, const SparseRows<T>& src) {
  CTRNET_KERNEL_SCOPE(policy);
  dst.add(src);
}

template <class T>
index_t first_id_outside(const cpu_scalar& policy, const SparseRows<T>& g, index_t rows) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t i = 0; i < g.size(); ++i)
    if (g.id(i) < 0 || g.id(i) >= rows) return i;
  return g.size();
}

}  // namespace ctrnet::kernels
