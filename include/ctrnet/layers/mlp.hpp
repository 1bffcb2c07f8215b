// Multi-layer perceptron: h_{i+1} = dropout(f(h_i W_iᵀ + b_i)) for each width in `widths`.
// Parameters are named `<scope>.<i>.weight` / `<scope>.<i>.bias`. The last layer uses
// `last_activation` (default: the same activation), so an MLP can end in a plain logit.
#pragma once
#include <optional>
#include <vector>

#include "ctrnet/layers/dropout.hpp"
#include "ctrnet/layers/linear.hpp"

namespace ctrnet {

/// \brief A stack of fused Linear+activation layers with optional dropout between them.
class MLP {
 public:
  using input_kind = Dense;
  struct Options {
    std::vector<index_t> widths{};
    Activation activation = Activation::relu;
    std::optional<Activation> last_activation{};  ///< default: `activation`
    double dropout = 0.0;                       ///< after every layer but the last
    Init init = Init::he_normal();
  };
  template <class T>
  struct Cache {
    std::vector<Linear::Cache<T>> linear;
    std::vector<Dropout::Cache<T>> drop;
    std::vector<Matrix<T>> act;   // output of Linear i
    std::vector<Matrix<T>> out;   // output of Dropout i (input of Linear i+1)
    std::vector<Matrix<T>> grad;  // gradient w.r.t. out[i] / act[i] (shared buffer per boundary)
    std::vector<Matrix<T>> dact;
  };

  MLP() = default;
  explicit MLP(Options o) : opt_(std::move(o)) {}
  MLP(std::vector<index_t> widths, Activation a = Activation::relu, double dropout = 0.0) {
    opt_.widths = std::move(widths);
    opt_.activation = a;
    opt_.dropout = dropout;
  }

  index_t build(index_t in, ParamRegistry& reg) {
    CTRNET_CHECK(!opt_.widths.empty(), "MLP '", reg.full_name(""), "': needs at least one width");
    layers_.clear();
    drops_.clear();
    in_ = in;
    index_t d = in;
    for (std::size_t i = 0; i < opt_.widths.size(); ++i) {
      const bool last = i + 1 == opt_.widths.size();
      Linear::Options lo;
      lo.units = opt_.widths[i];
      lo.activation = last ? opt_.last_activation.value_or(opt_.activation) : opt_.activation;
      lo.init = opt_.init;
      auto s = reg.scope(static_cast<index_t>(i));
      layers_.emplace_back(lo);
      d = layers_.back().build(d, reg);
      drops_.emplace_back(last ? 0.0 : opt_.dropout);
      drops_.back().build(d, reg);
    }
    return out_ = d;
  }
  index_t out_dim() const { return out_; }
  const Options& options() const { return opt_; }
  const std::vector<Linear>& layers() const { return layers_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    const std::size_t n = layers_.size();
    c.linear.resize(n);
    c.drop.resize(n);
    c.act.resize(n);
    c.out.resize(n);
    ConstMatrixView<T> h = x;
    for (std::size_t i = 0; i < n; ++i) {
      const bool last = i + 1 == n;
      const bool drop = !last && ctx.training && drops_[i].rate() > 0.0;
      MatrixView<T> a = y;
      if (!last) {
        c.act[i].resize(x.rows, layers_[i].out_dim());
        a = c.act[i].view();
      }
      layers_[i].forward(p, w, h, a, c.linear[i], ctx);
      if (drop) {
        c.out[i].resize(x.rows, layers_[i].out_dim());
        drops_[i].forward(p, w, ConstMatrixView<T>(a), c.out[i].view(), c.drop[i], ctx);
        h = c.out[i].cview();
      } else {
        c.drop[i].active = false;
        h = a;
      }
    }
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>& g) const {
    const std::size_t n = layers_.size();
    c.grad.resize(n);
    c.dact.resize(n);
    ConstMatrixView<T> d = dy;
    for (std::size_t i = n; i-- > 0;) {
      MatrixView<T> din = dx;
      if (i > 0) {
        c.grad[i - 1].resize(dy.rows, layers_[i - 1].out_dim(), T(0));
        din = c.grad[i - 1].view();
      }
      layers_[i].backward(p, w, c.linear[i], d, din, g);
      if (i > 0) {
        if (c.drop[i - 1].active) {
          c.dact[i - 1].resize(dy.rows, layers_[i - 1].out_dim(), T(0));
          drops_[i - 1].backward(p, w, c.drop[i - 1], c.grad[i - 1].cview(), c.dact[i - 1].view(), g);
          d = c.dact[i - 1].cview();
        } else {
          d = c.grad[i - 1].cview();
        }
      }
    }
  }

 private:
  Options opt_;
  std::vector<Linear> layers_;
  std::vector<Dropout> drops_;
  index_t in_ = 0, out_ = 0;
};

}  // namespace ctrnet
