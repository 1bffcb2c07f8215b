// The fast CPU policy: xsimd kernels and oneTBB threads. It derives from cpu_scalar, so a
// kernel without a SIMD overload falls back to the scalar one by derived-to-base conversion.
#pragma once
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet {

class CpuContext;  // policy/cpu_context.hpp: host memory + a oneTBB arena

/// \brief SIMD + threads backend tag.
/// `max_threads` caps the oneTBB workers a kernel may use (0 = whatever the arena allows).
/// `cpu`: the execution context whose arena the kernels run in (policy/cpu_context.hpp;
/// cpu_simd_in(ctx) sets it and `context`); null: the calling thread's arena.
/// Results never depend on the thread count: kernels split work only over independent outputs.
struct cpu_simd : cpu_scalar {
  static constexpr const char* name = "cpu_simd";
  int max_threads = 0;
  CpuContext* cpu = nullptr;
};

inline cpu_simd single_threaded(const cpu_simd& p) {
  cpu_simd s = p;
  s.max_threads = 1;
  return s;
}

}  // namespace ctrnet
