// Adagrad (Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning and
// Stochastic Optimization"), PyTorch semantics (torch.optim.Adagrad), one fused pass:
//   g ← g + λθ;   lr_t = lr / (1 + (t − 1) lr_decay);   G ← G + g²;   θ ← θ − lr_t g / (√G + ε)
// G starts at `initial_accumulator`. Embedding tables use SparseAdagrad / RowWiseAdagrad (sparse.hpp).
#pragma once
#include <cmath>
#include <cstdint>
#include <span>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/kernels/optim.hpp"
#include "ctrnet/optim/optimizer.hpp"

namespace ctrnet {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;             ///< >= 0
  double weight_decay = 0.0;         ///< λ >= 0
  double initial_accumulator = 0.0;  ///< G_0 >= 0
  double eps = 1e-10;                ///< > 0
};

inline void validate(const AdagradOptions& o) {
  detail::check_lr(o.lr, "Adagrad");
  detail::check_nonneg(o.lr_decay, "lr_decay", "Adagrad");
  detail::check_nonneg(o.weight_decay, "weight_decay", "Adagrad");
  detail::check_nonneg(o.initial_accumulator, "initial_accumulator", "Adagrad");
  detail::check_positive(o.eps, "eps", "Adagrad");
}

/// \brief Adagrad over a flat buffer. State: "sum" (G) [n].
template <class T>
class Adagrad : public detail::DenseOptimizerBase {
 public:
  using Options = AdagradOptions;
  using value_type = T;

  explicit Adagrad(const AdagradOptions& o = {}) : opt_(o) { validate(opt_); }

  void init(index_t size) {
    CTRNET_CHECK(size >= 0, "Adagrad: invalid parameter count ", size);
    size_ = size;
    sum_.assign(size, static_cast<T>(opt_.initial_accumulator));
    step_ = 0;
  }

  template <class P>
  void step(const P& policy, std::span<T> values, std::span<const T> grads) {
    detail::check_dense_sizes(values.size(), grads.size(), size_, "Adagrad");
    if (!initialized()) init(static_cast<index_t>(values.size()));
    ++step_;
    kernels::AdagradArgs<T> a;
    const double clr = opt_.lr / (1.0 + static_cast<double>(step_ - 1) * opt_.lr_decay);
    a.neg_lr = static_cast<T>(-clr);
    a.eps = static_cast<T>(opt_.eps);
    a.weight_decay = static_cast<T>(opt_.weight_decay);
    kernels::adagrad_update(policy, a, values.data(), grads.data(), sum_.data(), size_);
  }

  double lr() const { return opt_.lr; }
  void set_lr(double lr) {
    detail::check_runtime_lr(lr, "Adagrad");
    opt_.lr = lr;
  }
  const AdagradOptions& options() const { return opt_; }

  OptimizerState<T> state() { return {{"sum", sum_.span(), {size_}, &sum_.space()}}; }

 private:
  AdagradOptions opt_;
  Buffer<T> sum_;
};

}  // namespace ctrnet
