// The value of a loss that writes it through a `double*` (the loss kernels of kernels/loss.hpp and
// kernels/*/retrieval.hpp, every head's loss()): the tests' shorthand on host-memory policies.
//   const double l = loss_value([&](double* out) { head.loss(p, z, batch, norm, dz, out); });
#pragma once
#include <limits>

namespace ctrnet::test_util {

template <class F>
double loss_value(F&& write_loss) {
  double l = std::numeric_limits<double>::quiet_NaN();  // a loss that writes nothing stays NaN
  write_loss(&l);
  return l;
}

}  // namespace ctrnet::test_util
