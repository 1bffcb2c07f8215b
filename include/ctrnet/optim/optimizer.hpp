// Types shared by the optimizers: named state tensors (for checkpoints), option validation, the
// dense / sparse optimizer kinds with their string names, and the concepts every optimizer meets.
//
// Dense optimizers (sgd.hpp, adam.hpp, adagrad.hpp, ftrl.hpp) update the whole flat parameter
// buffer in one fused kernel per step:   opt.step(policy, values, grads)   values, grads: [n]
// Sparse optimizers (sparse.hpp) update only the rows of an embedding table listed in its sparse
// gradient:   opt.apply(policy, table, sparse_rows)   table: [rows, dim]
// Hyper-parameters are doubles; per-step constants are computed in double and converted to T.
#pragma once
#include <array>
#include <cctype>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/core/memory.hpp"
#include "ctrnet/core/types.hpp"
#include "ctrnet/kernels/sparse_rows.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet {

/// \brief One named piece of optimizer state, e.g. {"exp_avg", span, {n}} or {"sum", span, {rows}}.
/// The span aliases the optimizer's own buffer: a checkpoint loader writes into it.
template <class T>
struct StateTensor {
  std::string name;
  std::span<T> values;
  std::vector<index_t> shape;
  MemorySpace* space = nullptr;  ///< where `values` live (null: host memory); io copies through it
};

/// All state of one optimizer (the step count is separate: step_count() / set_step_count()).
template <class T>
using OptimizerState = std::vector<StateTensor<T>>;

/// Dense optimizer kinds (DenseOptimizer in dense.hpp).
enum class DenseKind { sgd, adam, adamw, adagrad, ftrl };
/// Sparse (embedding-table) optimizer kinds (SparseOptimizer in sparse.hpp).
enum class SparseKind { sgd, adagrad, rowwise_adagrad, lazy_adam, ftrl };

namespace detail {

inline std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char& c : out)
    if (c == '-') c = '_';
  return out;
}

inline void check_lr(double lr, std::string_view who) {
  CTRNET_CHECK(std::isfinite(lr) && lr > 0.0, who, ": learning rate must be a finite number > 0, got ", lr);
}
/// Run-time lr (set by schedules): 0 is allowed (e.g. the first step of a warm-up from 0).
inline void check_runtime_lr(double lr, std::string_view who) {
  CTRNET_CHECK(std::isfinite(lr) && lr >= 0.0, who, ": learning rate must be a finite number >= 0, got ", lr);
}
inline void check_beta(double beta, std::string_view name, std::string_view who) {
  CTRNET_CHECK(std::isfinite(beta) && beta >= 0.0 && beta < 1.0, who, ": ", name, " must be in [0, 1), got ", beta);
}
inline void check_nonneg(double x, std::string_view name, std::string_view who) {
  CTRNET_CHECK(std::isfinite(x) && x >= 0.0, who, ": ", name, " must be a finite number >= 0, got ", x);
}
inline void check_positive(double x, std::string_view name, std::string_view who) {
  CTRNET_CHECK(std::isfinite(x) && x > 0.0, who, ": ", name, " must be a finite number > 0, got ", x);
}

/// A dense step's spans: equal lengths, and the length the state was made for (state is created on
/// the first step when init() was not called).
inline void check_dense_sizes(std::size_t values, std::size_t grads, index_t state, std::string_view who) {
  CTRNET_CHECK(values == grads, who, ": values has ", values, " elements but grads has ", grads);
  CTRNET_CHECK(state < 0 || static_cast<index_t>(values) == state, who, ": state was initialised for ", state,
               " parameters, step() got ", values);
}

/// A sparse apply's arguments: table shape matches the state, gradient dim matches, ids in range.
template <class P, class T>
inline void check_sparse_args(const P& policy, index_t rows, index_t dim, ConstMatrixView<T> table,
                              const SparseRows<T>& grad, std::string_view who) {
  CTRNET_CHECK(table.rows == rows && table.cols == dim, who, ": state was initialised for a [", rows, ", ", dim,
               "] table, apply() got [", table.rows, ", ", table.cols, "]");
  CTRNET_CHECK(table.contiguous() || table.rows <= 1, who, ": the table view must be contiguous");
  if (grad.empty()) return;
  CTRNET_CHECK(grad.dim() == dim, who, ": sparse gradient has dim ", grad.dim(), ", the table has dim ", dim);
  const index_t bad = kernels::first_id_outside(policy, grad, rows);
  if (bad == grad.size()) return;
  detail::throw_error(who, ": sparse gradient row id ", read_element(grad.space(), grad.ids(), bad),
                      " is outside the table [0, ", rows, ")");
}

