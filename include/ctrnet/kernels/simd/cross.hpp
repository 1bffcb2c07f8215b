// cpu_simd overloads of the cross-layer kernels (formulas and shapes in kernels/cross.hpp):
// an xsimd batch body plus a scalar tail per row, single pass over memory. Backward kernels
// ACCUMULATE into dx0, dxl and db and overwrite the workspaces dt / ds.
#pragma once
#include <xsimd/xsimd.hpp>

#include "ctrnet/kernels/cross.hpp"
#include "ctrnet/kernels/simd/elementwise.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

namespace ctrnet::kernels {

template <class T>
void cross_v2_forward(const cpu_simd&, ConstMatrixView<T> x0, ConstMatrixView<T> t, const T* b,
                      ConstMatrixView<T> xl, MatrixView<T> y) {
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
void cross_v2_backward_data(const cpu_simd&, ConstMatrixView<T> x0, ConstMatrixView<T> t, const T* b,
                            ConstMatrixView<T> dy, MatrixView<T> dt, T* db, MatrixView<T> dx0, MatrixView<T> dxl) {
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

template <class T>
void cross_v1_forward(const cpu_simd&, ConstMatrixView<T> x0, ConstMatrixView<T> s, const T* b,
                      ConstMatrixView<T> xl, MatrixView<T> y) {
  using V = simd_detail::vec<T>;
  simd_detail::for_each_row<T>(
      y.rows, y.cols,
      [&](index_t r, index_t c) {
        const V sr(s(r, 0));
        xsimd::fma(V::load_unaligned(x0.row(r) + c), sr, V::load_unaligned(b + c) + V::load_unaligned(xl.row(r) + c))
            .store_unaligned(y.row(r) + c);
      },
      [&](index_t r, index_t c) { y(r, c) = x0(r, c) * s(r, 0) + (b[c] + xl(r, c)); });
}

template <class T>
void cross_v1_backward_data(const cpu_simd&, ConstMatrixView<T> x0, ConstMatrixView<T> s, ConstMatrixView<T> dy,
                            MatrixView<T> ds, T* db, MatrixView<T> dx0, MatrixView<T> dxl) {
  using V = simd_detail::vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  const bool want_dx0 = !dx0.empty(), want_dxl = !dxl.empty();
  for (index_t r = 0; r < dy.rows; ++r) {
    const T sr = s(r, 0);
    const V sv(sr);
    V acc(T(0));
    index_t c = 0;
    for (; c + W <= dy.cols; c += W) {
      const V g = V::load_unaligned(dy.row(r) + c);
      acc = xsimd::fma(g, V::load_unaligned(x0.row(r) + c), acc);
      (V::load_unaligned(db + c) + g).store_unaligned(db + c);
      if (want_dx0) xsimd::fma(g, sv, V::load_unaligned(dx0.row(r) + c)).store_unaligned(dx0.row(r) + c);
      if (want_dxl) (V::load_unaligned(dxl.row(r) + c) + g).store_unaligned(dxl.row(r) + c);
    }
    T tail = T(0);
    for (; c < dy.cols; ++c) {
      const T g = dy(r, c);
      tail += g * x0(r, c);
      db[c] += g;
      if (want_dx0) dx0(r, c) += g * sr;
      if (want_dxl) dxl(r, c) += g;
    }
    alignas(64) T lane[W];
    acc.store_aligned(lane);
    for (index_t h = W / 2; h >= 1; h /= 2)  // fixed pairwise tree
      for (index_t l = 0; l < h; ++l) lane[l] += lane[l + h];
    ds(r, 0) = lane[0] + tail;
  }
}

}  // namespace ctrnet::kernels
