// RegressionHead: prediction ŷ = z, trained with mean squared error (z − y)². See kernels/loss.hpp.
#pragma once
#include "ctrnet/heads/head.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/loss.hpp"

namespace ctrnet {

struct RegressionHead {
  static constexpr const char* name = "regression";
  HeadOptions opt{};
  RegressionHead() = default;
  explicit RegressionHead(HeadOptions o) : opt(o) {}
  index_t width() const { return 1; }

  /// Writes this head's loss contribution into *loss (the policy's memory); dz += its gradient.
  template <class P, class T>
  void loss(const P& p, ConstMatrixView<T> z, const BatchView& b, double normalizer, MatrixView<T> dz,
            double* loss) const {
    kernels::squared_error(p, z, detail::head_target(b, opt.target), b.weights, opt.weight / normalizer, dz, loss);
  }
  template <class P, class T>
  void predict(const P& p, ConstMatrixView<T> z, MatrixView<T> out) const {
    kernels::copy(p, z, out);
  }
};

}  // namespace ctrnet
