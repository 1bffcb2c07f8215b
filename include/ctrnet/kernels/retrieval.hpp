// Retrieval kernels (two-tower models): L2 row normalisation and its backward, row-wise dot
// products of paired rows and their backward, and the sampled-softmax cross-entropy over a score
// matrix whose row i has its positive in column i (in-batch / mixed negative sampling).
// cpu_scalar: scalar/retrieval.hpp (the reference); cpu_simd: simd/retrieval.hpp.
#pragma once
#include "ctrnet/kernels/scalar/retrieval.hpp"
#include "ctrnet/kernels/simd/retrieval.hpp"
