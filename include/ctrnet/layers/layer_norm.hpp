// Layer normalisation (Ba, Kiros & Hinton 2016, arXiv 1607.06450) over groups of `width`
// columns: a token matrix [batch, L·w] is normalised token by token with width = w; width 0
// normalises each whole row. Learned γ (init 1) and β (init 0) of size width, shared by all
// groups:  y = γ ⊙ (x − μ) / √(σ² + ε) + β  (μ, σ² the mean and biased variance of the group).
// Backward: kernels/scalar/attention.hpp. Parameters: weight (γ), bias (β), as in PyTorch.
#pragma once
#include <vector>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/attention.hpp"
#include "ctrnet/kernels/elementwise.hpp"

namespace ctrnet {

/// \brief y = LayerNorm(x) per group of `width` columns, learned γ and β.
class LayerNorm {
 public:
  using input_kind = Dense;
  struct Options {
    index_t width = 0;  ///< normalised group width; 0 = the whole row
    double eps = 1e-5;
  };
  template <class T>
  struct Cache {
    ConstMatrixView<T> x;
    Buffer<T> mean, rstd;    // flat: [batch · groups], row-major; else [groups · batch]
    bool flat = false;            // forward ran one call over the [batch · groups, width] view
    Matrix<T> dy, dx;             // contiguous copies when backward's views are not
  };

  LayerNorm() = default;
  explicit LayerNorm(Options o) : opt_(o) {}
  explicit LayerNorm(index_t width, double eps = 1e-5) : opt_{width, eps} {}

  index_t build(index_t in, ParamRegistry& reg) {
    const index_t w = opt_.width > 0 ? opt_.width : in;
    CTRNET_CHECK(in > 0 && in % w == 0, "LayerNorm '", reg.full_name(""), "': input width ", in,
                 " is not a multiple of the normalised width ", w);
    CTRNET_CHECK(opt_.eps > 0.0, "LayerNorm '", reg.full_name(""), "': eps must be positive, got ", opt_.eps);
    width_ = w;
    in_ = in;
    gamma_ = reg.add("weight", 1, w, Init::ones());
    beta_ = reg.add("bias", 1, w, Init::zeros());
    return in;
  }
  index_t out_dim() const { return in_; }
  index_t width() const { return width_; }
  const Options& options() const { return opt_; }
  ParamHandle weight() const { return gamma_; }
  ParamHandle bias() const { return beta_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& = {}) const {
    const index_t groups = in_ / width_, B = x.rows;
    c.mean.resize(static_cast<std::size_t>(groups * B));
    c.rstd.resize(static_cast<std::size_t>(groups * B));
    c.flat = groups > 1 && x.contiguous() && y.contiguous();
    if (c.flat) {  // one call over all tokens [B·G, width]
      kernels::layer_norm_forward(p, ConstMatrixView<T>(x.data, B * groups, width_), w[gamma_].data, w[beta_].data,
                                  T(opt_.eps), MatrixView<T>(y.data, B * groups, width_), c.mean.data(), c.rstd.data());
    } else {
      for (index_t g = 0; g < groups; ++g)
        kernels::layer_norm_forward(p, x.col_block(g * width_, width_), w[gamma_].data, w[beta_].data, T(opt_.eps),
                                    y.col_block(g * width_, width_), c.mean.data() + g * B, c.rstd.data() + g * B);
    }
    c.x = x;
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>& g) const {
    const index_t groups = in_ / width_, B = c.x.rows;
    T* dg = g[gamma_].data;
    T* db = g[beta_].data;
    if (c.flat) {
      if (!dy.contiguous()) {
        c.dy.resize(dy.rows, dy.cols);
        kernels::copy(p, dy, c.dy.view());
        dy = c.dy.cview();
      }
      MatrixView<T> dxc = dx;
      if (!dx.empty() && !dx.contiguous()) {
        c.dx.resize(dx.rows, dx.cols, T(0));
        dxc = c.dx.view();
      }
      kernels::layer_norm_backward(p, ConstMatrixView<T>(c.x.data, B * groups, width_), w[gamma_].data, c.mean.data(),
                                   c.rstd.data(), ConstMatrixView<T>(dy.data, B * groups, width_),
                                   dxc.empty() ? MatrixView<T>{} : MatrixView<T>(dxc.data, B * groups, width_), dg, db);
      if (dxc.data != dx.data) kernels::axpy(p, T(1), c.dx.cview(), dx);
    } else {
      for (index_t gi = 0; gi < groups; ++gi)
        kernels::layer_norm_backward(p, c.x.col_block(gi * width_, width_), w[gamma_].data, c.mean.data() + gi * B,
                                     c.rstd.data() + gi * B, dy.col_block(gi * width_, width_),
                                     dx.empty() ? MatrixView<T>{} : dx.col_block(gi * width_, width_), dg, db);
    }
  }

 private:
  Options opt_;
  index_t width_ = 0, in_ = 0;
  ParamHandle gamma_, beta_;
};

}  // namespace ctrnet
