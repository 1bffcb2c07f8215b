// Reference GEMM on cpu_scalar: C = alpha * op(A) * op(B) + beta * C, plain triple loop.
// Shapes: op(A): [m, k], op(B): [k, n], C: [m, n]. beta == 0 overwrites C (NaNs in C ignored).
#pragma once
#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/kernels/trans.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

template <class T>
void gemm(const cpu_scalar& policy, Trans ta, Trans tb, T alpha, ConstMatrixView<T> A, ConstMatrixView<T> B, T beta,
          MatrixView<T> C) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t m = C.rows, n = C.cols;
  const index_t k = (ta == Trans::no) ? A.cols : A.rows;
  assert(((ta == Trans::no) ? A.rows : A.cols) == m);
  assert(((tb == Trans::no) ? B.rows : B.cols) == k);
  assert(((tb == Trans::no) ? B.cols : B.rows) == n);
  for (index_t i = 0; i < m; ++i) {
    for (index_t j = 0; j < n; ++j) {
      T acc = T(0);
      for (index_t p = 0; p < k; ++p) {
        const T a = (ta == Trans::no) ? A(i, p) : A(p, i);
        const T b = (tb == Trans::no) ? B(p, j) : B(j, p);
        acc += a * b;
      }
      C(i, j) = (beta == T(0)) ? alpha * acc : alpha * acc + beta * C(i, j);
    }
  }
}

/// \brief The reference of the fused form (kernels/simd/gemm.hpp): the GEMM, then `epi(0, m, 0, n)`
/// once on the whole of C.
template <class T, class Epilogue>
void gemm_epilogue(const cpu_scalar& p, Trans ta, Trans tb, T alpha, ConstMatrixView<T> A, ConstMatrixView<T> B,
                   T beta, MatrixView<T> C, const Epilogue& epi) {
  CTRNET_KERNEL_SCOPE(p);
  gemm(p, ta, tb, alpha, A, B, beta, C);
  if (C.rows > 0 && C.cols > 0) epi(index_t(0), C.rows, index_t(0), C.cols);
}

}  // namespace ctrnet::kernels
