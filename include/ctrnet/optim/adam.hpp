// Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization") and AdamW (Loshchilov &
// Hutter 2019, "Decoupled Weight Decay Regularization"), in PyTorch's operation order
// (torch.optim.Adam, _single_tensor_adam, amsgrad = false), one fused pass over the flat buffer:
//   AdamW: θ ← θ (1 − lr λ)        Adam with weight_decay: g ← g + λθ
//   m ← m + (1 − β1)(g − m);  v ← β2 v + (1 − β2) g²
//   θ ← θ − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)     (= θ − lr · m̂ / (√v̂ + ε))
#pragma once
#include <cmath>
#include <cstdint>
#include <span>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/kernels/optim.hpp"
#include "ctrnet/optim/optimizer.hpp"

namespace ctrnet {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;         ///< in [0, 1)
  double beta2 = 0.999;       ///< in [0, 1)
  double eps = 1e-8;          ///< > 0
  double weight_decay = 0.0;  ///< λ >= 0
  bool decoupled = false;     ///< true: AdamW (θ *= 1 − lr λ); false: L2 (g += λθ)
};

/// AdamW's options: PyTorch's defaults (weight_decay 1e-2), always decoupled.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

inline void validate(const AdamOptions& o) {
  const char* who = o.decoupled ? "AdamW" : "Adam";
  detail::check_lr(o.lr, who);
  detail::check_beta(o.beta1, "beta1", who);
  detail::check_beta(o.beta2, "beta2", who);
  detail::check_positive(o.eps, "eps", who);
  detail::check_nonneg(o.weight_decay, "weight_decay", who);
}

inline AdamOptions to_adam_options(const AdamWOptions& o) {
  return AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, true};
}

/// \brief Adam / AdamW over a flat buffer.
/// \tparam T float or double. State: "exp_avg" (m) and "exp_avg_sq" (v), each [n].
template <class T>
class Adam : public detail::DenseOptimizerBase {
 public:
  using Options = AdamOptions;
  using value_type = T;

  explicit Adam(const AdamOptions& o = {}) : opt_(o) { validate(opt_); }

  void init(index_t size) {
    CTRNET_CHECK(size >= 0, "Adam: invalid parameter count ", size);
    size_ = size;
    m_.assign(size, T(0));
    v_.assign(size, T(0));
    step_ = 0;
  }

  /// values, grads: [n]. Increments the step count, then applies step t = step_count().
  template <class P>
  void step(const P& policy, std::span<T> values, std::span<const T> grads) {
    detail::check_dense_sizes(values.size(), grads.size(), size_, opt_.decoupled ? "AdamW" : "Adam");
    if (!initialized()) init(static_cast<index_t>(values.size()));
    ++step_;
    const kernels::AdamArgs<T> a = args(step_);
    kernels::adam_update(policy, a, values.data(), grads.data(), m_.data(), v_.data(), size_);
  }

  /// The per-step constants of step t (>= 1), computed in double as PyTorch does.
  kernels::AdamArgs<T> args(std::int64_t t) const {
    const double td = static_cast<double>(t);
    const double bias_correction1 = 1.0 - std::pow(opt_.beta1, td);
    const double bias_correction2 = 1.0 - std::pow(opt_.beta2, td);
    kernels::AdamArgs<T> a;
    a.decoupled = opt_.decoupled && opt_.weight_decay != 0.0;
    a.decay = static_cast<T>(1.0 - opt_.lr * opt_.weight_decay);
    a.l2 = opt_.decoupled ? T(0) : static_cast<T>(opt_.weight_decay);
    a.beta1_weight = static_cast<T>(1.0 - opt_.beta1);
    a.beta1_weight_rest = T(1) - a.beta1_weight;
    a.beta2 = static_cast<T>(opt_.beta2);
    a.one_minus_beta2 = static_cast<T>(1.0 - opt_.beta2);
    a.bias_correction2_sqrt = static_cast<T>(std::pow(bias_correction2, 0.5));
    a.eps = static_cast<T>(opt_.eps);
    a.neg_step_size = static_cast<T>(-(opt_.lr / bias_correction1));
    return a;
  }

  double lr() const { return opt_.lr; }
  void set_lr(double lr) {
    detail::check_runtime_lr(lr, "Adam");
    opt_.lr = lr;
  }
  const AdamOptions& options() const { return opt_; }

  OptimizerState<T> state() {
    return {{"exp_avg", m_.span(), {size_}, &m_.space()}, {"exp_avg_sq", v_.span(), {size_}, &v_.space()}};
  }

 private:
  AdamOptions opt_;
  Buffer<T> m_, v_;
};

/// \brief AdamW: Adam with decoupled weight decay and PyTorch's AdamW defaults.
template <class T>
class AdamW : public Adam<T> {
 public:
  using Options = AdamWOptions;
  explicit AdamW(const AdamWOptions& o = {}) : Adam<T>(to_adam_options(o)) {}
};

}  // namespace ctrnet
