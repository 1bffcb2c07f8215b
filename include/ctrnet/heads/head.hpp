// The head concept: a head reads `width()` columns of the body's output (its logits), a target
// column of the batch, and turns them into a loss with gradient, or a prediction.
//   target 0 = BatchView::labels, target k ≥ 1 = BatchView::targets[k − 1]
//   loss contribution = weight · Σ_r w_r ℓ_r / normalizer   (normalizer = Σ weights of the batch)
// What Model calls (compose/model.hpp):
//   loss(p, z, batch, normalizer, dz, double* loss)   WRITES the contribution into *loss (one double
//                                                     in the policy's memory), dz += its gradient
//   predict(p, z, out)                                the head's output from its logits
//   check_batch(host_batch)  (optional)               checks the targets on the host before a batch
//                                                     is staged into a device memory
#pragma once
#include <concepts>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/data/batch.hpp"

namespace ctrnet {

struct HeadOptions {
  double weight = 1.0;  ///< weight of this head's loss in the total
  index_t target = 0;   ///< 0: labels; k ≥ 1: targets[k − 1]
};

namespace detail {
inline const float* head_target(const BatchView& b, index_t target) {
  if (target == 0) {
    CTRNET_CHECK(b.labels != nullptr, "head: the batch has no labels");
    return b.labels;
  }
  CTRNET_CHECK(target - 1 < static_cast<index_t>(b.targets.size()), "head: target ", target,
               " requested but the batch has ", b.targets.size(), " extra targets");
  return b.targets[static_cast<std::size_t>(target - 1)];
}
}  // namespace detail

template <class H>
concept Head = requires(const H h) {
  { h.width() } -> std::convertible_to<index_t>;
  { H::name } -> std::convertible_to<const char*>;
};

}  // namespace ctrnet
