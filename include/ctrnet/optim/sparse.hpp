// Embedding-table optimizers: they read and write ONLY the rows listed in a SparseRows<T> gradient
// (row ids + rows), so untouched rows and their state stay bitwise unchanged. State is allocated at
// init(rows, dim) (or by the first apply()). One optimizer object per table.
//   SparseSgd        θ_r −= lr g_r
//   SparseAdagrad    G_r += g_r²;  θ_r −= lr g_r / (√G_r + ε)                 (per element; Duchi et al. 2011)
//   RowWiseAdagrad   G_r += mean_j g_rj²;  θ_r −= lr / (√G_r + ε) · g_r       (one G per row; FBGEMM/TorchRec)
//   LazyAdam         m_r += (g_r − m_r)(1 − β1);  v_r += (g_r² − v_r)(1 − β2);
//                    θ_r −= lr √(1 − β2^t)/(1 − β1^t) · m_r / (√v_r + ε)       (PyTorch SparseAdam, TF LazyAdam;
//                    t = number of apply() calls, the global step)
//   SparseFtrl       FTRL-Proximal per element of the touched rows             (McMahan et al. 2013, Alg. 1)
// cpu_simd runs the touched rows in parallel; rows are independent, so results do not depend on the
// thread count. SparseOptimizer<T> picks one of them at run time from SparseOptimizerOptions.
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/kernels/optim.hpp"
#include "ctrnet/optim/ftrl.hpp"
#include "ctrnet/optim/optimizer.hpp"

namespace ctrnet {

struct SparseSgdOptions {
  double lr = 1e-2;
};
struct SparseAdagradOptions {
  double lr = 1e-2;
  double eps = 1e-10;
  double initial_accumulator = 0.0;
};
struct RowWiseAdagradOptions {
  double lr = 1e-2;
  double eps = 1e-8;
  double initial_accumulator = 0.0;
};
struct LazyAdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

inline void validate(const SparseSgdOptions& o) { detail::check_lr(o.lr, "sparse SGD"); }
inline void validate(const SparseAdagradOptions& o) {
  detail::check_lr(o.lr, "sparse Adagrad");
  detail::check_positive(o.eps, "eps", "sparse Adagrad");
  detail::check_nonneg(o.initial_accumulator, "initial_accumulator", "sparse Adagrad");
}
inline void validate(const RowWiseAdagradOptions& o) {
  detail::check_lr(o.lr, "row-wise Adagrad");
  detail::check_positive(o.eps, "eps", "row-wise Adagrad");
  detail::check_nonneg(o.initial_accumulator, "initial_accumulator", "row-wise Adagrad");
}
inline void validate(const LazyAdamOptions& o) {
  detail::check_lr(o.lr, "lazy Adam");
  detail::check_beta(o.beta1, "beta1", "lazy Adam");
  detail::check_beta(o.beta2, "beta2", "lazy Adam");
  detail::check_positive(o.eps, "eps", "lazy Adam");
}

namespace detail {
/// The common part of every sparse optimizer's apply(): lazy init, argument checks, step count.
template <class Self, class P, class T>
inline void begin_apply(Self& self, const P& policy, MatrixView<T> table, const SparseRows<T>& grad,
                        std::string_view who) {
  if (!self.initialized()) self.init(table.rows, table.cols);
  check_sparse_args(policy, self.rows(), self.dim(), ConstMatrixView<T>(table), grad, who);
}
}  // namespace detail

/// \brief Plain SGD on the touched rows. No state.
template <class T>
class SparseSgd : public detail::SparseOptimizerBase {
 public:
  using Options = SparseSgdOptions;
  using value_type = T;
  explicit SparseSgd(const SparseSgdOptions& o = {}) : opt_(o) { validate(opt_); }

  void init(index_t rows, index_t dim) {
    check_shape(rows, dim, "sparse SGD");
    rows_ = rows;
    dim_ = dim;
    step_ = 0;
  }
  /// table: [rows, dim].
  template <class P>
  void apply(const P& policy, MatrixView<T> table, const SparseRows<T>& grad) {
    detail::begin_apply(*this, policy, table, grad, "sparse SGD");
    kernels::SgdArgs<T> a;
    a.neg_lr = static_cast<T>(-opt_.lr);
    kernels::sparse_sgd_update(policy, a, table, grad);
    ++step_;
  }
  template <class P>
  void apply(const P& policy, Matrix<T>& table, const SparseRows<T>& grad) {
    apply(policy, table.view(), grad);
  }

