// The layer concept. A layer is a small, const-after-build object:
//
//   using input_kind = Dense;             // or Sparse: it reads a BatchView instead of a matrix
//   template <class T> struct Cache;      // what backward needs + workspaces; owned by the caller
//   index_t build(Shape in, ParamRegistry&);    // declares named params, returns the output width
//   index_t out_dim() const;
//   forward (P, Weights<T>, Input x, MatrixView<T> y,  Cache<T>&, const Context&) const;
//   backward(P, Weights<T>, Cache<T>&, ConstMatrixView<T> dy, InputGrad dx, Gradients<T>) const;
//
// Dense:  Shape = index_t,       Input = ConstMatrixView<T> x: [batch, in],  InputGrad = MatrixView<T>
// Sparse: Shape = const Schema&, Input = const BatchView&,                   InputGrad = NoInputGrad
// y: [batch, out_dim()]. backward ACCUMULATES into dx and into the gradients; an empty dx view
// means "input gradient not needed". The input x (and y) must stay alive until backward: a
// cache may keep views into them. For Sparse layers that includes the BatchView itself (a cache
// may keep a pointer to it), so pass a named view, never `batch.view()` of a temporary:
//   BatchView v = batch.view(); model.forward(p, v, cache); ...; model.backward(..., cache, ...);
#pragma once
#include <concepts>
#include <cstdint>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/data/schema.hpp"

namespace ctrnet {

/// Input kind of layers that read a dense [batch, features] matrix.
struct Dense {
  template <class T>
  using input = ConstMatrixView<T>;
  template <class T>
  using input_grad = MatrixView<T>;
  using shape = index_t;
};

/// Gradient placeholder for inputs that are data (ids), not differentiable.
struct NoInputGrad {};

/// Input kind of layers that read the raw batch (dense values and categorical ids).
struct Sparse {
  template <class T>
  using input = const BatchView&;
  template <class T>
  using input_grad = NoInputGrad;
  using shape = const Schema&;
};

/// Per-call state of a forward pass: training mode (dropout on) and the seeds that make
/// stochastic layers depend only on (seed, step, layer, global example row), never on sharding.
struct Context {
  bool training = false;
  std::uint64_t seed = 0;
  std::uint64_t step = 0;
  index_t first_row = 0;  ///< global index of row 0 of this call's input
};

template <class L>
using input_kind_t = typename L::input_kind;

/// A ctrnet layer: names its input kind, its cache, and can be built.
template <class L>
concept Layer = requires(L l, const L cl, ParamRegistry& reg) {
  typename L::input_kind;
  typename L::template Cache<float>;
  { cl.out_dim() } -> std::convertible_to<index_t>;
} && (std::same_as<typename L::input_kind, Dense> || std::same_as<typename L::input_kind, Sparse>);

template <class L>
concept DenseLayer = Layer<L> && std::same_as<typename L::input_kind, Dense>;

template <class L>
concept SparseLayer = Layer<L> && std::same_as<typename L::input_kind, Sparse>;

}  // namespace ctrnet
