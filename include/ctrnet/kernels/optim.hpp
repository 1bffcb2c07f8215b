// Optimizer update kernels: one fused element-wise pass over (value, grad, state...) of equal
// length, used for the whole flat dense buffer and for each touched row of an embedding table.
// The per-step constants (bias corrections, decayed lr) are computed once per step by the
// optimizer, in double, and passed in as `*Args<T>`. Formulas follow PyTorch's single-tensor
// implementations operation by operation (torch/optim/{sgd,adam,adagrad,sparse_adam}.py):
//   SGD:      d = g + λθ;  v = μ v + (1 − τ) d  (v = d at the first step);  d = nesterov ? d + μ v : v;  θ += (−lr) d
//   Adam(W):  θ *= 1 − lr λ (AdamW) | g += λθ (Adam);  m = lerp(m, g, 1 − β1);  v = β2 v + (1 − β2) g g;
//             θ += (−lr / (1 − β1^t)) m / (√v / √(1 − β2^t) + ε)                     (Kingma & Ba 2015; Loshchilov & Hutter 2019)
//   Adagrad:  G += g g;  θ += (−lr_t) g / (√G + ε)                                   (Duchi et al. 2011)
//   FTRL:     σ = (√(n + g²) − √n) / α;  z += g − σθ;  n += g²;
//             θ = 0 if |z| ≤ λ1 else −(z − sgn(z) λ1) / ((β + √n) / α + λ2)          (McMahan et al. 2013, Alg. 1)
//   SparseAdam (lazy): m += (g − m)(1 − β1);  v += (g² − v)(1 − β2);
//             θ += (−lr √(1 − β2^t) / (1 − β1^t)) · m / (√v + ε)                     (PyTorch SparseAdam, TF LazyAdam)
//   Row-wise Adagrad: G_r += mean_j g_rj²;  θ_r −= lr / (√G_r + ε) · g_r              (FBGEMM / TorchRec)
//
// Shapes: value, grad, state: [n] (dense kernels); table: [rows, dim], grad: SparseRows with dim
// columns, per-element state: [rows, dim], row-wise state: [rows] (sparse kernels; only the rows
// listed in grad are read or written). cpu_scalar: the reference loops below. cpu_simd (in
// kernels/simd/optim.hpp): xsimd bodies + the same per-element functions for the tail, oneTBB
// over fixed chunks / rows, so results never depend on the thread count.
#pragma once
#include <cmath>
#include <concepts>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/core/types.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

// ---------------------------------------------------------------------------------------------
// Per-step constants, already converted to T (as PyTorch converts a Python scalar to the tensor's
// dtype before the element loop).
// ---------------------------------------------------------------------------------------------

/// SGD with momentum (PyTorch semantics).
template <class T>
struct SgdArgs {
  T neg_lr = 0;                  ///< −lr
  T momentum = 0;                ///< μ; 0: no velocity buffer (may be null)
  T one_minus_dampening = 1;     ///< 1 − τ
  T weight_decay = 0;            ///< λ (L2, added to the gradient)
  bool nesterov = false;
  bool first_step = false;       ///< v = d on the first step (dampening ignored), as PyTorch
};

/// Adam / AdamW (PyTorch's `_single_tensor_adam`, amsgrad = false).
template <class T>
struct AdamArgs {
  bool decoupled = false;        ///< AdamW: θ *= decay before the update
  T decay = 1;                   ///< 1 − lr λ
  T l2 = 0;                      ///< Adam: g += λθ
  T beta1_weight = 0;            ///< 1 − β1, the lerp weight of m toward g
  T beta1_weight_rest = 1;       ///< 1 − (1 − β1) in T, used when the weight is ≥ 0.5 (torch.lerp)
  T beta2 = 0;
  T one_minus_beta2 = 0;
  T bias_correction2_sqrt = 1;   ///< √(1 − β2^t)
  T eps = 0;
  T neg_step_size = 0;           ///< −lr / (1 − β1^t)
};

/// Adagrad (PyTorch semantics; lr_t = lr / (1 + (t − 1) lr_decay)).
template <class T>
struct AdagradArgs {
  T neg_lr = 0;                  ///< −lr_t
  T eps = 0;
  T weight_decay = 0;            ///< λ (L2, added to the gradient)
};

/// FTRL-Proximal, per coordinate (McMahan et al. 2013, Algorithm 1).
template <class T>
struct FtrlArgs {
  T alpha = 0;                   ///< α (the learning rate)
  T beta = 0;                    ///< β
  T l1 = 0;                      ///< λ1
  T l2 = 0;                      ///< λ2
};

/// PyTorch SparseAdam / TF LazyAdam on the touched rows.
template <class T>
struct SparseAdamArgs {
  T one_minus_beta1 = 0;
  T one_minus_beta2 = 0;
  T eps = 0;
  T neg_step_size = 0;           ///< −lr √(1 − β2^t) / (1 − β1^t)
};

