// first_non_finite as a kernel: the index of the first NaN/±inf in n values where the policy keeps
// them (n when all are finite). The divergence checks (train/divergence.hpp) scan gradients and
// parameters with it, then copy the one offending value back for the message.
#pragma once
#include <span>

#include "ctrnet/core/finite.hpp"
#include "ctrnet/core/types.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

template <class T>
index_t first_non_finite(const cpu_scalar& policy, const T* x, index_t n) {
  CTRNET_KERNEL_SCOPE(policy);
  return static_cast<index_t>(ctrnet::first_non_finite(std::span<const T>(x, static_cast<std::size_t>(n))));
}

}  // namespace ctrnet::kernels
