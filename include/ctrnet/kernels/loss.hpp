// Loss kernels. Each WRITES Σ_r s·w_r·ℓ_r into *loss (one double where the policy keeps its data,
// so a device backend never syncs to return it) and ACCUMULATES dz += s·w_r·∂ℓ_r/∂z_r, where s is
// the caller's scale (head weight / total batch weight) so that shard results add up to the mean.
//   binary cross-entropy with logits (stable):  ℓ = max(z, 0) − z·y + log(1 + e^{−|z|}),
//                                               ∂ℓ/∂z = σ(z) − y
//   squared error:                              ℓ = (z − y)²,  ∂ℓ/∂z = 2 (z − y)
//   GloVe weighted least squares (heads/glove.hpp; Pennington et al. 2014, eq. 8), X the
//   co-occurrence count:                        ℓ = f(X) (z − log X)²,  ∂ℓ/∂z = 2 f(X) (z − log X),
//                                               f(x) = min(1, (x / x_max)^α) for x > 0, f(0) = 0
//                                               (rows with f = 0 are skipped: log 0 is never taken)
//   group softmax (GroupSoftmaxHead, models/item_to_item.hpp): rows form groups, each a positive
//   p (label > 0.5) and the label-0 rows after it (negatives j); with the log-Q corrected logits
//   z'_p = z_p, z'_j = z_j + log(w_j / w_p) + log_correction,
//                                               ℓ = −(z'_p − log Σ_{i ∈ group} exp z'_i) (weight w_p),
//                                               ∂ℓ/∂z_i = softmax(z')_i − [i = p]
// All accumulate in double, row by row (group by group), in row order.
#pragma once
#include <algorithm>
#include <cmath>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/kernels/activation.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

/// z, dz: [rows, 1] (column views); labels, weights: [rows] (weights may be null = 1).
template <class T>
void bce_with_logits(const cpu_scalar& policy, ConstMatrixView<T> z, const float* labels, const float* weights, double scale,
                     MatrixView<T> dz, double* loss) {
  CTRNET_KERNEL_SCOPE(policy);
  double total = 0.0;
  for (index_t r = 0; r < z.rows; ++r) {
    const double x = static_cast<double>(z(r, 0));
    const double y = labels[r];
    const double w = (weights ? weights[r] : 1.0) * scale;
    total += w * (std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x))));
    if (!dz.empty()) dz(r, 0) += static_cast<T>(w * (ctrnet::detail::stable_sigmoid(x) - y));
  }
  *loss = total;
}

template <class T>
void squared_error(const cpu_scalar& policy, ConstMatrixView<T> z, const float* targets, const float* weights, double scale,
                   MatrixView<T> dz, double* loss) {
  CTRNET_KERNEL_SCOPE(policy);
  double total = 0.0;
  for (index_t r = 0; r < z.rows; ++r) {
    const double e = static_cast<double>(z(r, 0)) - targets[r];
    const double w = (weights ? weights[r] : 1.0) * scale;
    total += w * e * e;
    if (!dz.empty()) dz(r, 0) += static_cast<T>(w * 2.0 * e);
  }
  *loss = total;
}

namespace detail {
/// x itself, as a value GCC may not fuse into the add it feeds (__builtin_assoc_barrier). With
/// -ffp-contract=fast (GCC's default; contraction runs at -O2 and above) GCC turns a·b + c into one
/// FMA or not depending on inlining, vectorisation and the target's tuning (znver3 avoids FMA
/// chains in loops). The kernels use it where the host loops they replaced were not contracted
/// (g++ 12, -O3 -march=znver3), so the results there stay bitwise the same; -O1 (the unit tests)
/// never contracts. Other compilers: x.
template <class T>
inline T unfused(T x) {
#if defined(__GNUC__) && !defined(__clang__) && defined(__has_builtin)
#if __has_builtin(__builtin_assoc_barrier)
  return __builtin_assoc_barrier(x);
#endif
#endif
  return x;
}

/// GloVe's weighting function f(x) = min(1, (x / x_max)^α) for x > 0, and 0 for x ≤ 0 (or NaN).
inline double glove_weighting(double x, double x_max, double alpha) {
  if (!(x > 0.0)) return 0.0;
  return x >= x_max ? 1.0 : std::pow(x / x_max, alpha);
}
}  // namespace detail

