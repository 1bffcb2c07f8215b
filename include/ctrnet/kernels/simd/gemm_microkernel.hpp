// Building blocks of the cpu_simd GEMM (BLIS/GotoBLAS layout): packing of op(A) / op(B) into
// contiguous micro-panels and the register-blocked xsimd micro-kernel
//   C[0:MR, 0:NR] = alpha * sum_p Apanel[p, 0:MR]ᵀ Bpanel[p, 0:NR] + beta * C[0:MR, 0:NR],
// with MR = 6 rows and NR = 2 SIMD registers (16 floats / 8 doubles on AVX2): 12 accumulator
// registers, 2 loads of B and 6 broadcasts of A per step of p.
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "ctrnet/core/types.hpp"
#include "ctrnet/kernels/simd/diagnostics.hpp"

CTRNET_SIMD_WARNINGS_BEGIN

namespace ctrnet::kernels::detail {

/// \brief Register-block geometry for element type T on the widest SIMD the build targets.
template <class T>
struct GemmGeometry {
  using batch = xsimd::batch<T>;
  static constexpr index_t lanes = static_cast<index_t>(batch::size);
  static constexpr index_t mr = 6;          ///< rows of C per micro-tile (broadcasts of A)
  static constexpr index_t nr = 2 * lanes;  ///< columns of C per micro-tile (two registers)
};

/// d[0:W] = s[0:n] then zeros (n <= W). W is a compile-time constant, so this unrolls into
/// moves rather than memcpy/memset calls, whose start-up cost dominates on tiny edge pieces.
template <index_t W, class T>
inline void copy_pad(T* __restrict d, const T* __restrict s, index_t n) {
#pragma GCC unroll 32
  for (index_t w = 0; w < W; ++w) d[w] = w < n ? s[w] : T(0);
}

/// d[0:n] = s[0:n] for n <= W (compile-time W, unrolled like copy_pad).
template <index_t W, class T>
inline void copy_prefix(T* __restrict d, const T* __restrict s, index_t n) {
#pragma GCC unroll 32
  for (index_t w = 0; w < W; ++w)
    if (w < n) d[w] = s[w];
}

// ---------------------------------------------------------------------------------------------
// Packing. A packed micro-panel of width W holds kc steps of W consecutive values:
//   dst[p * W + w] = src(w, p)  for w < valid, and 0 for valid <= w < W (zero padding),
// so the micro-kernel reads both operands with unit stride and never needs an edge case.
// Two source layouts cover all four transpose combinations:
//   pack_direct_panels: src(w, p) = src[p * ld + w]   (op(A) = Aᵀ,  op(B) = B)
//   pack_transposed:    src(w, p) = src[w * ld + p]   (op(A) = A,   op(B) = Bᵀ)
// ---------------------------------------------------------------------------------------------

/// Panels whose p-th steps are consecutive pieces of row p of the source: `width` columns
/// become ceil(width / W) panels (panel q at dst + q*W*kc), the last one zero-padded. Walks the
/// source row by row, so reads are contiguous whatever the panel width.
template <index_t W, class T>
inline void pack_direct_panels(const T* __restrict src, index_t ld, index_t width, index_t kc, T* __restrict dst) {
  using batch = xsimd::batch<T>;
  constexpr index_t L = static_cast<index_t>(batch::size);
  const index_t full = width / W, rem = width % W;
  constexpr index_t kAhead = 8;                                   // rows prefetched ahead
  constexpr index_t kLine = 64 / static_cast<index_t>(sizeof(T));  // elements per cache line
  for (index_t p = 0; p < kc; ++p) {
    const T* s = src + p * ld;
    // Rows of a wide matrix start in different pages, where hardware prefetchers stop.
    if (p + kAhead < kc)
      for (index_t w = 0; w < width; w += kLine) __builtin_prefetch(s + kAhead * ld + w);
    T* d = dst + p * W;
    for (index_t q = 0; q < full; ++q, s += W, d += W * kc) {
      if constexpr (W % L == 0) {
        for (index_t w = 0; w < W; w += L) batch::load_unaligned(s + w).store_aligned(d + w);
      } else {
#pragma GCC unroll 16
        for (index_t w = 0; w < W; ++w) d[w] = s[w];  // fixed size: moves, not a memcpy call
      }
    }
    if (rem) copy_pad<W>(d, s, rem);
  }
}

#if defined(__AVX__)
/// In-register transpose of 8 rows x 8 floats (r[i] = row i) into 8 columns (r[j] = column j).
inline void transpose8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}
#endif

