// Reference (cpu_scalar) retrieval kernels. Shapes next to each kernel; every *_backward kernel
// and every gradient output ACCUMULATES (+=).
//
//   L2 normalisation   y_r = x_r / n_r,  n_r = max(‖x_r‖₂, ε)
//                      dx_r += (dy_r − y_r ⟨y_r, dy_r⟩) / n_r      (‖x_r‖ > ε)
//                      dx_r += dy_r / ε                            (‖x_r‖ ≤ ε: y = x / ε is linear)
//   paired dot         s_r = α ⟨a_r, b_r⟩;  da_r += α ds_r b_r  (row_scale_add)
//   sampled softmax    z_ij = s_ij − log Q_j (log Q optional), masked entries (accidental hits) drop out,
//                      ℓ_i = −z_ii + log Σ_{j ∉ mask_i} exp z_ij,
//                      ∂ℓ_i/∂s_ij = softmax_i(z)_j − [i = j]  (0 for masked j);
//                      returns Σ_i s·w_i ℓ_i and ds += s·w_i ∂ℓ_i/∂s   (Yi et al., RecSys 2019, eq. 3-4)
//   item frequency     the streaming estimator of Yi et al., Algorithm 2, over hashed buckets h(y):
//                      at step t, for each item y in order, B[h] ← t + 1 (first seen) or
//                      (1 − α) B[h] + α (t − A[h]);  A[h] ← t.   p̂(y) = 1 / max(B[h(y)], 1), 0 if unseen
//   logQ               log_q[j] = log(p̂(ids[j]) + u) for the corrected columns, 0 for the others
//   accidental hits    row i masks the columns j ≠ i holding the same item id as column i (CSR)
// The last two work on a batch's item ids and the estimator's buckets; the sampled softmax applies
// them to the scores.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/core/types.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

/// \brief Row masks of a sampled softmax in CSR form: row i excludes columns
/// cols[offsets[i] .. offsets[i+1]) (never its own positive i). Empty (null) = no masking.
struct SoftmaxMask {
  const index_t* offsets = nullptr;  ///< [rows + 1] or null
  const index_t* cols = nullptr;
  bool empty() const { return offsets == nullptr; }
};

/// x, y: [rows, d] (y may alias x); norms: [rows] receives n_r = max(‖x_r‖, eps).
template <class T>
void l2_normalize_forward(const cpu_scalar& policy, ConstMatrixView<T> x, MatrixView<T> y, T* norms, T eps) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < x.rows; ++r) {
    T ss = T(0);
    for (index_t c = 0; c < x.cols; ++c) ss += x(r, c) * x(r, c);
    const T n = std::max(std::sqrt(ss), eps);
    norms[r] = n;
    const T inv = T(1) / n;
    for (index_t c = 0; c < x.cols; ++c) y(r, c) = x(r, c) * inv;
  }
}

/// y: [rows, d] the forward output, norms: [rows] from forward, dy: [rows, d]; dx: [rows, d] (+=).
template <class T>
void l2_normalize_backward(const cpu_scalar& policy, ConstMatrixView<T> y, const T* norms, ConstMatrixView<T> dy,
                           MatrixView<T> dx, T eps) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < y.rows; ++r) {
    const T inv = T(1) / norms[r];
    if (norms[r] <= eps) {  // clamped: y = x / eps
      for (index_t c = 0; c < y.cols; ++c) dx(r, c) += dy(r, c) * inv;
      continue;
    }
    T dot = T(0);
    for (index_t c = 0; c < y.cols; ++c) dot += y(r, c) * dy(r, c);
    for (index_t c = 0; c < y.cols; ++c) dx(r, c) += (dy(r, c) - y(r, c) * dot) * inv;
  }
}

/// s(r, 0) = alpha ⟨a_r, b_r⟩.   a, b: [rows, d]; s: [rows, 1] (a column view; overwritten).
template <class T>
void row_dot(const cpu_scalar& policy, T alpha, ConstMatrixView<T> a, ConstMatrixView<T> b, MatrixView<T> s) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < a.rows; ++r) {
    T acc = T(0);
    for (index_t c = 0; c < a.cols; ++c) acc += a(r, c) * b(r, c);
    s(r, 0) = alpha * acc;
  }
}

