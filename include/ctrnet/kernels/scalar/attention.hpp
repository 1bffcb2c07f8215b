// Reference (cpu_scalar) kernels of the attention layers: scaled dot-product attention over the
// heads of a packed QKV matrix, and layer normalisation. Plain loops, templated on T.
//
// Scaled dot-product attention (Vaswani et al. 2017, "Attention Is All You Need", eq. 1), per
// example b and head h, with n_b valid keys (key padding mask: keys j >= n_b get probability 0):
//   s_ij = scale · q_i · k_j          (scale = 1/√d_h)
//   p_ij = exp(s_ij − max_j s_ij) / Σ_j exp(s_ij − max_j s_ij)      (numerically stable softmax)
//   c_i  = Σ_j p_ij v_j
// Backward, given dc_i:
//   dp_ij = dc_i · v_j,   dv_j = Σ_i p_ij dc_i,
//   ds_ij = p_ij (dp_ij − Σ_k p_ik dp_ik),
//   dq_i = scale Σ_j ds_ij k_j,   dk_j = scale Σ_i ds_ij q_i.
// Layout: qkv [B·L, 3w] = [Q | K | V], head h at columns h·d_h of each part (w = H·d_h);
// ctx [B·L, w]; probs [B, H, L, L] row-major (kept for backward).
//
// Layer normalisation (Ba, Kiros & Hinton 2016), per row x of width w:
//   μ = mean(x),  σ² = mean((x − μ)²),  r = 1/√(σ² + ε),  x̂ = (x − μ) r,  y = γ ⊙ x̂ + β
// Backward: dx̂ = γ ⊙ dy,  dx = r (dx̂ − mean(dx̂) − x̂ mean(dx̂ ⊙ x̂)),  dγ = Σ dy ⊙ x̂,  dβ = Σ dy.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

/// Shape of one attention call: `batch` examples of `tokens` tokens, `heads` heads of `head_dim`.
struct AttentionShape {
  index_t batch = 0, tokens = 0, heads = 1, head_dim = 0;
  index_t width() const { return heads * head_dim; }
  /// Valid keys of example b: counts[b] (clamped to [1, tokens]) or all tokens.
  index_t valid(const index_t* counts, index_t b) const {
    return counts ? std::clamp<index_t>(counts[b], 1, tokens) : tokens;
  }
};

/// ctx = softmax(scale Q Kᵀ + mask) V for every example and head; probs [B, H, L, L] is written
/// (masked keys: 0). `counts`: nullptr or [B] valid key counts.
template <class T>
void attention_forward(const cpu_scalar& policy, const AttentionShape& s, T scale, ConstMatrixView<T> qkv,
                       const index_t* counts, T* probs, MatrixView<T> ctx) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t L = s.tokens, dh = s.head_dim, w = s.width();
  for (index_t b = 0; b < s.batch; ++b) {
    const index_t n = s.valid(counts, b);
    for (index_t h = 0; h < s.heads; ++h) {
      T* P = probs + (b * s.heads + h) * L * L;
      for (index_t i = 0; i < L; ++i) {
        const T* q = qkv.row(b * L + i) + h * dh;
        T* p = P + i * L;
        T mx = -std::numeric_limits<T>::infinity();
        for (index_t j = 0; j < n; ++j) {
          const T* k = qkv.row(b * L + j) + w + h * dh;
          T acc = T(0);
          for (index_t d = 0; d < dh; ++d) acc += q[d] * k[d];
          p[j] = scale * acc;
          mx = std::max(mx, p[j]);
        }
        T sum = T(0);
        for (index_t j = 0; j < n; ++j) sum += (p[j] = std::exp(p[j] - mx));
        for (index_t j = 0; j < n; ++j) p[j] /= sum;
        for (index_t j = n; j < L; ++j) p[j] = T(0);
        T* c = ctx.row(b * L + i) + h * dh;
        for (index_t d = 0; d < dh; ++d) {
          T acc = T(0);
          for (index_t j = 0; j < n; ++j) acc += p[j] * qkv.row(b * L + j)[2 * w + h * dh + d];
          c[d] = acc;
        }
      }
    }
  }
}

