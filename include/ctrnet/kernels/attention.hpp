// Attention and layer-norm kernels for every CPU policy: scaled dot-product attention over the
// heads of a packed QKV matrix (fused softmax, key padding mask) and layer normalisation.
// Formulas: kernels/scalar/attention.hpp; the cpu_simd versions: kernels/simd/attention.hpp.
#pragma once
#include "ctrnet/kernels/scalar/attention.hpp"
#include "ctrnet/kernels/simd/attention.hpp"
