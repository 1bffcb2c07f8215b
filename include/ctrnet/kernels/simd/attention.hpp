// cpu_simd kernels of the attention layers (formulas: kernels/scalar/attention.hpp).
//
// Attention: one oneTBB task per block of examples (results never depend on the thread count:
// every example is computed by the same instructions on one thread). Per (example, head) the
// small products (Q Kᵀ, P V in forward; dV = Pᵀ dC, dP = dC Vᵀ, dQ = dS K, dK = dSᵀ Q in
// backward) are single-threaded calls of the packed GEMM (kernels/simd/gemm.hpp) straight on
// strided views of the QKV matrix (no transposes or copies; only the valid keys), and the
// softmax and its backward are fused passes over each row of P while it is in L1 (row max, exp,
// sum, scale). At L = 32, d_h = 32..64 this measured faster than a hand-written "row
// combination" kernel (2 rows × 4 vectors of accumulators; bench_attention's mha_core/*).
//
// Layer norm: rows in parallel; dγ, dβ as partial sums over fixed blocks of 64 rows, added in
// block order (deterministic for any thread count).
#pragma once
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/kernels/scalar/attention.hpp"
#include "ctrnet/kernels/simd/gemm.hpp"
#include "ctrnet/kernels/trans.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

namespace ctrnet::kernels {

namespace attn_detail {
template <class T>
using vec = xsimd::batch<T>;

template <class T>
inline T hsum(vec<T> v) {
  return kernels::detail::horizontal_sum(v);
}

/// p[0:n] = softmax(p[0:n]) in place (max-subtracted), p[n:L] = 0.
template <class T>
inline void softmax_row(T* p, index_t n, index_t L) {
  using V = vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  index_t j = 0;
  T mx = -std::numeric_limits<T>::infinity();
  if (n >= W) {
    V m = V::load_unaligned(p);
    for (j = W; j + W <= n; j += W) m = xsimd::max(m, V::load_unaligned(p + j));
    alignas(64) T lane[W];
    m.store_aligned(lane);
    mx = lane[0];
    for (index_t l = 1; l < W; ++l) mx = std::max(mx, lane[l]);
  }
  for (; j < n; ++j) mx = std::max(mx, p[j]);
  const V mv(mx);
  V s(T(0));
  for (j = 0; j + W <= n; j += W) {
    const V e = xsimd::exp(V::load_unaligned(p + j) - mv);
    e.store_unaligned(p + j);
    s += e;
  }
  T sum = hsum(s);
  for (; j < n; ++j) sum += (p[j] = std::exp(p[j] - mx));
  const T inv = T(1) / sum;
  const V iv(inv);
  for (j = 0; j + W <= n; j += W) (V::load_unaligned(p + j) * iv).store_unaligned(p + j);
  for (; j < n; ++j) p[j] *= inv;
  for (j = n; j < L; ++j) p[j] = T(0);
}

/// ds[0:n] = scale · p ⊙ (dp − Σ p ⊙ dp), in place in ds (which holds dp); ds[n:L] = 0.
template <class T>
inline void softmax_backward_row(const T* p, T* ds, index_t n, index_t L, T scale) {
  using V = vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  V s(T(0));
  index_t j = 0;
  for (; j + W <= n; j += W) s = xsimd::fma(V::load_unaligned(p + j), V::load_unaligned(ds + j), s);
  T dot = hsum(s);
  for (; j < n; ++j) dot += p[j] * ds[j];
  const V dv(dot), sc(scale);
  for (j = 0; j + W <= n; j += W)
    (sc * V::load_unaligned(p + j) * (V::load_unaligned(ds + j) - dv)).store_unaligned(ds + j);
  for (; j < n; ++j) ds[j] = scale * p[j] * (ds[j] - dot);
  for (j = n; j < L; ++j) ds[j] = T(0);
}

/// Per-thread scratch, grown on demand.
template <class T>
inline T* scratch(index_t n) {
  thread_local AlignedVector<T> buf;
  if (static_cast<index_t>(buf.size()) < n) buf = AlignedVector<T>(static_cast<std::size_t>(n));
  return buf.data();
}

/// Runs body(b0, b1) over blocks of examples, in parallel when the policy allows.
template <class F>
inline void for_examples(const cpu_simd& p, index_t batch, double work_per_example, F&& body) {
  const int threads = batch * work_per_example < 2e5 ? 1 : kernels::detail::gemm_thread_count(p);
  if (threads <= 1) {
    body(index_t(0), batch);
    return;
  }
  const index_t grain = std::max<index_t>(1, batch / (8 * threads));
  kernels::detail::run_with_threads(p, threads, [&] {
    tbb::parallel_for(tbb::blocked_range<index_t>(0, batch, grain),
                      [&](const tbb::blocked_range<index_t>& r) { body(r.begin(), r.end()); });
  });
}
}  // namespace attn_detail

template <class T>
void attention_forward(const cpu_simd& pol, const AttentionShape& s, T scale, ConstMatrixView<T> qkv,
                       const index_t* counts, T* probs, MatrixView<T> ctx) {
  const index_t L = s.tokens, dh = s.head_dim, w = s.width();
  const double work = 4.0 * double(L) * double(L) * double(w);
  const cpu_simd p1 = single_threaded(pol);
  attn_detail::for_examples(pol, s.batch, work, [&](index_t b0, index_t b1) {
    for (index_t b = b0; b < b1; ++b) {
      const index_t n = s.valid(counts, b);
      for (index_t h = 0; h < s.heads; ++h) {
        T* P = probs + (b * s.heads + h) * L * L;
        const ConstMatrixView<T> Q(qkv.row(b * L) + h * dh, L, dh, qkv.stride);
        const ConstMatrixView<T> K(qkv.row(b * L) + w + h * dh, n, dh, qkv.stride);
        const ConstMatrixView<T> V(qkv.row(b * L) + 2 * w + h * dh, n, dh, qkv.stride);
        const MatrixView<T> S(P, L, n, L);
        gemm(p1, Trans::no, Trans::yes, scale, Q, K, T(0), S);  // S = scale Q Kᵀ (valid keys)
        for (index_t i = 0; i < L; ++i) attn_detail::softmax_row(P + i * L, n, L);
        gemm(p1, Trans::no, Trans::no, T(1), ConstMatrixView<T>(S), V, T(0),
             MatrixView<T>(ctx.row(b * L) + h * dh, L, dh, ctx.stride));  // C = P V
      }
    }
  });
}

template <class T>
void attention_backward(const cpu_simd& pol, const AttentionShape& s, T scale, ConstMatrixView<T> qkv,
                        const index_t* counts, const T* probs, ConstMatrixView<T> dctx, MatrixView<T> dqkv) {
  const index_t L = s.tokens, dh = s.head_dim, w = s.width();
  const double work = 8.0 * double(L) * double(L) * double(w);
  const cpu_simd p1 = single_threaded(pol);
  attn_detail::for_examples(pol, s.batch, work, [&](index_t b0, index_t b1) {
    T* const ds = attn_detail::scratch<T>(L * L);
    for (index_t b = b0; b < b1; ++b) {
      const index_t n = s.valid(counts, b);
      for (index_t h = 0; h < s.heads; ++h) {
        const ConstMatrixView<T> P(probs + (b * s.heads + h) * L * L, L, n, L);
        const ConstMatrixView<T> Q(qkv.row(b * L) + h * dh, L, dh, qkv.stride);
        const ConstMatrixView<T> K(qkv.row(b * L) + w + h * dh, n, dh, qkv.stride);
        const ConstMatrixView<T> V(qkv.row(b * L) + 2 * w + h * dh, n, dh, qkv.stride);
        const ConstMatrixView<T> dC(dctx.row(b * L) + h * dh, L, dh, dctx.stride);
        auto part = [&](index_t k, index_t rows) {
          return MatrixView<T>(dqkv.row(b * L) + k * w + h * dh, rows, dh, dqkv.stride);
        };
        const MatrixView<T> dS(ds, L, n, L);
        gemm(p1, Trans::yes, Trans::no, T(1), P, dC, T(0), part(2, n));  // dV = Pᵀ dC
        gemm(p1, Trans::no, Trans::yes, T(1), dC, V, T(0), dS);          // dP = dC Vᵀ
        for (index_t i = 0; i < L; ++i) attn_detail::softmax_backward_row(P.row(i), ds + i * L, n, L, scale);
        gemm(p1, Trans::no, Trans::no, T(1), ConstMatrixView<T>(dS), K, T(0), part(0, L));  // dQ = dS K
        gemm(p1, Trans::yes, Trans::no, T(1), ConstMatrixView<T>(dS), Q, T(0), part(1, n));  // dK = dSᵀ Q
        for (index_t j = n; j < L; ++j) {  // padding keys: no gradient
          T* r = dqkv.row(b * L + j);
          std::fill(r + w + h * dh, r + w + (h + 1) * dh, T(0));
          std::fill(r + 2 * w + h * dh, r + 2 * w + (h + 1) * dh, T(0));
        }
      }
    }
  });
}

namespace attn_detail {
template <class T>
inline void ln_row(const T* xr, index_t w, const T* gamma, const T* beta, T eps, T* yr, T& mean, T& rstd) {
  using V = vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  V s(T(0));
  index_t c = 0;
  for (; c + W <= w; c += W) s += V::load_unaligned(xr + c);
  T mu = hsum(s);
  for (; c < w; ++c) mu += xr[c];
  mu /= T(w);
  const V mv(mu);
  V q(T(0));
  for (c = 0; c + W <= w; c += W) {
    const V d = V::load_unaligned(xr + c) - mv;
    q = xsimd::fma(d, d, q);
  }
  T var = hsum(q);
  for (; c < w; ++c) var += (xr[c] - mu) * (xr[c] - mu);
  var /= T(w);
  const T rs = T(1) / std::sqrt(var + eps);
  mean = mu;
  rstd = rs;
  const V rv(rs);
  for (c = 0; c + W <= w; c += W)
    xsimd::fma(V::load_unaligned(gamma + c), (V::load_unaligned(xr + c) - mv) * rv, V::load_unaligned(beta + c))
        .store_unaligned(yr + c);
  for (; c < w; ++c) yr[c] = gamma[c] * ((xr[c] - mu) * rs) + beta[c];
}
}  // namespace attn_detail

template <class T>
void layer_norm_forward(const cpu_simd& pol, ConstMatrixView<T> x, const T* gamma, const T* beta, T eps,
                        MatrixView<T> y, T* mean, T* rstd) {
  attn_detail::for_examples(pol, x.rows, 8.0 * double(x.cols), [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) attn_detail::ln_row(x.row(r), x.cols, gamma, beta, eps, y.row(r), mean[r], rstd[r]);
  });
}