  double lr() const { return opt_.lr; }
  void set_lr(double lr) {
    detail::check_runtime_lr(lr, "sparse SGD");
    opt_.lr = lr;
  }
  const SparseSgdOptions& options() const { return opt_; }
  OptimizerState<T> state() { return {}; }

 private:
  SparseSgdOptions opt_;
};

/// \brief Adagrad with one accumulator per element of the table. State: "sum" [rows, dim].
template <class T>
class SparseAdagrad : public detail::SparseOptimizerBase {
 public:
  using Options = SparseAdagradOptions;
  using value_type = T;
  explicit SparseAdagrad(const SparseAdagradOptions& o = {}) : opt_(o) { validate(opt_); }

  void init(index_t rows, index_t dim) {
    check_shape(rows, dim, "sparse Adagrad");
    rows_ = rows;
    dim_ = dim;
    sum_.resize(rows, dim, static_cast<T>(opt_.initial_accumulator));
    step_ = 0;
  }
  template <class P>
  void apply(const P& policy, MatrixView<T> table, const SparseRows<T>& grad) {
    detail::begin_apply(*this, policy, table, grad, "sparse Adagrad");
    kernels::AdagradArgs<T> a;
    a.neg_lr = static_cast<T>(-opt_.lr);
    a.eps = static_cast<T>(opt_.eps);
    kernels::sparse_adagrad_update(policy, a, table, grad, sum_.view());
    ++step_;
  }
  template <class P>
  void apply(const P& policy, Matrix<T>& table, const SparseRows<T>& grad) {
    apply(policy, table.view(), grad);
  }

  double lr() const { return opt_.lr; }
  void set_lr(double lr) {
    detail::check_runtime_lr(lr, "sparse Adagrad");
    opt_.lr = lr;
  }
  const SparseAdagradOptions& options() const { return opt_; }
  OptimizerState<T> state() { return {{"sum", sum_.span(), {rows_, dim_}, &sum_.space()}}; }

 private:
  SparseAdagradOptions opt_;
  Matrix<T> sum_;
};

/// \brief Row-wise Adagrad: ONE accumulator per row, G_r += mean_j g_rj² (FBGEMM / TorchRec's
/// EXACT_ROWWISE_ADAGRAD); 1/dim of Adagrad's state. State: "sum" [rows].
template <class T>
class RowWiseAdagrad : public detail::SparseOptimizerBase {
 public:
  using Options = RowWiseAdagradOptions;
  using value_type = T;
  explicit RowWiseAdagrad(const RowWiseAdagradOptions& o = {}) : opt_(o) { validate(opt_); }

  void init(index_t rows, index_t dim) {
    check_shape(rows, dim, "row-wise Adagrad");
    rows_ = rows;
    dim_ = dim;
    sum_.assign(rows, static_cast<T>(opt_.initial_accumulator));
    step_ = 0;
  }
  template <class P>
  void apply(const P& policy, MatrixView<T> table, const SparseRows<T>& grad) {
    detail::begin_apply(*this, policy, table, grad, "row-wise Adagrad");
    const kernels::RowwiseAdagradArgs<T> a{static_cast<T>(opt_.lr), static_cast<T>(opt_.eps)};
    kernels::sparse_rowwise_adagrad_update(policy, a, table, grad, sum_.data());
    ++step_;
  }
  template <class P>
  void apply(const P& policy, Matrix<T>& table, const SparseRows<T>& grad) {
    apply(policy, table.view(), grad);
  }

  double lr() const { return opt_.lr; }
  void set_lr(double lr) {
    detail::check_runtime_lr(lr, "row-wise Adagrad");
    opt_.lr = lr;
  }
  const RowWiseAdagradOptions& options() const { return opt_; }
  OptimizerState<T> state() { return {{"sum", sum_.span(), {rows_}, &sum_.space()}}; }

