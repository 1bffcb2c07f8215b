// The reference policy: plain loops, templated on T (float and double). The truth that every
// faster backend is tested against.
#pragma once

namespace ctrnet {

/// \brief Reference backend tag: simplest correct loops, single-threaded.
struct cpu_scalar {
  static constexpr const char* name = "cpu_scalar";
};

/// The same policy restricted to the calling thread (for work already inside a parallel region,
/// such as a GEMM epilogue).
inline cpu_scalar single_threaded(const cpu_scalar& p) { return p; }

}  // namespace ctrnet
