// Whole-model loss gradient check, in double on cpu_scalar: the gradient Model::forward_backward
// writes for the weighted loss of all heads,
//   L(θ) = Σ_h weight_h · Σ_r w_r ℓ_h(z_r(θ)) / normalizer     (normalizer = Σ_r w_r here),
// against central differences of Model::head_loss after a plain forward,
//   ∂L/∂θ_i ≈ (L(θ + ε e_i) − L(θ − ε e_i)) / 2ε,
// over every dense parameter and every table entry (a table entry that no row looks up has
// analytic gradient 0, so stray sparse updates are caught too). The error is mlpack's criterion,
// as in gradcheck.hpp: ‖g − g_num‖ / max(‖g + g_num‖, 1e-12). Layer-level checks (inputs and
// parameters of one layer with a random upstream gradient) are gradcheck.hpp's; this one covers
// what sits on top of the layers: the heads, their weights and target columns, and how the
// model splits the body's output between them.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::testing {

struct ModelGradCheck {
  double loss = 0.0;             ///< the loss forward_backward returned
  double loss_recomputed = 0.0;  ///< head_loss after a plain forward (equals `loss` up to rounding)
  double error = 0.0;            ///< relative error over all entries
  double norm = 0.0;             ///< ‖g_num‖: > 0 shows the check saw non-zero gradients
  std::size_t entries = 0;       ///< dense parameters + table entries checked
};

/// Sets every dense parameter and every table entry of the built model `m` to U(lo, hi), from
/// `seed`: a generic point for the check (no zero-initialised table, no symmetric start).
template <class M>
void randomize_params(M& m, std::uint64_t seed, double lo = -0.5, double hi = 0.5) {
  Rng rng(seed);
  for (auto& v : m.params().dense) v = rng.uniform(lo, hi);
  for (auto& t : m.params().tables)
    for (index_t i = 0; i < t.size(); ++i) t.data()[i] = rng.uniform(lo, hi);
}

/// Checks the loss gradient of the built double model `m` on `batch` (see the header comment).
/// The parameters are restored afterwards.
template <class M>
ModelGradCheck check_model_loss_gradient(M& m, const BatchView& batch, double eps = 1e-6) {
  double normalizer = 0.0;
  for (index_t r = 0; r < batch.size; ++r) normalizer += batch.weight(r);
  typename M::Cache cache;
  auto grads = m.make_grads();
  ModelGradCheck out;
  out.loss = m.forward_backward(cpu_scalar{}, batch, cache, grads, Context{}, normalizer);
  auto loss_at = [&] {
    typename M::Cache c;
    m.forward(cpu_scalar{}, batch, c);
    return m.head_loss(cpu_scalar{}, batch, c, normalizer);
  };
  out.loss_recomputed = loss_at();
  double diff = 0.0, sum = 0.0, num_sq = 0.0;
  auto add = [&](double analytic, double& x) {
    const double x0 = x;
    x = x0 + eps;
    const double fp = loss_at();
    x = x0 - eps;
    const double fm = loss_at();
    x = x0;
    const double numeric = (fp - fm) / (2.0 * eps);
    diff += (analytic - numeric) * (analytic - numeric);
    sum += (analytic + numeric) * (analytic + numeric);
    num_sq += numeric * numeric;
    ++out.entries;
  };
  auto& dense = m.params().dense;
  for (index_t k = 0; k < dense.size(); ++k) add(grads.dense[k], dense[k]);
  for (std::size_t t = 0; t < m.params().tables.size(); ++t) {
    auto& table = m.params().tables[t];
    const auto& g = grads.tables[t];
    for (index_t row = 0; row < table.rows(); ++row)
      for (index_t j = 0; j < table.cols(); ++j) {
        double analytic = 0.0;
        for (index_t i = 0; i < g.size(); ++i)
          if (g.id(i) == row) analytic += g.values(i)[j];
        add(analytic, table(row, j));
      }
  }
  out.norm = std::sqrt(num_sq);
  out.error = std::sqrt(diff) / std::max(std::sqrt(sum), 1e-12);
  return out;
}

}  // namespace ctrnet::testing
