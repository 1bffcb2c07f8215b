// cpu_simd-vs-cpu_scalar parity of whole models (DESIGN.md: "every faster policy is checked
// against cpu_scalar on the same inputs"), shared by tests/models/test_*.cpp: one training step of
// the same model on both policies gives the same loss, logits, dense gradient buffer and embedding
// table gradients (the same rows touched, each row within tolerance), and the same predictions.
// Agreement is entry-wise, |simd − scalar| <= atol + rtol·|scalar| (HugeCTR's test with |b|,
// STYLE.md) plus a floor relative to the tensor's largest entry (Tolerance below).
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

namespace ctrnet::parity_test {

/// Float SIMD (another summation order, FMA) against the scalar loops, per tensor b (a dense
/// parameter's gradient, a whole table's gradient, the logits): entry a_i agrees with b_i when
///   |a_i − b_i| <= atol + rtol·|b_i| + scale_rtol·max_k |b_k|.
/// The last term is there because the round-off of a sum is relative to its largest terms, not to
/// its result: an entry that cancels to near zero in a tensor of large entries (attention,
/// LayerNorm, softmax backward; a table row whose examples' contributions cancel) carries the
/// absolute error of the large ones.
struct Tolerance {
  double atol = 2e-6;
  double rtol = 1e-4;
  double scale_rtol = 1e-5;
};

inline bool close(double simd, double scalar, double scale, Tolerance t) {
  return std::abs(simd - scalar) <= t.atol + t.rtol * std::abs(scalar) + t.scale_rtol * scale;
}

/// max_k |b_k|.
template <class T>
double max_abs(const T* b, std::size_t n) {
  double m = 0.0;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, std::abs(double(b[i])));
  return m;
}

/// Counts the entries of `simd` that differ from `scalar` (same size; `scale`: max |b_k| of the
/// tensor they belong to) and describes the first.
template <class T>
std::size_t count_mismatches(const T* scalar, const T* simd, std::size_t n, double scale, Tolerance tol,
                             std::string& first) {
  std::size_t bad = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (!close(simd[i], scalar[i], scale, tol) && bad++ == 0)
      first = "[" + std::to_string(i) + "]: scalar " + std::to_string(scalar[i]) + ", simd " + std::to_string(simd[i]) +
              " (max |scalar| " + std::to_string(scale) + ")";
  return bad;
}

/// `what` of `scalar` and `simd` (equal sizes) agree entry by entry; `scale` < 0: the tensor is
/// these n entries, else `scale` is the max |b_k| of the tensor they are part of.
template <class T>
void check_values_match(const std::string& what, const T* scalar, const T* simd, std::size_t n, Tolerance tol,
                        double scale = -1.0) {
  std::string first;
  if (scale < 0.0) scale = max_abs(scalar, n);
  const std::size_t bad = count_mismatches(scalar, simd, n, scale, tol, first);
  INFO(what << ": " << bad << " of " << n << " entries differ, first " << first);
  CHECK(bad == 0);
}

/// Every embedding-table gradient agrees: each table touches the same rows on both policies and
/// each row's values are within tolerance (scaled by the whole table's gradient). Also checks that
/// some row is touched (a step that touches nothing proves nothing).
template <class T>
void check_table_grads_match(const ParamRegistry& reg, const ModelGrads<T>& scalar, const ModelGrads<T>& simd,
                             Tolerance tol = {}) {
  REQUIRE(scalar.tables.size() == simd.tables.size());
  index_t rows_touched = 0;
  for (const auto& t : reg.tables()) {
    const auto& a = scalar.tables[static_cast<std::size_t>(t.handle.id)];
    const auto& b = simd.tables[static_cast<std::size_t>(t.handle.id)];
    std::vector<FeatureId> ia = a.download_ids(), ib = b.download_ids();
    std::sort(ia.begin(), ia.end());
    std::sort(ib.begin(), ib.end());
    INFO("table gradient " << t.name);
    REQUIRE(ia == ib);  // the same rows touched
    rows_touched += a.size();
    std::unordered_map<FeatureId, index_t> where;
    for (index_t i = 0; i < b.size(); ++i) where[b.id(i)] = i;
    const auto dim = static_cast<std::size_t>(a.dim());
    double scale = 0.0;  // of the whole table's gradient
    for (index_t i = 0; i < a.size(); ++i) scale = std::max(scale, max_abs(a.values(i), dim));
    for (index_t i = 0; i < a.size(); ++i)
      check_values_match("table gradient " + t.name + " row " + std::to_string(a.id(i)), a.values(i),
                         b.values(where.at(a.id(i))), dim, tol, scale);
  }
  if (!reg.tables().empty()) CHECK(rows_touched > 0);
}

/// Every dense gradient (per named parameter) and every embedding-table gradient agree; the dense
/// gradient is not all zero.
template <class T>
void check_grads_match(const ParamRegistry& reg, const ModelGrads<T>& scalar, const ModelGrads<T>& simd,
                       Tolerance tol = {}) {
  REQUIRE(scalar.dense.size() == simd.dense.size());
  double dense_norm = 0.0;
  for (T x : scalar.dense) dense_norm += std::abs(double(x));
  CHECK(dense_norm > 0.0);
  for (const auto& p : reg.params()) {
    const auto off = static_cast<std::size_t>(p.handle.offset), n = static_cast<std::size_t>(p.handle.size());
    check_values_match("dense gradient " + p.name, scalar.dense.data() + off, simd.dense.data() + off, n, tol);
  }
  check_table_grads_match(reg, scalar, simd, tol);
}

/// One forward_backward of `m` on `b` under `ctx` on cpu_scalar and on cpu_simd: the loss (relative
/// `loss_rtol`), the logits, every dense and table gradient, then predict() on both policies.
template <class M>
void check_model_simd_parity(const M& m, const BatchView& b, const Context& ctx = {}, Tolerance tol = {},
                             double loss_rtol = 1e-5) {
  double norm = 0.0;
  for (index_t r = 0; r < b.size; ++r) norm += b.weight(r);
  typename M::Cache c0, c1;
  auto g0 = m.make_grads(), g1 = m.make_grads();
  g0.zero();
  g1.zero();
  const double l0 = m.forward_backward(cpu_scalar{}, b, c0, g0, ctx, norm);
  const double l1 = m.forward_backward(cpu_simd{}, b, c1, g1, ctx, norm);
  CHECK(std::isfinite(l0));
  CHECK(l1 == Approx(l0).epsilon(loss_rtol));
  REQUIRE(c0.logits.size() == c1.logits.size());
  check_values_match("logits", c0.logits.data(), c1.logits.data(), static_cast<std::size_t>(c0.logits.size()), tol);
  check_grads_match(m.registry(), g0, g1, tol);

  using T = typename M::value_type;
  Matrix<T> p0(b.size, m.output_width()), p1(b.size, m.output_width());
  typename M::Cache pc0, pc1;
  m.predict(cpu_scalar{}, b, p0.view(), pc0);
  m.predict(cpu_simd{}, b, p1.view(), pc1);
  check_values_match("predictions", p0.data(), p1.data(), static_cast<std::size_t>(p0.size()), tol);
}

}  // namespace ctrnet::parity_test
