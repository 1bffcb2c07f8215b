// cpu_simd overloads of the DLRM dot interaction (formulas, pair order and shapes in
// kernels/interaction.hpp). A hand-written batched kernel rather than a GEMM per example: with
// n = 27 vectors of width d = 16..128 per example a general GEMM spends more on packing and on the
// half of Z it throws away than on the triangle that is kept.
//   forward:  for each example and row i, the pairs (i, j0 .. j0+L-1) at once: L accumulator
//             registers over k (one per j, sharing the load of t_i), reduced together by
//             xsimd::haddp into one register of L dot products, stored straight into z (the pairs
//             of row i are contiguous). A partial last group uses a smaller register block (G < L).
//   backward: dt_i += Σ_j S_ij t_j with S = dZ + dZᵀ read straight from dz (no dense S is built):
//             tiles of R = 4 rows i x KV = 2 vectors of k (8 accumulators), one broadcast of S_ij
//             per row and one load of t_j per vector, in three runs of j: j < i0 (S_ij = dz_ij,
//             contiguous), the R x R diagonal block, j ≥ i0 + R (S_ij = dz_ji, adjacent).
// Threads: examples (rows of x) are split over oneTBB workers; each example is computed by the
// same instructions whatever the split, so results do not depend on the number of threads.
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>

#include "ctrnet/kernels/interaction.hpp"
#include "ctrnet/kernels/simd/diagnostics.hpp"
#include "ctrnet/kernels/simd/elementwise.hpp"
#include "ctrnet/kernels/simd/gemm.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

CTRNET_SIMD_WARNINGS_BEGIN

namespace ctrnet::kernels {

namespace simd_detail {

/// Below this many multiply-adds an interaction kernel stays on the calling thread.
inline constexpr double kInteractionParallelMinMacs = double(1 << 16);

/// f(b0, b1) over blocks of examples, in parallel when `macs` is large.
template <class F>
inline void interaction_examples(const cpu_simd& p, index_t rows, double macs, F&& f) {
  const int threads = macs < kInteractionParallelMinMacs || rows < 2 ? 1 : detail::gemm_thread_count(p);
  if (threads <= 1) {
    f(index_t(0), rows);
    return;
  }
  // A few blocks per thread, so a busy core does not hold the others up.
  const index_t blocks = std::min<index_t>(rows, static_cast<index_t>(threads) * 4);
  const index_t chunk = detail::ceil_div(rows, blocks);
  detail::run_with_threads(p, threads, [&] {
    detail::parallel_items(threads, detail::ceil_div(rows, chunk),
                           [&](index_t i) { f(i * chunk, std::min(rows, (i + 1) * chunk)); });
  });
}

/// out[g] = <ti, tj0 + g d> for g < G (G ≤ L): G accumulators over the vector part of k, reduced
/// by haddp, then the scalar tail of k.
template <int G, class T>
inline void interaction_dot_group(const T* ti, const T* tj0, index_t d, T* out) {
  using V = vec<T>;
  constexpr int L = static_cast<int>(V::size);
  static_assert(G >= 1 && G <= L);
  V s[L];
#pragma GCC unroll 16
  for (int r = 0; r < L; ++r) s[r] = V(T(0));
  index_t k = 0;
  for (; k + L <= d; k += L) {
    const V a = V::load_unaligned(ti + k);
#pragma GCC unroll 16
    for (int r = 0; r < G; ++r) s[r] = xsimd::fma(a, V::load_unaligned(tj0 + r * d + k), s[r]);
  }
  alignas(64) T acc[L];
#if defined(__AVX512F__)  // see detail::horizontal_sum in simd/gemm.hpp
  for (int r = 0; r < L; ++r) acc[r] = detail::horizontal_sum(s[r]);
#else
  xsimd::haddp(s).store_aligned(acc);
#endif
  if (k < d)
    for (int r = 0; r < G; ++r)
      for (index_t q = k; q < d; ++q) acc[r] += ti[q] * tj0[r * d + q];
  if constexpr (G == L) V::load_aligned(acc).store_unaligned(out);
  else
    for (int r = 0; r < G; ++r) out[r] = acc[r];
}

/// interaction_dot_group<g> for a run-time g in [1, G].
template <int G, class T>
inline void interaction_dot_partial(int g, const T* ti, const T* tj0, index_t d, T* out) {
  if constexpr (G >= 1) {
    if (g == G) interaction_dot_group<G>(ti, tj0, d, out);
    else interaction_dot_partial<G - 1>(g, ti, tj0, d, out);
  }
}

template <class T>
void interaction_forward_examples(ConstMatrixView<T> x, index_t n, bool self, MatrixView<T> z, index_t b0,
                                  index_t b1) {
  constexpr int L = static_cast<int>(vec<T>::size);
  const index_t d = x.cols / n;
  for (index_t b = b0; b < b1; ++b) {
    const T* t = x.row(b);
    T* zr = z.row(b);
    for (index_t i = 0; i < n; ++i) {
      const index_t count = i + (self ? 1 : 0);
      const T* ti = t + i * d;
      T* out = zr + interaction_row_offset(i, self);
      index_t j = 0;
      for (; j + L <= count; j += L) interaction_dot_group<L>(ti, t + j * d, d, out + j);
      if (j < count) interaction_dot_partial<L - 1>(static_cast<int>(count - j), ti, t + j * d, d, out + j);
    }
  }
}

/// S_ij of dZ + dZᵀ for one example's dz row g (any i, j).
template <class T>
inline T interaction_sym(const T* g, index_t i, index_t j, bool self) {
  if (j < i) return g[interaction_row_offset(i, self) + j];
  if (j > i) return g[interaction_row_offset(j, self) + i];
  return self ? T(2) * g[interaction_row_offset(i, self) + i] : T(0);
}

/// dx rows i0 .. i0+R-1, vectors k0 .. k0 + KV L - 1: acc += Σ_j S_ij t_j.
template <int R, int KV, class T>
inline void interaction_backward_tile(const T* t, const T* g, index_t n, index_t d, bool self, index_t i0, index_t k0,
                                      T* dt) {
  using V = vec<T>;
  constexpr index_t L = static_cast<index_t>(V::size);
  V acc[R][KV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < KV; ++v) acc[r][v] = V::load_unaligned(dt + (i0 + r) * d + k0 + v * L);
  auto step = [&](index_t j, const T (&s)[R]) {
    V tj[KV];
#pragma GCC unroll 16
    for (int v = 0; v < KV; ++v) tj[v] = V::load_unaligned(t + j * d + k0 + v * L);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const V sr(s[r]);
#pragma GCC unroll 16
      for (int v = 0; v < KV; ++v) acc[r][v] = xsimd::fma(sr, tj[v], acc[r][v]);
    }
  };
  T s[R];
  const T* rows[R];  // dz of the pairs (i0 + r, 0), (i0 + r, 1), ...
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) rows[r] = g + interaction_row_offset(i0 + r, self);
  for (index_t j = 0; j < i0; ++j) {  // j below every row of the tile: S_ij = dz_ij
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) s[r] = rows[r][j];
    step(j, s);
  }
  for (index_t j = i0; j < i0 + R; ++j) {  // the diagonal block
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) s[r] = interaction_sym(g, i0 + r, j, self);
    step(j, s);
  }
  for (index_t j = i0 + R; j < n; ++j) {  // j above every row of the tile: S_ij = dz_ji, adjacent in dz
    const T* col = g + interaction_row_offset(j, self) + i0;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) s[r] = col[r];
    step(j, s);
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < KV; ++v) acc[r][v].store_unaligned(dt + (i0 + r) * d + k0 + v * L);
}

