// Where tensors live. A MemorySpace allocates, zeroes and copies raw bytes of ONE kind of memory
// (host RAM, a guarded test arena, later a GPU's memory); an owning Buffer<T> (and Matrix<T>, which
// is built on it) remembers the space it was allocated in and never reads or writes its elements
// on the host except through operator[] / operator() (host code that does so on a device space is
// exactly the bug the guarded test policy, testing/cpu_guarded.hpp, makes crash).
//
// Which space a new buffer uses: the one given to bind()/the constructor, else the thread's
// *current* space, set for a scope by MemoryScope. A policy carries its space (policy/execution.hpp)
// and every entry point that takes a policy (Model::forward/predict/..., the trainers) opens a
// MemoryScope for it, so caches, gradients and optimizer state that a layer or trainer resizes are
// allocated where that policy's kernels can reach them. Outside any scope the current space is the
// host (plain RAM: data, metrics, tests).
#pragma once
#include <cstddef>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/core/types.hpp"

namespace ctrnet {

/// \brief Raw memory of one kind: 64-byte aligned allocation, zeroing, and copies between it and the
/// host (or within it). Copies are the ONLY way host code moves data in or out of a device space.
class MemorySpace {
 public:
  virtual ~MemorySpace() = default;
  virtual const char* name() const = 0;
  /// True when host code may read and write this memory directly (plain RAM).
  virtual bool host_accessible() const = 0;
  /// `bytes` > 0, 64-byte aligned; throws std::bad_alloc when out of memory.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* p, std::size_t bytes) noexcept = 0;
  /// Copies `bytes`; each of dst and src is host memory or memory of this space.
  virtual void copy(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void zero(void* dst, std::size_t bytes) = 0;
};

/// \brief Plain RAM through aligned operator new: what the CPU policies use.
class HostMemory final : public MemorySpace {
 public:
  const char* name() const override { return "host"; }
  bool host_accessible() const override { return true; }
  void* allocate(std::size_t bytes) override { return ::operator new(bytes, std::align_val_t{kAlignment}); }
  void deallocate(void* p, std::size_t) noexcept override { ::operator delete(p, std::align_val_t{kAlignment}); }
  void copy(void* dst, const void* src, std::size_t bytes) override {
    if (bytes > 0 && dst != src) std::memmove(dst, src, bytes);
  }
  void zero(void* dst, std::size_t bytes) override {
    if (bytes > 0) std::memset(dst, 0, bytes);
  }
};

inline MemorySpace& host_memory() {
  static HostMemory host;
  return host;
}

namespace detail {
inline MemorySpace*& current_memory_slot() {
  thread_local MemorySpace* current = nullptr;
  return current;
}
}  // namespace detail

/// The space new buffers of this thread are allocated in (the host outside any MemoryScope).
inline MemorySpace& current_memory() {
  MemorySpace* m = detail::current_memory_slot();
  return m != nullptr ? *m : host_memory();
}

/// \brief RAII: makes `space` the thread's current space until the scope ends (scopes nest).
class MemoryScope {
 public:
  explicit MemoryScope(MemorySpace& space) : previous_(detail::current_memory_slot()) {
    detail::current_memory_slot() = &space;
  }
  ~MemoryScope() { detail::current_memory_slot() = previous_; }
  MemoryScope(const MemoryScope&) = delete;
  MemoryScope& operator=(const MemoryScope&) = delete;

 private:
  MemorySpace* previous_;
};

/// Element i of the values at `x` in `space`, copied to the host (one value for a message or a
/// check; the bulk copies are Buffer::download / to_host).
template <class T>
T read_element(MemorySpace& space, const T* x, index_t i) {
  T v{};
  space.copy(&v, x + i, sizeof(T));
  return v;
}

/// \brief Owning, 64-byte aligned, contiguous array of T in one MemorySpace. Resizing keeps the
/// capacity (a cache resized to the same size every step does not allocate). Contents after a
/// growing resize are unspecified; zero() and assign_zero() clear through the space.
template <class T>
class Buffer {
  static_assert(std::is_trivially_copyable_v<T>, "ctrnet::Buffer holds trivially copyable elements");

