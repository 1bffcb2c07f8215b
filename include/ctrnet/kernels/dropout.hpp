// Inverted dropout: y = x ⊙ m / (1 - p), m_ij ~ Bernoulli(1 - p). The mask of global example row
// r comes from Rng(mix_seed(seed, step, layer, r)), so it does not depend on how a batch is
// sharded over threads. Backward: dx += dy ⊙ m / (1 - p).
#pragma once
#include <cstdint>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

/// mask: [rows, cols] receives 0 or 1/(1-p); y = x ⊙ mask (x and y may alias).
template <class T>
void dropout_forward(const cpu_scalar& policy, double p, std::uint64_t seed, std::uint64_t step, std::uint64_t layer,
                     index_t first_row, ConstMatrixView<T> x, MatrixView<T> mask, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  const T keep_scale = T(1.0 / (1.0 - p));
  for (index_t r = 0; r < x.rows; ++r) {
    Rng rng(mix_seed(seed, step, layer, static_cast<std::uint64_t>(first_row + r)));
    for (index_t c = 0; c < x.cols; ++c) {
      const T m = rng.uniform() < p ? T(0) : keep_scale;
      mask(r, c) = m;
      y(r, c) = x(r, c) * m;
    }
  }
}

/// dx += dy ⊙ mask
template <class T>
void dropout_backward(const cpu_scalar& policy, ConstMatrixView<T> mask, ConstMatrixView<T> dy, MatrixView<T> dx) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < dy.rows; ++r)
    for (index_t c = 0; c < dy.cols; ++c) dx(r, c) += dy(r, c) * mask(r, c);
}

}  // namespace ctrnet::kernels

#include "ctrnet/kernels/simd/dropout.hpp"
