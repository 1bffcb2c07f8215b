// Finite-difference gradient check for any ctrnet layer (after dlib's test_layer), in double on
// cpu_scalar. With a random g, f(θ, x) = <y(θ, x), g>; central differences
//   ∂f/∂θ_i ≈ (f(θ + ε e_i) − f(θ − ε e_i)) / 2ε
// are compared with backward(dy = g). To prove the gradients are accumulated (+=) and not
// overwritten, the parameter gradients (dense and sparse) and the input gradient are pre-filled
// with random values that are subtracted afterwards. The error of a tensor is
//   ||g − g_num|| / max(||g + g_num||, 1e-12)   (mlpack's criterion; both ≈ 0 passes).
#pragma once
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::testing {

struct GradCheckReport {
  struct Entry {
    std::string name;
    double error = 0.0;
    double norm = 0.0;  // ||g_num||
  };
  std::vector<Entry> entries;
  double tolerance = 1e-6;

  double max_error() const {
    double m = 0.0;
    for (const auto& e : entries) m = std::max(m, e.error);
    return m;
  }
  bool ok() const { return max_error() <= tolerance && !entries.empty(); }
  std::string summary() const {
    std::ostringstream os;
    for (const auto& e : entries) os << "  " << e.name << ": rel. error " << e.error << " (|g_num| " << e.norm << ")\n";
    return os.str();
  }
};

namespace detail {
inline double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0.0, sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    sum += (a[i] + b[i]) * (a[i] + b[i]);
  }
  diff = std::sqrt(diff);
  sum = std::sqrt(sum);
  if (sum < 1e-12) return diff;
  return diff / sum;
}
inline double norm(const std::vector<double>& a) {
  double s = 0.0;
  for (double v : a) s += v * v;
  return std::sqrt(s);
}

/// Input of the check: a dense matrix or a batch.
template <class Kind>
struct CheckInput;
template <>
struct CheckInput<Dense> {
  Matrix<double> x;
  ConstMatrixView<double> view() const { return x.cview(); }
  index_t rows() const { return x.rows(); }
};
template <>
struct CheckInput<Sparse> {
  const BatchView* b = nullptr;
  const BatchView& view() const { return *b; }
  index_t rows() const { return b->size; }
};
}  // namespace detail

/// Options of a gradient check.
struct GradCheckOptions {
  double eps = 1e-6;
  double tolerance = 1e-6;
  std::uint64_t seed = 42;
  Context ctx{};              ///< e.g. training = true to check dropout with a fixed mask
  bool check_input = true;    ///< dense inputs only
};

