// Parallel<Combine, Ls...>: every branch reads the same input; outputs are combined by
//   Concat: y = [y_1 | y_2 | ...]   (branches write straight into column blocks of y)
//   Sum:    y = Σ_i y_i             (all branches must have the same width)
// Parameters of branch i are scoped "i." unless the branch is Named (see compose/named.hpp).
// Backward: Concat hands each branch its column block of dy, Sum the whole dy; input gradients
// of all branches accumulate into the same dx.
#pragma once
#include <array>
#include <tuple>

#include "ctrnet/compose/named.hpp"
#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/elementwise.hpp"

namespace ctrnet {

/// Combiner tag: concatenate branch outputs along the feature axis.
struct Concat {};
/// Combiner tag: add branch outputs (same widths).
struct Sum {};

template <class Combine, class... Ls>
class Parallel {
  static_assert(std::same_as<Combine, Concat> || std::same_as<Combine, Sum>,
                "ctrnet::Parallel: the first template argument must be a combiner (ctrnet::Concat or ctrnet::Sum)");
  static_assert(sizeof...(Ls) >= 1, "ctrnet::Parallel needs at least one branch");
  static_assert((Layer<Ls> && ...), "ctrnet::Parallel: every branch must be a ctrnet layer");
  static constexpr std::size_t N = sizeof...(Ls);
  using First = std::tuple_element_t<0, std::tuple<Ls...>>;
  static_assert((std::same_as<typename Ls::input_kind, typename First::input_kind> && ...),
                "ctrnet::Parallel: wrong wiring: all branches must read the same kind of input (all Dense or all "
                "Sparse); wrap a dense branch in Sequential<FeatureInput, ...> to read the batch");

 public:
  using input_kind = typename First::input_kind;
  template <class T>
  struct Cache {
    std::tuple<typename Ls::template Cache<T>...> branches;
    std::array<Matrix<T>, N> out;  // Sum only: branch outputs
  };

  Parallel() = default;
  explicit Parallel(Ls... ls) : branches_(std::move(ls)...) {}

  index_t build(typename input_kind::shape in, ParamRegistry& reg) {
    index_t i = 0;
    std::apply(
        [&](auto&... b) {
          ((widths_[static_cast<std::size_t>(i)] = build_child(b, i, in, reg), ++i), ...);
        },
        branches_);
    if constexpr (std::same_as<Combine, Sum>) {
      for (std::size_t k = 1; k < N; ++k)
        CTRNET_CHECK(widths_[k] == widths_[0], "Parallel<Sum> '", reg.full_name(""), "': branch ", k, " has width ",
                     widths_[k], " but branch 0 has width ", widths_[0]);
      out_ = widths_[0];
    } else {
      out_ = 0;
      for (auto wd : widths_) out_ += wd;  // host: adds up branch widths (integers)
    }
    return out_;
  }
  index_t out_dim() const { return out_; }
  template <std::size_t I>
  const auto& get() const { return std::get<I>(branches_); }
  template <std::size_t I>
  auto& get() { return std::get<I>(branches_); }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, typename input_kind::template input<T> x, MatrixView<T> y,
               Cache<T>& c, const Context& ctx = {}) const {
    forward_branch<0>(p, w, x, y, c, ctx, 0);
  }
  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy,
                typename input_kind::template input_grad<T> dx, const Gradients<T>& g) const {
    backward_branch<0>(p, w, c, dy, dx, g, 0);
  }

 private:
  template <std::size_t I, class P, class T, class X>
  void forward_branch(const P& p, const Weights<T>& w, X&& x, MatrixView<T> y, Cache<T>& c, const Context& ctx,
                      index_t col) const {
    const auto& b = std::get<I>(branches_);
    auto& bc = std::get<I>(c.branches);
    if constexpr (std::same_as<Combine, Concat>) {
      b.forward(p, w, x, y.col_block(col, widths_[I]), bc, ctx);
    } else {
      // Each branch keeps its own output (its cache may refer to it); y is their sum.
      c.out[I].resize(y.rows, out_);
      b.forward(p, w, x, c.out[I].view(), bc, ctx);
      if constexpr (I == 0) kernels::copy(p, c.out[I].cview(), y);
      else kernels::axpy(p, T(1), c.out[I].cview(), y);
    }
    if constexpr (I + 1 < N) forward_branch<I + 1>(p, w, x, y, c, ctx, col + widths_[I]);
  }

  template <std::size_t I, class P, class T, class DX>
  void backward_branch(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, DX dx,
                       const Gradients<T>& g, index_t col) const {
    const auto& b = std::get<I>(branches_);
    auto& bc = std::get<I>(c.branches);
    if constexpr (std::same_as<Combine, Concat>) b.backward(p, w, bc, dy.col_block(col, widths_[I]), dx, g);
    else b.backward(p, w, bc, dy, dx, g);
    if constexpr (I + 1 < N) backward_branch<I + 1>(p, w, c, dy, dx, g, col + widths_[I]);
  }

  std::tuple<Ls...> branches_;
  std::array<index_t, N> widths_{};
  index_t out_ = 0;
};

}  // namespace ctrnet
