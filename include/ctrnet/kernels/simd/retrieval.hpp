// cpu_simd retrieval kernels: the formulas of scalar/retrieval.hpp with an xsimd body and a scalar
// tail per row; rows are independent, so the oneTBB split over rows never changes a result, and
// the sampled-softmax loss sums its per-row losses in row order afterwards.
#pragma once
#include <xsimd/xsimd.hpp>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cmath>
#include <limits>
#include <vector>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/kernels/scalar/retrieval.hpp"
#include "ctrnet/kernels/simd/diagnostics.hpp"
#include "ctrnet/policy/cpu_context.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

CTRNET_SIMD_WARNINGS_BEGIN

namespace ctrnet::kernels {

namespace simd_detail {
/// Runs body(r0, r1) over row ranges; in parallel once the work is worth a task.
template <class F>
inline void for_row_ranges(const cpu_simd& p, index_t rows, index_t work_per_row, F&& body) {
  if (p.max_threads == 1 || rows * work_per_row < (index_t(1) << 16) || rows < 2) {
    body(index_t(0), rows);
    return;
  }
  const index_t grain = std::max<index_t>(1, (index_t(1) << 14) / std::max<index_t>(1, work_per_row));
  run_in_policy_arena(p, [&] {
    tbb::parallel_for(tbb::blocked_range<index_t>(0, rows, grain),
                      [&](const tbb::blocked_range<index_t>& r) { body(r.begin(), r.end()); });
  });
}

template <class T>
inline T dot(const T* a, const T* b, index_t n) {
  using V = xsimd::batch<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  V acc(T(0));
  index_t c = 0;
  for (; c + W <= n; c += W) acc = xsimd::fma(V::load_unaligned(a + c), V::load_unaligned(b + c), acc);
  T s = xsimd::hadd(acc);
  for (; c < n; ++c) s += a[c] * b[c];
  return s;
}

/// y[0:n] += f · x[0:n]
template <class T>
inline void axpy_row(T f, const T* x, T* y, index_t n) {
  using V = xsimd::batch<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  const V fv(f);
  index_t c = 0;
  for (; c + W <= n; c += W) xsimd::fma(fv, V::load_unaligned(x + c), V::load_unaligned(y + c)).store_unaligned(y + c);
  for (; c < n; ++c) y[c] += f * x[c];
}
}  // namespace simd_detail

template <class T>
void l2_normalize_forward(const cpu_simd& p, ConstMatrixView<T> x, MatrixView<T> y, T* norms, T eps) {
  using V = xsimd::batch<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  simd_detail::for_row_ranges(p, x.rows, x.cols, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T* xr = x.row(r);
      T* yr = y.row(r);
      const T n = std::max(std::sqrt(simd_detail::dot(xr, xr, x.cols)), eps);
      norms[r] = n;
      const T inv = T(1) / n;
      const V iv(inv);
      index_t c = 0;
      for (; c + W <= x.cols; c += W) (V::load_unaligned(xr + c) * iv).store_unaligned(yr + c);
      for (; c < x.cols; ++c) yr[c] = xr[c] * inv;
    }
  });
}

template <class T>
void l2_normalize_backward(const cpu_simd& p, ConstMatrixView<T> y, const T* norms, ConstMatrixView<T> dy,
                           MatrixView<T> dx, T eps) {
  using V = xsimd::batch<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  simd_detail::for_row_ranges(p, y.rows, y.cols, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T inv = T(1) / norms[r];
      const T* yr = y.row(r);
      const T* g = dy.row(r);
      T* d = dx.row(r);
      if (norms[r] <= eps) {
        simd_detail::axpy_row(inv, g, d, y.cols);
        continue;
      }
      const T dot = simd_detail::dot(yr, g, y.cols);
      const V iv(inv), dv(dot);
      index_t c = 0;
      for (; c + W <= y.cols; c += W) {
        const V t = xsimd::fnma(V::load_unaligned(yr + c), dv, V::load_unaligned(g + c));  // dy − y·dot
        xsimd::fma(t, iv, V::load_unaligned(d + c)).store_unaligned(d + c);
      }
      for (; c < y.cols; ++c) d[c] += (g[c] - yr[c] * dot) * inv;
    }
  });
}