/// y_r += alpha · s(r, 0) · x_r.   s: [rows, 1]; x, y: [rows, d].
template <class T>
void row_scale_add(const cpu_scalar& policy, T alpha, ConstMatrixView<T> s, ConstMatrixView<T> x, MatrixView<T> y) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < x.rows; ++r) {
    const T f = alpha * s(r, 0);
    for (index_t c = 0; c < x.cols; ++c) y(r, c) += f * x(r, c);
  }
}

namespace detail {
/// Is column j masked for row i? (mask columns of a row are sorted ascending)
inline bool softmax_masked(const SoftmaxMask& m, index_t i, index_t j) {
  if (m.empty()) return false;
  const index_t* b = m.cols + m.offsets[i];
  const index_t* e = m.cols + m.offsets[i + 1];
  return std::binary_search(b, e, j);
}
}  // namespace detail

/// \brief Sampled-softmax cross-entropy; row i's positive is column i.
///   s: [rows, cols] scores (cols ≥ rows), log_q: [cols] or null, weights: [rows] or null (= 1),
///   ds: [rows, cols] (+=) or empty. Writes Σ_i scale · w_i · ℓ_i into *loss (the policy's memory).
template <class T>
void sampled_softmax_loss(const cpu_scalar& policy, ConstMatrixView<T> s, const T* log_q, SoftmaxMask mask,
                          const float* weights, double scale, MatrixView<T> ds, double* loss) {
  CTRNET_KERNEL_SCOPE(policy);
  double total = 0.0;
  for (index_t i = 0; i < s.rows; ++i) {
    auto z = [&](index_t j) { return static_cast<double>(s(i, j)) - (log_q ? static_cast<double>(log_q[j]) : 0.0); };
    double mx = -std::numeric_limits<double>::infinity();
    for (index_t j = 0; j < s.cols; ++j)
      if (!detail::softmax_masked(mask, i, j)) mx = std::max(mx, z(j));
    double sum = 0.0;
    for (index_t j = 0; j < s.cols; ++j)
      if (!detail::softmax_masked(mask, i, j)) sum += std::exp(z(j) - mx);
    const double lse = mx + std::log(sum);
    const double w = (weights ? weights[i] : 1.0) * scale;
    total += w * (lse - z(i));
    if (ds.empty()) continue;
    for (index_t j = 0; j < s.cols; ++j) {
      if (detail::softmax_masked(mask, i, j)) continue;
      const double p = std::exp(z(j) - lse);
      ds(i, j) += static_cast<T>(w * (p - (i == j ? 1.0 : 0.0)));
    }
  }
  *loss = total;
}

/// The bucket h(y) of item y among `buckets` hashed buckets (the estimator's hash).
inline std::size_t frequency_bucket(std::uint64_t seed, index_t buckets, FeatureId y) {
  return static_cast<std::size_t>(mix_seed(seed, static_cast<std::uint64_t>(y)) % static_cast<std::uint64_t>(buckets));
}

/// \brief Read-only view of a streaming frequency estimator's buckets: last[h] = A[h], the step
/// bucket h was last seen (−1: never), gap[h] = B[h], the moving average of its gaps in steps.
struct FrequencyBuckets {
  const std::int64_t* last = nullptr;  ///< [buckets]
  const double* gap = nullptr;         ///< [buckets]
  index_t buckets = 0;
  std::uint64_t seed = 0;              ///< of the bucket hash
};

/// p̂ of a bucket last seen at step `last` (−1: never) with average gap `gap`: 1 / max(gap, 1), or 0.
inline double frequency_probability(std::int64_t last, double gap) { return last < 0 ? 0.0 : 1.0 / std::max(gap, 1.0); }
/// p̂(y) = 1 / max(B[h(y)], 1), 0 for an item never seen.
inline double frequency_probability(FrequencyBuckets f, FeatureId y) {
  const std::size_t h = frequency_bucket(f.seed, f.buckets, y);
  return frequency_probability(f.last[h], f.gap[h]);
}