 private:
  RowWiseAdagradOptions opt_;
  Buffer<T> sum_;
};

/// \brief Lazy Adam (PyTorch SparseAdam): moments of the touched rows only, bias correction with
/// the global step t = number of apply() calls. State: "exp_avg", "exp_avg_sq" [rows, dim].
/// Note ε is added to √v (not √v̂) as in SparseAdam / TF LazyAdam, so a row touched every step
/// follows dense Adam up to the ε term.
template <class T>
class LazyAdam : public detail::SparseOptimizerBase {
 public:
  using Options = LazyAdamOptions;
  using value_type = T;
  explicit LazyAdam(const LazyAdamOptions& o = {}) : opt_(o) { validate(opt_); }

  void init(index_t rows, index_t dim) {
    check_shape(rows, dim, "lazy Adam");
    rows_ = rows;
    dim_ = dim;
    m_.resize(rows, dim, T(0));
    v_.resize(rows, dim, T(0));
    step_ = 0;
  }
  template <class P>
  void apply(const P& policy, MatrixView<T> table, const SparseRows<T>& grad) {
    detail::begin_apply(*this, policy, table, grad, "lazy Adam");
    ++step_;
    kernels::sparse_lazy_adam_update(policy, args(step_), table, grad, m_.view(), v_.view());
  }
  template <class P>
  void apply(const P& policy, Matrix<T>& table, const SparseRows<T>& grad) {
    apply(policy, table.view(), grad);
  }

  /// The constants of step t >= 1, in double as PyTorch computes them.
  kernels::SparseAdamArgs<T> args(std::int64_t t) const {
    const double td = static_cast<double>(t);
    const double bias_correction1 = 1.0 - std::pow(opt_.beta1, td);
    const double bias_correction2 = 1.0 - std::pow(opt_.beta2, td);
    const double step_size = opt_.lr * std::sqrt(bias_correction2) / bias_correction1;
    return {static_cast<T>(1.0 - opt_.beta1), static_cast<T>(1.0 - opt_.beta2), static_cast<T>(opt_.eps),
            static_cast<T>(-step_size)};
  }

  double lr() const { return opt_.lr; }
  void set_lr(double lr) {
    detail::check_runtime_lr(lr, "lazy Adam");
    opt_.lr = lr;
  }
  const LazyAdamOptions& options() const { return opt_; }
  OptimizerState<T> state() {
    return {{"exp_avg", m_.span(), {rows_, dim_}, &m_.space()},
            {"exp_avg_sq", v_.span(), {rows_, dim_}, &v_.space()}};
  }

 private:
  LazyAdamOptions opt_;
  Matrix<T> m_, v_;
};

/// \brief FTRL-Proximal on the touched rows (per element z, n). State: "z", "n" [rows, dim].
template <class T>
class SparseFtrl : public detail::SparseOptimizerBase {
 public:
  using Options = FtrlOptions;
  using value_type = T;
  explicit SparseFtrl(const FtrlOptions& o = {}) : opt_(o) { validate(opt_); }

  void init(index_t rows, index_t dim) {
    check_shape(rows, dim, "sparse FTRL");
    rows_ = rows;
    dim_ = dim;
    z_.resize(rows, dim, T(0));
    n_.resize(rows, dim, static_cast<T>(opt_.initial_accumulator));
    step_ = 0;
  }
  template <class P>
  void apply(const P& policy, MatrixView<T> table, const SparseRows<T>& grad) {
    detail::begin_apply(*this, policy, table, grad, "sparse FTRL");
    const kernels::FtrlArgs<T> a{static_cast<T>(opt_.alpha), static_cast<T>(opt_.beta), static_cast<T>(opt_.l1),
                                 static_cast<T>(opt_.l2)};
    if (opt_.alpha > 0.0) kernels::sparse_ftrl_update(policy, a, table, grad, z_.view(), n_.view());
    ++step_;
  }
  template <class P>
  void apply(const P& policy, Matrix<T>& table, const SparseRows<T>& grad) {
    apply(policy, table.view(), grad);
  }

  /// α.
  double lr() const { return opt_.alpha; }
  /// Sets α; 0 turns the next applies into no-ops until α > 0 again.
  void set_lr(double lr) {
    detail::check_runtime_lr(lr, "sparse FTRL");
    opt_.alpha = lr;
  }
  const FtrlOptions& options() const { return opt_; }
  OptimizerState<T> state() {
    return {{"z", z_.span(), {rows_, dim_}, &z_.space()},
            {"n", n_.span(), {rows_, dim_}, &n_.space()}};
  }