template <class T>
void row_dot(const cpu_simd& p, T alpha, ConstMatrixView<T> a, ConstMatrixView<T> b, MatrixView<T> s) {
  simd_detail::for_row_ranges(p, a.rows, a.cols, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) s(r, 0) = alpha * simd_detail::dot(a.row(r), b.row(r), a.cols);
  });
}

template <class T>
void row_scale_add(const cpu_simd& p, T alpha, ConstMatrixView<T> s, ConstMatrixView<T> x, MatrixView<T> y) {
  simd_detail::for_row_ranges(p, x.rows, x.cols, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) simd_detail::axpy_row(alpha * s(r, 0), x.row(r), y.row(r), x.cols);
  });
}

/// cpu_simd sampled softmax: z = s − log Q in a per-thread row buffer, masked entries set to −∞,
/// then max, Σ exp and the gradient as xsimd passes (exp: xsimd::exp).
template <class T>
void sampled_softmax_loss(const cpu_simd& p, ConstMatrixView<T> s, const T* log_q, SoftmaxMask mask,
                          const float* weights, double scale, MatrixView<T> ds, double* loss) {
  using V = xsimd::batch<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  const index_t cols = s.cols;
  thread_local std::vector<double> row_loss_tls;
  std::vector<double>& row_loss = row_loss_tls;
  row_loss.assign(static_cast<std::size_t>(s.rows), 0.0);
  const T ninf = -std::numeric_limits<T>::infinity();
  simd_detail::for_row_ranges(p, s.rows, cols, [&](index_t r0, index_t r1) {
    thread_local AlignedVector<T> zbuf;
    if (static_cast<index_t>(zbuf.size()) < cols + W) zbuf.resize(static_cast<std::size_t>(cols + W));
    T* z = zbuf.data();
    for (index_t i = r0; i < r1; ++i) {
      const T* si = s.row(i);
      index_t j = 0;
      V mv(ninf);
      for (; j + W <= cols; j += W) {
        V v = V::load_unaligned(si + j);
        if (log_q) v = v - V::load_unaligned(log_q + j);
        v.store_aligned(z + j);
      }
      for (; j < cols; ++j) z[j] = si[j] - (log_q ? log_q[j] : T(0));
      if (!mask.empty())
        for (index_t k = mask.offsets[i]; k < mask.offsets[i + 1]; ++k) z[mask.cols[k]] = ninf;
      j = 0;
      for (; j + W <= cols; j += W) mv = xsimd::max(mv, V::load_aligned(z + j));
      alignas(64) T lanes[W];
      mv.store_aligned(lanes);
      T mx = lanes[0];
      for (index_t l = 1; l < W; ++l) mx = std::max(mx, lanes[l]);
      for (; j < cols; ++j) mx = std::max(mx, z[j]);
      const V mxv(mx);
      V acc(T(0));
      j = 0;
      for (; j + W <= cols; j += W) acc += xsimd::exp(V::load_aligned(z + j) - mxv);
      T sum = xsimd::hadd(acc);
      for (; j < cols; ++j) sum += std::exp(z[j] - mx);
      const T lse = mx + std::log(sum);
      const double w = (weights ? weights[i] : 1.0) * scale;
      row_loss[static_cast<std::size_t>(i)] = w * static_cast<double>(lse - z[i]);
      if (ds.empty()) continue;
      T* d = ds.row(i);
      const V lv(lse), wv(static_cast<T>(w));
      j = 0;
      for (; j + W <= cols; j += W)
        xsimd::fma(wv, xsimd::exp(V::load_aligned(z + j) - lv), V::load_unaligned(d + j)).store_unaligned(d + j);
      for (; j < cols; ++j) d[j] += static_cast<T>(w) * std::exp(z[j] - lse);
      d[i] -= static_cast<T>(w);
    }
  });
  double total = 0.0;
  for (double l : row_loss) total += l;
  *loss = total;
}

}  // namespace ctrnet::kernels

CTRNET_SIMD_WARNINGS_END