 public:
  Buffer() = default;
  explicit Buffer(MemorySpace& space) : space_(&space) {}
  Buffer(const Buffer& o) : space_(o.space_) {
    resize(o.size_);
    if (size_ > 0) space().copy(data_, o.data_, bytes(size_));
  }
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(const Buffer& o) {
    if (this == &o) return *this;
    if (space_ == nullptr) space_ = o.space_;
    resize(o.size_);
    if (size_ > 0) copy_between(data_, o.data_, *o.space_);
    return *this;
  }
  Buffer& operator=(Buffer&& o) noexcept {
    Buffer tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~Buffer() { release(); }

  void swap(Buffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(capacity_, o.capacity_);
    std::swap(space_, o.space_);
  }

  /// The space this buffer lives in (bound on first allocation to the thread's current space).
  MemorySpace& space() const { return space_ != nullptr ? *space_ : current_memory(); }
  /// Chooses the space before the first allocation (a bound, allocated buffer keeps its space).
  void bind(MemorySpace& s) {
    if (space_ == &s) return;
    release();
    space_ = &s;
  }

  void resize(index_t n) {
    reserve(n);
    size_ = static_cast<std::size_t>(n);
  }
  /// Grows the capacity to at least n elements, keeping size() and the contents (like std::vector).
  void reserve(index_t n) {
    const auto want = static_cast<std::size_t>(n);
    if (want <= capacity_) return;
    MemorySpace& s = space();
    T* fresh = static_cast<T*>(s.allocate(bytes(want)));
    if (size_ > 0) s.copy(fresh, data_, bytes(size_));
    release_storage();
    space_ = &s;
    data_ = fresh;
    capacity_ = want;
  }
  index_t capacity() const { return static_cast<index_t>(capacity_); }
  /// Resize to n elements, all zero.
  void assign_zero(index_t n) {
    resize(n);
    zero();
  }
  void zero() {
    if (size_ > 0) space().zero(data_, bytes(size_));
  }
  /// Resize to n elements, all `value` (zero through the space; another value staged on the host
  /// when the space is not host-accessible).
  void assign(index_t n, T value) {
    resize(n);
    if (value == T(0)) {
      zero();
    } else if (space().host_accessible()) {
      for (std::size_t i = 0; i < size_; ++i) data_[i] = value;
    } else {
      AlignedVector<T> host(size_, value);
      space().copy(data_, host.data(), bytes(size_));
    }
  }
  void clear() { size_ = 0; }

  index_t size() const { return static_cast<index_t>(size_); }
  bool empty() const { return size_ == 0; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  /// Host element access: only for host-accessible spaces (a device space faults here).
  T& operator[](index_t i) { return data_[i]; }
  const T& operator[](index_t i) const { return data_[i]; }
  /// The elements as a span (host access only for host-accessible spaces).
  std::span<T> span() { return {data_, size_}; }
  std::span<const T> span() const { return {data_, size_}; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

  /// Copies n elements from host memory into the buffer (resized to n).
  void upload(const T* host, index_t n) {
    resize(n);
    if (n > 0) space().copy(data_, host, bytes(size_));
  }
  /// Copies the buffer's elements into host memory (size() elements).
  void download(T* host) const {
    if (size_ > 0) space().copy(host, data_, bytes(size_));
  }
  /// The elements copied into a new host vector (the explicit copy back, for checks and files).
  std::vector<T> to_host() const {
    std::vector<T> out(size_);
    download(out.data());
    return out;
  }
  /// Writes elements [offset, offset + n) on the host: fill(p) gets n host values to write, the
  /// elements themselves when the space is host memory (they keep the values fill leaves alone),
  /// else a zeroed staging area copied in afterwards.
  template <class Fill>
  void write_on_host(index_t offset, index_t n, Fill&& fill) {
    if (space().host_accessible()) {
      fill(data_ + offset);
      return;
    }
    AlignedVector<T> host(static_cast<std::size_t>(n));
    fill(host.data());
    space().copy(data_ + offset, host.data(), bytes(static_cast<std::size_t>(n)));
  }

 private:
  static std::size_t bytes(std::size_t n) { return n * sizeof(T); }
  // Copies size_ elements from `src` (memory of `from`) into data_: through whichever space is not
  // the host, so a device space sees every copy that touches its memory.
  void copy_between(T* dst, const T* src, MemorySpace& from) {
    MemorySpace& to = space();
    (to.host_accessible() && !from.host_accessible() ? from : to).copy(dst, src, bytes(size_));
  }
  void release_storage() noexcept {
    if (data_ != nullptr) space_->deallocate(data_, bytes(capacity_));
    data_ = nullptr;
    capacity_ = 0;
  }
  void release() noexcept {
    release_storage();
    size_ = 0;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  MemorySpace* space_ = nullptr;
};

}  // namespace ctrnet
