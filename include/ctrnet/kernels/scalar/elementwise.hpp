// Reference element-wise kernels on cpu_scalar. Shapes: y, x, dy, dx: [rows, cols]; b, db: [cols].
// (broadcast_row has no cpu_simd overload: it is a copy, and this one serves both policies.)
// Every *_backward kernel ACCUMULATES into its outputs (dx +=, db +=).
#pragma once
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/kernels/activation.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

/// y[r, c] += b[c]
template <class T>
void bias_forward(const cpu_scalar& policy, const T* b, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < y.rows; ++r)
    for (index_t c = 0; c < y.cols; ++c) y(r, c) += b[c];
}

/// db[c] += Σ_r dy[r, c]
template <class T>
void bias_backward(const cpu_scalar& policy, ConstMatrixView<T> dy, T* db) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < dy.rows; ++r)
    for (index_t c = 0; c < dy.cols; ++c) db[c] += dy(r, c);
}

/// The Linear epilogue in one pass: z = z + b (b may be null), y = f(z). z and y may alias.
template <class T>
void bias_activation_forward(const cpu_scalar& policy, Activation a, T alpha, const T* b, MatrixView<T> z, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < z.rows; ++r)
    for (index_t c = 0; c < z.cols; ++c) {
      const T v = b ? z(r, c) + b[c] : z(r, c);
      z(r, c) = v;
      y(r, c) = activate(a, v, alpha);
    }
}

/// y = f(x); x and y may be the same memory.
template <class T>
void activation_forward(const cpu_scalar& policy, Activation a, T alpha, ConstMatrixView<T> x, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < x.rows; ++r)
    for (index_t c = 0; c < x.cols; ++c) y(r, c) = activate(a, x(r, c), alpha);
}

/// dx += f'(x) ⊙ dy, with y = f(x) given (x may be empty when the derivative does not need it).
template <class T>
void activation_backward(const cpu_scalar& policy, Activation a, T alpha, ConstMatrixView<T> x, ConstMatrixView<T> y,
                         ConstMatrixView<T> dy, MatrixView<T> dx) {
  CTRNET_KERNEL_SCOPE(policy);
  const bool need_x = derivative_needs_input(a);
  for (index_t r = 0; r < dy.rows; ++r)
    for (index_t c = 0; c < dy.cols; ++c)
      dx(r, c) += activation_derivative(a, need_x ? x(r, c) : T(0), y(r, c), alpha) * dy(r, c);
}

/// The Linear backward epilogue in one pass: dz = f'(z) ⊙ dy (OVERWRITTEN) and db += Σ_rows dz
/// (db may be null). x is f's input z (read only when the derivative needs it), y = f(z).
template <class T>
void activation_bias_backward(const cpu_scalar& policy, Activation a, T alpha, ConstMatrixView<T> x, ConstMatrixView<T> y,
                              ConstMatrixView<T> dy, MatrixView<T> dz, T* db) {
  CTRNET_KERNEL_SCOPE(policy);
  const bool need_x = derivative_needs_input(a);
  for (index_t r = 0; r < dy.rows; ++r)
    for (index_t c = 0; c < dy.cols; ++c) {
      const T d = activation_derivative(a, need_x ? x(r, c) : T(0), y(r, c), alpha) * dy(r, c);
      dz(r, c) = d;
      if (db) db[c] += d;
    }
}

/// y += alpha * x
template <class T>
void axpy(const cpu_scalar& policy, T alpha, ConstMatrixView<T> x, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < x.rows; ++r)
    for (index_t c = 0; c < x.cols; ++c) y(r, c) += alpha * x(r, c);
}

/// y = x
template <class T>
void copy(const cpu_scalar& policy, ConstMatrixView<T> x, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < x.rows; ++r)
    for (index_t c = 0; c < x.cols; ++c) y(r, c) = x(r, c);
}

/// y = static_cast<T>(x) (e.g. the float dense features of a batch into a double model)
template <class S, class T>
void convert(const cpu_scalar& policy, ConstMatrixView<S> x, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < x.rows; ++r)
    for (index_t c = 0; c < x.cols; ++c) y(r, c) = static_cast<T>(x(r, c));
}

/// y = value
template <class T>
void fill(const cpu_scalar& policy, T value, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < y.rows; ++r)
    for (index_t c = 0; c < y.cols; ++c) y(r, c) = value;
}

/// y[r, c] = b[c]: every row of y becomes the row b ([cols]); e.g. a bias that starts a sum, read
/// from the weights where they live instead of through a host read of b[0].
template <class T>
void broadcast_row(const cpu_scalar& policy, const T* b, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < y.rows; ++r)
    for (index_t c = 0; c < y.cols; ++c) y(r, c) = b[c];
}

/// y *= s
template <class T>
void scale(const cpu_scalar& policy, T s, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < y.rows; ++r)
    for (index_t c = 0; c < y.cols; ++c) y(r, c) *= s;
}

}  // namespace ctrnet::kernels
