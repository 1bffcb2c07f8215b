// cpu_simd GEMM: C = alpha * op(A) * op(B) + beta * C, GotoBLAS/BLIS style.
//   op(A): [m, k], op(B): [k, n], C: [m, n]; row-major views with strides (column blocks work).
// Blocking (loops from outside in):
//   jc: n in blocks of NC   (packed op(B) block KC x NC lives in L2/L3)
//   pc: k in blocks of KC   (never split across threads: one thread owns each element of C)
//   ic: m in blocks of MC   (packed op(A) block MC x KC lives in L2, one per thread)
//   jr, ir: NR x MR micro-tiles (B micro-panel KC x NR stays in L1), see gemm_microkernel.hpp.
// oneTBB runs independent rectangles of C in parallel, each packing its own operands into
// thread_local buffers (reused across calls). Every element of C is computed by the same
// sequence of FMAs whatever the thread count or tiling, so results are bitwise identical for any
// `max_threads`. m == 1 and n == 1 take a GEMV path without packing (batch-1 latency).
#pragma once
#include <tbb/blocked_range.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <cassert>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/kernels/simd/diagnostics.hpp"
#include "ctrnet/policy/cpu_context.hpp"
#include "ctrnet/kernels/simd/gemm_microkernel.hpp"
#include "ctrnet/kernels/trans.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

CTRNET_SIMD_WARNINGS_BEGIN

