// Stand-alone activation layers: y = f(x), dx += f'(x) ⊙ dy. (Linear and MLP fuse f into their
// epilogue instead; these are for wiring an activation anywhere else.)
// Formulas: see kernels/activation.hpp.
#pragma once
#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/elementwise.hpp"

namespace ctrnet {

/// \brief y = f(x) for a run-time activation f (LeakyReLU's slope in `alpha`).
class ActivationLayer {
 public:
  using input_kind = Dense;
  template <class T>
  struct Cache {
    ConstMatrixView<T> x, y;
  };
  ActivationLayer() = default;
  explicit ActivationLayer(Activation a, double alpha = 0.01) : act_(a), alpha_(alpha) {}

  index_t build(index_t in, ParamRegistry&) { return dim_ = in; }
  index_t out_dim() const { return dim_; }
  Activation activation() const { return act_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>&, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& = {}) const {
    kernels::activation_forward(p, act_, T(alpha_), x, y);
    c.x = x;
    c.y = y;
  }
  template <class P, class T>
  void backward(const P& p, const Weights<T>&, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>&) const {
    if (!dx.empty()) kernels::activation_backward(p, act_, T(alpha_), c.x, c.y, dy, dx);
  }

 private:
  Activation act_ = Activation::identity;
  double alpha_ = 0.01;
  index_t dim_ = 0;
};

struct ReLU : ActivationLayer { ReLU() : ActivationLayer(Activation::relu) {} };
struct LeakyReLU : ActivationLayer { explicit LeakyReLU(double alpha = 0.01) : ActivationLayer(Activation::leaky_relu, alpha) {} };
struct Sigmoid : ActivationLayer { Sigmoid() : ActivationLayer(Activation::sigmoid) {} };
struct Tanh : ActivationLayer { Tanh() : ActivationLayer(Activation::tanh) {} };
struct GELU : ActivationLayer { GELU() : ActivationLayer(Activation::gelu) {} };
struct Identity : ActivationLayer { Identity() : ActivationLayer(Activation::identity) {} };

}  // namespace ctrnet
