// cpu_simd inverted dropout: the SAME mask as the cpu_scalar kernel of kernels/dropout.hpp, faster.
//   x, mask, y: [rows, cols]; mask[r, c] = 0 if u_{r,c} < p else 1/(1-p); y = x ⊙ mask.
// u_{r,c} is the c-th Rng::uniform() of Rng(mix_seed(seed, step, layer, first_row + r)). Drawing it
// dominates the cost, so the xoshiro256++ generators of xsimd::batch<uint64_t>::size consecutive rows
// run side by side, one row per lane (a lane-parallel copy of Rng::next_u64), and the test
// uniform() < p becomes the exact integer test (u >> 11) < ceil(p·2^53), since uniform() is
// (u >> 11)·2^-53 exactly. Leftover rows (rows % lanes) run the scalar kernel. 3-4x faster than
// cpu_scalar for 256+ columns (AVX2). Backward (dx += dy ⊙ mask) is memory-bound: it stays scalar.
// Included by ctrnet/kernels/dropout.hpp; include that header, not this one.
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ctrnet/kernels/dropout.hpp"
#include "ctrnet/kernels/simd/diagnostics.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

CTRNET_SIMD_WARNINGS_BEGIN

namespace ctrnet::kernels {

namespace simd_dropout_detail {

using U64 = xsimd::batch<std::uint64_t>;
using I64 = xsimd::batch<std::int64_t>;

/// Columns drawn per pass over a group of rows (the draws stay in L1).
inline constexpr index_t kChunk = 64;

inline U64 rotl(U64 x, int k) { return (x << k) | (x >> (64 - k)); }

/// xoshiro256++ step in every lane: the same arithmetic as Rng::next_u64.
inline U64 next_u64(U64& s0, U64& s1, U64& s2, U64& s3) {
  const U64 result = rotl(s0 + s3, 23) + s0;
  const U64 t = s1 << 17;
  s2 ^= s0;
  s3 ^= s1;
  s1 ^= s2;
  s0 ^= s3;
  s2 ^= t;
  s3 = rotl(s3, 45);
  return result;
}

}  // namespace simd_dropout_detail

/// x, mask, y: [rows, cols]; mask receives 0 or 1/(1-p); y = x ⊙ mask (x and y may alias).
template <class T>
void dropout_forward(const cpu_simd&, double p, std::uint64_t seed, std::uint64_t step, std::uint64_t layer,
                     index_t first_row, ConstMatrixView<T> x, MatrixView<T> mask, MatrixView<T> y) {
  namespace d = simd_dropout_detail;
  constexpr index_t L = static_cast<index_t>(d::U64::size);  // rows drawn side by side
  const T keep_scale = T(1.0 / (1.0 - p));
  // For an integer k < 2^53: k·2^-53 < p  <=>  k < ceil(p·2^53) (p·2^53 is exact).
  const d::I64 threshold(static_cast<std::int64_t>(std::ceil(std::ldexp(p, 53))));

  index_t r = 0;
  for (; r + L <= x.rows; r += L) {
    alignas(64) std::uint64_t st[4][L];
    for (index_t k = 0; k < L; ++k) {
      const Rng rng(mix_seed(seed, step, layer, static_cast<std::uint64_t>(first_row + r + k)));
      for (int i = 0; i < 4; ++i) st[i][k] = rng.state()[i];
    }
    d::U64 s0 = d::U64::load_aligned(st[0]), s1 = d::U64::load_aligned(st[1]);
    d::U64 s2 = d::U64::load_aligned(st[2]), s3 = d::U64::load_aligned(st[3]);
    // Columns in chunks of kChunk: draw the chunk for all L rows into `dropped` (column-major,
    // one contiguous vector store per column), then write each row's mask and output contiguously.
    alignas(64) std::int64_t dropped[d::kChunk * L];  // all ones where u < p
    for (index_t c0 = 0; c0 < x.cols; c0 += d::kChunk) {
      const index_t nc = std::min(d::kChunk, x.cols - c0);
      for (index_t c = 0; c < nc; ++c) {
        const d::I64 k53 = xsimd::bitwise_cast<d::I64>(d::next_u64(s0, s1, s2, s3) >> 11);
        xsimd::select(k53 < threshold, d::I64(-1), d::I64(0)).store_aligned(dropped + c * L);
      }
      for (index_t k = 0; k < L; ++k) {
        const T* xr = x.row(r + k) + c0;
        T* mr = mask.row(r + k) + c0;
        T* yr = y.row(r + k) + c0;
        for (index_t c = 0; c < nc; ++c) {
          const T m = dropped[c * L + k] ? T(0) : keep_scale;
          mr[c] = m;
          yr[c] = xr[c] * m;
        }
      }
    }
  }
  if (r < x.rows) {
    const index_t n = x.rows - r;
    dropout_forward(cpu_scalar{}, p, seed, step, layer, first_row + r, x.row_block(r, n), mask.row_block(r, n),
                    y.row_block(r, n));
  }
}

}  // namespace ctrnet::kernels

CTRNET_SIMD_WARNINGS_END
