// testing::cpu_guarded: a test policy that proves the backend boundary without a GPU.
//
// It computes exactly like cpu_scalar (it derives from it, so every kernel is the scalar one), but
// its tensors — parameters, gradients, optimizer state, caches, everything allocated through the
// policy (core/memory.hpp) — live in one arena of pages that are PROT_NONE except while one of its
// kernels runs (CTRNET_KERNEL_SCOPE, policy/execution.hpp) or a MemorySpace copy/zero is in progress.
// Host code that reads or writes policy memory outside a kernel — a layer that loops over a cache, a
// trainer that reads predictions without copying them back, a save that reads parameters directly —
// faults, and the SIGSEGV handler names the arena and prints a backtrace before the process dies.
// Whatever passes on cpu_guarded needs only kernels and copies from a device backend: what the CUDA
// policy will provide.
//
// One arena per GuardedContext; contexts are independent. Allocation is first-fit over freed blocks,
// then bump; the arena is reserved (not committed) up front. Kernels may run on several threads:
// the pages are opened by the first kernel to enter and closed by the last to leave (a mutex orders
// the transitions), so a parallel test can miss a host access that overlaps another thread's
// kernel, never report a false one. The guarded tests run on one thread.
#pragma once
#include <execinfo.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/memory.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"
#include "ctrnet/policy/execution.hpp"

namespace ctrnet::testing {

/// \brief The guarded arena: a MemorySpace whose pages host code can touch only inside a kernel.
class GuardedMemory final : public MemorySpace {
 public:
  explicit GuardedMemory(std::size_t reserve_bytes = std::size_t(1) << 34) : reserved_(round_up(reserve_bytes)) {
    void* p = ::mmap(nullptr, reserved_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CTRNET_CHECK(p != MAP_FAILED, "GuardedMemory: cannot reserve ", reserved_, " bytes: ", std::strerror(errno));
    base_ = static_cast<char*>(p);
    register_arena(base_, reserved_);
  }
  ~GuardedMemory() override {
    unregister_arena(base_);
    ::munmap(base_, reserved_);
  }
  GuardedMemory(const GuardedMemory&) = delete;
  GuardedMemory& operator=(const GuardedMemory&) = delete;

  const char* name() const override { return "cpu_guarded"; }
  bool host_accessible() const override { return false; }

  void* allocate(std::size_t bytes) override {
    const std::size_t size = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->second >= size) {  // first fit; the rest of the block stays free
        const std::size_t off = it->first, have = it->second;
        free_.erase(it);
        if (have > size) free_[off + size] = have - size;
        return base_ + off;
      }
    if (top_ + size > reserved_) throw std::bad_alloc();
    const std::size_t off = top_;
    top_ += size;
    const std::size_t committed = round_up(top_);
    if (committed > open_bytes_ && depth_ > 0) protect(open_bytes_, committed, PROT_READ | PROT_WRITE);
    if (depth_ > 0) open_bytes_ = std::max(open_bytes_, committed);
    return base_ + off;
  }
  void deallocate(void* p, std::size_t bytes) noexcept override {
    const std::size_t size = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    std::lock_guard<std::mutex> lock(mutex_);
    free_[static_cast<std::size_t>(static_cast<char*>(p) - base_)] = size;
  }
  void copy(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0 || dst == src) return;
    open();
    std::memmove(dst, src, bytes);
    close();
  }
  void zero(void* dst, std::size_t bytes) override {
    if (bytes == 0) return;
    open();
    std::memset(dst, 0, bytes);
    close();
  }

