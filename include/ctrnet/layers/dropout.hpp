// Dropout (Srivastava et al. 2014), inverted: scales kept units by 1/(1-p) in training and is
// the identity at inference. Seeded per (seed, step, layer, example row): see kernels/dropout.hpp.
#pragma once
#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/dropout.hpp"

namespace ctrnet {

/// \brief Inverted dropout with rate p; off unless Context::training.
class Dropout {
 public:
  using input_kind = Dense;
  template <class T>
  struct Cache {
    Matrix<T> mask;
    bool active = false;
  };
  Dropout() = default;
  explicit Dropout(double rate) : rate_(rate) {
    CTRNET_CHECK(rate >= 0.0 && rate < 1.0, "Dropout: rate must be in [0, 1), got ", rate);
  }

  index_t build(index_t in, ParamRegistry& reg) {
    layer_id_ = fnv1a64(reg.full_name("dropout"));
    return dim_ = in;
  }
  index_t out_dim() const { return dim_; }
  double rate() const { return rate_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>&, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    c.active = ctx.training && rate_ > 0.0;
    if (!c.active) {
      if (x.data != y.data) kernels::copy(p, x, y);
      return;
    }
    c.mask.resize(x.rows, x.cols);
    kernels::dropout_forward(p, rate_, ctx.seed, ctx.step, layer_id_, ctx.first_row, x, c.mask.view(), y);
  }
  template <class P, class T>
  void backward(const P& p, const Weights<T>&, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>&) const {
    if (dx.empty()) return;
    if (c.active) kernels::dropout_backward(p, c.mask.cview(), dy, dx);
    else kernels::axpy(p, T(1), dy, dx);
  }

 private:
  double rate_ = 0.0;
  index_t dim_ = 0;
  std::uint64_t layer_id_ = 0;
};

}  // namespace ctrnet