 private:
  FtrlOptions opt_;
  Matrix<T> z_, n_;
};

/// \brief Flat options for every sparse kind; fields a kind does not use are ignored.
struct SparseOptimizerOptions {
  SparseKind kind = SparseKind::adagrad;
  std::optional<double> lr{};        ///< default: sgd/adagrad/rowwise_adagrad 1e-2, lazy_adam 1e-3, ftrl (α) 0.1
  std::optional<double> eps{};       ///< default: adagrad 1e-10, rowwise_adagrad 1e-8, lazy_adam 1e-8
  double beta1 = 0.9;                ///< lazy_adam
  double beta2 = 0.999;              ///< lazy_adam
  double initial_accumulator = 0.0;  ///< adagrad, rowwise_adagrad (G_0), ftrl (n_0)
  double ftrl_beta = 1.0;            ///< ftrl β
  double l1 = 0.0;                   ///< ftrl λ1
  double l2 = 0.0;                   ///< ftrl λ2

  static SparseOptimizerOptions named(std::string_view name) {
    SparseOptimizerOptions o;
    o.kind = parse_sparse_kind(name);
    return o;
  }
};

/// \brief An embedding-table optimizer selected at run time; the same interface as each one.
template <class T>
class SparseOptimizer {
 public:
  using value_type = T;

  explicit SparseOptimizer(const SparseOptimizerOptions& o = {}) : kind_(o.kind), impl_(make(o)) {}
  explicit SparseOptimizer(std::string_view name) : SparseOptimizer(SparseOptimizerOptions::named(name)) {}

  SparseKind kind() const { return kind_; }
  std::string_view name() const { return to_string(kind_); }

  void init(index_t rows, index_t dim) {
    std::visit([&](auto& o) { o.init(rows, dim); }, impl_);
  }
  template <class P>
  void apply(const P& policy, MatrixView<T> table, const SparseRows<T>& grad) {
    std::visit([&](auto& o) { o.apply(policy, table, grad); }, impl_);
  }
  template <class P>
  void apply(const P& policy, Matrix<T>& table, const SparseRows<T>& grad) {
    apply(policy, table.view(), grad);
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
  bool initialized() const {
    return std::visit([](const auto& o) { return o.initialized(); }, impl_);
  }
  OptimizerState<T> state() {
    return std::visit([](auto& o) { return o.state(); }, impl_);
  }
  template <class O>
  O& get() {
    return std::get<O>(impl_);
  }

 private:
  using Impl = std::variant<SparseSgd<T>, SparseAdagrad<T>, RowWiseAdagrad<T>, LazyAdam<T>, SparseFtrl<T>>;

  static Impl make(const SparseOptimizerOptions& o) {
    switch (o.kind) {
      case SparseKind::sgd: return SparseSgd<T>(SparseSgdOptions{o.lr.value_or(1e-2)});
      case SparseKind::adagrad:
        return SparseAdagrad<T>(SparseAdagradOptions{o.lr.value_or(1e-2), o.eps.value_or(1e-10), o.initial_accumulator});
      case SparseKind::rowwise_adagrad:
        return RowWiseAdagrad<T>(RowWiseAdagradOptions{o.lr.value_or(1e-2), o.eps.value_or(1e-8), o.initial_accumulator});
      case SparseKind::lazy_adam:
        return LazyAdam<T>(LazyAdamOptions{o.lr.value_or(1e-3), o.beta1, o.beta2, o.eps.value_or(1e-8)});
      case SparseKind::ftrl:
        return SparseFtrl<T>(FtrlOptions{o.lr.value_or(0.1), o.ftrl_beta, o.l1, o.l2, o.initial_accumulator});
    }
    detail::throw_error("SparseOptimizer: invalid kind ", static_cast<int>(o.kind));
  }

  SparseKind kind_;
  Impl impl_;
};

static_assert(SparseOptimizerFor<SparseSgd<float>, float>);
static_assert(SparseOptimizerFor<SparseAdagrad<float>, float>);
static_assert(SparseOptimizerFor<RowWiseAdagrad<float>, float>);
static_assert(SparseOptimizerFor<LazyAdam<double>, double>);
static_assert(SparseOptimizerFor<SparseFtrl<float>, float>);
static_assert(SparseOptimizerFor<SparseOptimizer<float>, float>);

}  // namespace ctrnet
