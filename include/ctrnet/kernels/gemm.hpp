// GEMM dispatch: C = alpha * op(A) * op(B) + beta * C.
//   op(A): [m, k], op(B): [k, n], C: [m, n]; all row-major views with strides.
// cpu_scalar: reference triple loop. cpu_simd: packed xsimd micro-kernel, oneTBB over blocks of C.
#pragma once
#include "ctrnet/kernels/scalar/gemm.hpp"
#include "ctrnet/kernels/simd/gemm.hpp"