/// dqkv = the gradient of attention_forward w.r.t. qkv given dctx (OVERWRITES dqkv).
template <class T>
void attention_backward(const cpu_scalar& policy, const AttentionShape& s, T scale, ConstMatrixView<T> qkv,
                        const index_t* counts, const T* probs, ConstMatrixView<T> dctx, MatrixView<T> dqkv) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t L = s.tokens, dh = s.head_dim, w = s.width();
  for (index_t r = 0; r < dqkv.rows; ++r)
    for (index_t c = 0; c < dqkv.cols; ++c) dqkv(r, c) = T(0);
  // dP_ij = dC_i · V_j is formed twice (for dot = Σ_j P_ij dP_ij, then for dS_ij) rather than kept
  // in a scratch row: the reference kernel allocates nothing, and both passes sum in the same order.
  auto dp_of = [&](const T* dc, index_t b, index_t h, index_t j) {
    const T* v = qkv.row(b * L + j) + 2 * w + h * dh;
    T acc = T(0);
    for (index_t d = 0; d < dh; ++d) acc += dc[d] * v[d];
    return acc;
  };
  for (index_t b = 0; b < s.batch; ++b) {
    const index_t n = s.valid(counts, b);
    for (index_t h = 0; h < s.heads; ++h) {
      const T* P = probs + (b * s.heads + h) * L * L;
      for (index_t i = 0; i < L; ++i) {
        const T* p = P + i * L;
        const T* dc = dctx.row(b * L + i) + h * dh;
        T dot = T(0);
        for (index_t j = 0; j < n; ++j) {
          T* dv = dqkv.row(b * L + j) + 2 * w + h * dh;
          for (index_t d = 0; d < dh; ++d) dv[d] += p[j] * dc[d];
          dot += p[j] * dp_of(dc, b, h, j);
        }
        const T* q = qkv.row(b * L + i) + h * dh;
        T* dq = dqkv.row(b * L + i) + h * dh;
        for (index_t j = 0; j < n; ++j) {
          const T ds = scale * p[j] * (dp_of(dc, b, h, j) - dot);
          const T* k = qkv.row(b * L + j) + w + h * dh;
          T* dk = dqkv.row(b * L + j) + w + h * dh;
          for (index_t d = 0; d < dh; ++d) {
            dq[d] += ds * k[d];
            dk[d] += ds * q[d];
          }
        }
      }
    }
  }
}

/// y = γ ⊙ (x − μ) / √(σ² + ε) + β per row; mean[r], rstd[r] are written for backward.
template <class T>
void layer_norm_forward(const cpu_scalar& policy, ConstMatrixView<T> x, const T* gamma, const T* beta, T eps, MatrixView<T> y,
                        T* mean, T* rstd) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t w = x.cols;
  for (index_t r = 0; r < x.rows; ++r) {
    const T* xr = x.row(r);
    T mu = T(0);
    for (index_t c = 0; c < w; ++c) mu += xr[c];
    mu /= T(w);
    T var = T(0);
    for (index_t c = 0; c < w; ++c) var += (xr[c] - mu) * (xr[c] - mu);
    var /= T(w);
    const T rs = T(1) / std::sqrt(var + eps);
    mean[r] = mu;
    rstd[r] = rs;
    T* yr = y.row(r);
    for (index_t c = 0; c < w; ++c) yr[c] = gamma[c] * ((xr[c] - mu) * rs) + beta[c];
  }
}

/// Accumulates dx (if not empty), dγ and dβ of layer_norm_forward.
template <class T>
void layer_norm_backward(const cpu_scalar& policy, ConstMatrixView<T> x, const T* gamma, const T* mean, const T* rstd,
                         ConstMatrixView<T> dy, MatrixView<T> dx, T* dgamma, T* dbeta) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t w = x.cols;
  for (index_t r = 0; r < x.rows; ++r) {
    const T* xr = x.row(r);
    const T* g = dy.row(r);
    const T mu = mean[r], rs = rstd[r];
    T m1 = T(0), m2 = T(0);
    for (index_t c = 0; c < w; ++c) {
      const T xh = (xr[c] - mu) * rs;
      const T dxh = gamma[c] * g[c];
      m1 += dxh;
      m2 += dxh * xh;
      dgamma[c] += g[c] * xh;
      dbeta[c] += g[c];
    }
    m1 /= T(w);
    m2 /= T(w);
    if (dx.empty()) continue;
    T* d = dx.row(r);
    for (index_t c = 0; c < w; ++c) {
      const T xh = (xr[c] - mu) * rs;
      d[c] += rs * (gamma[c] * g[c] - m1 - xh * m2);
    }
  }
}

}  // namespace ctrnet::kernels
