// Element-wise kernels (bias, activations, axpy, copy, fill, broadcast_row, scale) for every CPU policy.
#pragma once
#include "ctrnet/kernels/scalar/elementwise.hpp"
#include "ctrnet/kernels/simd/elementwise.hpp"
