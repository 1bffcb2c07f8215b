// FTRL-Proximal (McMahan et al. 2013, "Ad Click Prediction: a View from the Trenches", Algorithm 1),
// per coordinate, with state z and n:
//   σ = (√(n + g²) − √n) / α;   z ← z + g − σθ;   n ← n + g²;
//   θ = 0 if |z| ≤ λ1, else −(z − sgn(z) λ1) / ((β + √n) / α + λ2)
// θ is stored (the paper recomputes it from z, n before each prediction; this is the same value).
// λ1 > 0 gives exact zeros for weak coordinates: the sparse linear ("wide") part of Wide & Deep.
#pragma once
#include <cmath>
#include <cstdint>
#include <span>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/kernels/optim.hpp"
#include "ctrnet/optim/optimizer.hpp"

namespace ctrnet {

struct FtrlOptions {
  double alpha = 0.1;                ///< α, the learning rate (> 0); set_lr() sets it
  double beta = 1.0;                 ///< β >= 0 (the paper: "β = 1 is usually good")
  double l1 = 0.0;                   ///< λ1 >= 0
  double l2 = 0.0;                   ///< λ2 >= 0
  double initial_accumulator = 0.0;  ///< n_0 >= 0
};

inline void validate(const FtrlOptions& o) {
  detail::check_lr(o.alpha, "FTRL");
  detail::check_nonneg(o.beta, "beta", "FTRL");
  detail::check_nonneg(o.l1, "l1", "FTRL");
  detail::check_nonneg(o.l2, "l2", "FTRL");
  detail::check_nonneg(o.initial_accumulator, "initial_accumulator", "FTRL");
  CTRNET_CHECK(o.beta > 0.0 || o.l2 > 0.0 || o.initial_accumulator > 0.0,
               "FTRL: beta, l2 and initial_accumulator are all 0, so a coordinate with n = 0 and |z| > l1 would "
               "divide by zero; set beta > 0 (1 is the paper's choice)");
}

/// \brief FTRL-Proximal over a flat buffer. State: "z" and "n", each [n].
template <class T>
class Ftrl : public detail::DenseOptimizerBase {
 public:
  using Options = FtrlOptions;
  using value_type = T;

  explicit Ftrl(const FtrlOptions& o = {}) : opt_(o) { validate(opt_); }

  void init(index_t size) {
    CTRNET_CHECK(size >= 0, "FTRL: invalid parameter count ", size);
    size_ = size;
    z_.assign(size, T(0));
    n_.assign(size, static_cast<T>(opt_.initial_accumulator));
    step_ = 0;
  }

  template <class P>
  void step(const P& policy, std::span<T> values, std::span<const T> grads) {
    detail::check_dense_sizes(values.size(), grads.size(), size_, "FTRL");
    if (!initialized()) init(static_cast<index_t>(values.size()));
    // α = 0 (set by a schedule, e.g. a warm-up from 0) means "no update": σ would divide by 0.
    if (opt_.alpha > 0.0) kernels::ftrl_update(policy, args(), values.data(), grads.data(), z_.data(), n_.data(), size_);
    ++step_;
  }

  kernels::FtrlArgs<T> args() const {
    return {static_cast<T>(opt_.alpha), static_cast<T>(opt_.beta), static_cast<T>(opt_.l1), static_cast<T>(opt_.l2)};
  }

  /// α.
  double lr() const { return opt_.alpha; }
  /// Sets α; 0 turns the next steps into no-ops (no state update) until α > 0 again.
  void set_lr(double lr) {
    detail::check_runtime_lr(lr, "FTRL");
    opt_.alpha = lr;
  }
  const FtrlOptions& options() const { return opt_; }

  OptimizerState<T> state() { return {{"z", z_.span(), {size_}, &z_.space()}, {"n", n_.span(), {size_}, &n_.space()}}; }

 private:
  FtrlOptions opt_;
  Buffer<T> z_, n_;
};

}  // namespace ctrnet