namespace detail {
template <class L, class Kind>
GradCheckReport run_gradcheck(const L& layer, const ParamRegistry& reg, ModelParams<double>& params,
                              CheckInput<Kind>& in, index_t out_dim, const GradCheckOptions& opt) {
  GradCheckReport rep;
  rep.tolerance = opt.tolerance;
  Rng rng(opt.seed ^ 0xC0FFEEull);
  const index_t rows = in.rows();
  const cpu_scalar p;

  Matrix<double> g(rows, out_dim);
  for (index_t i = 0; i < g.size(); ++i) g.data()[i] = rng.uniform(-1.0, 1.0);

  auto objective = [&]() {
    typename L::template Cache<double> c;
    Matrix<double> y(rows, out_dim, 0.0);
    layer.forward(p, params.weights(), in.view(), y.view(), c, opt.ctx);
    double f = 0.0;
    for (index_t i = 0; i < y.size(); ++i) f += y.data()[i] * g.data()[i];
    return f;
  };

  // Analytic gradients, with pre-filled buffers.
  ModelGrads<double> grads;
  grads.allocate(reg);
  std::vector<double> dense_seed(grads.dense.size());
  for (std::size_t i = 0; i < dense_seed.size(); ++i) grads.dense[i] = dense_seed[i] = rng.uniform(-1.0, 1.0);
  std::vector<std::vector<double>> table_seed(grads.tables.size());
  for (std::size_t t = 0; t < grads.tables.size(); ++t) {
    const index_t dim = grads.tables[t].dim();
    double* r0 = grads.tables[t].row(0);  // pre-seed row 0
    for (index_t j = 0; j < dim; ++j) table_seed[t].push_back(r0[j] = rng.uniform(-1.0, 1.0));
  }
  Matrix<double> dx;
  std::vector<double> dx_seed;
  {
    typename L::template Cache<double> c;
    Matrix<double> y(rows, out_dim, 0.0);
    layer.forward(p, params.weights(), in.view(), y.view(), c, opt.ctx);
    if constexpr (std::same_as<Kind, Dense>) {
      dx.resize(rows, in.x.cols());
      for (index_t i = 0; i < dx.size(); ++i) {
        dx.data()[i] = rng.uniform(-1.0, 1.0);
        dx_seed.push_back(dx.data()[i]);
      }
      layer.backward(p, params.weights(), c, g.cview(), opt.check_input ? dx.view() : MatrixView<double>{},
                     grads.gradients());
    } else {
      layer.backward(p, params.weights(), c, g.cview(), NoInputGrad{}, grads.gradients());
    }
  }

  // Dense parameters, tensor by tensor.
  for (const auto& info : reg.params()) {
    std::vector<double> ana, num;
    for (index_t i = 0; i < info.handle.size(); ++i) {
      const std::size_t k = static_cast<std::size_t>(info.handle.offset + i);
      ana.push_back(grads.dense[k] - dense_seed[k]);
      const double v = params.dense[k];
      params.dense[k] = v + opt.eps;
      const double fp = objective();
      params.dense[k] = v - opt.eps;
      const double fm = objective();
      params.dense[k] = v;
      num.push_back((fp - fm) / (2 * opt.eps));
    }
    rep.entries.push_back({info.name, rel_error(ana, num), norm(num)});
  }
  // Tables: every entry (untouched rows must have a zero numerical gradient).
  for (const auto& info : reg.tables()) {
    const std::size_t t = static_cast<std::size_t>(info.handle.id);
    auto& table = params.tables[t];
    auto& sg = grads.tables[t];
    std::vector<double> ana(static_cast<std::size_t>(table.size()), 0.0), num;
    for (index_t k = 0; k < sg.size(); ++k)
      for (index_t j = 0; j < table.cols(); ++j)
        ana[static_cast<std::size_t>(sg.id(k) * table.cols() + j)] =
            sg.values(k)[j] - (sg.id(k) == 0 ? table_seed[t][static_cast<std::size_t>(j)] : 0.0);
    for (index_t i = 0; i < table.size(); ++i) {
      const double v = table.data()[i];
      table.data()[i] = v + opt.eps;
      const double fp = objective();
      table.data()[i] = v - opt.eps;
      const double fm = objective();
      table.data()[i] = v;
      num.push_back((fp - fm) / (2 * opt.eps));
    }
    rep.entries.push_back({info.name, rel_error(ana, num), norm(num)});
  }
  // Input.
  if constexpr (std::same_as<Kind, Dense>) {
    if (opt.check_input) {
      std::vector<double> ana, num;
      for (index_t i = 0; i < in.x.size(); ++i) {
        ana.push_back(dx.data()[i] - dx_seed[static_cast<std::size_t>(i)]);
        const double v = in.x.data()[i];
        in.x.data()[i] = v + opt.eps;
        const double fp = objective();
        in.x.data()[i] = v - opt.eps;
        const double fm = objective();
        in.x.data()[i] = v;
        num.push_back((fp - fm) / (2 * opt.eps));
      }
      rep.entries.push_back({"input", rel_error(ana, num), norm(num)});
    }
  }
  return rep;
}
}  // namespace detail

/// Builds `layer` for input width `in_dim`, initialises its parameters randomly (seeded) and
/// checks input and parameter gradients on a random batch of `rows` examples.
template <DenseLayer L>
GradCheckReport check_gradients(L layer, index_t rows, index_t in_dim, const GradCheckOptions& opt = {}) {
  ParamRegistry reg;
  const index_t out = layer.build(in_dim, reg);
  ModelParams<double> params;
  params.initialize(reg, opt.seed);
  // Randomise everything (zero-initialised biases would hide bugs).
  Rng rng(opt.seed + 1);
  for (auto& v : params.dense) v = rng.uniform(-0.5, 0.5);
  for (auto& t : params.tables)
    for (index_t i = 0; i < t.size(); ++i) t.data()[i] = rng.uniform(-0.5, 0.5);
  detail::CheckInput<Dense> in;
  in.x.resize(rows, in_dim);
  for (index_t i = 0; i < in.x.size(); ++i) in.x.data()[i] = rng.uniform(-1.0, 1.0);
  return detail::run_gradcheck<L, Dense>(layer, reg, params, in, out, opt);
}

/// Same for a layer that reads the batch (input gradient not applicable).
template <SparseLayer L>
GradCheckReport check_gradients(L layer, const Schema& schema, const BatchView& batch, const GradCheckOptions& opt = {}) {
  ParamRegistry reg;
  const index_t out = layer.build(schema, reg);
  ModelParams<double> params;
  params.initialize(reg, opt.seed);
  Rng rng(opt.seed + 1);
  for (auto& v : params.dense) v = rng.uniform(-0.5, 0.5);
  for (auto& t : params.tables)
    for (index_t i = 0; i < t.size(); ++i) t.data()[i] = rng.uniform(-0.5, 0.5);
  detail::CheckInput<Sparse> in;
  in.b = &batch;
  return detail::run_gradcheck<L, Sparse>(layer, reg, params, in, out, opt);
}

}  // namespace ctrnet::testing