/// \brief One step t of the estimator over items[0..n), in order (a duplicate within the batch is
/// processed after the previous one: a gap of 0 pulls B down). last, gap: [buckets] (updated).
inline void frequency_update(const cpu_scalar& policy, const FeatureId* items, index_t n, std::int64_t t, double alpha,
                             std::uint64_t seed, index_t buckets, std::int64_t* last, double* gap) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t k = 0; k < n; ++k) {
    const std::size_t h = frequency_bucket(seed, buckets, items[k]);
    if (last[h] < 0) {
      gap[h] = static_cast<double>(t + 1);
    } else {
      gap[h] = (1.0 - alpha) * gap[h] + alpha * static_cast<double>(t - last[h]);
    }
    last[h] = t;
  }
}

/// \brief The logQ correction of a sampled softmax over `cols` columns with item ids ids[0..cols):
///   log_q[j] = log(p̂(ids[j]) + uniform)  for j < corrected,   0 for corrected ≤ j < cols,
/// with p̂(y) = 1 / max(B[h(y)], 1), 0 for an item never seen (uniform: the mixture's B′/N, 0 for
/// in-batch negatives only). Returns the first column j < corrected whose q = p̂ + uniform is not
/// positive (log_q from j on is not written; the caller raises the error), or −1.
template <class T>
index_t frequency_log_q(const cpu_scalar& policy, FrequencyBuckets f, const FeatureId* ids, index_t cols, index_t corrected,
                        double uniform, T* log_q) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t j = 0; j < cols; ++j) {
    if (j >= corrected) {  // a column left uncorrected: raw score
      log_q[j] = T(0);
      continue;
    }
    const double q = frequency_probability(f, ids[j]) + uniform;
    if (!(q > 0.0)) return j;
    log_q[j] = static_cast<T>(std::log(q));
  }
  return -1;
}

/// \brief Accidental-hit mask, pass 1 of 2, for a softmax over n columns with item ids ids[0..n)
/// whose row i < rows has its positive in column i. Sorts the columns by (id, column) into
/// order[0..n) (the order of a stable sort by id), marks row i's group of equal ids as
/// order[group_of[i] .. group_end[i]) (both −1 when no other column holds its id) and writes
/// offsets[0..rows] (row i masks the other e − g − 1 columns of its group). Returns offsets[rows],
/// the number of masked entries, which sizes pass 2's output.
///   order: [n], group_of, group_end: [rows], offsets: [rows + 1] (all overwritten).
inline index_t accidental_hit_offsets(const cpu_scalar& policy, const FeatureId* ids, index_t n, index_t rows, index_t* order,
                                      index_t* group_of, index_t* group_end, index_t* offsets) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t k = 0; k < n; ++k) order[k] = k;
  std::sort(order, order + n, [&](index_t a, index_t b) { return ids[a] < ids[b] || (ids[a] == ids[b] && a < b); });
  std::fill(group_of, group_of + rows, index_t(-1));
  std::fill(group_end, group_end + rows, index_t(-1));
  for (index_t g = 0; g < n;) {
    index_t e = g + 1;
    while (e < n && ids[order[e]] == ids[order[g]]) ++e;
    if (e - g > 1)
      for (index_t k = g; k < e; ++k)
        if (order[k] < rows) group_of[order[k]] = g, group_end[order[k]] = e;
    g = e;
  }
  offsets[0] = 0;
  for (index_t i = 0; i < rows; ++i)
    offsets[i + 1] = offsets[i] + (group_of[i] >= 0 ? group_end[i] - group_of[i] - 1 : 0);
  return offsets[rows];
}

/// \brief Accidental-hit mask, pass 2: cols[offsets[i] .. offsets[i + 1]) = the columns j ≠ i of
/// row i's group, ascending (the group is in column order). cols: [offsets[rows]] (overwritten).
inline void accidental_hit_columns(const cpu_scalar& policy, const index_t* order, const index_t* group_of,
                                   const index_t* group_end, const index_t* offsets, index_t rows, index_t* cols) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t i = 0; i < rows; ++i) {
    index_t o = offsets[i];
    if (group_of[i] >= 0)
      for (index_t k = group_of[i]; k < group_end[i]; ++k)
        if (order[k] != i) cols[o++] = order[k];
  }
}

}  // namespace ctrnet::kernels
