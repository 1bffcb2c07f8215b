// Sequential<Ls...>: a flat chain. forward folds left to right, backward right to left.
// Parameters of child i are scoped "i." unless the child is Named (see compose/named.hpp).
// Only the first layer may read the raw batch (input_kind Sparse); every later layer must take
// the dense matrix its predecessor outputs — checked at compile time with a readable message.
#pragma once
#include <array>
#include <tuple>
#include <utility>

#include "ctrnet/compose/named.hpp"
#include "ctrnet/core/layer.hpp"

namespace ctrnet {

namespace detail {
template <class... Ls>
constexpr bool later_layers_are_dense() {
  if constexpr (sizeof...(Ls) <= 1) {
    return true;
  } else {
    constexpr bool dense[] = {std::same_as<typename Ls::input_kind, Dense>...};
    for (std::size_t i = 1; i < sizeof...(Ls); ++i)
      if (!dense[i]) return false;
    return true;
  }
}
}  // namespace detail

/// \brief Runs layers one after another; intermediate outputs live in the cache.
template <class... Ls>
class Sequential {
  static_assert(sizeof...(Ls) >= 1, "ctrnet::Sequential needs at least one layer");
  static_assert((Layer<Ls> && ...),
                "ctrnet::Sequential: every element must be a ctrnet layer (input_kind, Cache<T>, build, out_dim, "
                "forward, backward)");
  static_assert(detail::later_layers_are_dense<Ls...>(),
                "ctrnet::Sequential: wrong wiring: a layer that reads the raw batch (input_kind = Sparse, e.g. "
                "FeatureInput or WideLinear) can only be the FIRST layer, because every layer outputs a dense matrix");

  static constexpr std::size_t N = sizeof...(Ls);
  using First = std::tuple_element_t<0, std::tuple<Ls...>>;

 public:
  using input_kind = typename First::input_kind;
  template <class T>
  struct Cache {
    std::tuple<typename Ls::template Cache<T>...> layers;
    std::array<Matrix<T>, N - 1> out;   // outputs of layers 0..N-2
    std::array<Matrix<T>, N - 1> grad;  // gradients w.r.t. those outputs
  };

  Sequential() = default;
  explicit Sequential(Ls... ls) : layers_(std::move(ls)...) {}

  index_t build(typename input_kind::shape in, ParamRegistry& reg) {
    return build_from<0>(in, reg);
  }
  index_t out_dim() const { return std::get<N - 1>(layers_).out_dim(); }

  template <std::size_t I>
  auto& get() { return std::get<I>(layers_); }
  template <std::size_t I>
  const auto& get() const { return std::get<I>(layers_); }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, typename input_kind::template input<T> x, MatrixView<T> y,
               Cache<T>& c, const Context& ctx = {}) const {
    forward_from<0>(p, w, x, y, c, ctx);
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy,
                typename input_kind::template input_grad<T> dx, const Gradients<T>& g) const {
    backward_from<N - 1>(p, w, c, dy, dx, g);
  }

 private:
  template <std::size_t I, class Shape>
  index_t build_from(Shape&& in, ParamRegistry& reg) {
    const index_t out = build_child(std::get<I>(layers_), static_cast<index_t>(I), std::forward<Shape>(in), reg);
    if constexpr (I + 1 < N) return build_from<I + 1>(out, reg);
    else return out;
  }

  template <std::size_t I, class P, class T, class X>
  void forward_from(const P& p, const Weights<T>& w, X&& x, MatrixView<T> y, Cache<T>& c, const Context& ctx) const {
    const auto& layer = std::get<I>(layers_);
    auto& lc = std::get<I>(c.layers);
    if constexpr (I + 1 == N) {
      layer.forward(p, w, std::forward<X>(x), y, lc, ctx);
    } else {
      c.out[I].resize(y.rows, layer.out_dim());
      layer.forward(p, w, std::forward<X>(x), c.out[I].view(), lc, ctx);
      forward_from<I + 1>(p, w, c.out[I].cview(), y, c, ctx);
    }
  }

  template <std::size_t I, class P, class T, class DX>
  void backward_from(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, DX dx,
                     const Gradients<T>& g) const {
    const auto& layer = std::get<I>(layers_);
    auto& lc = std::get<I>(c.layers);
    if constexpr (I == 0) {
      layer.backward(p, w, lc, dy, dx, g);
    } else {
      c.grad[I - 1].resize(dy.rows, std::get<I - 1>(layers_).out_dim(), T(0));
      layer.backward(p, w, lc, dy, c.grad[I - 1].view(), g);
      backward_from<I - 1>(p, w, c, c.grad[I - 1].cview(), dx, g);
    }
  }

  std::tuple<Ls...> layers_;
};

}  // namespace ctrnet
