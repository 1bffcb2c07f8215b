// Matrix views and owning matrices. Dense activations are row-major [rows, cols] with a row
// stride (>= cols) so that a view can address a column block of a wider matrix (Concat).
#pragma once
#include <cassert>
#include <type_traits>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/core/memory.hpp"
#include "ctrnet/core/types.hpp"

namespace ctrnet {

/// \brief Non-owning row-major view: element (r, c) is data[r * stride + c].
/// \tparam T element type; `MatrixView<const T>` is the read-only view.
template <class T>
struct MatrixView {
  T* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;
  index_t stride = 0;

  constexpr MatrixView() = default;
  constexpr MatrixView(T* d, index_t r, index_t c) : data(d), rows(r), cols(c), stride(c) {}
  constexpr MatrixView(T* d, index_t r, index_t c, index_t s) : data(d), rows(r), cols(c), stride(s) {}
  /// A mutable view converts to a const view.
  template <class U>
    requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
  constexpr MatrixView(const MatrixView<U>& o) : data(o.data), rows(o.rows), cols(o.cols), stride(o.stride) {}

  T& operator()(index_t r, index_t c) const {
    assert(r >= 0 && r < rows && c >= 0 && c < cols);
    return data[r * stride + c];
  }
  T* row(index_t r) const { return data + r * stride; }
  bool empty() const { return data == nullptr || rows == 0 || cols == 0; }
  bool contiguous() const { return stride == cols; }
  index_t size() const { return rows * cols; }
  /// Rows [r0, r0 + n).
  MatrixView row_block(index_t r0, index_t n) const { return {data + r0 * stride, n, cols, stride}; }
  /// Columns [c0, c0 + n) of every row.
  MatrixView col_block(index_t c0, index_t n) const { return {data + c0, rows, n, stride}; }
  /// Rows [r0, r1) x columns [c0, c1) (the block a GEMM epilogue receives).
  MatrixView block(index_t r0, index_t r1, index_t c0, index_t c1) const {
    return {data + r0 * stride + c0, r1 - r0, c1 - c0, stride};
  }
};

template <class T>
using ConstMatrixView = MatrixView<const T>;

/// \brief Owning, 64-byte aligned, contiguous row-major matrix in one MemorySpace (core/memory.hpp:
/// the thread's current space when first allocated, e.g. the policy's inside Model::forward).
/// Resizing keeps capacity, so a cache that is resized to the same shape every step does not
/// allocate. Element access through operator() is host access: only for host memory.
template <class T>
class Matrix {
 public:
  Matrix() = default;
  explicit Matrix(MemorySpace& space) : buf_(space) {}
  Matrix(index_t rows, index_t cols, T fill = T(0)) { resize(rows, cols, fill); }

  /// Resize; contents are unspecified unless `fill` semantics are requested with assign().
  void resize(index_t rows, index_t cols) {
    rows_ = rows;
    cols_ = cols;
    buf_.resize(rows * cols);
  }
  void resize(index_t rows, index_t cols, T fill) {
    resize(rows, cols);
    set_all(fill);
  }
  /// Every element = v (Buffer::assign: zero through the space, another value staged for a device).
  void set_all(T v) { buf_.assign(size(), v); }
  void set_zero() { buf_.zero(); }

  /// The space the elements live in; bind() chooses it before the first allocation.
  MemorySpace& space() const { return buf_.space(); }
  void bind(MemorySpace& s) { buf_.bind(s); }

  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  index_t size() const { return rows_ * cols_; }
  T* data() { return buf_.data(); }
  const T* data() const { return buf_.data(); }
  T& operator()(index_t r, index_t c) { return buf_[r * cols_ + c]; }
  const T& operator()(index_t r, index_t c) const { return buf_[r * cols_ + c]; }

  /// The size() elements as a span (host access only for host-accessible spaces).
  std::span<T> span() { return buf_.span(); }
  std::span<const T> span() const { return buf_.span(); }
  MatrixView<T> view() { return {buf_.data(), rows_, cols_, cols_}; }
  ConstMatrixView<T> view() const { return {buf_.data(), rows_, cols_, cols_}; }
  ConstMatrixView<T> cview() const { return view(); }
  operator MatrixView<T>() { return view(); }
  operator ConstMatrixView<T>() const { return view(); }

  /// Copies [rows, cols] host values (row-major, contiguous) in; the shape becomes [rows, cols].
  void upload(const T* host, index_t rows, index_t cols) {
    rows_ = rows;
    cols_ = cols;
    buf_.upload(host, rows * cols);
  }
  /// Copies the size() elements out into host memory.
  void download(T* host) const { buf_.download(host); }
  /// Writes all elements on the host (Buffer::write_on_host): fill(p) gets size() values to write.
  template <class Fill>
  void write_on_host(Fill&& fill) {
    buf_.write_on_host(0, size(), std::forward<Fill>(fill));
  }

 private:
  Buffer<T> buf_;
  index_t rows_ = 0;
  index_t cols_ = 0;
};

}  // namespace ctrnet