/// Panel whose p-th step is column p of `valid` source rows: a transpose, done in 8x8 register
/// blocks for float on AVX (rows w0..w0+7, columns p..p+7), scalar elsewhere.
/// Needs 8 elements of slack after the panel when W % 8 != 0 (overlapping stores, see below).
template <index_t W, class T>
inline void pack_transposed(const T* __restrict src, index_t ld, index_t valid, index_t kc, T* __restrict dst) {
  index_t p = 0;
#if defined(__AVX__)
  if constexpr (std::is_same_v<T, float>) {
    if (valid == W) {
      for (; p + 8 <= kc; p += 8) {
        for (index_t w0 = 0; w0 < W; w0 += 8) {
          const index_t rows = std::min<index_t>(8, W - w0);
          __m256 r[8];
          for (index_t i = 0; i < 8; ++i)
            r[i] = i < rows ? _mm256_loadu_ps(src + (w0 + i) * ld + p) : _mm256_setzero_ps();
          transpose8x8(r);
          // For W = 6 each 8-wide store spills 2 lanes into the next step's slots, which the
          // next store (ascending j, then the next p block, the scalar tail or the next panel)
          // overwrites; the last panel of a buffer spills into its slack.
          for (index_t j = 0; j < 8; ++j) _mm256_storeu_ps(dst + (p + j) * W + w0, r[j]);
        }
      }
    }
  }
#endif
  for (; p < kc; ++p) {
    T* d = dst + p * W;
#pragma GCC unroll 32
    for (index_t w = 0; w < W; ++w) d[w] = w < valid ? src[w * ld + p] : T(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Micro-kernel.
// ---------------------------------------------------------------------------------------------

/// \brief C[0:Rows, 0:NR] = alpha * Σ_p a[p*MR + r] * b[p*NR + c] + beta * C (beta == 0: C is
/// not read). `a`: packed MR-row micro-panel, `b`: packed NR-column micro-panel (64-byte
/// aligned), both kc steps long. Rows < MR only skips work: every element of C goes through the
/// same sequence of FMAs whatever Rows is, so results do not depend on the tiling.
template <int Rows, class T>
inline void micro_kernel(index_t kc, const T* __restrict a, const T* __restrict b, T alpha, T beta, T* c,
                         index_t ldc) {
  using G = GemmGeometry<T>;
  using batch = typename G::batch;
  constexpr index_t L = G::lanes, MR = G::mr, NR = G::nr;

  batch acc0[Rows], acc1[Rows];  // Rows x 2 registers: the C micro-tile
  // C rows that are not 64-byte aligned (a width such as 429 that is not a multiple of 16) make
  // each 32-byte access of the write-back split a cache line; prefetching both lines of every
  // row while the FMAs run hides it (measured: 70 -> 78 GFLOP/s at 512 x 429 x 429, 1 thread).
  if ((reinterpret_cast<std::uintptr_t>(c) | static_cast<std::uintptr_t>(ldc * index_t(sizeof(T)))) % 64 != 0) {
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      __builtin_prefetch(c + r * ldc, 1);
      __builtin_prefetch(c + r * ldc + NR - 1, 1);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) acc0[r] = acc1[r] = batch(T(0));

#pragma GCC unroll 4
  for (index_t p = 0; p < kc; ++p) {
    // Rank-1 update of the tile: acc[r][:] += a[r] * b[:].
    const batch b0 = batch::load_aligned(b);
    const batch b1 = batch::load_aligned(b + L);
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const batch ar(a[r]);
      acc0[r] = xsimd::fma(ar, b0, acc0[r]);
      acc1[r] = xsimd::fma(ar, b1, acc1[r]);
    }
    a += MR;
    b += NR;
  }

  // Write back: C = alpha * acc + beta * C.
  const batch va(alpha);
  if (beta == T(0)) {
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      (va * acc0[r]).store_unaligned(c + r * ldc);
      (va * acc1[r]).store_unaligned(c + r * ldc + L);
    }
  } else {
    const batch vb(beta);
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      T* cr = c + r * ldc;
      xsimd::fma(va, acc0[r], vb * batch::load_unaligned(cr)).store_unaligned(cr);
      xsimd::fma(va, acc1[r], vb * batch::load_unaligned(cr + L)).store_unaligned(cr + L);
    }
  }
}

/// Runs micro_kernel for a tile of mr <= MR rows and nr <= NR columns of C. A tile narrower than
/// NR goes through an aligned MR x NR scratch tile, so the arithmetic is identical to a full tile.
template <class T>
inline void micro_tile(index_t mr, index_t nr, index_t kc, const T* a, const T* b, T alpha, T beta, T* c,
                       index_t ldc) {
  using G = GemmGeometry<T>;
  constexpr index_t NR = G::nr;
  auto run = [&](T* cc, index_t ld) {
    switch (mr) {
      case 6: micro_kernel<6>(kc, a, b, alpha, beta, cc, ld); break;
      case 5: micro_kernel<5>(kc, a, b, alpha, beta, cc, ld); break;
      case 4: micro_kernel<4>(kc, a, b, alpha, beta, cc, ld); break;
      case 3: micro_kernel<3>(kc, a, b, alpha, beta, cc, ld); break;
      case 2: micro_kernel<2>(kc, a, b, alpha, beta, cc, ld); break;
      default: micro_kernel<1>(kc, a, b, alpha, beta, cc, ld); break;
    }
  };
  static_assert(G::mr == 6, "micro_tile dispatches on mr = 1..6");
  if (nr == NR) {
    run(c, ldc);
    return;
  }
  alignas(64) T tile[G::mr * NR];  // only read by the kernel when beta != 0
  if (beta != T(0))
    for (index_t r = 0; r < mr; ++r) copy_pad<NR>(tile + r * NR, c + r * ldc, nr);
  run(tile, NR);
  for (index_t r = 0; r < mr; ++r) copy_prefix<NR>(c + r * ldc, tile + r * NR, nr);
}

}  // namespace ctrnet::kernels::detail

CTRNET_SIMD_WARNINGS_END
