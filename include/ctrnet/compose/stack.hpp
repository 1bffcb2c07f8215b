// Stack<L>: `depth` layers L chained one after another (layer i reads layer i − 1's output), all
// built from the same `Options::layer`, depth chosen at run time; e.g. the Transformer blocks of
// TabTransformer and of the Transformer towers are Stack<TransformerBlock>. Layer i's parameters
// are named `<scope>.<i>.*`. (A cross network is not a Stack: every cross layer also reads x0, so
// it is CrossNet<C>, layers/cross.hpp.)
#pragma once
#include <vector>

#include "ctrnet/core/layer.hpp"

namespace ctrnet {

template <class L>
class Stack {
  static_assert(DenseLayer<L>, "ctrnet::Stack<L>: L must be a dense layer (input_kind = Dense)");

 public:
  using input_kind = Dense;
  struct Options {
    index_t depth = 1;
    typename L::Options layer{};
  };
  template <class T>
  struct Cache {
    std::vector<typename L::template Cache<T>> layers;
    std::vector<Matrix<T>> out, grad;
  };

  Stack() = default;
  explicit Stack(Options o) : opt_(std::move(o)) {}
  Stack(index_t depth, typename L::Options layer) : opt_{depth, std::move(layer)} {}

  index_t build(index_t in, ParamRegistry& reg) {
    CTRNET_CHECK(opt_.depth >= 1, "Stack '", reg.full_name(""), "': depth must be at least 1, got ", opt_.depth);
    layers_.clear();
    index_t d = in;
    for (index_t i = 0; i < opt_.depth; ++i) {
      auto s = reg.scope(i);
      layers_.emplace_back(opt_.layer);
      d = layers_.back().build(d, reg);
    }
    return out_ = d;
  }
  index_t out_dim() const { return out_; }
  index_t depth() const { return static_cast<index_t>(layers_.size()); }
  const L& layer(index_t i) const { return layers_[static_cast<std::size_t>(i)]; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    const std::size_t n = layers_.size();
    c.layers.resize(n);
    c.out.resize(n);
    ConstMatrixView<T> h = x;
    for (std::size_t i = 0; i < n; ++i) {
      MatrixView<T> o = y;
      if (i + 1 < n) {
        c.out[i].resize(x.rows, layers_[i].out_dim());
        o = c.out[i].view();
      }
      layers_[i].forward(p, w, h, o, c.layers[i], ctx);
      h = o;
    }
  }
  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>& g) const {
    const std::size_t n = layers_.size();
    c.grad.resize(n);
    ConstMatrixView<T> d = dy;
    for (std::size_t i = n; i-- > 0;) {
      MatrixView<T> din = dx;
      if (i > 0) {
        c.grad[i - 1].resize(dy.rows, layers_[i - 1].out_dim(), T(0));
        din = c.grad[i - 1].view();
      }
      layers_[i].backward(p, w, c.layers[i], d, din, g);
      if (i > 0) d = c.grad[i - 1].cview();
    }
  }

 private:
  Options opt_;
  std::vector<L> layers_;
  index_t out_ = 0;
};

}  // namespace ctrnet
