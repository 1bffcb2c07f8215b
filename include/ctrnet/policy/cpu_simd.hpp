// The fast CPU policy: xsimd kernels and oneTBB threads. It derives from cpu_scalar, so a
// kernel without a SIMD overload falls back to the scalar one by derived-to-base conversion.
#pragma once
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet {

/// \brief SIMD + threads backend tag.
/// `max_threads` caps the oneTBB workers a kernel may use (0 = whatever the arena allows).
/// Results never depend on the thread count: kernels split work only over independent outputs.
struct cpu_simd : cpu_scalar {
  static constexpr const char* name = "cpu_simd";
  int max_threads = 0;
};

inline cpu_simd single_threaded(const cpu_simd& p) {
  cpu_simd s = p;
  s.max_threads = 1;
  return s;
}

}  // namespace ctrnet
