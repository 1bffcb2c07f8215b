// Embedding-bag kernels. For example r with ids i_1..i_n (mapped to table rows by IdMapper):
//   forward:  y[r] = Σ_k E[i_k]            (sum)     or  (1/n) Σ_k E[i_k]   (mean; 0 for n = 0)
//   backward: grad[i_k] += dy[r]           (sum)     or  dy[r] / n           (mean)
// The gradient is sparse: only touched rows appear in SparseRows, in order of first touch.
#pragma once
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/data/schema.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

/// y: [rows, dim] (overwritten); table: [vocab, dim].
template <class T>
void embedding_bag_forward(const cpu_scalar& policy, const Matrix<T>& table, FieldIds ids, const IdMapper& map,
                           Pooling pooling, index_t first_row, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t dim = table.cols();
  for (index_t r = 0; r < y.rows; ++r) {
    T* out = y.row(r);
    for (index_t j = 0; j < dim; ++j) out[j] = T(0);
    const index_t n = ids.count(r);
    for (FeatureId id : ids.of(r)) {
      const T* e = table.data() + map(id, first_row + r) * dim;
      for (index_t j = 0; j < dim; ++j) out[j] += e[j];
    }
    if (pooling == Pooling::mean && n > 1) {
      const T inv = T(1) / static_cast<T>(n);
      for (index_t j = 0; j < dim; ++j) out[j] *= inv;
    }
  }
}

/// grad += scatter of dy: [rows, dim] onto the touched rows.
template <class T>
void embedding_bag_backward(const cpu_scalar& policy, FieldIds ids, const IdMapper& map, Pooling pooling,
                            index_t first_row, ConstMatrixView<T> dy, SparseRows<T>& grad) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t dim = dy.cols;
  if (dy.rows > 0) grad.reserve_more(ids.offsets[dy.rows] - ids.offsets[0]);  // sized by the id count
  for (index_t r = 0; r < dy.rows; ++r) {
    const index_t n = ids.count(r);
    if (n == 0) continue;
    const T s = (pooling == Pooling::mean) ? T(1) / static_cast<T>(n) : T(1);
    const T* d = dy.row(r);
    for (FeatureId id : ids.of(r)) {
      T* g = grad.row(static_cast<FeatureId>(map(id, first_row + r)));
      for (index_t j = 0; j < dim; ++j) g[j] += s * d[j];
    }
  }
}

}  // namespace ctrnet::kernels

#include "ctrnet/kernels/simd/embedding.hpp"
