// GloveHead: the GloVe objective (Pennington, Socher, Manning, "GloVe: Global Vectors for Word
// Representation", EMNLP 2014, eq. 8) as a head of any Model<Body, Heads...>. It reads one logit
// column ŷ (for an item pair (A, B): w_A·w̃_B + b_A + b̃_B) and a target column holding the
// co-occurrence count X_AB:
//   ℓ = f(X) (ŷ − log X)²,   f(x) = min(1, (x / x_max)^α)   (x_max = 100, α = 3/4 in the paper)
//   ∂ℓ/∂ŷ = 2 f(X) (ŷ − log X)
// Rows with X = 0 contribute nothing (f(0) = 0, and log 0 is never evaluated): in a batch that
// mixes co-occurring pairs with sampled negatives, the negatives only feed the other heads.
// Scaled like every head: weight · Σ_r w_r ℓ_r / normalizer. The prediction is ŷ itself (an
// estimate of log X_AB). The loss and its gradient: kernels::glove_loss (kernels/loss.hpp).
#pragma once
#include <cmath>

#include "ctrnet/heads/head.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/loss.hpp"

namespace ctrnet {

struct GloveOptions {
  double x_max = 100.0;  ///< counts ≥ x_max get the full weight 1
  double alpha = 0.75;   ///< exponent of the weighting function
};

/// f(x) = min(1, (x / x_max)^α) for x > 0, and 0 for x ≤ 0.
inline double glove_weight(double x, const GloveOptions& o = {}) {
  return kernels::detail::glove_weighting(x, o.x_max, o.alpha);
}

struct GloveHead {
  static constexpr const char* name = "glove";
  HeadOptions opt{};  ///< weight of the head; target: the column holding X_AB (usually ≥ 1: targets[k − 1])
  GloveOptions glove{};

  GloveHead() = default;
  explicit GloveHead(HeadOptions o, GloveOptions g = {}) : opt(o), glove(g) { check(); }
  index_t width() const { return 1; }

  /// Writes this head's loss contribution into *loss (the policy's memory); dz += its gradient.
  /// z, dz: [rows, 1].
  template <class P, class T>
  void loss(const P& p, ConstMatrixView<T> z, const BatchView& b, double normalizer, MatrixView<T> dz,
            double* loss) const {
    check();
    const float* x = detail::head_target(b, opt.target);
    const double scale = opt.weight / normalizer;
    if (scale == 0.0) return kernels::fill(p, 0.0, MatrixView<double>(loss, 1, 1));
    kernels::glove_loss(p, z, x, b.weights, scale, glove.x_max, glove.alpha, b.first_row, dz, loss);
  }
  /// The batch's co-occurrence counts on the host, checked when a batch is staged into a device
  /// memory (Model::check_batch): each finite and ≥ 0, the message of kernels::glove_loss, which
  /// checks them itself on the CPU policies.
  void check_batch(const BatchView& host) const {
    if (opt.weight == 0.0) return;
    const float* x = detail::head_target(host, opt.target);
    for (index_t r = 0; r < host.size; ++r)
      CTRNET_CHECK(x[r] >= 0.0f && std::isfinite(x[r]), "GloveHead: the co-occurrence count of row ",
                   host.first_row + r, " is ", x[r], "; expected a finite count >= 0");
  }
  /// out = ŷ (the model's estimate of log X).
  template <class P, class T>
  void predict(const P& p, ConstMatrixView<T> z, MatrixView<T> out) const {
    kernels::copy(p, z, out);
  }

 private:
  void check() const {
    CTRNET_CHECK(glove.x_max > 0.0, "GloveHead: x_max must be positive, got ", glove.x_max);
    CTRNET_CHECK(glove.alpha >= 0.0, "GloveHead: alpha must be >= 0, got ", glove.alpha);
  }
};

}  // namespace ctrnet