/// Row-wise Adagrad (FBGEMM `rowwise_adagrad`, TorchRec): one accumulator per row.
template <class T>
struct RowwiseAdagradArgs {
  T lr = 0;
  T eps = 0;
};

// ---------------------------------------------------------------------------------------------
// One element. Shared by the scalar loops and the scalar tails of the SIMD kernels.
// ---------------------------------------------------------------------------------------------
namespace optim_detail {

template <class T>
inline void sgd_element(const SgdArgs<T>& a, T& theta, T g, T* v) {
  T d = g;
  if (a.weight_decay != T(0)) d = d + a.weight_decay * theta;
  if (v) {
    T buf = a.first_step ? d : *v * a.momentum + a.one_minus_dampening * d;
    *v = buf;
    d = a.nesterov ? d + a.momentum * buf : buf;
  }
  theta = theta + a.neg_lr * d;
}

template <class T>
inline void adam_element(const AdamArgs<T>& a, T& theta, T g, T& m, T& v) {
  T th = theta;
  if (a.decoupled) th = th * a.decay;
  if (a.l2 != T(0)) g = g + a.l2 * th;
  // torch.lerp(m, g, w): m + w (g − m) for |w| < 0.5, else g − (g − m)(1 − w)
  m = a.beta1_weight < T(0.5) ? m + a.beta1_weight * (g - m) : g - (g - m) * a.beta1_weight_rest;
  v = v * a.beta2;
  v = v + a.one_minus_beta2 * g * g;
  const T denom = std::sqrt(v) / a.bias_correction2_sqrt + a.eps;
  theta = th + a.neg_step_size * m / denom;
}

template <class T>
inline void adagrad_element(const AdagradArgs<T>& a, T& theta, T g, T& sum) {
  if (a.weight_decay != T(0)) g = g + a.weight_decay * theta;
  sum = sum + g * g;
  const T std_ = std::sqrt(sum) + a.eps;
  theta = theta + a.neg_lr * g / std_;
}

/// θ from (z, n): 0 if |z| ≤ λ1, else −(z − sgn(z) λ1) / ((β + √n) / α + λ2).
template <class T>
inline T ftrl_weight(const FtrlArgs<T>& a, T z, T sqrt_n) {
  if (std::abs(z) <= a.l1) return T(0);
  const T shrunk = z - (z < T(0) ? -a.l1 : a.l1);
  return -shrunk / ((a.beta + sqrt_n) / a.alpha + a.l2);
}

template <class T>
inline void ftrl_element(const FtrlArgs<T>& a, T& theta, T g, T& z, T& n) {
  const T n_new = n + g * g;
  const T sqrt_new = std::sqrt(n_new);
  const T sigma = (sqrt_new - std::sqrt(n)) / a.alpha;
  z = z + (g - sigma * theta);
  n = n_new;
  theta = ftrl_weight(a, z, sqrt_new);
}

template <class T>
inline void sparse_adam_element(const SparseAdamArgs<T>& a, T& theta, T g, T& m, T& v) {
  const T m_old = m;
  const T m_upd = (g - m_old) * a.one_minus_beta1;
  m = m_old + m_upd;
  const T v_old = v;
  const T v_upd = (g * g - v_old) * a.one_minus_beta2;
  v = v_old + v_upd;
  const T numer = m_upd + m_old;
  const T denom = std::sqrt(v_upd + v_old) + a.eps;
  theta = theta + a.neg_step_size * (numer / denom);
}

}  // namespace optim_detail

// ---------------------------------------------------------------------------------------------
// Dense kernels, cpu_scalar. value, grad, state: [n].
// ---------------------------------------------------------------------------------------------

/// SGD (+momentum). velocity: [n], or null when a.momentum == 0.
template <class T>
void sgd_update(const cpu_scalar& policy, const SgdArgs<T>& a, T* value, const T* grad, T* velocity, index_t n) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t i = 0; i < n; ++i) optim_detail::sgd_element(a, value[i], grad[i], velocity ? velocity + i : nullptr);
}

/// Adam / AdamW. m = exp_avg, v = exp_avg_sq.
template <class T>
void adam_update(const cpu_scalar& policy, const AdamArgs<T>& a, T* value, const T* grad, T* m, T* v, index_t n) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t i = 0; i < n; ++i) optim_detail::adam_element(a, value[i], grad[i], m[i], v[i]);
}

/// Adagrad. sum: the accumulator G.
template <class T>
void adagrad_update(const cpu_scalar& policy, const AdagradArgs<T>& a, T* value, const T* grad, T* sum, index_t n) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t i = 0; i < n; ++i) optim_detail::adagrad_element(a, value[i], grad[i], sum[i]);
}

/// FTRL-Proximal. z, n: the per-coordinate state.
template <class T>
void ftrl_update(const cpu_scalar& policy, const FtrlArgs<T>& a, T* value, const T* grad, T* z, T* n, index_t size) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t i = 0; i < size; ++i) optim_detail::ftrl_element(a, value[i], grad[i], z[i], n[i]);
}