namespace ctrnet::kernels {

namespace detail {

// Kept out of line where the caller's live values would otherwise push a kernel's pointers out of
// registers.
#ifndef CTRNET_GEMM_NOINLINE
#if defined(__GNUC__)
#define CTRNET_GEMM_NOINLINE __attribute__((noinline)) inline
#else
#define CTRNET_GEMM_NOINLINE inline
#endif
#endif

// ---------------------------------------------------------------------------------------------
// Cache blocking. Zen 3 / Skylake-class cores: L1d 32 KiB, L2 256 KiB - 1 MiB.
//   KC: B micro-panel KC x NR (16 KiB for float at 256) + A micro-panel KC x MR fit in L1.
//   MC: A block MC x KC (96 x 256 floats = 96 KiB) fits comfortably in L2.
//   NC: B block KC x NC (4 MiB) in L3.
// Tuned on Zen 3 (KC 192-384, MC 72-240 were all within a few percent; these were among the best).
// A dimension larger than its block is split into equal blocks (k = 300 -> 2 x 150, not
// 256 + 44) so that no block is a sliver.
// ---------------------------------------------------------------------------------------------
template <class T>
struct GemmBlocking {
  static constexpr index_t kc = 256;
  static constexpr index_t mc = 96;
  static constexpr index_t nc = 4080;
  static constexpr index_t pack_group = 4;  ///< B micro-panels packed per step (see gemm_rectangle)
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
/// GEMV matrices of at least this many bytes are split over threads (512 KiB: a Zen core's L2).
inline constexpr double kGemvParallelMinBytes = 512.0 * 1024.0;

// ---------------------------------------------------------------------------------------------
// Scratch buffers: one per thread and element type, grown on demand and reused (no allocation
// after the first call of a given size). A buffer that is already in use on this thread (a
// GEMM nested inside a oneTBB wait of another GEMM) falls back to a private allocation.
// ---------------------------------------------------------------------------------------------
template <class T>
class ScratchLease {
 public:
  /// `slot` tells apart buffers used at the same time (0: GEMM's A, 1: GEMM's B, 2: GEMV, 3: the
  /// partial sums of an element-wise kernel, e.g. the DCN-V2 bias gradient).
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
    thread_local Slot s[4];
    return s;
  }
  Slot* slot_ = nullptr;
  AlignedVector<T> own_;
  T* data_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Threads. A policy with a CpuContext (policy/cpu_context.hpp) runs in that context's arena.
// Without one: max_threads == 0: the current arena; 1: the calling thread; otherwise a cached
// task_arena of that size (kept for the life of the process).
// ---------------------------------------------------------------------------------------------
inline int gemm_thread_count(const cpu_simd& policy) {
  const int avail = policy.cpu != nullptr ? policy.cpu->max_concurrency() : tbb::this_task_arena::max_concurrency();
  // More threads than cores would only oversubscribe them: cap at the machine's concurrency.
  return policy.max_threads > 0 ? std::min(policy.max_threads, std::max(avail, tbb::info::default_concurrency()))
                                : avail;
}

inline tbb::task_arena& cached_arena(int threads) {
  static std::mutex mu;
  static auto* arenas = new std::map<int, std::unique_ptr<tbb::task_arena>>();  // never destroyed
  std::lock_guard<std::mutex> lock(mu);
  auto& a = (*arenas)[threads];
  if (!a) a = std::make_unique<tbb::task_arena>(threads);
  return *a;
}

/// Runs f(), which will use `threads` threads, inside an arena of policy.max_threads when that
/// caps the current arena. (The kernels also never create more work items than `threads`.)
template <class F>
void run_with_threads(const cpu_simd& policy, int threads, F&& f) {
  if (threads <= 1) {
    f();
  } else if (policy.cpu != nullptr && (policy.max_threads <= 0 || policy.max_threads >= policy.cpu->max_concurrency())) {
    policy.cpu->execute(f);  // the policy's own arena
  } else if (policy.max_threads <= 0 || policy.max_threads >= tbb::this_task_arena::max_concurrency()) {
    f();
  } else {
    cached_arena(policy.max_threads).execute(f);
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

/// acc[0:len] += Σ_{r<R} x[r*incx] * M[r*ldm + 0:len], one FMA per row in order r = 0, 1, ...
template <int R, class T>
inline void axpy_rows(const T* M, index_t ldm, const T* x, index_t incx, index_t len, T* acc) {
  using batch = xsimd::batch<T>;
  constexpr index_t L = static_cast<index_t>(batch::size);
  T s[R];
  batch xv[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) s[r] = x[r * incx], xv[r] = batch(s[r]);
  const index_t vec_len = len / L * L;
  for (index_t j = 0; j < vec_len; j += L) {
    batch a = batch::load_aligned(acc + j);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) a = xsimd::fma(xv[r], batch::load_unaligned(M + r * ldm + j), a);
    a.store_aligned(acc + j);
  }
  for (index_t j = vec_len; j < len; ++j) {
    T a = acc[j];
    for (int r = 0; r < R; ++r) a = xsimd::fma(s[r], M[r * ldm + j], a);
    acc[j] = a;
  }
}

/// "axpy form": y[j] = alpha * Σ_p x[p*incx] * M[p*ldm + j] + beta * y[j*incy], for j in [j0, j1).
///   x: [k], M: [k, n] row-major, y: [n]. Streams 4 rows of M at a time (contiguous reads)
///   into an L1-resident block of partial sums; each sum is the FMA chain over p = 0, 1, ...
///   whatever the blocking. j0 must be a multiple of the SIMD width (the scalar tail is the
///   global tail).
template <class T>
inline void gemv_axpy(index_t j0, index_t j1, index_t k, const T* x, index_t incx, const T* M, index_t ldm,
                      T alpha, T beta, T* y, index_t incy) {
  using batch = xsimd::batch<T>;
  constexpr index_t L = static_cast<index_t>(batch::size);
  constexpr index_t kBlock = 2048 * 4 / static_cast<index_t>(sizeof(T));  // 8 KiB of partial sums
  constexpr int kRows = 4;  // rows of M per pass (8 measured the same on Zen 3)
  alignas(64) T acc[kBlock];
  for (index_t jb = j0; jb < j1; jb += kBlock) {
    const index_t len = std::min(kBlock, j1 - jb), vec_len = len / L * L;
    std::fill(acc, acc + len, T(0));
    index_t p = 0;
    for (; p + kRows <= k; p += kRows) axpy_rows<kRows>(M + p * ldm + jb, ldm, x + p * incx, incx, len, acc);
    for (; p < k; ++p) axpy_rows<1>(M + p * ldm + jb, ldm, x + p * incx, incx, len, acc);
    // y = alpha * acc + beta * y
    T* yb = y + jb * incy;
    if (incy == 1) {
      const batch va(alpha), vb(beta);
      index_t j = 0;
      for (; j < vec_len; j += L) {
        const batch a = batch::load_aligned(acc + j);
        if (beta == T(0)) (va * a).store_unaligned(yb + j);
        else xsimd::fma(va, a, vb * batch::load_unaligned(yb + j)).store_unaligned(yb + j);
      }
      for (; j < len; ++j) yb[j] = gemv_finish(acc[j], alpha, beta, yb[j]);
    } else {
      for (index_t j = 0; j < len; ++j) yb[j * incy] = gemv_finish(acc[j], alpha, beta, yb[j * incy]);
    }
  }
}

/// Sum of the lanes of v as a fixed pairwise tree. (Not xsimd::hadd/haddp everywhere: on
/// AVX-512 they trip a GCC 12 false -Wuninitialized in the intrinsics headers.)
template <class T, class A>
inline T horizontal_sum(const xsimd::batch<T, A>& v) {
  constexpr index_t L = static_cast<index_t>(xsimd::batch<T, A>::size);
  alignas(64) T lane[L];
  v.store_aligned(lane);
  for (index_t h = L / 2; h >= 1; h /= 2)
    for (index_t l = 0; l < h; ++l) lane[l] += lane[l + h];
  return lane[0];
}

/// "dot form": y[j] = alpha * Σ_p x[p] * M[j*ldm + p] + beta * y[j*incy] for one row j.
///   x: [k] contiguous, M: [n, k] row-major. Vector partial sums, a pairwise horizontal sum,
///   then the scalar tail.
template <class T>
inline void gemv_dot_row(index_t j, index_t k, const T* x, const T* M, index_t ldm, T alpha, T beta, T* y,
                         index_t incy) {
  using batch = xsimd::batch<T>;
  constexpr index_t L = static_cast<index_t>(batch::size);
  const T* mr = M + j * ldm;
  batch s(T(0));
  index_t p = 0;
  for (; p + L <= k; p += L) s = xsimd::fma(batch::load_unaligned(x + p), batch::load_unaligned(mr + p), s);
  T acc = horizontal_sum(s);
  for (; p < k; ++p) acc = xsimd::fma(x[p], mr[p], acc);
  y[j * incy] = gemv_finish(acc, alpha, beta, y[j * incy]);
}

/// Dot form for L = SIMD-width rows j..j+L at once: one accumulator register per row (L chains
/// in flight hide the FMA latency), reduced together by xsimd::haddp into one register of L sums.
/// Out of line: inlined into gemv, GCC spills some of the L row pointers in the inner loop.
template <class T>
CTRNET_GEMM_NOINLINE void gemv_dot_rows(index_t j, index_t k, const T* x, const T* M, index_t ldm, T alpha, T beta, T* y,
                          index_t incy) {
  using batch = xsimd::batch<T>;
  constexpr index_t L = static_cast<index_t>(batch::size);
  const T* m0 = M + j * ldm;
  batch s[L];
#pragma GCC unroll 16
  for (index_t r = 0; r < L; ++r) s[r] = batch(T(0));
  index_t p = 0;
  for (; p + L <= k; p += L) {
    const batch xv = batch::load_unaligned(x + p);
#pragma GCC unroll 16
    for (index_t r = 0; r < L; ++r) s[r] = xsimd::fma(xv, batch::load_unaligned(m0 + r * ldm + p), s[r]);
  }
  alignas(64) T acc[L];  // acc[r] = Σ lanes of s[r]
#if defined(__AVX512F__)
  for (index_t r = 0; r < L; ++r) acc[r] = horizontal_sum(s[r]);
#else
  xsimd::haddp(s).store_aligned(acc);
#endif
  for (index_t r = 0; r < L; ++r) {
    const T* mr = m0 + r * ldm;
    for (index_t q = p; q < k; ++q) acc[r] = xsimd::fma(x[q], mr[q], acc[r]);
  }
  if (incy == 1) {
    const batch a = batch::load_aligned(acc);
    if (beta == T(0)) (batch(alpha) * a).store_unaligned(y + j);
    else xsimd::fma(batch(alpha), a, batch(beta) * batch::load_unaligned(y + j)).store_unaligned(y + j);
  } else {
    for (index_t r = 0; r < L; ++r) y[(j + r) * incy] = gemv_finish(acc[r], alpha, beta, y[(j + r) * incy]);
  }
}

/// Rows [j0, j1) in groups of L, the last < L rows one by one. j0 must be a multiple of L, so
/// which rows are grouped never depends on how the rows were split across threads.
template <class T>
inline void gemv_dot(index_t j0, index_t j1, index_t k, const T* x, const T* M, index_t ldm, T alpha, T beta, T* y,
                     index_t incy) {
  constexpr index_t L = static_cast<index_t>(xsimd::batch<T>::size);
  index_t j = j0;
  for (; j + L <= j1; j += L) gemv_dot_rows(j, k, x, M, ldm, alpha, beta, y, incy);
  for (; j < j1; ++j) gemv_dot_row(j, k, x, M, ldm, alpha, beta, y, incy);
}

/// y[0:len] (stride incy) = alpha * v(x) + beta * y where the matrix M is either [k, len]
/// (axpy form, `rows_are_k`) or [len, k] (dot form). Splits the outputs over threads in chunks
/// whose boundaries do not change any output's arithmetic.
template <class T>
inline void gemv(const cpu_simd& policy, bool rows_are_k, index_t len, index_t k, const T* x, index_t incx,
                 const T* M, index_t ldm, T alpha, T beta, T* y, index_t incy) {
  using batch = xsimd::batch<T>;
  constexpr index_t L = static_cast<index_t>(batch::size);
  // A GEMV streams its matrix once: split it when the matrix is larger than a core's L2 (then it
  // comes from L3 or DRAM, and two cores pull it through twice the bandwidth; batch-1 serving).
  const bool small = static_cast<double>(len) * static_cast<double>(k) * sizeof(T) < kGemvParallelMinBytes;
  const int threads = small ? 1 : gemm_thread_count(policy);

  // Outputs [0, len) in `threads` chunks of a multiple of `align` (chunk boundaries then never
  // change which outputs take a vector or a scalar path).
  auto split = [&](index_t align, auto&& body) {
    if (threads == 1) {  // the batch-1 latency path: no chunk arithmetic, no oneTBB
      body(0, len);
      return;
    }
    const index_t chunk = round_up(ceil_div(len, static_cast<index_t>(threads)), align);
    run_with_threads(policy, threads, [&] {
      parallel_items(threads, ceil_div(len, chunk), [&](index_t i) { body(i * chunk, std::min(len, (i + 1) * chunk)); });
    });
  };

  if (rows_are_k) {
    split(4 * L, [&](index_t j0, index_t j1) { gemv_axpy(j0, j1, k, x, incx, M, ldm, alpha, beta, y, incy); });
    return;
  }
  auto dot = [&](const T* xc) {
    split(L, [&](index_t j0, index_t j1) { gemv_dot(j0, j1, k, xc, M, ldm, alpha, beta, y, incy); });
  };
  if (incx == 1) {
    dot(x);
  } else {  // the dot form reads x as vectors: gather a strided x once
    ScratchLease<T> xs(2, k);
    for (index_t p = 0; p < k; ++p) xs.data()[p] = x[p * incx];
    dot(xs.data());
  }
}

// ---------------------------------------------------------------------------------------------
// Packed GEMM.
// ---------------------------------------------------------------------------------------------

/// Packs op(A)[i0 : i0+mc, p0 : p0+kc] as MR-row micro-panels (panel q at dst + q*MR*kc).
template <class T>
inline void pack_a(Trans ta, ConstMatrixView<T> A, index_t i0, index_t mc, index_t p0, index_t kc, T* dst) {
  constexpr index_t MR = GemmGeometry<T>::mr;
  if (ta == Trans::yes) {  // op(A)(i, p) = A[p * s + i]: rows of A are steps of p
    pack_direct_panels<MR>(A.data + p0 * A.stride + i0, A.stride, mc, kc, dst);
    return;
  }
  for (index_t ir = 0; ir < mc; ir += MR, dst += MR * kc)  // op(A)(i, p) = A[i * s + p]
    pack_transposed<MR>(A.data + (i0 + ir) * A.stride + p0, A.stride, std::min(MR, mc - ir), kc, dst);
}

/// Packs op(B)[p0 : p0+kc, j0 : j0+nc] as NR-column micro-panels (panel q at dst + q*NR*kc).
template <class T>
inline void pack_b(Trans tb, ConstMatrixView<T> B, index_t p0, index_t kc, index_t j0, index_t nc, T* dst) {
  constexpr index_t NR = GemmGeometry<T>::nr;
  if (tb == Trans::no) {  // op(B)(p, j) = B[p * s + j]: rows of B are steps of p
    pack_direct_panels<NR>(B.data + p0 * B.stride + j0, B.stride, nc, kc, dst);
    return;
  }
  for (index_t jr = 0; jr < nc; jr += NR, dst += NR * kc)  // op(B)(p, j) = B[j * s + p]
    pack_transposed<NR>(B.data + (j0 + jr) * B.stride + p0, B.stride, std::min(NR, nc - jr), kc, dst);
}

/// The epilogue of a plain GEMM: nothing.
struct NoEpilogue {
  void operator()(index_t, index_t, index_t, index_t) const {}
};

/// Arguments shared by all blocks of one packed GEMM.
template <class T>
struct PackedGemm {
  Trans ta, tb;
  T alpha, beta;
  ConstMatrixView<T> A, B;
  MatrixView<T> C;
  index_t k, kc_step;
};

/// Serial blocked GEMM on the rectangle C[i0 : i1, j0 : j1] with this thread's pack buffers.
/// The packed op(B) block is filled lazily, a few micro-panels at a time, while the first row
/// block of A consumes it (the freshly packed panels are still in L1/L2); later row blocks reuse it.
/// `epi(r0, r1, c0, c1)` runs once per finished mc x nc block of C, while it is still in L2.
template <class T, class Epilogue>
inline void gemm_rectangle(const PackedGemm<T>& g, index_t i0, index_t i1, index_t j0, index_t j1, const Epilogue& epi) {
  using Blk = GemmBlocking<T>;
  constexpr index_t MR = GemmGeometry<T>::mr, NR = GemmGeometry<T>::nr;
  constexpr index_t kGroup = Blk::pack_group * NR;  // columns of B packed per step
  const index_t mc_step = even_step(i1 - i0, Blk::mc, MR);
  const index_t nc_step = even_step(j1 - j0, Blk::nc, NR);
  ScratchLease<T> abuf(0, mc_step * g.kc_step), bbuf(1, g.kc_step * nc_step);
  T* const pa = abuf.data();
  T* const pb = bbuf.data();

  for (index_t jc = j0; jc < j1; jc += nc_step) {
    const index_t nc = std::min(nc_step, j1 - jc);
    for (index_t pc = 0; pc < g.k; pc += g.kc_step) {
      const index_t kc = std::min(g.kc_step, g.k - pc);
      const T beta = pc == 0 ? g.beta : T(1);  // later k blocks accumulate onto C
      for (index_t ic = i0; ic < i1; ic += mc_step) {
        const index_t mc = std::min(mc_step, i1 - ic);
        pack_a(g.ta, g.A, ic, mc, pc, kc, pa);
        T* const c = g.C.data + ic * g.C.stride + jc;
        for (index_t jg = 0; jg < nc; jg += kGroup) {
          const index_t jg_end = std::min(nc, jg + kGroup);
          if (ic == i0) pack_b(g.tb, g.B, pc, kc, jc + jg, jg_end - jg, pb + jg * kc);
          // Macro-kernel: the B micro-panel (jr) stays in L1 while A micro-panels (ir) stream.
          for (index_t jr = jg; jr < jg_end; jr += NR) {
            const index_t nr = std::min(NR, nc - jr);
            for (index_t ir = 0; ir < mc; ir += MR)
              micro_tile(std::min(MR, mc - ir), nr, kc, pa + ir * kc, pb + jr * kc, g.alpha, beta,
                         c + ir * g.C.stride + jr, g.C.stride);
          }
        }
        if (pc + kc >= g.k) epi(ic, ic + mc, jc, jc + nc);  // this block of C is final
      }
    }
  }
}

/// Splits C into tm x tn rectangles, one per thread, choosing the grid that packs the least
/// (each rectangle packs its own rows of op(A) and columns of op(B)); runs them in parallel.
template <class T, class Epilogue>
inline void gemm_packed(const cpu_simd& policy, Trans ta, Trans tb, index_t m, index_t n, index_t k, T alpha,
                        ConstMatrixView<T> A, ConstMatrixView<T> B, T beta, MatrixView<T> C, const Epilogue& epi) {
  constexpr index_t MR = GemmGeometry<T>::mr, NR = GemmGeometry<T>::nr;
  const PackedGemm<T> g{ta, tb, alpha, beta, A, B, C, k, even_step(k, GemmBlocking<T>::kc, 1)};
  const bool small = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < kGemmParallelMinMacs;
  int threads = small ? 1 : gemm_thread_count(policy);
  threads = static_cast<int>(std::min<index_t>(threads, ceil_div(m, MR) * ceil_div(n, NR)));
  if (threads <= 1) {
    gemm_rectangle(g, 0, m, 0, n, epi);
    return;
  }
  // Grid: tm * tn == threads, minimising packed elements tn * m * k + tm * k * n, with at least
  // one micro-tile per rectangle.
  index_t tm = 1, tn = threads;
  double best = -1.0;
  for (index_t a = 1; a <= threads; ++a) {
    if (threads % a != 0) continue;
    const index_t b = threads / a;
    if (a > ceil_div(m, MR) || b > ceil_div(n, NR)) continue;
    const double cost = static_cast<double>(b) * static_cast<double>(m) + static_cast<double>(a) * static_cast<double>(n);
    if (best < 0.0 || cost < best) best = cost, tm = a, tn = b;
  }
  if (best < 0.0) tm = std::min<index_t>(threads, ceil_div(m, MR)), tn = 1;
  const index_t rows = round_up(ceil_div(m, tm), MR), cols = round_up(ceil_div(n, tn), NR);
  tm = ceil_div(m, rows), tn = ceil_div(n, cols);
  run_with_threads(policy, threads, [&] {
    parallel_items(threads, tm * tn, [&](index_t item) {
      const index_t i0 = (item / tn) * rows, j0 = (item % tn) * cols;
      gemm_rectangle(g, i0, std::min(m, i0 + rows), j0, std::min(n, j0 + cols), epi);
    });
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

namespace detail {
/// C[i, :] = alpha · a[i·inca] · b + beta · C[i, :]  for i < m; b: n contiguous values.
/// Rows are independent, so splitting them over threads leaves every result unchanged.
template <class T>
void rank1_update(const cpu_simd& policy, index_t m, index_t n, const T* a, index_t inca, const T* b, T alpha, T beta,
                  MatrixView<T> C) {
  using V = xsimd::batch<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  auto rows = [&](index_t r0, index_t r1) {
    for (index_t i = r0; i < r1; ++i) {
      const T s = alpha * a[i * inca];
      const V sv(s), bv_beta(beta);
      T* c = C.row(i);
      index_t j = 0;
      if (beta == T(0)) {
        for (; j + W <= n; j += W) (sv * V::load_unaligned(b + j)).store_unaligned(c + j);
        for (; j < n; ++j) c[j] = s * b[j];
      } else if (beta == T(1)) {
        for (; j + W <= n; j += W) xsimd::fma(sv, V::load_unaligned(b + j), V::load_unaligned(c + j)).store_unaligned(c + j);
        for (; j < n; ++j) c[j] = std::fma(s, b[j], c[j]);
      } else {
        for (; j + W <= n; j += W)
          xsimd::fma(sv, V::load_unaligned(b + j), bv_beta * V::load_unaligned(c + j)).store_unaligned(c + j);
        for (; j < n; ++j) c[j] = std::fma(s, b[j], beta * c[j]);
      }
    }
  };
  if (m * n < (index_t(1) << 18) || policy.max_threads == 1) {
    rows(0, m);
    return;
  }
  run_in_policy_arena(policy, [&] {
    tbb::parallel_for(tbb::blocked_range<index_t>(0, m, 16),
                      [&](const tbb::blocked_range<index_t>& r) { rows(r.begin(), r.end()); });
  });
}
}  // namespace detail

/// \brief C = alpha * op(A) * op(B) + beta * C, then `epi(r0, r1, c0, c1)` on disjoint blocks of C
/// that together cover it, each called once, right after that block's values are final (on the
/// thread that computed them, while they are still in cache): a fused epilogue such as a bias, an
/// activation or the DCN-V2 cross update reads C's block hot instead of in a second pass over
/// memory. The epilogue must only touch its block (rows [r0, r1), columns [c0, c1)) of C and of
/// other outputs of the same shape; blocks may run concurrently.
template <class T, class Epilogue>
void gemm_epilogue(const cpu_simd& policy, Trans ta, Trans tb, T alpha, ConstMatrixView<T> A, ConstMatrixView<T> B,
                   T beta, MatrixView<T> C, const Epilogue& epi) {
  const index_t m = C.rows, n = C.cols;
  const index_t k = (ta == Trans::no) ? A.cols : A.rows;
  assert(((ta == Trans::no) ? A.rows : A.cols) == m);
  assert(((tb == Trans::no) ? B.rows : B.cols) == k);
  assert(((tb == Trans::no) ? B.cols : B.rows) == n);
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == T(0)) {
    detail::scale_matrix(beta, C);
    epi(0, m, 0, n);
    return;
  }
  if (m == 1) {
    // C[0, :] = alpha * op(A)[0, :] * op(B) + beta * C[0, :], x = op(A)[0, :].
    const index_t incx = (ta == Trans::no) ? 1 : A.stride;
    if (tb == Trans::no)  // op(B) = B: [k, n] rows are k -> axpy over B's rows
      detail::gemv(policy, true, n, k, A.data, incx, B.data, B.stride, alpha, beta, C.data, index_t(1));
    else  // op(B) = Bᵀ, B: [n, k] -> a dot product per row of B
      detail::gemv(policy, false, n, k, A.data, incx, B.data, B.stride, alpha, beta, C.data, index_t(1));
    epi(0, m, 0, n);
    return;
  }
  if (n == 1) {
    // C[:, 0] = alpha * op(A) * x + beta * C[:, 0], x = op(B)[:, 0].
    const index_t incx = (tb == Trans::no) ? B.stride : 1;
    if (ta == Trans::no)  // A: [m, k] -> a dot product per row of A
      detail::gemv(policy, false, m, k, B.data, incx, A.data, A.stride, alpha, beta, C.data, C.stride);
    else  // op(A) = Aᵀ, A: [k, m] -> axpy over A's rows
      detail::gemv(policy, true, m, k, B.data, incx, A.data, A.stride, alpha, beta, C.data, C.stride);
    epi(0, m, 0, n);
    return;
  }
  if (k == 1 && tb == Trans::no) {
    // Rank-1 update C = alpha · a bᵀ + beta · C (the dW of a batch-1 Linear backward): one
    // vectorised pass per row of C, no packing.
    detail::rank1_update(policy, m, n, A.data, (ta == Trans::no) ? A.stride : index_t(1), B.data, alpha, beta, C);
    epi(0, m, 0, n);
    return;
  }
  detail::gemm_packed(policy, ta, tb, m, n, k, alpha, A, B, beta, C, epi);
}

/// \brief C = alpha * op(A) * op(B) + beta * C on cpu_simd.
///   op(A): [m, k], op(B): [k, n], C: [m, n], row-major views with any row stride.
/// beta == 0 overwrites C (NaNs in C are ignored); alpha == 0 or k == 0 only scales C (BLAS
/// convention: A and B are not read). Uses up to policy.max_threads oneTBB threads (0 = the
/// current arena); the result is bitwise identical for any thread count.
template <class T>
void gemm(const cpu_simd& policy, Trans ta, Trans tb, T alpha, ConstMatrixView<T> A, ConstMatrixView<T> B, T beta,
          MatrixView<T> C) {
  gemm_epilogue(policy, ta, tb, alpha, A, B, beta, C, detail::NoEpilogue{});
}

}  // namespace ctrnet::kernels

CTRNET_SIMD_WARNINGS_END
