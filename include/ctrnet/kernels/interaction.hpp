// Dot interaction of DLRM (Naumov et al. 2019, arXiv 1906.00091, §2.1 and the reference
// implementation's interact_features "dot"): per example, n vectors t_0 .. t_{n-1} of width d
// (row b of x is [t_0 | t_1 | ... | t_{n-1}]), Z = T Tᵀ, and the lower triangle of Z flattened in
// the reference's row-major pair order
//   strict (self = false):  (1,0), (2,0), (2,1), (3,0), ..., (n-1,n-2)     P = n (n − 1) / 2
//   with the diagonal:      (0,0), (1,0), (1,1), (2,0), (2,1), (2,2), ...   P = n (n + 1) / 2
// so the pairs of row i are contiguous, starting at offset(i) = i (i − 1) / 2 (strict) or
// i (i + 1) / 2 (with the diagonal).
//   forward:   z[b, offset(i) + j] = <t_i, t_j>                    (j < i, or j ≤ i)
//   backward:  dT = (dZ + dZᵀ) T with dZ the triangle scattered back (zeros elsewhere), i.e.
//              dt_i += Σ_{j<i} dz_ij t_j + Σ_{j>i} dz_ji t_j  (+ 2 dz_ii t_i with the diagonal)
// Shapes: x, dx: [batch, n d]; z, dz: [batch, P]. forward OVERWRITES z, backward ACCUMULATES
// into dx. This header holds the cpu_scalar references and includes the cpu_simd overloads
// (kernels/simd/interaction.hpp).
#pragma once
#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

/// Number of pairs of n vectors: n (n − 1) / 2, or n (n + 1) / 2 with the diagonal.
inline index_t interaction_pairs(index_t n, bool self) { return self ? n * (n + 1) / 2 : n * (n - 1) / 2; }

/// Offset of the pairs (i, 0), (i, 1), ... in a row of z.
inline index_t interaction_row_offset(index_t i, bool self) { return self ? i * (i + 1) / 2 : i * (i - 1) / 2; }

namespace detail {
template <class T>
void check_interaction_shapes(ConstMatrixView<T> x, index_t n, bool self, index_t z_rows, index_t z_cols) {
  CTRNET_CHECK(n >= 1 && x.cols % n == 0, "dot_interaction: input width ", x.cols, " is not a multiple of n = ", n);
  CTRNET_CHECK(z_rows == x.rows && z_cols == interaction_pairs(n, self), "dot_interaction: output is [", z_rows, ", ",
               z_cols, "], expected [", x.rows, ", ", interaction_pairs(n, self), "]");
}
}  // namespace detail

/// \brief z[b, offset(i) + j] = <t_i, t_j> for j < i (j ≤ i when `self`).  x: [B, n d], z: [B, P].
template <class T>
void dot_interaction_forward(const cpu_scalar& policy, ConstMatrixView<T> x, index_t n, bool self, MatrixView<T> z) {
  CTRNET_KERNEL_SCOPE(policy);
  detail::check_interaction_shapes(x, n, self, z.rows, z.cols);
  const index_t d = x.cols / n;
  for (index_t b = 0; b < x.rows; ++b) {
    const T* t = x.row(b);
    T* zr = z.row(b);
    index_t p = 0;
    for (index_t i = 0; i < n; ++i)
      for (index_t j = 0; j < i + (self ? 1 : 0); ++j) {
        T s = T(0);
        for (index_t k = 0; k < d; ++k) s += t[i * d + k] * t[j * d + k];
        zr[p++] = s;
      }
  }
}

/// \brief dx += (dZ + dZᵀ) T per example: for each pair (i, j) with g = dz[b, offset(i) + j]:
/// dt_i += g t_j and dt_j += g t_i (the diagonal pair adds 2 g t_i).  x, dx: [B, n d], dz: [B, P].
template <class T>
void dot_interaction_backward_data(const cpu_scalar& policy, ConstMatrixView<T> x, index_t n, bool self,
                                   ConstMatrixView<T> dz, MatrixView<T> dx) {
  CTRNET_KERNEL_SCOPE(policy);
  detail::check_interaction_shapes(x, n, self, dz.rows, dz.cols);
  CTRNET_CHECK(dx.rows == x.rows && dx.cols == x.cols, "dot_interaction_backward_data: dx is [", dx.rows, ", ",
               dx.cols, "], expected [", x.rows, ", ", x.cols, "]");
  const index_t d = x.cols / n;
  for (index_t b = 0; b < x.rows; ++b) {
    const T* t = x.row(b);
    const T* g = dz.row(b);
    T* dt = dx.row(b);
    index_t p = 0;
    for (index_t i = 0; i < n; ++i)
      for (index_t j = 0; j < i + (self ? 1 : 0); ++j) {
        const T gij = g[p++];
        for (index_t k = 0; k < d; ++k) {
          dt[i * d + k] += gij * t[j * d + k];
          dt[j * d + k] += gij * t[i * d + k];
        }
      }
  }
}

}  // namespace ctrnet::kernels

#include "ctrnet/kernels/simd/interaction.hpp"
