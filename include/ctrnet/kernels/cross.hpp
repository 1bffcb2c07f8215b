// Element-wise parts of the cross layers of DCN (Wang et al. 2017, arXiv 1708.05123) and DCN-V2
// (Wang et al. 2021, arXiv 2008.13535), fused into one pass over memory each; the GEMMs around
// them go through kernels::gemm. This header holds the cpu_scalar references and includes the
// cpu_simd overloads (kernels/simd/cross.hpp).
//
//   DCN-V2:  y = x0 ⊙ (t + b) + xl                      t = W xl (or U V xl), per row
//            dt = dy ⊙ x0,  db += Σ_rows dt,  dx0 += dy ⊙ (t + b),  dxl += dy
//   DCN:     y = x0 · s + b + xl                         s = xlᵀ w, one number per row
//            ds = Σ_cols dy ⊙ x0,  db += Σ_rows dy,  dx0 += dy · s,  dxl += dy
//
// Shapes: x0, xl, t, y, dy, dt, dx0, dxl: [batch, d]; s, ds: [batch, 1]; b, db: [d].
// Backward kernels ACCUMULATE into dx0, dxl and db, and OVERWRITE the workspaces dt / ds.
// Mixture kernels (softmax gates, gated sum of experts) are below; the gated sum has a cpu_simd
// overload, the K-wide softmax does not (cpu_simd uses this one: K exps per row, a negligible cost).
// An empty dx0 or dxl view means "not needed"; a null b means "no bias".
#pragma once
#include <algorithm>
#include <cmath>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

/// \brief DCN-V2 cross epilogue: y = x0 ⊙ (t + b) + xl.  x0, t, xl, y: [batch, d]; b: [d] or null.
template <class T>
void cross_v2_forward(const cpu_scalar& policy, ConstMatrixView<T> x0, ConstMatrixView<T> t, const T* b,
                      ConstMatrixView<T> xl, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < y.rows; ++r)
    for (index_t c = 0; c < y.cols; ++c) y(r, c) = x0(r, c) * (t(r, c) + (b ? b[c] : T(0))) + xl(r, c);
}

/// \brief DCN-V2 cross backward, element-wise part, one pass:
/// dt = dy ⊙ x0 (overwritten), db += Σ_rows dt (db may be null), dx0 += dy ⊙ (t + b), dxl += dy.
template <class T>
void cross_v2_backward_data(const cpu_scalar& policy, ConstMatrixView<T> x0, ConstMatrixView<T> t, const T* b,
                            ConstMatrixView<T> dy, MatrixView<T> dt, T* db, MatrixView<T> dx0, MatrixView<T> dxl) {
  CTRNET_KERNEL_SCOPE(policy);
  const bool want_dx0 = !dx0.empty(), want_dxl = !dxl.empty();
  for (index_t r = 0; r < dy.rows; ++r)
    for (index_t c = 0; c < dy.cols; ++c) {
      const T g = dy(r, c);
      const T d = g * x0(r, c);
      dt(r, c) = d;
      if (db) db[c] += d;
      if (want_dx0) dx0(r, c) += g * (t(r, c) + (b ? b[c] : T(0)));
      if (want_dxl) dxl(r, c) += g;
    }
}

/// \brief DCN cross epilogue: y = x0 · s + b + xl.  x0, xl, y: [batch, d]; s: [batch, 1]; b: [d].
template <class T>
void cross_v1_forward(const cpu_scalar& policy, ConstMatrixView<T> x0, ConstMatrixView<T> s, const T* b,
                      ConstMatrixView<T> xl, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < y.rows; ++r) {
    const T sr = s(r, 0);
    for (index_t c = 0; c < y.cols; ++c) y(r, c) = x0(r, c) * sr + b[c] + xl(r, c);
  }
}