/// GloVe loss. z, dz: [rows, 1]; counts: [rows], the co-occurrence counts X (each must be finite
/// and ≥ 0: CTRNET_CHECK, the row reported as first_row + r); weights: [rows] or null (= 1).
/// Σ_r s·w_r·f(X_r)·(z_r − log X_r)², dz_r += s·w_r·f(X_r)·2·(z_r − log X_r).
template <class T>
void glove_loss(const cpu_scalar& policy, ConstMatrixView<T> z, const float* counts, const float* weights, double scale,
                double x_max, double alpha, index_t first_row, MatrixView<T> dz, double* loss) {
  CTRNET_KERNEL_SCOPE(policy);
  double total = 0.0;
  for (index_t r = 0; r < z.rows; ++r) {
    const double xr = counts[r];
    CTRNET_CHECK(xr >= 0.0 && std::isfinite(xr), "GloveHead: the co-occurrence count of row ", first_row + r, " is ",
                 xr, "; expected a finite count >= 0");
    const double f = detail::glove_weighting(xr, x_max, alpha);
    if (f == 0.0) continue;
    const double w = (weights ? weights[r] : 1.0f) * scale * f;
    const double e = static_cast<double>(z(r, 0)) - std::log(xr);
    total += w * e * e;
    if (!dz.empty()) dz(r, 0) += static_cast<T>(w * 2.0 * e);
  }
  *loss = total;
}

/// Sampled softmax over groups of rows (GroupSoftmaxHead). z, dz: [rows, 1]; labels: [rows] (a row
/// with label > 0.5 starts a group, label-0 rows before the first one are ignored); weights:
/// [rows] or null (= 1); a negative's weight must be > 0 (CTRNET_CHECK, row first_row + i).
/// Σ_groups s·w_p·(lse(z') − z'_p),  dz_i += s·w_p·(exp(z'_i − lse(z')) − [i = p]).
template <class T>
void group_softmax_loss(const cpu_scalar& policy, ConstMatrixView<T> z, const float* labels, const float* weights,
                        double scale, double log_correction, index_t first_row, MatrixView<T> dz, double* loss) {
  CTRNET_KERNEL_SCOPE(policy);
  auto weight = [&](index_t i) { return weights ? weights[i] : 1.0f; };
  double total = 0.0;
  index_t r = 0;
  while (r < z.rows && !(labels[r] > 0.5f)) ++r;
  while (r < z.rows) {
    const index_t p = r;
    index_t e = p + 1;
    while (e < z.rows && !(labels[e] > 0.5f)) ++e;
    const double wp = weight(p);
    auto zc = [&](index_t i) {
      if (i == p) return static_cast<double>(z(i, 0));
      const double ratio = static_cast<double>(weight(i)) / wp;
      CTRNET_CHECK(ratio > 0.0, "GroupSoftmaxHead: row ", first_row + i, " has weight ", weight(i),
                   "; negatives need a positive weight");
      return static_cast<double>(z(i, 0)) + std::log(ratio) + log_correction;
    };
    double mx = zc(p);
    for (index_t i = p + 1; i < e; ++i) mx = std::max(mx, zc(i));
    double sum = 0.0;
    for (index_t i = p; i < e; ++i) sum += std::exp(zc(i) - mx);
    const double lse = mx + std::log(sum);
    const double w = wp * scale;
    total += detail::unfused(w * (lse - zc(p)));
    if (!dz.empty())
      for (index_t i = p; i < e; ++i) dz(i, 0) += static_cast<T>(w * (std::exp(zc(i) - lse) - (i == p ? 1.0 : 0.0)));
    r = e;
  }
  *loss = total;
}

}  // namespace ctrnet::kernels
