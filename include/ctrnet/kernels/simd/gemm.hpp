// cpu_simd GEMM: C = alpha * op(A) * op(B) + beta * C, GotoBLAS/BLIS style.
//   op(A): [m, k], op(B): [k, n], C: [m, n]; row-major views with strides (column blocks work).
// Blocking (loops from outside in):
//   jc: n in blocks of NC   (packed op(B) block KC x NC lives in L3, shared by all threads)
//   pc: k in blocks of KC   (never split across threads: one thread owns each element of C)
//   ic: m in blocks of MC   (packed op(A) block MC x KC lives in L2, one per thread)
//   jr, ir: NR x MR micro-tiles (B micro-panel KC x NR stays in L1), see gemm_microkernel.hpp.
// oneTBB runs independent (ic, column-chunk) blocks of C in parallel. Every element of C is
// computed by the same sequence of FMAs whatever the thread count, so results are bitwise
// identical for any `max_threads`. m == 1 and n == 1 take a GEMV path without packing.
#pragma once
#include <Eigen/Core>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cassert>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/kernels/simd/gemm_microkernel.hpp"
#include "ctrnet/kernels/trans.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

namespace ctrnet::kernels {

namespace detail {
template <class T>
using EigenRowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using EigenConstMap = Eigen::Map<const EigenRowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using EigenMap = Eigen::Map<EigenRowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class T>
EigenConstMap<T> as_eigen(ConstMatrixView<T> v) {
  return EigenConstMap<T>(v.data, v.rows, v.cols, Eigen::OuterStride<>(v.stride));
}
template <class T>
EigenMap<T> as_eigen(MatrixView<T> v) {
  return EigenMap<T>(v.data, v.rows, v.cols, Eigen::OuterStride<>(v.stride));
}
}  // namespace detail

/// Eigen's GEMM on row-major views (also the "Eigen" peer in the benchmarks).
template <class T>
void gemm_eigen(Trans ta, Trans tb, T alpha, ConstMatrixView<T> A, ConstMatrixView<T> B, T beta, MatrixView<T> C) {
  if (C.empty()) return;
  auto c = detail::as_eigen(C);
  if (beta == T(0)) c.setZero(); else if (beta != T(1)) c *= beta;
  const auto a = detail::as_eigen(A);
  const auto b = detail::as_eigen(B);
  if (ta == Trans::no && tb == Trans::no) c.noalias() += alpha * a * b;
  else if (ta == Trans::no) c.noalias() += alpha * a * b.transpose();
  else if (tb == Trans::no) c.noalias() += alpha * a.transpose() * b;
  else c.noalias() += alpha * a.transpose() * b.transpose();
}

namespace detail {

// ---------------------------------------------------------------------------------------------
// Cache blocking. Zen 3 / Skylake-class cores: L1d 32 KiB, L2 512 KiB - 1 MiB.
//   KC: B micro-panel KC x NR (16 KiB for float at 256) + A micro-panel KC x MR fit in L1.
//   MC: A block MC x KC (144 x 256 floats = 144 KiB) fits comfortably in L2.
//   NC: B block KC x NC (4 MiB) in L3.
// A dimension larger than its block is split into equal blocks (k = 300 -> 2 x 150, not
// 256 + 44) so that no block is a sliver.
// ---------------------------------------------------------------------------------------------
template <class T>
struct GemmBlocking {
  static constexpr index_t kc = 256;
  static constexpr index_t mc = 144;
  static constexpr index_t nc = 4080;
};

inline index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }
inline index_t round_up(index_t a, index_t b) { return ceil_div(a, b) * b; }
/// Step that splits `total` into ceil(total / max_step) equal blocks, rounded up to `multiple`.
inline index_t even_step(index_t total, index_t max_step, index_t multiple) {
  const index_t blocks = std::max<index_t>(1, ceil_div(total, max_step));
  return round_up(ceil_div(total, blocks), multiple);
}

/// Below this many multiply-adds (m * n * k) a GEMM runs on the calling thread only: forking
/// oneTBB tasks costs more than it saves.
inline constexpr double kGemmParallelMinMacs = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Scratch buffers: one per thread and element type, grown on demand and reused (no allocation
// after the first call of a given size). A buffer that is already in use on this thread (a
// GEMM nested inside a oneTBB wait of another GEMM) falls back to a private allocation.
// ---------------------------------------------------------------------------------------------
template <class T>
class ScratchLease {
 public:
  /// `slot` tells apart buffers used at the same time by one GEMM (0: A, 1: B, 2: GEMV).
  ScratchLease(int slot, index_t n) {
    Slot& s = slots()[slot];
    const std::size_t need = static_cast<std::size_t>(n) + 64;  // slack for overlapping stores
    if (!s.in_use) {
      slot_ = &s;
      s.in_use = true;
      if (s.buf.size() < need) s.buf = AlignedVector<T>(need);
      data_ = s.buf.data();
    } else {
      own_ = AlignedVector<T>(need);
      data_ = own_.data();
    }
  }
  ~ScratchLease() {
    if (slot_) slot_->in_use = false;
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  T* data() const { return data_; }

 private:
  struct Slot {
    AlignedVector<T> buf;
    bool in_use = false;
  };
  static Slot* slots() {
    thread_local Slot s[3];
    return s;
  }
  Slot* slot_ = nullptr;
  AlignedVector<T> own_;
  T* data_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Threads. max_threads == 0: the current arena; 1: the calling thread; otherwise a cached
// task_arena of that size (kept for the life of the process).
// ---------------------------------------------------------------------------------------------
inline int gemm_thread_count(const cpu_simd& policy) {
  const int avail = tbb::this_task_arena::max_concurrency();
  return policy.max_threads > 0 ? policy.max_threads : avail;
}

inline tbb::task_arena& cached_arena(int threads) {
  static std::mutex mu;
  static auto* arenas = new std::map<int, std::unique_ptr<tbb::task_arena>>();  // never destroyed
  std::lock_guard<std::mutex> lock(mu);
  auto& a = (*arenas)[threads];
  if (!a) a = std::make_unique<tbb::task_arena>(threads);
  return *a;
}

/// Runs f() where oneTBB uses at most `threads` threads.
template <class F>
void run_with_threads(const cpu_simd& policy, int threads, F&& f) {
  if (threads <= 1 || policy.max_threads <= 0 || policy.max_threads == tbb::this_task_arena::max_concurrency()) {
    f();
  } else {
    cached_arena(threads).execute(f);
  }
}

/// for i in [0, n): body(i), in parallel when threads > 1 (one task per index).
template <class F>
void parallel_items(int threads, index_t n, F&& body) {
  if (threads <= 1 || n <= 1) {
    for (index_t i = 0; i < n; ++i) body(i);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<index_t>(0, n, 1), [&](const tbb::blocked_range<index_t>& r) {
    for (index_t i = r.begin(); i != r.end(); ++i) body(i);
  }, tbb::simple_partitioner());
}

// ---------------------------------------------------------------------------------------------
// GEMV paths (m == 1 or n == 1): no packing, streamed once.
// ---------------------------------------------------------------------------------------------

/// Final write of one output: y = alpha * acc + beta * y (beta == 0: y is not read). The same
/// formula as the micro-kernel's write-back.
template <class T>
inline T gemv_finish(T acc, T alpha, T beta, T y) {
  return beta == T(0) ? alpha * acc : xsimd::fma(alpha, acc, beta * y);
}

/// "axpy form": y[j] = alpha * Σ_p x[p*incx] * M[p*ldm + j] + beta * y[j*incy], for j in [j0, j1).
///   x: [k], M: [k, n] row-major, y: [n]. Column strips of 4 registers; j0 must be a multiple of
///   4 * lanes so that which columns take the scalar tail never depends on the chunking.
template <class T>
inline void gemv_axpy(index_t j0, index_t j1, index_t k, const T* x, index_t incx, const T* M, index_t ldm,
                      T alpha, T beta, T* y, index_t incy) {
  using batch = xsimd::batch<T>;
  constexpr index_t L = static_cast<index_t>(batch::size);
  const batch va(alpha), vb(beta);
  auto write = [&](index_t j, batch acc) {
    if (incy == 1) {
      if (beta == T(0)) (va * acc).store_unaligned(y + j);
      else xsimd::fma(va, acc, vb * batch::load_unaligned(y + j)).store_unaligned(y + j);
    } else {
      alignas(64) T tmp[L];
      acc.store_aligned(tmp);
      for (index_t l = 0; l < L; ++l) y[(j + l) * incy] = gemv_finish(tmp[l], alpha, beta, y[(j + l) * incy]);
    }
  };
  index_t j = j0;
  for (; j + 4 * L <= j1; j += 4 * L) {
    batch a0(T(0)), a1(T(0)), a2(T(0)), a3(T(0));
    const T* mp = M + j;
    for (index_t p = 0; p < k; ++p, mp += ldm) {
      const batch xp(x[p * incx]);
      a0 = xsimd::fma(xp, batch::load_unaligned(mp), a0);
      a1 = xsimd::fma(xp, batch::load_unaligned(mp + L), a1);
      a2 = xsimd::fma(xp, batch::load_unaligned(mp + 2 * L), a2);
      a3 = xsimd::fma(xp, batch::load_unaligned(mp + 3 * L), a3);
    }
    write(j, a0);
    write(j + L, a1);
    write(j + 2 * L, a2);
    write(j + 3 * L, a3);
  }
  for (; j + L <= j1; j += L) {
    batch a0(T(0));
    const T* mp = M + j;
    for (index_t p = 0; p < k; ++p, mp += ldm) a0 = xsimd::fma(batch(x[p * incx]), batch::load_unaligned(mp), a0);
    write(j, a0);
  }
  for (; j < j1; ++j) {
    T acc = T(0);
    for (index_t p = 0; p < k; ++p) acc = xsimd::fma(x[p * incx], M[p * ldm + j], acc);
    y[j * incy] = gemv_finish(acc, alpha, beta, y[j * incy]);
  }
}

/// "dot form" for R rows at once: y[j] = alpha * Σ_p x[p] * M[j*ldm + p] + beta * y[j*incy].
///   x: [k] contiguous, M: [n, k] row-major. Each row's sum is formed the same way for any R.
template <int R, class T>
inline void gemv_dot_rows(index_t j, index_t k, const T* x, const T* M, index_t ldm, T alpha, T beta, T* y,
                          index_t incy) {
  using batch = xsimd::batch<T>;
  constexpr index_t L = static_cast<index_t>(batch::size);
  batch s0[R], s1[R];
  for (int r = 0; r < R; ++r) s0[r] = s1[r] = batch(T(0));
  const T* m0 = M + j * ldm;
  index_t p = 0;
  for (; p + 2 * L <= k; p += 2 * L) {
    const batch x0 = batch::load_unaligned(x + p), x1 = batch::load_unaligned(x + p + L);
    for (int r = 0; r < R; ++r) {
      s0[r] = xsimd::fma(x0, batch::load_unaligned(m0 + r * ldm + p), s0[r]);
      s1[r] = xsimd::fma(x1, batch::load_unaligned(m0 + r * ldm + p + L), s1[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const T* mr = m0 + r * ldm;
    T acc = xsimd::hadd(s0[r] + s1[r]);
    for (index_t q = p; q < k; ++q) acc = xsimd::fma(x[q], mr[q], acc);
    y[(j + r) * incy] = gemv_finish(acc, alpha, beta, y[(j + r) * incy]);
  }
}

template <class T>
inline void gemv_dot(index_t j0, index_t j1, index_t k, const T* x, const T* M, index_t ldm, T alpha, T beta, T* y,
                     index_t incy) {
  index_t j = j0;
  for (; j + 4 <= j1; j += 4) gemv_dot_rows<4>(j, k, x, M, ldm, alpha, beta, y, incy);
  for (; j < j1; ++j) gemv_dot_rows<1>(j, k, x, M, ldm, alpha, beta, y, incy);
}

/// y[0:len] (stride incy) = alpha * v(x) + beta * y where the matrix M is either [k, len]
/// (axpy form, `rows_are_k`) or [len, k] (dot form). Splits the outputs over threads in chunks
/// whose boundaries do not change any output's arithmetic.
template <class T>
inline void gemv(const cpu_simd& policy, bool rows_are_k, index_t len, index_t k, const T* x, index_t incx,
                 const T* M, index_t ldm, T alpha, T beta, T* y, index_t incy) {
  using batch = xsimd::batch<T>;
  constexpr index_t L = static_cast<index_t>(batch::size);
  int threads = gemm_thread_count(policy);
  if (static_cast<double>(len) * static_cast<double>(k) < 4.0 * kGemmParallelMinMacs) threads = 1;

  if (rows_are_k) {
    const index_t chunk = round_up(ceil_div(len, 4 * static_cast<index_t>(threads)), 4 * L);
    const index_t items = ceil_div(len, chunk);
    run_with_threads(policy, threads, [&] {
      parallel_items(threads, items, [&](index_t i) {
        gemv_axpy(i * chunk, std::min(len, (i + 1) * chunk), k, x, incx, M, ldm, alpha, beta, y, incy);
      });
    });
    return;
  }
  // Dot form reads x as vectors: gather a strided x once.
  ScratchLease<T> xs(2, incx == 1 ? 0 : k);
  if (incx != 1) {
    for (index_t p = 0; p < k; ++p) xs.data()[p] = x[p * incx];
    x = xs.data();
  }
  const index_t chunk = round_up(ceil_div(len, 4 * static_cast<index_t>(threads)), 4);
  const index_t items = ceil_div(len, chunk);
  run_with_threads(policy, threads, [&] {
    parallel_items(threads, items, [&](index_t i) {
      gemv_dot(i * chunk, std::min(len, (i + 1) * chunk), k, x, M, ldm, alpha, beta, y, incy);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Packed GEMM.
// ---------------------------------------------------------------------------------------------

/// Packs op(A)[i0 : i0+mc, p0 : p0+kc] as MR-row micro-panels (panel q at dst + q*MR*kc).
template <class T>
inline void pack_a(Trans ta, ConstMatrixView<T> A, index_t i0, index_t mc, index_t p0, index_t kc, T* dst) {
  constexpr index_t MR = GemmGeometry<T>::mr;
  for (index_t ir = 0; ir < mc; ir += MR, dst += MR * kc) {
    const index_t mr = std::min(MR, mc - ir);
    if (ta == Trans::no)  // op(A)(i, p) = A[i * s + p]
      pack_transposed<MR>(A.data + (i0 + ir) * A.stride + p0, A.stride, mr, kc, dst);
    else  // op(A)(i, p) = A[p * s + i]
      pack_direct<MR>(A.data + p0 * A.stride + i0 + ir, A.stride, mr, kc, dst);
  }
}

/// Packs NR-column micro-panels [q0, q1) of op(B)[p0 : p0+kc, j0 : j0+nc] (panel q at dst + q*NR*kc).
template <class T>
inline void pack_b(Trans tb, ConstMatrixView<T> B, index_t p0, index_t kc, index_t j0, index_t nc, index_t q0,
                   index_t q1, T* dst) {
  constexpr index_t NR = GemmGeometry<T>::nr;
  for (index_t q = q0; q < q1; ++q) {
    const index_t jr = q * NR;
    const index_t nr = std::min(NR, nc - jr);
    T* d = dst + q * NR * kc;
    if (tb == Trans::no)  // op(B)(p, j) = B[p * s + j]
      pack_direct<NR>(B.data + p0 * B.stride + j0 + jr, B.stride, nr, kc, d);
    else  // op(B)(p, j) = B[j * s + p]
      pack_transposed<NR>(B.data + (j0 + jr) * B.stride + p0, B.stride, nr, kc, d);
  }
}

/// C[0:mc, 0:nc] = alpha * Apacked * Bpacked + beta * C, micro-tile by micro-tile: the B
/// micro-panel (jr) stays in L1 while the A micro-panels (ir) stream from L2.
template <class T>
inline void macro_kernel(index_t mc, index_t nc, index_t kc, const T* pa, const T* pb, T alpha, T beta, T* c,
                         index_t ldc) {
  constexpr index_t MR = GemmGeometry<T>::mr, NR = GemmGeometry<T>::nr;
  for (index_t jr = 0; jr < nc; jr += NR) {
    const index_t nr = std::min(NR, nc - jr);
    for (index_t ir = 0; ir < mc; ir += MR) {
      const index_t mr = std::min(MR, mc - ir);
      micro_tile(mr, nr, kc, pa + ir * kc, pb + jr * kc, alpha, beta, c + ir * ldc + jr, ldc);
    }
  }
}

template <class T>
inline void gemm_packed(const cpu_simd& policy, Trans ta, Trans tb, index_t m, index_t n, index_t k, T alpha,
                        ConstMatrixView<T> A, ConstMatrixView<T> B, T beta, MatrixView<T> C) {
  using Blk = GemmBlocking<T>;
  constexpr index_t MR = GemmGeometry<T>::mr, NR = GemmGeometry<T>::nr;
  int threads = gemm_thread_count(policy);
  if (static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < kGemmParallelMinMacs) threads = 1;

  const index_t kc_step = even_step(k, Blk::kc, 1);
  const index_t mc_step = even_step(m, Blk::mc, MR);
  const index_t nc_step = even_step(n, Blk::nc, NR);
  const index_t m_blocks = ceil_div(m, mc_step);

  ScratchLease<T> bbuf(1, kc_step * nc_step);
  T* pb = bbuf.data();

  run_with_threads(policy, threads, [&] {
    for (index_t jc = 0; jc < n; jc += nc_step) {
      const index_t nc = std::min(nc_step, n - jc);
      const index_t panels = ceil_div(nc, NR);
      // Work items: m_blocks x n_chunks blocks of C. With few row blocks, split the columns too,
      // so that every thread gets work (at least two items per thread for balance).
      index_t n_chunks = 1;
      if (threads > 1) n_chunks = std::clamp<index_t>(ceil_div(2 * threads, m_blocks), 1, panels);
      const index_t chunk_panels = ceil_div(panels, n_chunks);
      n_chunks = ceil_div(panels, chunk_panels);

      for (index_t pc = 0; pc < k; pc += kc_step) {
        const index_t kc = std::min(kc_step, k - pc);
        const T beta_eff = pc == 0 ? beta : T(1);  // later k blocks accumulate onto C

        // Pack op(B)[pc : pc+kc, jc : jc+nc], chunk by chunk in parallel.
        parallel_items(threads, n_chunks, [&](index_t q) {
          pack_b(tb, B, pc, kc, jc, nc, q * chunk_panels, std::min(panels, (q + 1) * chunk_panels), pb);
        });

        // Each item packs its op(A) block into its thread's buffer and updates its block of C.
        parallel_items(threads, m_blocks * n_chunks, [&](index_t item) {
          const index_t ib = item / n_chunks, q = item % n_chunks;
          const index_t ic = ib * mc_step, mc = std::min(mc_step, m - ic);
          const index_t j_lo = q * chunk_panels * NR, j_hi = std::min(nc, (q + 1) * chunk_panels * NR);
          ScratchLease<T> abuf(0, mc_step * kc_step);
          pack_a(ta, A, ic, mc, pc, kc, abuf.data());
          macro_kernel(mc, j_hi - j_lo, kc, abuf.data(), pb + j_lo * kc, alpha, beta_eff,
                       C.data + ic * C.stride + jc + j_lo, C.stride);
        });
      }
    }
  });
}

/// C = beta * C (beta == 0: C = 0, NaNs in C ignored).
template <class T>
inline void scale_matrix(T beta, MatrixView<T> C) {
  for (index_t i = 0; i < C.rows; ++i) {
    T* c = C.row(i);
    if (beta == T(0)) std::fill(c, c + C.cols, T(0));
    else if (beta != T(1)) for (index_t j = 0; j < C.cols; ++j) c[j] *= beta;
  }
}

}  // namespace detail

/// \brief C = alpha * op(A) * op(B) + beta * C on cpu_simd.
///   op(A): [m, k], op(B): [k, n], C: [m, n], row-major views with any row stride.
/// beta == 0 overwrites C (NaNs in C are ignored); alpha == 0 or k == 0 only scales C (BLAS
/// convention: A and B are not read). Uses up to policy.max_threads oneTBB threads (0 = the
/// current arena); the result is bitwise identical for any thread count.
template <class T>
void gemm(const cpu_simd& policy, Trans ta, Trans tb, T alpha, ConstMatrixView<T> A, ConstMatrixView<T> B, T beta,
          MatrixView<T> C) {
  const index_t m = C.rows, n = C.cols;
  const index_t k = (ta == Trans::no) ? A.cols : A.rows;
  assert(((ta == Trans::no) ? A.rows : A.cols) == m);
  assert(((tb == Trans::no) ? B.rows : B.cols) == k);
  assert(((tb == Trans::no) ? B.cols : B.rows) == n);
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == T(0)) {
    detail::scale_matrix(beta, C);
    return;
  }
  if (m == 1) {
    // C[0, :] = alpha * op(A)[0, :] * op(B) + beta * C[0, :], x = op(A)[0, :].
    const index_t incx = (ta == Trans::no) ? 1 : A.stride;
    if (tb == Trans::no)  // op(B) = B: [k, n] rows are k -> axpy over B's rows
      detail::gemv(policy, true, n, k, A.data, incx, B.data, B.stride, alpha, beta, C.data, index_t(1));
    else  // op(B) = Bᵀ, B: [n, k] -> a dot product per row of B
      detail::gemv(policy, false, n, k, A.data, incx, B.data, B.stride, alpha, beta, C.data, index_t(1));
    return;
  }
  if (n == 1) {
    // C[:, 0] = alpha * op(A) * x + beta * C[:, 0], x = op(B)[:, 0].
    const index_t incx = (tb == Trans::no) ? B.stride : 1;
    if (ta == Trans::no)  // A: [m, k] -> a dot product per row of A
      detail::gemv(policy, false, m, k, B.data, incx, A.data, A.stride, alpha, beta, C.data, C.stride);
    else  // op(A) = Aᵀ, A: [k, m] -> axpy over A's rows
      detail::gemv(policy, true, m, k, B.data, incx, A.data, A.stride, alpha, beta, C.data, C.stride);
    return;
  }
  detail::gemm_packed(policy, ta, tb, m, n, k, alpha, A, B, beta, C);
}

}  // namespace ctrnet::kernels
