// What a policy object carries besides its type: an ExecutionContext, which names the memory its
// kernels read and write (core/memory.hpp) and is told when each kernel starts and ends.
//
//   memory_of(p)          the MemorySpace of p's tensors: parameters, gradients, optimizer state,
//                         caches (host RAM when p has no context: cpu_scalar{}, cpu_simd{})
//   CTRNET_KERNEL_SCOPE(p)   first line of every cpu_scalar kernel: enter_kernel()/exit_kernel()
//                         around its body. Host code runs between kernels; a device context (a GPU
//                         stream, or the guarded test arena of testing/cpu_guarded.hpp, which is
//                         readable only inside a kernel) uses these to order or guard the work.
//
// Kernels nest (a GEMM epilogue calls elementwise kernels inside the GEMM): contexts count depth.
#pragma once
#include "ctrnet/core/memory.hpp"

namespace ctrnet {

/// \brief A backend's execution state: its memory and the kernel boundaries.
class ExecutionContext {
 public:
  virtual ~ExecutionContext() = default;
  virtual MemorySpace& memory() = 0;
  virtual void enter_kernel() {}
  virtual void exit_kernel() noexcept {}
};

/// The memory a policy's tensors live in: its context's, else the host.
template <class P>
MemorySpace& memory_of(const P& p) {
  return p.context != nullptr ? p.context->memory() : host_memory();
}

/// \brief RAII kernel boundary (CTRNET_KERNEL_SCOPE); free when the policy has no context.
class KernelScope {
 public:
  template <class P>
  explicit KernelScope(const P& p) : context_(p.context) {
    if (context_ != nullptr) context_->enter_kernel();
  }
  ~KernelScope() {
    if (context_ != nullptr) context_->exit_kernel();
  }
  KernelScope(const KernelScope&) = delete;
  KernelScope& operator=(const KernelScope&) = delete;

 private:
  ExecutionContext* context_;
};

/// \brief RAII: the policy's memory is the thread's current space (every policy entry point).
class PolicyScope {
 public:
  template <class P>
  explicit PolicyScope(const P& p) : memory_(memory_of(p)) {}

 private:
  MemoryScope memory_;
};

}  // namespace ctrnet

#define CTRNET_KERNEL_SCOPE(policy) const ::ctrnet::KernelScope ctrnet_kernel_scope_(policy)
