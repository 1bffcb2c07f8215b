// ModelOptimizer<T>: the optimizers of a whole model, i.e. one DenseOptimizer over the flat dense
// buffer and one SparseOptimizer per embedding table (a default kind, overridable per table name,
// e.g. FTRL for the wide part's tables and row-wise Adagrad for the deep embeddings).
//   opt.init(registry);  per step: opt.set_lr_scale(schedule.factor_at(opt.step_count()));
//   opt.step(policy, params, grads);
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ctrnet/core/params.hpp"
#include "ctrnet/optim/dense.hpp"
#include "ctrnet/optim/optimizer.hpp"
#include "ctrnet/optim/sparse.hpp"

namespace ctrnet {

struct ModelOptimizerOptions {
  DenseOptimizerOptions dense{};
  SparseOptimizerOptions tables{};  ///< every table unless overridden below
  std::vector<std::pair<std::string, SparseOptimizerOptions>> per_table{};  ///< {table name, options}
};

/// \brief Dense + per-table sparse optimizers for a model's ModelParams / ModelGrads.
template <class T>
class ModelOptimizer {
 public:
  explicit ModelOptimizer(ModelOptimizerOptions o = {}) : opt_(std::move(o)), dense_(opt_.dense) {
    dense_base_lr_ = dense_.lr();
  }

  /// Creates the state for the registry's dense buffer and tables. Throws ctrnet::Error if a
  /// per-table override names no table of the registry.
  void init(const ParamRegistry& reg) {
    for (const auto& [name, o] : opt_.per_table)
      CTRNET_CHECK(reg.find_table(name) != nullptr, "optimizer options name embedding table '", name,
                   "', which the model does not have");
    dense_.init(reg.dense_size());
    sparse_.clear();
    table_names_.clear();
    sparse_base_lr_.clear();
    sparse_.reserve(reg.tables().size());
    std::vector<const TableInfo*> by_id(reg.tables().size());
    for (const auto& t : reg.tables()) by_id[static_cast<std::size_t>(t.handle.id)] = &t;
    for (const TableInfo* t : by_id) {
      SparseOptimizerOptions so = opt_.tables;
      for (const auto& [name, o] : opt_.per_table)
        if (name == t->name) so = o;
      sparse_.emplace_back(so);
      sparse_.back().init(t->handle.rows, t->handle.dim);
      table_names_.push_back(t->name);
      sparse_base_lr_.push_back(sparse_.back().lr());
    }
    step_ = 0;
  }

  /// One update of every parameter: dense buffer, then each table's touched rows (table order).
  template <class P>
  void step(const P& policy, ModelParams<T>& params, const ModelGrads<T>& grads) {
    CTRNET_CHECK(params.tables.size() == sparse_.size() && grads.tables.size() == sparse_.size(),
                 "ModelOptimizer: initialised for ", sparse_.size(), " tables, got ", params.tables.size(),
                 " parameter tables and ", grads.tables.size(), " gradient tables (call init(registry))");
    dense_.step(policy, std::span<T>(params.dense), std::span<const T>(grads.dense));
    for (std::size_t t = 0; t < sparse_.size(); ++t) sparse_[t].apply(policy, params.tables[t], grads.tables[t]);
    ++step_;
  }

  /// Every optimizer's lr = its base lr (from its options) · factor.
  void set_lr_scale(double factor) {
    detail::check_runtime_lr(factor, "ModelOptimizer: lr scale");
    dense_.set_lr(dense_base_lr_ * factor);
    for (std::size_t t = 0; t < sparse_.size(); ++t) sparse_[t].set_lr(sparse_base_lr_[t] * factor);
  }

  std::int64_t step_count() const { return step_; }
  void set_step_count(std::int64_t s) {
    CTRNET_CHECK(s >= 0, "optimizer step count must be >= 0, got ", s);
    step_ = s;
    dense_.set_step_count(s);
    for (auto& o : sparse_) o.set_step_count(s);
  }

  DenseOptimizer<T>& dense() { return dense_; }
  SparseOptimizer<T>& table(index_t id) { return sparse_.at(static_cast<std::size_t>(id)); }
  const std::vector<std::string>& table_names() const { return table_names_; }

  /// All state, named "dense.<state>" and "<table name>.<state>" (e.g. "embedding.C14.sum").
  OptimizerState<T> state() {
    OptimizerState<T> out;
    for (auto& s : dense_.state()) out.push_back({"dense." + s.name, s.values, s.shape, s.space});
    for (std::size_t t = 0; t < sparse_.size(); ++t)
      for (auto& s : sparse_[t].state()) out.push_back({table_names_[t] + "." + s.name, s.values, s.shape, s.space});
    return out;
  }

 private:
  ModelOptimizerOptions opt_;
  DenseOptimizer<T> dense_;
  double dense_base_lr_ = 0.0;
  std::vector<SparseOptimizer<T>> sparse_;
  std::vector<std::string> table_names_;
  std::vector<double> sparse_base_lr_;
  std::int64_t step_ = 0;
};

}  // namespace ctrnet
