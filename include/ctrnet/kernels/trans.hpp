// Transpose flag for GEMM-like kernels (BLAS's 'N' / 'T').
#pragma once

namespace ctrnet::kernels {
/// op(X) = X for Trans::no, Xᵀ for Trans::yes.
enum class Trans : bool { no = false, yes = true };
}  // namespace ctrnet::kernels
