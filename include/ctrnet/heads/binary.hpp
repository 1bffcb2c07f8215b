// BinaryHead: click probability p = σ(z), trained with binary cross-entropy on logits
// (numerically stable form, per-example weights). See kernels/loss.hpp.
#pragma once
#include "ctrnet/heads/head.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/loss.hpp"

namespace ctrnet {

struct BinaryHead {
  static constexpr const char* name = "binary";
  HeadOptions opt{};
  BinaryHead() = default;
  explicit BinaryHead(HeadOptions o) : opt(o) {}
  index_t width() const { return 1; }

  /// Writes this head's loss contribution into *loss (the policy's memory); dz += its gradient.
  /// z, dz: [rows, 1].
  template <class P, class T>
  void loss(const P& p, ConstMatrixView<T> z, const BatchView& b, double normalizer, MatrixView<T> dz,
            double* loss) const {
    kernels::bce_with_logits(p, z, detail::head_target(b, opt.target), b.weights, opt.weight / normalizer, dz, loss);
  }
  /// out = σ(z)
  template <class P, class T>
  void predict(const P& p, ConstMatrixView<T> z, MatrixView<T> out) const {
    kernels::activation_forward(p, Activation::sigmoid, T(0), z, out);
  }
};

}  // namespace ctrnet
