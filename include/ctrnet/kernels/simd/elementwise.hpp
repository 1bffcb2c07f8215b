// cpu_simd element-wise kernels: an xsimd batch body plus a scalar tail per row, using the same
// formulas as kernels/activation.hpp. Every *_backward kernel ACCUMULATES into its outputs.
#pragma once
#include <xsimd/xsimd.hpp>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/kernels/activation.hpp"
#include "ctrnet/kernels/scalar/elementwise.hpp"
#include "ctrnet/kernels/simd/diagnostics.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

CTRNET_SIMD_WARNINGS_BEGIN

namespace ctrnet::kernels {

namespace simd_detail {
template <class T>
using vec = xsimd::batch<T>;

/// Applies `body(c, is_vector)` over each row: vector steps of vec<T>::size, then a scalar tail.
template <class T, class VecFn, class ScalarFn>
inline void for_each_row(index_t rows, index_t cols, VecFn&& vf, ScalarFn&& sf) {
  constexpr index_t W = static_cast<index_t>(vec<T>::size);
  for (index_t r = 0; r < rows; ++r) {
    index_t c = 0;
    for (; c + W <= cols; c += W) vf(r, c);
    for (; c < cols; ++c) sf(r, c);
  }
}

template <class T>
inline vec<T> sigmoid(vec<T> x) {
  // 1 / (1 + e^-x), evaluated with e^{-|x|} so it never overflows.
  const vec<T> e = xsimd::exp(-xsimd::abs(x));
  const vec<T> one(T(1));
  const vec<T> pos = one / (one + e);
  return xsimd::select(x >= vec<T>(T(0)), pos, e / (one + e));
}

template <class T>
inline vec<T> activate(Activation a, vec<T> x, T alpha) {
  switch (a) {
    case Activation::identity: return x;
    case Activation::relu: return xsimd::max(x, vec<T>(T(0)));
    case Activation::leaky_relu: return xsimd::select(x > vec<T>(T(0)), x, x * vec<T>(alpha));
    case Activation::sigmoid: return sigmoid(x);
    case Activation::tanh: return xsimd::tanh(x);
    case Activation::gelu: return vec<T>(T(0.5)) * x * (vec<T>(T(1)) + xsimd::erf(x * vec<T>(T(0.70710678118654752440))));
  }
  return x;
}

template <class T>
inline vec<T> derivative(Activation a, vec<T> x, vec<T> y, T alpha) {
  const vec<T> one(T(1)), zero(T(0));
  switch (a) {
    case Activation::identity: return one;
    case Activation::relu: return xsimd::select(y > zero, one, zero);
    case Activation::leaky_relu: return xsimd::select(x > zero, one, vec<T>(alpha));
    case Activation::sigmoid: return y * (one - y);
    case Activation::tanh: return one - y * y;
    case Activation::gelu: {
      const vec<T> cdf = vec<T>(T(0.5)) * (one + xsimd::erf(x * vec<T>(T(0.70710678118654752440))));
      const vec<T> pdf = xsimd::exp(vec<T>(T(-0.5)) * x * x) * vec<T>(T(0.39894228040143267794));
      return xsimd::fma(x, pdf, cdf);
    }
  }
  return one;
}
}  // namespace simd_detail

template <class T>
void bias_forward(const cpu_simd&, const T* b, MatrixView<T> y) {
  using V = simd_detail::vec<T>;
  simd_detail::for_each_row<T>(
      y.rows, y.cols, [&](index_t r, index_t c) { (V::load_unaligned(y.row(r) + c) + V::load_unaligned(b + c)).store_unaligned(y.row(r) + c); },
      [&](index_t r, index_t c) { y(r, c) += b[c]; });
}

template <class T>
void bias_backward(const cpu_simd&, ConstMatrixView<T> dy, T* db) {
  using V = simd_detail::vec<T>;
  simd_detail::for_each_row<T>(
      dy.rows, dy.cols, [&](index_t r, index_t c) { (V::load_unaligned(db + c) + V::load_unaligned(dy.row(r) + c)).store_unaligned(db + c); },
      [&](index_t r, index_t c) { db[c] += dy(r, c); });
}

template <class T>
void bias_activation_forward(const cpu_simd&, Activation a, T alpha, const T* b, MatrixView<T> z, MatrixView<T> y) {
  using V = simd_detail::vec<T>;
  simd_detail::for_each_row<T>(
      z.rows, z.cols,
      [&](index_t r, index_t c) {
        V v = V::load_unaligned(z.row(r) + c);
        if (b) {
          v = v + V::load_unaligned(b + c);
          v.store_unaligned(z.row(r) + c);
        }
        simd_detail::activate<T>(a, v, alpha).store_unaligned(y.row(r) + c);
      },
      [&](index_t r, index_t c) {
        const T v = b ? z(r, c) + b[c] : z(r, c);
        z(r, c) = v;
        y(r, c) = activate(a, v, alpha);
      });
}

template <class T>
void activation_forward(const cpu_simd&, Activation a, T alpha, ConstMatrixView<T> x, MatrixView<T> y) {
  using V = simd_detail::vec<T>;
  if (a == Activation::identity && x.data == y.data && x.stride == y.stride) return;
  simd_detail::for_each_row<T>(
      x.rows, x.cols,
      [&](index_t r, index_t c) { simd_detail::activate<T>(a, V::load_unaligned(x.row(r) + c), alpha).store_unaligned(y.row(r) + c); },
      [&](index_t r, index_t c) { y(r, c) = activate(a, x(r, c), alpha); });
}

template <class T>
void activation_backward(const cpu_simd&, Activation a, T alpha, ConstMatrixView<T> x, ConstMatrixView<T> y,
                         ConstMatrixView<T> dy, MatrixView<T> dx) {
  using V = simd_detail::vec<T>;
  const bool need_x = derivative_needs_input(a);
  simd_detail::for_each_row<T>(
      dy.rows, dy.cols,
      [&](index_t r, index_t c) {
        const V xv = need_x ? V::load_unaligned(x.row(r) + c) : V(T(0));
        const V d = simd_detail::derivative<T>(a, xv, V::load_unaligned(y.row(r) + c), alpha);
        xsimd::fma(d, V::load_unaligned(dy.row(r) + c), V::load_unaligned(dx.row(r) + c)).store_unaligned(dx.row(r) + c);
      },
      [&](index_t r, index_t c) {
        dx(r, c) += activation_derivative(a, need_x ? x(r, c) : T(0), y(r, c), alpha) * dy(r, c);
      });
}

template <class T>
void activation_bias_backward(const cpu_simd&, Activation a, T alpha, ConstMatrixView<T> x, ConstMatrixView<T> y,
                              ConstMatrixView<T> dy, MatrixView<T> dz, T* db) {
  using V = simd_detail::vec<T>;
  const bool need_x = derivative_needs_input(a);
  simd_detail::for_each_row<T>(
      dy.rows, dy.cols,
      [&](index_t r, index_t c) {
        const V xv = need_x ? V::load_unaligned(x.row(r) + c) : V(T(0));
        const V d = simd_detail::derivative<T>(a, xv, V::load_unaligned(y.row(r) + c), alpha) *
                    V::load_unaligned(dy.row(r) + c);
        d.store_unaligned(dz.row(r) + c);
        if (db) (V::load_unaligned(db + c) + d).store_unaligned(db + c);
      },
      [&](index_t r, index_t c) {
        const T d = activation_derivative(a, need_x ? x(r, c) : T(0), y(r, c), alpha) * dy(r, c);
        dz(r, c) = d;
        if (db) db[c] += d;
      });
}

template <class T>
void axpy(const cpu_simd&, T alpha, ConstMatrixView<T> x, MatrixView<T> y) {
  using V = simd_detail::vec<T>;
  const V av(alpha);
  simd_detail::for_each_row<T>(
      x.rows, x.cols,
      [&](index_t r, index_t c) { xsimd::fma(av, V::load_unaligned(x.row(r) + c), V::load_unaligned(y.row(r) + c)).store_unaligned(y.row(r) + c); },
      [&](index_t r, index_t c) { y(r, c) += alpha * x(r, c); });
}

}  // namespace ctrnet::kernels

CTRNET_SIMD_WARNINGS_END