template <class T>
void layer_norm_backward(const cpu_simd& pol, ConstMatrixView<T> x, const T* gamma, const T* mean, const T* rstd,
                         ConstMatrixView<T> dy, MatrixView<T> dx, T* dgamma, T* dbeta) {
  using V = attn_detail::vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  constexpr index_t kBlock = 64;
  const index_t w = x.cols, blocks = (x.rows + kBlock - 1) / kBlock;
  // Per-block partial sums of dγ, dβ (summed in block order: the same result for any thread count),
  // in the per-thread scratch buffer of element-wise kernels: no allocation per training step.
  detail::ScratchLease<T> lease(3, blocks * 2 * w);
  T* const part = lease.data();
  std::fill(part, part + blocks * 2 * w, T(0));
  auto rows = [&](index_t blk) {
    T* pg = part + blk * 2 * w;
    T* pb = pg + w;
    for (index_t r = blk * kBlock; r < std::min(x.rows, (blk + 1) * kBlock); ++r) {
      const T* xr = x.row(r);
      const T* g = dy.row(r);
      const V mv(mean[r]), rv(rstd[r]);
      V s1(T(0)), s2(T(0));
      index_t c = 0;
      for (; c + W <= w; c += W) {
        const V xh = (V::load_unaligned(xr + c) - mv) * rv;
        const V gv = V::load_unaligned(g + c);
        const V dxh = V::load_unaligned(gamma + c) * gv;
        s1 += dxh;
        s2 = xsimd::fma(dxh, xh, s2);
        xsimd::fma(gv, xh, V::load_unaligned(pg + c)).store_unaligned(pg + c);
        (V::load_unaligned(pb + c) + gv).store_unaligned(pb + c);
      }
      T m1 = attn_detail::hsum(s1), m2 = attn_detail::hsum(s2);
      for (; c < w; ++c) {
        const T xh = (xr[c] - mean[r]) * rstd[r];
        const T dxh = gamma[c] * g[c];
        m1 += dxh;
        m2 += dxh * xh;
        pg[c] += g[c] * xh;
        pb[c] += g[c];
      }
      m1 /= T(w);
      m2 /= T(w);
      if (dx.empty()) continue;
      T* d = dx.row(r);
      const V m1v(m1), m2v(m2);
      for (c = 0; c + W <= w; c += W) {
        const V xh = (V::load_unaligned(xr + c) - mv) * rv;
        const V t = V::load_unaligned(gamma + c) * V::load_unaligned(g + c) - m1v - xh * m2v;
        xsimd::fma(rv, t, V::load_unaligned(d + c)).store_unaligned(d + c);
      }
      for (; c < w; ++c) {
        const T xh = (xr[c] - mean[r]) * rstd[r];
        d[c] += rstd[r] * (gamma[c] * g[c] - m1 - xh * m2);
      }
    }
  };
  attn_detail::for_examples(pol, blocks, 12.0 * double(kBlock * w), [&](index_t b0, index_t b1) {
    for (index_t b = b0; b < b1; ++b) rows(b);
  });
  for (index_t b = 0; b < blocks; ++b) {
    const T* pg = part + b * 2 * w;
    for (index_t c = 0; c < w; ++c) {
      dgamma[c] += pg[c];
      dbeta[c] += pg[w + c];
    }
  }
}

}  // namespace ctrnet::kernels
