// Loss kernels. Each returns Σ_r s·w_r·ℓ_r and ACCUMULATES dz += s·w_r·∂ℓ_r/∂z_r, where s is the
// caller's scale (head weight / total batch weight) so that shard results add up to the mean.
//   binary cross-entropy with logits (stable):  ℓ = max(z, 0) − z·y + log(1 + e^{−|z|}),
//                                               ∂ℓ/∂z = σ(z) − y
//   squared error:                              ℓ = (z − y)²,  ∂ℓ/∂z = 2 (z − y)
#pragma once
#include <algorithm>
#include <cmath>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/kernels/activation.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

/// z, dz: [rows, 1] (column views); labels, weights: [rows] (weights may be null = 1).
template <class T>
double bce_with_logits(const cpu_scalar&, ConstMatrixView<T> z, const float* labels, const float* weights, double scale,
                       MatrixView<T> dz) {
  double total = 0.0;
  for (index_t r = 0; r < z.rows; ++r) {
    const double x = static_cast<double>(z(r, 0));
    const double y = labels[r];
    const double w = (weights ? weights[r] : 1.0) * scale;
    total += w * (std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x))));
    if (!dz.empty()) dz(r, 0) += static_cast<T>(w * (ctrnet::detail::stable_sigmoid(x) - y));
  }
  return total;
}

template <class T>
double squared_error(const cpu_scalar&, ConstMatrixView<T> z, const float* targets, const float* weights, double scale,
                     MatrixView<T> dz) {
  double total = 0.0;
  for (index_t r = 0; r < z.rows; ++r) {
    const double e = static_cast<double>(z(r, 0)) - targets[r];
    const double w = (weights ? weights[r] : 1.0) * scale;
    total += w * e * e;
    if (!dz.empty()) dz(r, 0) += static_cast<T>(w * 2.0 * e);
  }
  return total;
}

}  // namespace ctrnet::kernels