  /// A kernel starts: the arena becomes readable and writable (nested kernels count).
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (depth_++ == 0) {
      open_bytes_ = round_up(top_);
      if (open_bytes_ > 0) protect(0, open_bytes_, PROT_READ | PROT_WRITE);
    }
  }
  /// The last running kernel ends: the arena is PROT_NONE again.
  void close() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--depth_ == 0 && open_bytes_ > 0) {
      protect(0, open_bytes_, PROT_NONE);
      open_bytes_ = 0;
    }
  }
  bool contains(const void* p) const {
    const char* c = static_cast<const char*>(p);
    return c >= base_ && c < base_ + reserved_;
  }
  /// Bytes handed out so far (high-water mark, freed blocks included).
  std::size_t used_bytes() const { return top_; }
  /// (Re)installs the SIGSEGV reporter, e.g. in a forked child whose test framework replaced it.
  static void install_fault_reporter() {
    struct sigaction sa {};
    sa.sa_sigaction = &on_fault;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, nullptr);
  }
  /// Kernel entries so far (a test can check that work went through the guard at all).
  std::uint64_t kernel_entries() const { return entries_.load(); }
  void count_entry() { entries_.fetch_add(1, std::memory_order_relaxed); }

 private:
  static std::size_t page_size() {
    static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return page;
  }
  static std::size_t round_up(std::size_t bytes) { return (bytes + page_size() - 1) / page_size() * page_size(); }
  void protect(std::size_t from, std::size_t to, int prot) const noexcept {
    if (to > from && ::mprotect(base_ + from, to - from, prot) != 0) {
      std::fputs("ctrnet::testing::GuardedMemory: mprotect failed\n", stderr);
      std::abort();
    }
  }

  // The SIGSEGV handler: a fault inside a registered arena is a host access to policy memory.
  struct Arena {
    const char* base;
    std::size_t bytes;
  };
  static constexpr int kMaxArenas = 16;
  static std::atomic<const char*>* arena_bases() {
    static std::atomic<const char*> bases[kMaxArenas] = {};
    return bases;
  }
  static std::atomic<std::size_t>* arena_sizes() {
    static std::atomic<std::size_t> sizes[kMaxArenas] = {};
    return sizes;
  }
  static void register_arena(const char* base, std::size_t bytes) {
    install_handler();
    for (int i = 0; i < kMaxArenas; ++i) {
      const char* expected = nullptr;
      if (arena_bases()[i].compare_exchange_strong(expected, base)) {
        arena_sizes()[i].store(bytes);
        return;
      }
    }
  }
  static void unregister_arena(const char* base) {
    for (int i = 0; i < kMaxArenas; ++i)
      if (arena_bases()[i].load() == base) arena_sizes()[i].store(0), arena_bases()[i].store(nullptr);
  }
  static void install_handler() {
    static std::once_flag once;
    std::call_once(once, [] { install_fault_reporter(); });
  }
  static void on_fault(int sig, siginfo_t* info, void*) {
    const char* addr = static_cast<const char*>(info->si_addr);
    for (int i = 0; i < kMaxArenas; ++i) {
      const char* b = arena_bases()[i].load();
      if (b != nullptr && addr >= b && addr < b + arena_sizes()[i].load()) {
        static const char msg[] =
            "\nctrnet::testing::cpu_guarded: host code touched policy memory outside a kernel (a read or write of "
            "a tensor that a device backend would hold on the device). Backtrace:\n";
        (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
        void* frames[64];
        const int n = ::backtrace(frames, 64);
        ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
        break;
      }
    }
    ::raise(sig);  // SA_RESETHAND: the default action now ends the process
  }

  char* base_ = nullptr;
  std::size_t reserved_ = 0;
  std::size_t top_ = 0;          // bump pointer
  std::size_t open_bytes_ = 0;   // bytes currently PROT_READ|PROT_WRITE (page multiple)
  int depth_ = 0;                // kernels running
  std::map<std::size_t, std::size_t> free_;  // offset → size of freed blocks
  std::mutex mutex_;
  std::atomic<std::uint64_t> entries_{0};
};

/// \brief The execution context of cpu_guarded: its arena, opened around every kernel.
class GuardedContext final : public ExecutionContext {
 public:
  MemorySpace& memory() override { return memory_; }
  void enter_kernel() override {
    memory_.count_entry();
    memory_.open();
  }
  void exit_kernel() noexcept override { memory_.close(); }
  GuardedMemory& arena() { return memory_; }

 private:
  GuardedMemory memory_;
};

/// \brief cpu_scalar's kernels over guarded memory. Build one from a context that outlives it and
/// every buffer allocated in it (declare the context first):
///   testing::GuardedContext ctx;  testing::cpu_guarded p{ctx};
struct cpu_guarded : cpu_scalar {
  static constexpr const char* name = "cpu_guarded";
  cpu_guarded() = default;
  explicit cpu_guarded(GuardedContext& c) { context = &c; }
};

}  // namespace ctrnet::testing
