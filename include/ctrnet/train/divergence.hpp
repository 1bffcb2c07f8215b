// Stopping a diverged run: the training loops check every step's loss and gradient (before the
// optimizer applies the step) and the parameters before each checkpoint and at each epoch's end, and throw a
// ctrnet::Error naming the epoch, batch and step instead of training on (or saving) NaN/inf values.
#pragma once
#include <cmath>
#include <cstdint>
#include <span>
#include <string>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/finite.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/kernels/finite.hpp"

namespace ctrnet {

/// Where a training step lies in its run, for error messages (epoch 0: not known, e.g. a step
/// outside fit()). `batch` is 0-based, `batches` the number of batches in the epoch (0: unknown).
struct StepPlace {
  std::int64_t epoch = 0;
  std::int64_t batch = 0;
  std::int64_t batches = 0;
};

namespace detail {

inline std::string step_place_text(std::int64_t step, const StepPlace& at) {
  std::string s = "step " + std::to_string(step);
  if (at.epoch > 0) {
    s += " (epoch " + std::to_string(at.epoch) + ", batch " + std::to_string(at.batch + 1);
    if (at.batches > 0) s += " of " + std::to_string(at.batches);
    s += ")";
  }
  return s;
}

/// Throws unless the loss of step `step` (0-based: the number of steps applied before it) is finite.
/// Called before the optimizer applies the step, so the parameters stay those of the last good step.
inline void check_step_loss(double loss, const char* who, std::int64_t step, const StepPlace& at) {
  if (std::isfinite(loss)) return;
  throw_error(who, ": the loss of ", step_place_text(step + 1, at), " is ", value_text(loss),
              ": training diverged (or the batch holds NaN/inf inputs); the step was not applied, and no checkpoint "
              "of a diverged state is written: lower the learning rate (or check the inputs) and train again");
}

/// Throws unless the summed gradient of step `step` (0-based, as for check_step_loss) is finite:
/// one pass over the dense gradient and the touched table rows, cheap next to the step itself.
/// Catches what a finite loss hides (e.g. a NaN input that a ReLU turns into 0 on the way forward).
template <class P, class T>
void check_grads_finite(const P& policy, const ParamRegistry& reg, const ModelGrads<T>& grads, const char* who,
                        std::int64_t step, const StepPlace& at) {
  auto fail = [&](const std::string& name, T v) {
    throw_error(who, ": the gradient of ", step_place_text(step + 1, at), " holds ", value_text(static_cast<double>(v)),
                " for parameter '", name,
                "': training diverged (or the batch holds NaN/inf inputs); the step was not applied, and no "
                "checkpoint of a diverged state is written: lower the learning rate (or check the inputs) and train again");
  };
  const index_t n = grads.dense.size();
  if (const index_t i = kernels::first_non_finite(policy, grads.dense.data(), n); i < n) {
    const T v = read_element(grads.dense.space(), grads.dense.data(), i);
    for (const auto& p : reg.params())
      if (i >= p.handle.offset && i < p.handle.offset + p.handle.size()) fail(p.name, v);
    fail("(padding)", v);
  }
  for (const auto& t : reg.tables()) {  // the sparse rows' values, in the policy's memory too
    const auto& g = grads.tables[static_cast<std::size_t>(t.handle.id)];
    const index_t m = g.size() * g.dim();
    if (const index_t i = kernels::first_non_finite(policy, g.values(), m); i < m)
      fail(t.name, read_element(g.space(), g.values(), i));
  }
}

/// Throws unless every parameter (dense views and tables) is finite, naming the first bad one.
template <class P, class T>
void check_params_finite(const P& policy, const ParamRegistry& reg, const ModelParams<T>& params, const char* who,
                         std::int64_t step, const StepPlace& at) {
  auto fail = [&](const std::string& name, index_t i, T v) {
    throw_error(who, ": parameter '", name, "' holds ", value_text(static_cast<double>(v)), " at index ", i, " after ",
                step_place_text(step, at),
                ": training diverged; no checkpoint of this state was written: lower the learning rate and train "
                "again");
  };
  for (const auto& p : reg.params()) {
    const T* v = params.dense.data() + p.handle.offset;
    const index_t i = kernels::first_non_finite(policy, v, p.handle.size());
    if (i < p.handle.size()) fail(p.name, i, read_element(params.dense.space(), v, i));
  }
  for (const auto& t : reg.tables()) {
    const auto& m = params.tables[static_cast<std::size_t>(t.handle.id)];
    const index_t i = kernels::first_non_finite(policy, m.data(), m.size());
    if (i < m.size()) fail(t.name, i, read_element(m.space(), m.data(), i));
  }
}

}  // namespace detail

}  // namespace ctrnet
