// Stochastic gradient descent with momentum, PyTorch semantics (torch.optim.SGD; Sutskever et al.
// 2013 for the Nesterov form), one fused pass over the flat buffer:
//   d = g + λθ;   v = μ v + (1 − τ) d   (v = d at the first step);   d = nesterov ? d + μ v : v;   θ −= lr d
#pragma once
#include <cstdint>
#include <span>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/kernels/optim.hpp"
#include "ctrnet/optim/optimizer.hpp"

namespace ctrnet {

struct SgdOptions {
  double lr = 1e-3;
  double momentum = 0.0;      ///< μ in [0, 1); 0: plain SGD, no state
  double dampening = 0.0;     ///< τ in [0, 1]
  double weight_decay = 0.0;  ///< λ >= 0 (L2 added to the gradient)
  bool nesterov = false;      ///< needs momentum > 0 and dampening == 0
};

inline void validate(const SgdOptions& o) {
  detail::check_lr(o.lr, "SGD");
  detail::check_beta(o.momentum, "momentum", "SGD");
  CTRNET_CHECK(std::isfinite(o.dampening) && o.dampening >= 0.0 && o.dampening <= 1.0,
               "SGD: dampening must be in [0, 1], got ", o.dampening);
  detail::check_nonneg(o.weight_decay, "weight_decay", "SGD");
  CTRNET_CHECK(!o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0),
               "SGD: nesterov momentum requires momentum > 0 and dampening = 0");
}

/// \brief SGD (+momentum, Nesterov, L2 weight decay) over a flat buffer.
/// \tparam T float or double. State: "momentum_buffer" [n] when momentum > 0.
template <class T>
class Sgd : public detail::DenseOptimizerBase {
 public:
  using Options = SgdOptions;
  using value_type = T;

  explicit Sgd(const SgdOptions& o = {}) : opt_(o) { validate(opt_); }

  /// Allocates the state for `size` parameters (done by the first step() otherwise).
  void init(index_t size) {
    CTRNET_CHECK(size >= 0, "SGD: invalid parameter count ", size);
    size_ = size;
    velocity_.assign(opt_.momentum > 0.0 ? size : 0, T(0));
    step_ = 0;
  }

  /// values -= update(grads); values, grads: [n].
  template <class P>
  void step(const P& policy, std::span<T> values, std::span<const T> grads) {
    detail::check_dense_sizes(values.size(), grads.size(), size_, "SGD");
    if (!initialized()) init(static_cast<index_t>(values.size()));
    kernels::SgdArgs<T> a;
    a.neg_lr = static_cast<T>(-opt_.lr);
    a.momentum = static_cast<T>(opt_.momentum);
    a.one_minus_dampening = static_cast<T>(1.0 - opt_.dampening);
    a.weight_decay = static_cast<T>(opt_.weight_decay);
    a.nesterov = opt_.nesterov;
    a.first_step = step_ == 0;
    kernels::sgd_update(policy, a, values.data(), grads.data(), opt_.momentum > 0.0 ? velocity_.data() : nullptr,
                        size_);
    ++step_;
  }

  double lr() const { return opt_.lr; }
  void set_lr(double lr) {
    detail::check_runtime_lr(lr, "SGD");
    opt_.lr = lr;
  }
  const SgdOptions& options() const { return opt_; }

  OptimizerState<T> state() {
    OptimizerState<T> s;
    if (opt_.momentum > 0.0) s.push_back({"momentum_buffer", velocity_.span(), {size_}, &velocity_.space()});
    return s;
  }

 private:
  SgdOptions opt_;
  Buffer<T> velocity_;
};

}  // namespace ctrnet
