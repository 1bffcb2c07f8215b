// Reference (cpu_scalar) retrieval kernels. Shapes next to each kernel; every *_backward kernel
// and every gradient output ACCUMULATES (+=).
//
//   L2 normalisation   y_r = x_r / n_r,  n_r = max(‖x_r‖₂, ε)
//                      dx_r += (dy_r − y_r ⟨y_r, dy_r⟩) / n_r      (‖x_r‖ > ε)
//                      dx_r += dy_r / ε                            (‖x_r‖ ≤ ε: y = x / ε is linear)
//   paired dot         s_r = α ⟨a_r, b_r⟩;  da_r += α ds_r b_r  (row_scale_add)
//   sampled softmax    z_ij = s_ij − log Q_j (log Q optional), masked entries (accidental hits) drop out,
//                      ℓ_i = −z_ii + log Σ_{j ∉ mask_i} exp z_ij,
//                      ∂ℓ_i/∂s_ij = softmax_i(z)_j − [i = j]  (0 for masked j);
//                      returns Σ_i s·w_i ℓ_i and ds += s·w_i ∂ℓ_i/∂s   (Yi et al., RecSys 2019, eq. 3-4)
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

/// \brief Row masks of a sampled softmax in CSR form: row i excludes columns
/// cols[offsets[i] .. offsets[i+1]) (never its own positive i). Empty (null) = no masking.
struct SoftmaxMask {
  const index_t* offsets = nullptr;  ///< [rows + 1] or null
  const index_t* cols = nullptr;
  bool empty() const { return offsets == nullptr; }
};

/// x, y: [rows, d] (y may alias x); norms: [rows] receives n_r = max(‖x_r‖, eps).
template <class T>
void l2_normalize_forward(const cpu_scalar&, ConstMatrixView<T> x, MatrixView<T> y, T* norms, T eps) {
  for (index_t r = 0; r < x.rows; ++r) {
    T ss = T(0);
    for (index_t c = 0; c < x.cols; ++c) ss += x(r, c) * x(r, c);
    const T n = std::max(std::sqrt(ss), eps);
    norms[r] = n;
    const T inv = T(1) / n;
    for (index_t c = 0; c < x.cols; ++c) y(r, c) = x(r, c) * inv;
  }
}

/// y: [rows, d] the forward output, norms: [rows] from forward, dy: [rows, d]; dx: [rows, d] (+=).
template <class T>
void l2_normalize_backward(const cpu_scalar&, ConstMatrixView<T> y, const T* norms, ConstMatrixView<T> dy,
                           MatrixView<T> dx, T eps) {
  for (index_t r = 0; r < y.rows; ++r) {
    const T inv = T(1) / norms[r];
    if (norms[r] <= eps) {  // clamped: y = x / eps
      for (index_t c = 0; c < y.cols; ++c) dx(r, c) += dy(r, c) * inv;
      continue;
    }
    T dot = T(0);
    for (index_t c = 0; c < y.cols; ++c) dot += y(r, c) * dy(r, c);
    for (index_t c = 0; c < y.cols; ++c) dx(r, c) += (dy(r, c) - y(r, c) * dot) * inv;
  }
}

/// s(r, 0) = alpha ⟨a_r, b_r⟩.   a, b: [rows, d]; s: [rows, 1] (a column view; overwritten).
template <class T>
void row_dot(const cpu_scalar&, T alpha, ConstMatrixView<T> a, ConstMatrixView<T> b, MatrixView<T> s) {
  for (index_t r = 0; r < a.rows; ++r) {
    T acc = T(0);
    for (index_t c = 0; c < a.cols; ++c) acc += a(r, c) * b(r, c);
    s(r, 0) = alpha * acc;
  }
}

/// y_r += alpha · s(r, 0) · x_r.   s: [rows, 1]; x, y: [rows, d].
template <class T>
void row_scale_add(const cpu_scalar&, T alpha, ConstMatrixView<T> s, ConstMatrixView<T> x, MatrixView<T> y) {
  for (index_t r = 0; r < x.rows; ++r) {
    const T f = alpha * s(r, 0);
    for (index_t c = 0; c < x.cols; ++c) y(r, c) += f * x(r, c);
  }
}

namespace detail {
/// Is column j masked for row i? (mask columns of a row are sorted ascending)
inline bool softmax_masked(const SoftmaxMask& m, index_t i, index_t j) {
  if (m.empty()) return false;
  const index_t* b = m.cols + m.offsets[i];
  const index_t* e = m.cols + m.offsets[i + 1];
  return std::binary_search(b, e, j);
}
}  // namespace detail

/// \brief Sampled-softmax cross-entropy; row i's positive is column i.
///   s: [rows, cols] scores (cols ≥ rows), log_q: [cols] or null, weights: [rows] or null (= 1),
///   ds: [rows, cols] (+=) or empty. Returns Σ_i scale · w_i · ℓ_i.
template <class T>
double sampled_softmax_loss(const cpu_scalar&, ConstMatrixView<T> s, const T* log_q, SoftmaxMask mask,
                            const float* weights, double scale, MatrixView<T> ds) {
  double total = 0.0;
  for (index_t i = 0; i < s.rows; ++i) {
    auto z = [&](index_t j) { return static_cast<double>(s(i, j)) - (log_q ? static_cast<double>(log_q[j]) : 0.0); };
    double mx = -std::numeric_limits<double>::infinity();
    for (index_t j = 0; j < s.cols; ++j)
      if (!detail::softmax_masked(mask, i, j)) mx = std::max(mx, z(j));
    double sum = 0.0;
    for (index_t j = 0; j < s.cols; ++j)
      if (!detail::softmax_masked(mask, i, j)) sum += std::exp(z(j) - mx);
    const double lse = mx + std::log(sum);
    const double w = (weights ? weights[i] : 1.0) * scale;
    total += w * (lse - z(i));
    if (ds.empty()) continue;
    for (index_t j = 0; j < s.cols; ++j) {
      if (detail::softmax_masked(mask, i, j)) continue;
      const double p = std::exp(z(j) - lse);
      ds(i, j) += static_cast<T>(w * (p - (i == j ? 1.0 : 0.0)));
    }
  }
  return total;
}

}  // namespace ctrnet::kernels
