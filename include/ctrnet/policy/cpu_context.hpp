// The execution context of cpu_simd: the host's memory and a oneTBB task arena that the policy's
// work runs in.
//
//   CpuContext ctx(4);                        // an arena of 4 threads (0: every core)
//   const cpu_simd p = cpu_simd_in(ctx);      // kernels that split work run in ctx's arena
//   ctx.execute([&] { model.predict(p, batch, out, cache); });
//
// The trainers own one (sized by their `threads` option) and run every step inside it; a policy
// that already names a CpuContext brings its own instead. Without a context a cpu_simd kernel runs
// in the calling thread's arena, capped by max_threads (kernels/simd/gemm.hpp keeps a process-wide
// cache of capped arenas for that case only). Results never depend on the arena's size.
#pragma once
#include <type_traits>
#include <utility>

#include <tbb/task_arena.h>

#include "ctrnet/core/error.hpp"
#include "ctrnet/policy/cpu_simd.hpp"
#include "ctrnet/policy/execution.hpp"

namespace ctrnet {

/// \brief Host memory + a oneTBB arena: what cpu_simd needs to run.
class CpuContext final : public ExecutionContext {
 public:
  /// `threads` > 0: an arena of that many threads; 0: as many as oneTBB gives the process.
  explicit CpuContext(int threads = 0) : arena_(arena_size(threads)) {}
  CpuContext(const CpuContext&) = delete;
  CpuContext& operator=(const CpuContext&) = delete;

  MemorySpace& memory() override { return host_memory(); }
  /// The threads work in this context can use.
  int max_concurrency() { return arena_.max_concurrency(); }
  /// Runs f() inside the arena (directly when the caller is already in it) and returns its result.
  template <class F>
  decltype(auto) execute(F&& f) {
    return arena_.execute(std::forward<F>(f));
  }

 private:
  static int arena_size(int threads) {
    CTRNET_CHECK(threads >= 0, "CpuContext: threads must be >= 0 (0: all cores), got ", threads);
    return threads > 0 ? threads : tbb::task_arena::automatic;
  }
  tbb::task_arena arena_;
};

/// cpu_simd whose kernels run in `ctx` (its memory: the host).
inline cpu_simd cpu_simd_in(CpuContext& ctx, int max_threads = 0) {
  cpu_simd p;
  p.context = &ctx;
  p.cpu = &ctx;
  p.max_threads = max_threads;
  return p;
}

/// For an owner of a CpuContext (the trainers): a cpu_simd policy that names no context at all is
/// given `own`, so its kernels run where the owner runs its steps.
template <class P>
void give_context(P& p, CpuContext& own) {
  if constexpr (std::is_base_of_v<cpu_simd, P>)
    if (p.cpu == nullptr && p.context == nullptr) {
      p.cpu = &own;
      p.context = &own;
    }
}
/// Where work for policy `p` runs: its CpuContext when it names one, else `own`.
template <class P>
CpuContext& context_of(const P& p, CpuContext& own) {
  if constexpr (std::is_base_of_v<cpu_simd, P>)
    if (p.cpu != nullptr) return *p.cpu;
  return own;
}

/// Runs f() in the policy's arena when it names a CpuContext, else on the calling thread's arena.
template <class F>
void run_in_policy_arena(const cpu_simd& p, F&& f) {
  if (p.cpu != nullptr)
    p.cpu->execute(std::forward<F>(f));
  else
    f();
}
/// cpu_scalar has no arena of its own.
template <class F>
void run_in_policy_arena(const cpu_scalar&, F&& f) {
  f();
}

}  // namespace ctrnet
