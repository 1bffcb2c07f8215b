// DenseOptimizer<T>: one of SGD, Adam, AdamW, Adagrad, FTRL over the flat dense buffer, chosen at
// run time by kind or name ("adamw"), so a trainer or command-line tool can pick it from options.
// A std::variant: no virtual call, and each step is still one fused kernel.
#pragma once
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "ctrnet/optim/adagrad.hpp"
#include "ctrnet/optim/adam.hpp"
#include "ctrnet/optim/ftrl.hpp"
#include "ctrnet/optim/optimizer.hpp"
#include "ctrnet/optim/sgd.hpp"

namespace ctrnet {

/// \brief Flat options for every dense kind; fields a kind does not use are ignored.
struct DenseOptimizerOptions {
  DenseKind kind = DenseKind::adam;
  std::optional<double> lr{};          ///< default: sgd 1e-3, adam/adamw 1e-3, adagrad 1e-2, ftrl (α) 0.1
  std::optional<double> weight_decay{}; ///< default: 0, adamw 1e-2 (ftrl: use l2)
  std::optional<double> eps{};         ///< default: adam/adamw 1e-8, adagrad 1e-10
  double momentum = 0.0;               ///< sgd
  double dampening = 0.0;              ///< sgd
  bool nesterov = false;               ///< sgd
  double beta1 = 0.9;                  ///< adam, adamw
  double beta2 = 0.999;                ///< adam, adamw
  double lr_decay = 0.0;               ///< adagrad
  double initial_accumulator = 0.0;    ///< adagrad (G_0), ftrl (n_0)
  double ftrl_beta = 1.0;              ///< ftrl β
  double l1 = 0.0;                     ///< ftrl λ1
  double l2 = 0.0;                     ///< ftrl λ2

  /// Options of kind `name` (see parse_dense_kind), everything else default.
  static DenseOptimizerOptions named(std::string_view name) {
    DenseOptimizerOptions o;
    o.kind = parse_dense_kind(name);
    return o;
  }
};

/// \brief A dense optimizer selected at run time; the same interface as each optimizer.
template <class T>
class DenseOptimizer {
 public:
  using value_type = T;

  explicit DenseOptimizer(const DenseOptimizerOptions& o = {}) : kind_(o.kind), impl_(make(o)) {}
  explicit DenseOptimizer(std::string_view name) : DenseOptimizer(DenseOptimizerOptions::named(name)) {}

  DenseKind kind() const { return kind_; }
  std::string_view name() const { return to_string(kind_); }

  void init(index_t size) {
    std::visit([&](auto& o) { o.init(size); }, impl_);
  }
  template <class P>
  void step(const P& policy, std::span<T> values, std::span<const T> grads) {
    std::visit([&](auto& o) { o.step(policy, values, grads); }, impl_);
  }
  double lr() const {
    return std::visit([](const auto& o) { return o.lr(); }, impl_);
  }
  void set_lr(double lr) {
    std::visit([&](auto& o) { o.set_lr(lr); }, impl_);
  }
  std::int64_t step_count() const {
    return std::visit([](const auto& o) { return o.step_count(); }, impl_);
  }
  void set_step_count(std::int64_t s) {
    std::visit([&](auto& o) { o.set_step_count(s); }, impl_);
  }
  index_t size() const {
    return std::visit([](const auto& o) { return o.size(); }, impl_);
  }
  OptimizerState<T> state() {
    return std::visit([](auto& o) { return o.state(); }, impl_);
  }

  /// The concrete optimizer, e.g. get<Adam<T>>() (AdamW is held as Adam with decoupled = true).
  template <class O>
  O& get() {
    return std::get<O>(impl_);
  }

 private:
  using Impl = std::variant<Sgd<T>, Adam<T>, Adagrad<T>, Ftrl<T>>;

  static Impl make(const DenseOptimizerOptions& o) {
    switch (o.kind) {
      case DenseKind::sgd:
        return Sgd<T>(SgdOptions{o.lr.value_or(1e-3), o.momentum, o.dampening, o.weight_decay.value_or(0.0),
                                 o.nesterov});
      case DenseKind::adam:
      case DenseKind::adamw: {
        const bool w = o.kind == DenseKind::adamw;
        return Adam<T>(AdamOptions{o.lr.value_or(1e-3), o.beta1, o.beta2, o.eps.value_or(1e-8),
                                   o.weight_decay.value_or(w ? 1e-2 : 0.0), w});
      }
      case DenseKind::adagrad:
        return Adagrad<T>(AdagradOptions{o.lr.value_or(1e-2), o.lr_decay, o.weight_decay.value_or(0.0),
                                         o.initial_accumulator, o.eps.value_or(1e-10)});
      case DenseKind::ftrl:
        CTRNET_CHECK(!o.weight_decay || *o.weight_decay == 0.0,
                     "FTRL has no weight_decay option; use l2 (and l1) instead");
        return Ftrl<T>(FtrlOptions{o.lr.value_or(0.1), o.ftrl_beta, o.l1, o.l2, o.initial_accumulator});
    }
    detail::throw_error("DenseOptimizer: invalid kind ", static_cast<int>(o.kind));
  }

  DenseKind kind_;
  Impl impl_;
};

static_assert(DenseOptimizerFor<Sgd<float>, float>);
static_assert(DenseOptimizerFor<Adam<double>, double>);
static_assert(DenseOptimizerFor<Adagrad<float>, float>);
static_assert(DenseOptimizerFor<Ftrl<float>, float>);
static_assert(DenseOptimizerFor<DenseOptimizer<float>, float>);

}  // namespace ctrnet
