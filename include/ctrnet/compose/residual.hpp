// Residual<L>: y = x + L(x) (He et al. 2016). L must keep the width. dx += dy + L'(x)ᵀ dy.
#pragma once
#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/elementwise.hpp"

namespace ctrnet {

template <class L>
class Residual {
  static_assert(DenseLayer<L>, "ctrnet::Residual<L>: L must be a dense layer (input_kind = Dense)");

 public:
  using input_kind = Dense;
  template <class T>
  struct Cache {
    typename L::template Cache<T> inner;
    Matrix<T> out;  // L(x), kept apart from y because L's cache may refer to it
  };

  Residual() = default;
  explicit Residual(L inner) : inner_(std::move(inner)) {}

  index_t build(index_t in, ParamRegistry& reg) {
    const index_t out = inner_.build(in, reg);
    CTRNET_CHECK(out == in, "Residual '", reg.full_name(""), "': the inner layer maps width ", in, " to ", out,
                 "; a residual connection needs equal widths");
    return dim_ = in;
  }
  index_t out_dim() const { return dim_; }
  const L& inner() const { return inner_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    c.out.resize(x.rows, dim_);
    inner_.forward(p, w, x, c.out.view(), c.inner, ctx);
    kernels::copy(p, c.out.cview(), y);
    kernels::axpy(p, T(1), x, y);
  }
  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>& g) const {
    inner_.backward(p, w, c.inner, dy, dx, g);
    if (!dx.empty()) kernels::axpy(p, T(1), dy, dx);
  }

 private:
  L inner_;
  index_t dim_ = 0;
};

}  // namespace ctrnet
