// cpu_simd overloads of the cross-layer kernels (formulas and shapes in kernels/cross.hpp):
// an xsimd batch body plus a scalar tail per row, single pass over memory. Backward kernels
// ACCUMULATE into dx0, dxl and db and overwrite the workspaces dt / ds.
// Threads: the kernels split ROWS over oneTBB workers. The DCN-V2 backward's bias gradient, a sum
// over rows, is reduced in FIXED blocks of kBiasBlockRows rows: each block sums its rows in order
// into its own partial vector, then the partials are added to db in block order. The blocks do not
// depend on the thread count, so results are bitwise the same for any number of threads. (An
// earlier column split made the two threads write the same cache line of every row.)
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>

#include "ctrnet/kernels/cross.hpp"
#include "ctrnet/kernels/simd/diagnostics.hpp"
#include "ctrnet/kernels/simd/elementwise.hpp"
#include "ctrnet/kernels/simd/gemm.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

CTRNET_SIMD_WARNINGS_BEGIN

namespace ctrnet::kernels {

namespace simd_detail {

/// Below this many elements an element-wise kernel stays on the calling thread.
inline constexpr index_t kElementwiseParallelMin = index_t(1) << 16;
/// Rows per partial sum of the DCN-V2 bias gradient (fixed: keeps db independent of the threads).
inline constexpr index_t kBiasBlockRows = 128;

/// f(r0, r1) over row blocks of [0, rows), in parallel when rows x cols is large.
template <class F>
inline void parallel_rows(const cpu_simd& p, index_t rows, index_t cols, F&& f) {
  const int threads = rows * cols < kElementwiseParallelMin || rows < 2 ? 1 : detail::gemm_thread_count(p);
  if (threads <= 1) {
    f(index_t(0), rows);
    return;
  }
  const index_t chunk = detail::ceil_div(rows, static_cast<index_t>(threads));
  detail::run_with_threads(p, threads, [&] {
    detail::parallel_items(threads, detail::ceil_div(rows, chunk),
                           [&](index_t i) { f(i * chunk, std::min(rows, (i + 1) * chunk)); });
  });
}


}  // namespace simd_detail

namespace simd_detail {
template <class T>
void cross_v2_forward_block(ConstMatrixView<T> x0, ConstMatrixView<T> t, const T* b, ConstMatrixView<T> xl,
                            MatrixView<T> y) {
  using V = simd_detail::vec<T>;
  simd_detail::for_each_row<T>(
      y.rows, y.cols,
      [&](index_t r, index_t c) {
        V tb = V::load_unaligned(t.row(r) + c);
        if (b) tb = tb + V::load_unaligned(b + c);
        xsimd::fma(V::load_unaligned(x0.row(r) + c), tb, V::load_unaligned(xl.row(r) + c)).store_unaligned(y.row(r) + c);
      },
      [&](index_t r, index_t c) { y(r, c) = x0(r, c) * (t(r, c) + (b ? b[c] : T(0))) + xl(r, c); });
}

template <class T>
void cross_v2_backward_block(ConstMatrixView<T> x0, ConstMatrixView<T> t, const T* b, ConstMatrixView<T> dy,
                             MatrixView<T> dt, T* db, MatrixView<T> dx0, MatrixView<T> dxl) {
  using V = simd_detail::vec<T>;
  const bool want_dx0 = !dx0.empty(), want_dxl = !dxl.empty();
  simd_detail::for_each_row<T>(
      dy.rows, dy.cols,
      [&](index_t r, index_t c) {
        const V g = V::load_unaligned(dy.row(r) + c);
        const V d = g * V::load_unaligned(x0.row(r) + c);
        d.store_unaligned(dt.row(r) + c);
        if (db) (V::load_unaligned(db + c) + d).store_unaligned(db + c);
        if (want_dx0) {
          V tb = V::load_unaligned(t.row(r) + c);
          if (b) tb = tb + V::load_unaligned(b + c);
          xsimd::fma(g, tb, V::load_unaligned(dx0.row(r) + c)).store_unaligned(dx0.row(r) + c);
        }
        if (want_dxl) (V::load_unaligned(dxl.row(r) + c) + g).store_unaligned(dxl.row(r) + c);
      },
      [&](index_t r, index_t c) {
        const T g = dy(r, c);
        const T d = g * x0(r, c);
        dt(r, c) = d;
        if (db) db[c] += d;
        if (want_dx0) dx0(r, c) += g * (t(r, c) + (b ? b[c] : T(0)));
        if (want_dxl) dxl(r, c) += g;
      });
}
}  // namespace simd_detail

/// y = x0 ⊙ (t + b) + xl; also the epilogue of CrossV2's fused GEMM (called on one block of C).
template <class T>
void cross_v2_forward(const cpu_simd& p, ConstMatrixView<T> x0, ConstMatrixView<T> t, const T* b,
                      ConstMatrixView<T> xl, MatrixView<T> y) {
  simd_detail::parallel_rows(p, y.rows, y.cols, [&](index_t r0, index_t r1) {
    const index_t n = r1 - r0;
    simd_detail::cross_v2_forward_block(x0.row_block(r0, n), t.row_block(r0, n), b, xl.row_block(r0, n),
                                        y.row_block(r0, n));
  });
}

template <class T>
void cross_v2_backward_data(const cpu_simd& p, ConstMatrixView<T> x0, ConstMatrixView<T> t, const T* b,
                            ConstMatrixView<T> dy, MatrixView<T> dt, T* db, MatrixView<T> dx0, MatrixView<T> dxl) {
  using V = simd_detail::vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  auto rows = [](MatrixView<T> v, index_t r0, index_t n) { return v.empty() ? v : v.row_block(r0, n); };
  const index_t R = dy.rows, d = dy.cols;
  if (db != nullptr && R <= simd_detail::kBiasBlockRows) {  // one bias block: one thread sums db in row order
    simd_detail::cross_v2_backward_block(x0, t, b, dy, dt, db, dx0, dxl);
    return;
  }
  if (db == nullptr) {  // no bias gradient: rows are independent
    simd_detail::parallel_rows(p, R, d, [&](index_t r0, index_t r1) {
      const index_t n = r1 - r0;
      simd_detail::cross_v2_backward_block(x0.row_block(r0, n), t.row_block(r0, n), b, dy.row_block(r0, n),
                                           dt.row_block(r0, n), db, rows(dx0, r0, n), rows(dxl, r0, n));
    });
    return;
  }
  const index_t blocks = detail::ceil_div(R, simd_detail::kBiasBlockRows);
  detail::ScratchLease<T> lease(3, blocks * d);  // per-thread buffer reused across steps: no allocation
  T* const part = lease.data();
  std::fill(part, part + blocks * d, T(0));
  simd_detail::parallel_rows(p, blocks, simd_detail::kBiasBlockRows * d, [&](index_t k0, index_t k1) {
    for (index_t k = k0; k < k1; ++k) {
      const index_t r0 = k * simd_detail::kBiasBlockRows, n = std::min(simd_detail::kBiasBlockRows, R - r0);
      simd_detail::cross_v2_backward_block(x0.row_block(r0, n), t.row_block(r0, n), b, dy.row_block(r0, n),
                                           dt.row_block(r0, n), part + k * d, rows(dx0, r0, n),
                                           rows(dxl, r0, n));
    }
  });
  for (index_t k = 0; k < blocks; ++k) {  // db += partial_0 + partial_1 + ... in block order
    const T* pk = part + k * d;
    index_t c = 0;
    for (; c + W <= d; c += W) (V::load_unaligned(db + c) + V::load_unaligned(pk + c)).store_unaligned(db + c);
    for (; c < d; ++c) db[c] += pk[c];
  }
}

// ---- Mixture of low-rank experts: the gated sum, vectorised over the d columns, rows split over
// threads. (The K-wide softmax stays the scalar kernel: K exps per row, under 0.1% of the layer.)

/// t[r, c] = Σ_i g[r, i] E[r, i d + c]  (overwritten).
template <class T>
void mixture_combine_forward(const cpu_simd& p, ConstMatrixView<T> g, ConstMatrixView<T> E, MatrixView<T> t) {
  using V = simd_detail::vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  const index_t d = t.cols, K = g.cols;
  simd_detail::parallel_rows(p, t.rows, K * d, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T* gr = g.row(r);
      const T* er = E.row(r);
      T* tr = t.row(r);
      index_t c = 0;
      for (; c + W <= d; c += W) {
        V acc = V(gr[0]) * V::load_unaligned(er + c);
        for (index_t i = 1; i < K; ++i) acc = xsimd::fma(V(gr[i]), V::load_unaligned(er + i * d + c), acc);
        acc.store_unaligned(tr + c);
      }
      for (; c < d; ++c) {
        T acc = gr[0] * er[c];
        for (index_t i = 1; i < K; ++i) acc = std::fma(gr[i], er[i * d + c], acc);
        tr[c] = acc;
      }
    }
  });
}