/// SparseAdam's element update on a dense span (one touched row).
template <class T>
void sparse_adam_update(const cpu_scalar& policy, const SparseAdamArgs<T>& a, T* value, const T* grad, T* m, T* v, index_t n) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t i = 0; i < n; ++i) optim_detail::sparse_adam_element(a, value[i], grad[i], m[i], v[i]);
}

/// One row of row-wise Adagrad: sum += Σ_j g_j² / dim;  value −= lr / (√sum + ε) · g.
template <class T>
void rowwise_adagrad_row(const cpu_scalar& policy, const RowwiseAdagradArgs<T>& a, T* value, const T* grad, T& sum, index_t dim) {
  CTRNET_KERNEL_SCOPE(policy);
  T sq = T(0);
  for (index_t j = 0; j < dim; ++j) sq += grad[j] * grad[j];
  sum = sum + sq / static_cast<T>(dim);
  const T mult = a.lr / (std::sqrt(sum) + a.eps);
  for (index_t j = 0; j < dim; ++j) value[j] = value[j] - mult * grad[j];
}

/// Runs body(i) for each touched row i in [0, count): serially on cpu_scalar.
template <class F>
void for_each_touched_row(const cpu_scalar& policy, index_t count, index_t /*dim*/, F&& body) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t i = 0; i < count; ++i) body(i);
}

}  // namespace ctrnet::kernels

#include "ctrnet/kernels/simd/optim.hpp"

namespace ctrnet::kernels {

// ---------------------------------------------------------------------------------------------
// Sparse kernels: the row kernels above applied to the rows listed in `grad` only. Generic over
// the CPU policies; the row loop and the per-row kernel are the policy's own (cpu_simd runs rows
// in parallel: each row is independent, so the result does not depend on the thread count).
// grad must hold distinct ids in [0, table.rows) (SparseRows guarantees distinct ids; the
// optimizers check the range before calling).
// ---------------------------------------------------------------------------------------------

/// table: [rows, dim]; plain SGD on the touched rows (a.momentum must be 0).
template <class P, class T>
  requires std::derived_from<P, cpu_scalar>
void sparse_sgd_update(const P& p, const SgdArgs<T>& a, MatrixView<T> table, const SparseRows<T>& grad) {
  const index_t dim = table.cols;
  for_each_touched_row(p, grad.size(), dim, [&](index_t i) {
    sgd_update(p, a, table.row(static_cast<index_t>(grad.id(i))), grad.values(i), static_cast<T*>(nullptr), dim);
  });
}

/// table, sum: [rows, dim].
template <class P, class T>
  requires std::derived_from<P, cpu_scalar>
void sparse_adagrad_update(const P& p, const AdagradArgs<T>& a, MatrixView<T> table, const SparseRows<T>& grad,
                           MatrixView<T> sum) {
  const index_t dim = table.cols;
  for_each_touched_row(p, grad.size(), dim, [&](index_t i) {
    const index_t r = static_cast<index_t>(grad.id(i));
    adagrad_update(p, a, table.row(r), grad.values(i), sum.row(r), dim);
  });
}

/// table: [rows, dim]; sum: [rows] (one accumulator per row).
template <class P, class T>
  requires std::derived_from<P, cpu_scalar>
void sparse_rowwise_adagrad_update(const P& p, const RowwiseAdagradArgs<T>& a, MatrixView<T> table,
                                   const SparseRows<T>& grad, T* sum) {
  const index_t dim = table.cols;
  for_each_touched_row(p, grad.size(), dim, [&](index_t i) {
    const index_t r = static_cast<index_t>(grad.id(i));
    rowwise_adagrad_row(p, a, table.row(r), grad.values(i), sum[r], dim);
  });
}

/// table, m, v: [rows, dim].
template <class P, class T>
  requires std::derived_from<P, cpu_scalar>
void sparse_lazy_adam_update(const P& p, const SparseAdamArgs<T>& a, MatrixView<T> table, const SparseRows<T>& grad,
                             MatrixView<T> m, MatrixView<T> v) {
  const index_t dim = table.cols;
  for_each_touched_row(p, grad.size(), dim, [&](index_t i) {
    const index_t r = static_cast<index_t>(grad.id(i));
    sparse_adam_update(p, a, table.row(r), grad.values(i), m.row(r), v.row(r), dim);
  });
}

/// table, z, n: [rows, dim].
template <class P, class T>
  requires std::derived_from<P, cpu_scalar>
void sparse_ftrl_update(const P& p, const FtrlArgs<T>& a, MatrixView<T> table, const SparseRows<T>& grad,
                        MatrixView<T> z, MatrixView<T> n) {
  const index_t dim = table.cols;
  for_each_touched_row(p, grad.size(), dim, [&](index_t i) {
    const index_t r = static_cast<index_t>(grad.id(i));
    ftrl_update(p, a, table.row(r), grad.values(i), z.row(r), n.row(r), dim);
  });
}

}  // namespace ctrnet::kernels
