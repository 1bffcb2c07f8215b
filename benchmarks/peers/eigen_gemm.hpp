// Eigen peer of bench_gemm: Eigen's GEMM on ctrnet's row-major views. Benchmarks only: the
// library's headers do not include Eigen (only this peer does; benchmarks/CMakeLists.txt links
// Eigen3::Eigen to the benchmarks that include it).
#pragma once
#include <Eigen/Core>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/kernels/trans.hpp"

namespace ctrnet_bench {

template <class T>
using EigenRowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using EigenConstMap = Eigen::Map<const EigenRowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using EigenMap = Eigen::Map<EigenRowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class T>
EigenConstMap<T> as_eigen(ctrnet::ConstMatrixView<T> v) {
  return EigenConstMap<T>(v.data, v.rows, v.cols, Eigen::OuterStride<>(v.stride));
}
template <class T>
EigenMap<T> as_eigen(ctrnet::MatrixView<T> v) {
  return EigenMap<T>(v.data, v.rows, v.cols, Eigen::OuterStride<>(v.stride));
}

/// C = alpha * op(A) * op(B) + beta * C with Eigen, on row-major views (strides allowed).
template <class T>
void gemm_eigen(ctrnet::kernels::Trans ta, ctrnet::kernels::Trans tb, T alpha, ctrnet::ConstMatrixView<T> A,
                ctrnet::ConstMatrixView<T> B, T beta, ctrnet::MatrixView<T> C) {
  using ctrnet::kernels::Trans;
  if (C.empty()) return;
  auto c = as_eigen(C);
  if (beta == T(0)) c.setZero(); else if (beta != T(1)) c *= beta;
  const auto a = as_eigen(A);
  const auto b = as_eigen(B);
  if (ta == Trans::no && tb == Trans::no) c.noalias() += alpha * a * b;
  else if (ta == Trans::no) c.noalias() += alpha * a * b.transpose();
  else if (tb == Trans::no) c.noalias() += alpha * a.transpose() * b;
  else c.noalias() += alpha * a.transpose() * b.transpose();
}

}  // namespace ctrnet_bench