/// dE[r, i d + c] = g[r, i] dt[r, c] and dg[r, i] = Σ_c dt[r, c] E[r, i d + c] (both overwritten).
template <class T>
void mixture_combine_backward(const cpu_simd& p, ConstMatrixView<T> g, ConstMatrixView<T> E, ConstMatrixView<T> dt,
                              MatrixView<T> dE, MatrixView<T> dg) {
  using V = simd_detail::vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  const index_t d = dt.cols, K = g.cols;
  simd_detail::parallel_rows(p, dt.rows, K * d, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T* dtr = dt.row(r);
      for (index_t i = 0; i < K; ++i) {
        const T gi = g(r, i);
        const V gv(gi);
        const T* ei = E.row(r) + i * d;
        T* dei = dE.row(r) + i * d;
        V acc(T(0));
        index_t c = 0;
        for (; c + W <= d; c += W) {
          const V dv = V::load_unaligned(dtr + c);
          (gv * dv).store_unaligned(dei + c);
          acc = xsimd::fma(dv, V::load_unaligned(ei + c), acc);
        }
        T sum = detail::horizontal_sum(acc);
        for (; c < d; ++c) {
          dei[c] = gi * dtr[c];
          sum = std::fma(dtr[c], ei[c], sum);
        }
        dg(r, i) = sum;
      }
    }
  });
}

}  // namespace ctrnet::kernels

CTRNET_SIMD_WARNINGS_END