template <int KV, class T>
inline void interaction_backward_columns(const T* t, const T* g, index_t n, index_t d, bool self, index_t k0, T* dt) {
  constexpr index_t R = 4;
  index_t i = 0;
  for (; i + R <= n; i += R) interaction_backward_tile<R, KV>(t, g, n, d, self, i, k0, dt);
  // The last n mod R rows as one tile (not row by row: one row is 2 FMA chains, latency-bound).
  switch (n - i) {
    case 3: interaction_backward_tile<3, KV>(t, g, n, d, self, i, k0, dt); break;
    case 2: interaction_backward_tile<2, KV>(t, g, n, d, self, i, k0, dt); break;
    case 1: interaction_backward_tile<1, KV>(t, g, n, d, self, i, k0, dt); break;
    default: break;
  }
}

template <class T>
void interaction_backward_examples(ConstMatrixView<T> x, index_t n, bool self, ConstMatrixView<T> dz,
                                   MatrixView<T> dx, index_t b0, index_t b1) {
  constexpr index_t L = static_cast<index_t>(vec<T>::size);
  const index_t d = x.cols / n;
  for (index_t b = b0; b < b1; ++b) {
    const T* t = x.row(b);
    const T* g = dz.row(b);
    T* dt = dx.row(b);
    index_t k = 0;
    for (; k + 2 * L <= d; k += 2 * L) interaction_backward_columns<2>(t, g, n, d, self, k, dt);
    for (; k + L <= d; k += L) interaction_backward_columns<1>(t, g, n, d, self, k, dt);
    for (; k < d; ++k)  // scalar tail of the columns
      for (index_t i = 0; i < n; ++i) {
        T acc = dt[i * d + k];
        for (index_t j = 0; j < n; ++j) acc += interaction_sym(g, i, j, self) * t[j * d + k];
        dt[i * d + k] = acc;
      }
  }
}

}  // namespace simd_detail

template <class T>
void dot_interaction_forward(const cpu_simd& p, ConstMatrixView<T> x, index_t n, bool self, MatrixView<T> z) {
  detail::check_interaction_shapes(x, n, self, z.rows, z.cols);
  const double macs = double(x.rows) * double(z.cols) * double(x.cols / n);
  simd_detail::interaction_examples(p, x.rows, macs, [&](index_t b0, index_t b1) {
    simd_detail::interaction_forward_examples(x, n, self, z, b0, b1);
  });
}

template <class T>
void dot_interaction_backward_data(const cpu_simd& p, ConstMatrixView<T> x, index_t n, bool self,
                                   ConstMatrixView<T> dz, MatrixView<T> dx) {
  detail::check_interaction_shapes(x, n, self, dz.rows, dz.cols);
  CTRNET_CHECK(dx.rows == x.rows && dx.cols == x.cols, "dot_interaction_backward_data: dx is [", dx.rows, ", ",
               dx.cols, "], expected [", x.rows, ", ", x.cols, "]");
  const double macs = 2.0 * double(x.rows) * double(n) * double(x.cols);
  simd_detail::interaction_examples(p, x.rows, macs, [&](index_t b0, index_t b1) {
    simd_detail::interaction_backward_examples(x, n, self, dz, dx, b0, b1);
  });
}

}  // namespace ctrnet::kernels

CTRNET_SIMD_WARNINGS_END