/// Step counter and state size shared by the dense optimizers.
class DenseOptimizerBase {
 public:
  /// Number of step() calls so far (Adam's t after the call is step_count()).
  std::int64_t step_count() const { return step_; }
  /// For checkpoint restore.
  void set_step_count(std::int64_t s) {
    CTRNET_CHECK(s >= 0, "optimizer step count must be >= 0, got ", s);
    step_ = s;
  }
  /// Number of parameters the state was made for; -1 before init() / the first step().
  index_t size() const { return size_; }
  bool initialized() const { return size_ >= 0; }

 protected:
  std::int64_t step_ = 0;
  index_t size_ = -1;
};

/// Step counter and table shape shared by the sparse optimizers.
class SparseOptimizerBase {
 public:
  /// Number of apply() calls so far (touched rows or not): the global step of lazy Adam.
  std::int64_t step_count() const { return step_; }
  void set_step_count(std::int64_t s) {
    CTRNET_CHECK(s >= 0, "optimizer step count must be >= 0, got ", s);
    step_ = s;
  }
  index_t rows() const { return rows_; }
  index_t dim() const { return dim_; }
  bool initialized() const { return rows_ >= 0; }

 protected:
  void check_shape(index_t rows, index_t dim, std::string_view who) const {
    CTRNET_CHECK(rows >= 0 && dim > 0, who, ": invalid table shape [", rows, ", ", dim, "]");
  }
  std::int64_t step_ = 0;
  index_t rows_ = -1;
  index_t dim_ = 0;
};

}  // namespace detail

inline constexpr std::string_view to_string(DenseKind k) {
  switch (k) {
    case DenseKind::sgd: return "sgd";
    case DenseKind::adam: return "adam";
    case DenseKind::adamw: return "adamw";
    case DenseKind::adagrad: return "adagrad";
    case DenseKind::ftrl: return "ftrl";
  }
  return "?";
}

inline constexpr std::string_view to_string(SparseKind k) {
  switch (k) {
    case SparseKind::sgd: return "sgd";
    case SparseKind::adagrad: return "adagrad";
    case SparseKind::rowwise_adagrad: return "rowwise_adagrad";
    case SparseKind::lazy_adam: return "lazy_adam";
    case SparseKind::ftrl: return "ftrl";
  }
  return "?";
}

/// "sgd", "adam", "adamw", "adagrad", "ftrl" (case-insensitive). Throws ctrnet::Error otherwise.
inline DenseKind parse_dense_kind(std::string_view name) {
  const std::string s = detail::lower_ascii(name);
  for (DenseKind k : {DenseKind::sgd, DenseKind::adam, DenseKind::adamw, DenseKind::adagrad, DenseKind::ftrl})
    if (s == to_string(k)) return k;
  detail::throw_error("unknown dense optimizer '", name, "'; expected one of: sgd, adam, adamw, adagrad, ftrl");
}

/// "sgd", "adagrad", "rowwise_adagrad" (also "row_wise_adagrad"), "lazy_adam" (also "sparse_adam"),
/// "ftrl" (case-insensitive, '-' reads as '_'). Throws ctrnet::Error otherwise.
inline SparseKind parse_sparse_kind(std::string_view name) {
  const std::string s = detail::lower_ascii(name);
  if (s == "row_wise_adagrad") return SparseKind::rowwise_adagrad;
  if (s == "sparse_adam") return SparseKind::lazy_adam;
  for (SparseKind k : {SparseKind::sgd, SparseKind::adagrad, SparseKind::rowwise_adagrad, SparseKind::lazy_adam,
                       SparseKind::ftrl})
    if (s == to_string(k)) return k;
  detail::throw_error("unknown sparse optimizer '", name,
                      "'; expected one of: sgd, adagrad, rowwise_adagrad, lazy_adam (sparse_adam), ftrl");
}

/// What DenseOptimizer and ModelOptimizer expect of a dense optimizer over T.
template <class O, class T>
concept DenseOptimizerFor = requires(O o, const O co, const cpu_scalar& p, std::span<T> v, std::span<const T> g) {
  o.init(index_t{});
  o.step(p, v, g);
  o.set_lr(1.0);
  { co.lr() } -> std::convertible_to<double>;
  { co.step_count() } -> std::convertible_to<std::int64_t>;
  o.set_step_count(std::int64_t{});
  { o.state() } -> std::same_as<OptimizerState<T>>;
};

/// What SparseOptimizer and ModelOptimizer expect of an embedding-table optimizer over T.
template <class O, class T>
concept SparseOptimizerFor = requires(O o, const O co, const cpu_scalar& p, Matrix<T>& table, const SparseRows<T>& g) {
  o.init(index_t{}, index_t{});
  o.apply(p, table, g);
  o.set_lr(1.0);
  { co.lr() } -> std::convertible_to<double>;
  { co.step_count() } -> std::convertible_to<std::int64_t>;
  o.set_step_count(std::int64_t{});
  { o.state() } -> std::same_as<OptimizerState<T>>;
};

}  // namespace ctrnet
