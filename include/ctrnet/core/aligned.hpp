// A 64-byte aligned allocator, so owning buffers start on a cache line and a full SIMD register.
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace ctrnet {

inline constexpr std::size_t kAlignment = 64;

template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() noexcept = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n == 0) return nullptr;
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{kAlignment}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{kAlignment}); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const noexcept { return true; }
};

/// Owning, 64-byte aligned contiguous buffer.
template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace ctrnet
