// The reference policy: plain loops, templated on T (float and double). The truth that every
// faster backend is tested against.
#pragma once
#include "ctrnet/policy/execution.hpp"

namespace ctrnet {

/// \brief Reference backend: simplest correct loops, single-threaded. `context` (null: host memory,
/// no kernel hooks) is how a policy derived from it supplies its memory and kernel boundaries
/// (policy/execution.hpp; testing::cpu_guarded).
struct cpu_scalar {
  static constexpr const char* name = "cpu_scalar";
  ExecutionContext* context = nullptr;
};

/// The same policy restricted to the calling thread (for work already inside a parallel region,
/// such as a GEMM epilogue).
inline cpu_scalar single_threaded(const cpu_scalar& p) { return p; }

}  // namespace ctrnet
