// Linear (fully connected) layer with a fused bias + activation epilogue.
//   z = x Wᵀ + b,  y = f(z)       x: [batch, in], W: [out, in] (PyTorch layout), b: [out]
// Backward:  dz = f'(z) ⊙ dy,  db += Σ_rows dz,  dW += dzᵀ x,  dx += dz W
#pragma once
#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/gemm.hpp"

namespace ctrnet {

/// \brief y = f(x Wᵀ + b), one GEMM plus one fused epilogue pass.
class Linear {
 public:
  using input_kind = Dense;
  struct Options {
    index_t units = 0;
    bool bias = true;
    Activation activation = Activation::identity;
    double leaky_alpha = 0.01;
    Init init = Init::glorot_uniform();
  };
  template <class T>
  struct Cache {
    ConstMatrixView<T> x;  // the input (owned by the caller)
    ConstMatrixView<T> y;  // the output (owned by the caller)
    Matrix<T> z;           // pre-activation, kept only when f' needs it
    Matrix<T> dz;          // workspace for f'(z) ⊙ dy
  };

  Linear() = default;
  explicit Linear(Options o) : opt_(o) {}
  explicit Linear(index_t units, Activation a = Activation::identity) { opt_.units = units; opt_.activation = a; }

  index_t build(index_t in, ParamRegistry& reg) {
    CTRNET_CHECK(opt_.units > 0, "Linear '", reg.full_name(""), "': units must be positive, got ", opt_.units);
    CTRNET_CHECK(in > 0, "Linear '", reg.full_name(""), "': input width must be positive, got ", in);
    in_ = in;
    weight_ = reg.add("weight", opt_.units, in, opt_.init);
    if (opt_.bias) bias_ = reg.add("bias", 1, opt_.units, Init::zeros());
    return opt_.units;
  }
  index_t in_dim() const { return in_; }
  index_t out_dim() const { return opt_.units; }
  const Options& options() const { return opt_; }
  ParamHandle weight() const { return weight_; }
  ParamHandle bias() const { return bias_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& = {}) const {
    const bool keep_z = derivative_needs_input(opt_.activation);
    MatrixView<T> z = y;
    if (keep_z) {
      c.z.resize(x.rows, opt_.units);
      z = c.z.view();
    }
    // Bias and activation run as the GEMM's epilogue, on each block of z while it is in cache.
    const T* b = opt_.bias ? w[bias_].data : nullptr;
    const auto p1 = single_threaded(p);  // each epilogue block already runs on one GEMM worker
    if (opt_.activation == Activation::identity && !keep_z) {
      if (b)
        kernels::gemm_epilogue(p, kernels::Trans::no, kernels::Trans::yes, T(1), x, w[weight_], T(0), z,
                               [&](index_t r0, index_t r1, index_t c0, index_t c1) {
                                 kernels::bias_forward(p1, b + c0, z.block(r0, r1, c0, c1));
                               });
      else
        kernels::gemm(p, kernels::Trans::no, kernels::Trans::yes, T(1), x, w[weight_], T(0), z);
    } else {  // z += b, y = f(z)
      kernels::gemm_epilogue(p, kernels::Trans::no, kernels::Trans::yes, T(1), x, w[weight_], T(0), z,
                             [&](index_t r0, index_t r1, index_t c0, index_t c1) {
                               kernels::bias_activation_forward(p1, opt_.activation, T(opt_.leaky_alpha),
                                                                b ? b + c0 : nullptr, z.block(r0, r1, c0, c1),
                                                                y.block(r0, r1, c0, c1));
                             });
    }
    c.x = x;
    c.y = y;
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>& g) const {
    ConstMatrixView<T> dz = dy;
    T* db = opt_.bias ? g[bias_].data : nullptr;
    if (opt_.activation != Activation::identity) {  // one pass: dz = f'(z) ⊙ dy, db += Σ dz
      c.dz.resize(dy.rows, dy.cols);
      kernels::activation_bias_backward(p, opt_.activation, T(opt_.leaky_alpha), c.z.cview(), c.y, dy, c.dz.view(), db);
      dz = c.dz.cview();
    } else if (db) {
      kernels::bias_backward(p, dz, db);
    }
    kernels::gemm(p, kernels::Trans::yes, kernels::Trans::no, T(1), dz, c.x, T(1), g[weight_]);
    if (!dx.empty()) kernels::gemm(p, kernels::Trans::no, kernels::Trans::no, T(1), dz, w[weight_], T(1), dx);
  }

 private:
  Options opt_;
  index_t in_ = 0;
  ParamHandle weight_, bias_;
};

}  // namespace ctrnet
