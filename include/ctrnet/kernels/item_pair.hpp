// Item-pair kernels (ItemPairBody, models/item_to_item.hpp): the two outputs of a row from the
// towers' dot product s_r = ⟨u_r, v_r⟩ and the per-row biases, and their backward.
//   relevance offset  o_r = c + Σ_l w_l x(r, cols_l)          (c: the scalar bias, 0 when absent;
//                                                              x: the batch's dense columns, float)
//   forward           y(r, 0) = s_r + o_r + d_r                (d: the per-item bias of B, 0 when absent)
//                     y(r, 1) = s_r + b_r + b̃_r                (the GloVe biases; s_r alone when absent)
//   backward          g_r = dy(r, 0) + dy(r, 1),  dc += Σ_r dy(r, 0),  dw_l += Σ_r dy(r, 0) x(r, cols_l)
// The offset sums c first, then the columns in order, in T, each product rounded before it is added
// (never an FMA: detail::unfused, kernels/loss.hpp); the sums over rows are in T, in row order, one
// column at a time (dw_l's partial sum added to dw_l once). cpu_simd runs the scalar reference (a
// handful of columns; not worth a SIMD version).
#pragma once
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/kernels/loss.hpp"  // detail::unfused
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

namespace detail {
/// o = c + Σ_l w[l] · x_row[cols[l]] of one row (c: null = 0; w may be null when n = 0).
template <class T>
T item_pair_offset(const T* c, const T* w, const float* x_row, const index_t* cols, index_t n) {
  T o = c ? *c : T(0);
  for (index_t l = 0; l < n; ++l) o += unfused(w[l] * static_cast<T>(x_row[cols[l]]));
  return o;
}
}  // namespace detail

/// y: [rows, 2]; dot: [rows, 1]; c: the scalar bias (null: none); w: [ncols] weights of the dense
/// columns cols[0..ncols) of x ([rows, ·], the batch's dense fields); d, ba, bb: [rows, 1], or
/// empty when absent (d: the relevance bias of B; ba, bb: the GloVe biases of A and B, both or
/// neither).
template <class T>
void item_pair_forward(const cpu_scalar& policy, ConstMatrixView<T> dot, const T* c, const T* w, ConstMatrixView<float> x,
                       const index_t* cols, index_t ncols, ConstMatrixView<T> d, ConstMatrixView<T> ba,
                       ConstMatrixView<T> bb, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  const bool has_d = !d.empty(), has_b = !ba.empty();
  for (index_t r = 0; r < y.rows; ++r) {
    const T o = detail::item_pair_offset(c, w, ncols > 0 ? x.row(r) : nullptr, cols, ncols);
    y(r, 0) = dot(r, 0) + o + (has_d ? d(r, 0) : T(0));
    y(r, 1) = has_b ? dot(r, 0) + ba(r, 0) + bb(r, 0) : dot(r, 0);
  }
}

/// dy: [rows, 2]; g: [rows, 1] (overwritten with dy(r, 0) + dy(r, 1)); dc: the scalar bias's
/// gradient (null: none), += Σ_r dy(r, 0); dw: [ncols] (null when ncols = 0), dw[l] += Σ_r dy(r, 0)
/// x(r, cols[l]).
template <class T>
void item_pair_backward(const cpu_scalar& policy, ConstMatrixView<T> dy, ConstMatrixView<float> x, const index_t* cols,
                        index_t ncols, MatrixView<T> g, T* dc, T* dw) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t n = dy.rows;
  T sc = T(0);
  for (index_t r = 0; r < n; ++r) {
    g(r, 0) = dy(r, 0) + dy(r, 1);
    sc += dy(r, 0);
  }
  if (dc) *dc += sc;
  for (index_t l = 0; l < ncols; ++l) {
    T acc = T(0);
    for (index_t r = 0; r < n; ++r) acc += dy(r, 0) * static_cast<T>(x(r, cols[l]));
    dw[l] += acc;
  }
}

}  // namespace ctrnet::kernels
