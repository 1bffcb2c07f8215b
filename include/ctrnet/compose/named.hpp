// Named<L>: puts a layer's parameters under a name scope, e.g. Named<MLP>("deep", ...) gives
// `deep.0.weight`. The names are what optimizers select on and what safetensors files store.
// Sequential and Parallel scope an unnamed child by its position ("0.weight", as PyTorch's
// nn.Sequential does); a Named child gets its name instead (an empty name adds no scope).
#pragma once
#include <string>

#include "ctrnet/core/layer.hpp"

namespace ctrnet {

template <class L>
class Named;

template <class L>
inline constexpr bool is_named_v = false;
template <class L>
inline constexpr bool is_named_v<Named<L>> = true;

/// Builds child `L` of a composite at position `index`: Named children scope themselves,
/// others get their position as scope.
template <class L, class Shape>
index_t build_child(L& layer, index_t index, Shape&& in, ParamRegistry& reg) {
  if constexpr (is_named_v<L>) {
    return layer.build(std::forward<Shape>(in), reg);
  } else {
    auto s = reg.scope(index);
    return layer.build(std::forward<Shape>(in), reg);
  }
}

template <class L>
class Named {
  static_assert(Layer<L>, "ctrnet::Named<L>: L must be a ctrnet layer");

 public:
  using input_kind = typename L::input_kind;
  template <class T>
  using Cache = typename L::template Cache<T>;

  Named() = default;
  Named(std::string name, L inner) : name_(std::move(name)), inner_(std::move(inner)) {}

  index_t build(typename input_kind::shape in, ParamRegistry& reg) {
    auto s = reg.scope(name_);
    return inner_.build(in, reg);
  }
  index_t out_dim() const { return inner_.out_dim(); }
  const std::string& name() const { return name_; }
  const L& inner() const { return inner_; }
  L& inner() { return inner_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, typename input_kind::template input<T> x, MatrixView<T> y,
               Cache<T>& c, const Context& ctx = {}) const {
    inner_.forward(p, w, x, y, c, ctx);
  }
  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy,
                typename input_kind::template input_grad<T> dx, const Gradients<T>& g) const {
    inner_.backward(p, w, c, dy, dx, g);
  }

 private:
  std::string name_;
  L inner_;
};

}  // namespace ctrnet