/// \brief DCN cross backward, element-wise part, one pass:
/// ds = Σ_cols dy ⊙ x0 (overwritten), db += Σ_rows dy, dx0 += dy · s, dxl += dy.
template <class T>
void cross_v1_backward_data(const cpu_scalar& policy, ConstMatrixView<T> x0, ConstMatrixView<T> s, ConstMatrixView<T> dy,
                            MatrixView<T> ds, T* db, MatrixView<T> dx0, MatrixView<T> dxl) {
  CTRNET_KERNEL_SCOPE(policy);
  const bool want_dx0 = !dx0.empty(), want_dxl = !dxl.empty();
  for (index_t r = 0; r < dy.rows; ++r) {
    const T sr = s(r, 0);
    T acc = T(0);
    for (index_t c = 0; c < dy.cols; ++c) {
      const T g = dy(r, c);
      acc += g * x0(r, c);
      db[c] += g;
      if (want_dx0) dx0(r, c) += g * sr;
      if (want_dxl) dxl(r, c) += g;
    }
    ds(r, 0) = acc;
  }
}

// ---- Mixture of low-rank cross experts (DCN-V2 §3.2): gates g = softmax(G x_l), t = Σ_i g_i E_i ----
// g, dg, dlogits: [batch, K]; E, dE: [batch, K d] (expert i in columns [i d, (i + 1) d)); t, dt: [batch, d].

/// \brief Row-wise softmax: g[r, :] = softmax(logits[r, :]) (max-shifted, so it never overflows).
template <class T>
void softmax_rows_forward(const cpu_scalar& policy, ConstMatrixView<T> logits, MatrixView<T> g) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < logits.rows; ++r) {
    T m = logits(r, 0);
    for (index_t k = 1; k < logits.cols; ++k) m = std::max(m, logits(r, k));
    T sum = T(0);
    for (index_t k = 0; k < logits.cols; ++k) sum += (g(r, k) = std::exp(logits(r, k) - m));
    for (index_t k = 0; k < logits.cols; ++k) g(r, k) /= sum;
  }
}

/// \brief Softmax backward: dlogits = g ⊙ (dg − Σ_k g_k dg_k) per row (overwritten).
template <class T>
void softmax_rows_backward(const cpu_scalar& policy, ConstMatrixView<T> g, ConstMatrixView<T> dg, MatrixView<T> dlogits) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < g.rows; ++r) {
    T dot = T(0);
    for (index_t k = 0; k < g.cols; ++k) dot += g(r, k) * dg(r, k);
    for (index_t k = 0; k < g.cols; ++k) dlogits(r, k) = g(r, k) * (dg(r, k) - dot);
  }
}

/// \brief Gated sum of the experts: t[r, c] = Σ_i g[r, i] E[r, i d + c]  (overwritten).
template <class T>
void mixture_combine_forward(const cpu_scalar& policy, ConstMatrixView<T> g, ConstMatrixView<T> E, MatrixView<T> t) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t d = t.cols;
  for (index_t r = 0; r < t.rows; ++r)
    for (index_t c = 0; c < d; ++c) {
      T acc = T(0);
      for (index_t i = 0; i < g.cols; ++i) acc += g(r, i) * E(r, i * d + c);
      t(r, c) = acc;
    }
}

/// \brief Gated sum backward: dE[r, i d + c] = g[r, i] dt[r, c], dg[r, i] = Σ_c dt[r, c] E[r, i d + c]
/// (both overwritten).
template <class T>
void mixture_combine_backward(const cpu_scalar& policy, ConstMatrixView<T> g, ConstMatrixView<T> E, ConstMatrixView<T> dt,
                              MatrixView<T> dE, MatrixView<T> dg) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t d = dt.cols;
  for (index_t r = 0; r < dt.rows; ++r)
    for (index_t i = 0; i < g.cols; ++i) {
      T acc = T(0);
      for (index_t c = 0; c < d; ++c) {
        dE(r, i * d + c) = g(r, i) * dt(r, c);
        acc += dt(r, c) * E(r, i * d + c);
      }
      dg(r, i) = acc;
    }
}

}  // namespace ctrnet::kernels

#include "ctrnet/kernels/simd/cross.hpp"
