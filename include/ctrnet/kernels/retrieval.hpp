// Retrieval kernels (two-tower models): L2 row normalisation and its backward, row-wise dot
// products of paired rows and their backward, and the sampled-softmax cross-entropy over a score
// matrix whose row i has its positive in column i (in-batch / mixed negative sampling), and what
// that softmax is given: the streaming item-frequency estimate and its logQ correction
// (frequency_update, frequency_log_q) and the accidental-hit mask (accidental_hit_offsets, then
// accidental_hit_columns).
// cpu_scalar: scalar/retrieval.hpp (the reference); cpu_simd: simd/retrieval.hpp (the frequency
// and mask kernels have no cpu_simd overload: the cpu_scalar one serves both policies).
#pragma once
#include "ctrnet/kernels/scalar/retrieval.hpp"
#include "ctrnet/kernels/simd/retrieval.hpp"
