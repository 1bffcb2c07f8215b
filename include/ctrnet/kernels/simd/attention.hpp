// cpu_simd kernels of the attention layers (formulas: kernels/scalar/attention.hpp).
//
// Attention: one oneTBB task per block of examples (results never depend on the thread count:
// every example is computed by the same instructions on one thread). Per (example, head) the six
// small products (S = scale Q Kᵀ, C = P V in forward; dP = dC Vᵀ, dV = Pᵀ dC, dQ = dS K,
// dK = dSᵀ Q in backward; L × d_h or L × L, inner size d_h or L) are all one shape of product
//   out[i, :] = α Σ_k a(i, k) B[k, :]      (a read at any strides, B row-major)
// computed by a register-blocked micro-kernel (6 rows × 2 SIMD registers = 12 accumulators,
// one broadcast of a and two loads of B per step; a rest of 1–2 rows goes as 4 + 3 / 4 + 4 rows,
// then 1-vector and scalar column tails) straight on the strided rows of the QKV, context and
// probability matrices: Pᵀ and dSᵀ are read transposed by their strides, and only Kᵀ and Vᵀ
// (d_h × n, zero-padded to whole vectors) are transposed (8 × 8 AVX register transposes) into a
// per-thread scratch. Nothing is packed, no GEMM is called per head. The scale is applied in the
// micro-kernel's store of S; the softmax (row max, exp, sum, normalise, zeros for the masked
// keys) and its backward dS = scale · P ⊙ (dP − rowsum(P ⊙ dP)) are fused passes over each row
// of S or dP while it is in L1, which also prefetch the next head's rows (strided pieces of two
// cache lines that the hardware prefetchers miss). Only the n valid keys enter the products.
// This replaced the packed GEMM per (example, head) (bench_attention's mha_core/*: `kernel` vs
// `gemm`; docs/benchmarks.md). At batch 512 the core alone streams its matrices through DRAM
// and is bandwidth-bound; MultiHeadAttention therefore calls it per block of examples right
// after the QKV projection of that block (layers/attention.hpp).
//
// Layer norm: rows in parallel; dγ, dβ as partial sums over fixed blocks of 64 rows, added in
// block order (deterministic for any thread count).
#pragma once
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/kernels/scalar/attention.hpp"
#include "ctrnet/kernels/simd/diagnostics.hpp"
#include "ctrnet/kernels/simd/gemm.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

CTRNET_SIMD_WARNINGS_BEGIN

namespace ctrnet::kernels {

namespace attn_detail {
template <class T>
using vec = xsimd::batch<T>;

template <class T>
inline T hsum(vec<T> v) {
  return kernels::detail::horizontal_sum(v);
}

/// p[0:n] = softmax(s[0:n]) (max-subtracted), p[n:L] = 0; s may be p (in place).
template <class T>
inline void softmax_row(const T* s, T* p, index_t n, index_t L) {
  using V = vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  index_t j = 0;
  T mx = -std::numeric_limits<T>::infinity();
  if (n >= W) {
    V m = V::load_unaligned(s);
    for (j = W; j + W <= n; j += W) m = xsimd::max(m, V::load_unaligned(s + j));
    alignas(64) T lane[W];
    m.store_aligned(lane);
    mx = lane[0];
    for (index_t l = 1; l < W; ++l) mx = std::max(mx, lane[l]);
  }
  for (; j < n; ++j) mx = std::max(mx, s[j]);
  const V mv(mx);
  V acc(T(0));
  for (j = 0; j + W <= n; j += W) {
    const V e = xsimd::exp(V::load_unaligned(s + j) - mv);
    e.store_unaligned(p + j);
    acc += e;
  }
  T sum = hsum(acc);
  for (; j < n; ++j) sum += (p[j] = std::exp(s[j] - mx));
  const T inv = T(1) / sum;
  const V iv(inv);
  for (j = 0; j + W <= n; j += W) (V::load_unaligned(p + j) * iv).store_unaligned(p + j);
  for (; j < n; ++j) p[j] *= inv;
  for (j = n; j < L; ++j) p[j] = T(0);
}

/// ds[0:n] = scale · p ⊙ (dp − Σ p ⊙ dp), in place in ds (which holds dp); ds[n:L] = 0.
template <class T>
inline void softmax_backward_row(const T* p, T* ds, index_t n, index_t L, T scale) {
  using V = vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  V s(T(0));
  index_t j = 0;
  for (; j + W <= n; j += W) s = xsimd::fma(V::load_unaligned(p + j), V::load_unaligned(ds + j), s);
  T dot = hsum(s);
  for (; j < n; ++j) dot += p[j] * ds[j];
  const V dv(dot), sc(scale);
  for (j = 0; j + W <= n; j += W)
    (sc * V::load_unaligned(p + j) * (V::load_unaligned(ds + j) - dv)).store_unaligned(ds + j);
  for (; j < n; ++j) ds[j] = scale * p[j] * (ds[j] - dot);
  for (j = n; j < L; ++j) ds[j] = T(0);
}

/// Per-thread scratch, grown on demand.
template <class T>
inline T* scratch(index_t n) {
  thread_local AlignedVector<T> buf;
  if (static_cast<index_t>(buf.size()) < n) buf = AlignedVector<T>(static_cast<std::size_t>(n));
  return buf.data();
}

/// Runs body(b0, b1) over blocks of examples, in parallel when the policy allows.
template <class F>
inline void for_examples(const cpu_simd& p, index_t batch, double work_per_example, F&& body) {
  const int threads = batch * work_per_example < 2e5 ? 1 : kernels::detail::gemm_thread_count(p);
  if (threads <= 1) {
    body(index_t(0), batch);
    return;
  }
  const index_t grain = std::max<index_t>(1, batch / (8 * threads));
  kernels::detail::run_with_threads(p, threads, [&] {
    tbb::parallel_for(tbb::blocked_range<index_t>(0, batch, grain),
                      [&](const tbb::blocked_range<index_t>& r) { body(r.begin(), r.end()); });
  });
}
}  // namespace attn_detail

namespace attn_detail {
/// Micro-tile: out[r·ldo + c] = α Σ_{k<K} A[r·ar + k·ak] B[k·ldb + c] for r < MR, c < NV·W
/// (OVERWRITES out). MR·NV accumulators stay in registers over the whole inner loop.
template <int MR, int NV, class T>
inline void tile(index_t K, const T* __restrict A, index_t ar, index_t ak, const T* __restrict B, index_t ldb, T alpha,
                 T* __restrict out, index_t ldo) {
  using V = vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  V acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = V(T(0));
  for (index_t k = 0; k < K; ++k) {
    V bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = V::load_unaligned(B + k * ldb + v * W);
    const T* ak_ = A + k * ak;
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const V av(ak_[r * ar]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = xsimd::fma(av, bv[v], acc[r][v]);
    }
  }
  const V al(alpha);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) (al * acc[r][v]).store_unaligned(out + r * ldo + v * W);
}

/// Rows [0, M) of one column block of NV vectors: tiles of 6 rows; a rest of 1 or 2 rows joins
/// the last full tile as 4 + 3 or 4 + 4 rows (a 1- or 2-row tile has too few accumulators to
/// hide the FMA latency), a rest of 3..5 rows is one tile.
template <int NV, class T>
inline void tile_rows(index_t M, index_t K, const T* A, index_t ar, index_t ak, const T* B, index_t ldb, T alpha, T* out,
                      index_t ldo) {
  constexpr int MR = 6;
  const index_t rem = M % MR;
  const index_t full = (M > MR && rem > 0 && rem <= 2) ? M - MR - rem : M - rem;
  index_t i = 0;
  for (; i < full; i += MR) tile<MR, NV>(K, A + i * ar, ar, ak, B, ldb, alpha, out + i * ldo, ldo);
  const T* Ai = A + i * ar;
  T* oi = out + i * ldo;
  switch (M - i) {
    case 8:
      tile<4, NV>(K, Ai, ar, ak, B, ldb, alpha, oi, ldo);
      tile<4, NV>(K, Ai + 4 * ar, ar, ak, B, ldb, alpha, oi + 4 * ldo, ldo);
      break;
    case 7:
      tile<4, NV>(K, Ai, ar, ak, B, ldb, alpha, oi, ldo);
      tile<3, NV>(K, Ai + 4 * ar, ar, ak, B, ldb, alpha, oi + 4 * ldo, ldo);
      break;
    case 5: tile<5, NV>(K, Ai, ar, ak, B, ldb, alpha, oi, ldo); break;
    case 4: tile<4, NV>(K, Ai, ar, ak, B, ldb, alpha, oi, ldo); break;
    case 3: tile<3, NV>(K, Ai, ar, ak, B, ldb, alpha, oi, ldo); break;
    case 2: tile<2, NV>(K, Ai, ar, ak, B, ldb, alpha, oi, ldo); break;
    case 1: tile<1, NV>(K, Ai, ar, ak, B, ldb, alpha, oi, ldo); break;
    default: break;
  }
}

/// out[M × N] (row stride ldo) = α · A B with A[i, k] = A[i·ar + k·ak] (any strides: A or Aᵀ of
/// a row-major matrix) and B [K × N] row-major (row stride ldb). OVERWRITES out. Columns in
/// blocks of 2 vectors, then 1 vector, then a scalar tail (< 1 vector, only for odd head widths).
template <class T>
inline void small_gemm(index_t M, index_t N, index_t K, const T* A, index_t ar, index_t ak, const T* B, index_t ldb,
                       T alpha, T* out, index_t ldo) {
  constexpr index_t W = static_cast<index_t>(vec<T>::size);
  index_t c = 0;
  for (; c + 2 * W <= N; c += 2 * W) tile_rows<2>(M, K, A, ar, ak, B + c, ldb, alpha, out + c, ldo);
  for (; c + W <= N; c += W) tile_rows<1>(M, K, A, ar, ak, B + c, ldb, alpha, out + c, ldo);
  if (c == N) return;
  for (index_t i = 0; i < M; ++i) {
    T acc[W] = {};
    const T* ai = A + i * ar;
    for (index_t k = 0; k < K; ++k) {
      const T a = ai[k * ak];
      const T* bk = B + k * ldb;
      for (index_t j = c; j < N; ++j) acc[j - c] += a * bk[j];
    }
    for (index_t j = c; j < N; ++j) out[i * ldo + j] = alpha * acc[j - c];
  }
}

#if defined(__AVX__)
/// dst[d·ldd + j] = src[j·lds + d] for an 8 × 8 block of floats (unpack / shuffle / permute).
inline void transpose8x8(const float* __restrict src, index_t lds, float* __restrict dst, index_t ldd) {
  __m256 r[8], t[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + k * lds);
  for (int k = 0; k < 8; k += 2) {
    t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
    t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
  }
  for (int k = 0; k < 8; k += 4) {
    r[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int k = 0; k < 4; ++k) {
    _mm256_storeu_ps(dst + k * ldd, _mm256_permute2f128_ps(r[k], r[k + 4], 0x20));
    _mm256_storeu_ps(dst + (k + 4) * ldd, _mm256_permute2f128_ps(r[k], r[k + 4], 0x31));
  }
}
#endif

/// dst[d·np + j] = src[j·lds + d] for j < n, d < dh, and 0 for n <= j < np (a [n, dh] block
/// transposed to [dh, np], zero-padded to whole vectors). 8 × 8 register transposes for float
/// on AVX, element copies for the rest.
template <class T>
inline void transpose_pad(const T* __restrict src, index_t lds, index_t n, index_t np, index_t dh, T* __restrict dst) {
  index_t j0 = 0, d0 = 0;
#if defined(__AVX__)
  if constexpr (std::is_same_v<T, float>) {
    d0 = dh / 8 * 8;
    for (; j0 + 8 <= n; j0 += 8)
      for (index_t d = 0; d < d0; d += 8) transpose8x8(src + j0 * lds + d, lds, dst + d * np + j0, np);
  }
#endif
  for (index_t j = 0; j < n; ++j) {  // columns d0.. of every row, all columns of rows j0..
    const T* r = src + j * lds;
    for (index_t d = (j < j0 ? d0 : 0); d < dh; ++d) dst[d * np + j] = r[d];
  }
  for (index_t d = 0; d < dh; ++d)
    for (index_t j = n; j < np; ++j) dst[d * np + j] = T(0);
}

/// Prefetches the `bytes` bytes from p on (the rows of the next head, while this one computes:
/// the QKV rows of a head come from memory, and a strided row of 2 lines is too short for the
/// hardware prefetchers).
template <class T>
inline void prefetch_row(const T* p, index_t bytes) {
  const char* c = reinterpret_cast<const char*>(p);
  for (index_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 0, 3);
}
/// The same for rows about to be written (fetched for ownership).
template <class T>
inline void prefetch_row_w(T* p, index_t bytes) {
  char* c = reinterpret_cast<char*>(p);
  for (index_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 1, 3);
}
/// The (example, head) `ahead` heads after (b, h) in the order of the loops, if before example b1.
inline bool head_ahead(index_t b, index_t h, index_t heads, index_t b1, index_t ahead, index_t& nb, index_t& nh) {
  const index_t k = b * heads + h + ahead;
  nb = k / heads;
  nh = k % heads;
  return nb < b1;
}

template <class T>
inline index_t round_up_lanes(index_t n) {
  constexpr index_t W = static_cast<index_t>(vec<T>::size);
  return (n + W - 1) / W * W;
}
}  // namespace attn_detail

template <class T>
void attention_forward(const cpu_simd& pol, const AttentionShape& s, T scale, ConstMatrixView<T> qkv,
                       const index_t* counts, T* probs, MatrixView<T> ctx) {
  const index_t L = s.tokens, dh = s.head_dim, w = s.width(), ld = qkv.stride;
  const index_t Lp = attn_detail::round_up_lanes<T>(L);
  const double work = 4.0 * double(L) * double(L) * double(w);
  attn_detail::for_examples(pol, s.batch, work, [&](index_t b0, index_t b1) {
    T* const kt = attn_detail::scratch<T>(dh * Lp + L * Lp);  // Kᵀ [dh, np], S [L, np]
    T* const sc = kt + dh * Lp;
    for (index_t b = b0; b < b1; ++b) {
      const index_t n = s.valid(counts, b), np = attn_detail::round_up_lanes<T>(n);
      const T* base = qkv.row(b * L);
      for (index_t h = 0; h < s.heads; ++h) {
        T* P = probs + (b * s.heads + h) * L * L;
        const T* Q = base + h * dh;
        attn_detail::transpose_pad(base + w + h * dh, ld, n, np, dh, kt);
        attn_detail::small_gemm(L, np, dh, Q, ld, index_t(1), kt, np, scale, sc, np);  // S = scale Q Kᵀ
        index_t nb, nh;  // prefetch the rows of a head ahead
        const bool more = attn_detail::head_ahead(b, h, s.heads, b1, 1, nb, nh);
        const T* nx = more ? qkv.row(nb * L) + nh * dh : nullptr;
        T* nc = more ? ctx.row(nb * L) + nh * dh : nullptr;
        for (index_t i = 0; i < L; ++i) {
          attn_detail::softmax_row(sc + i * np, P + i * L, n, L);
          if (!more) continue;
          for (index_t k = 0; k < 3; ++k) attn_detail::prefetch_row(nx + i * ld + k * w, dh * index_t(sizeof(T)));
          attn_detail::prefetch_row_w(nc + i * ctx.stride, dh * index_t(sizeof(T)));
        }
        attn_detail::small_gemm(L, dh, n, static_cast<const T*>(P), L, index_t(1), base + 2 * w + h * dh, ld, T(1),
                                ctx.row(b * L) + h * dh, ctx.stride);  // C = P V
      }
    }
  });
}

template <class T>
void attention_backward(const cpu_simd& pol, const AttentionShape& s, T scale, ConstMatrixView<T> qkv,
                        const index_t* counts, const T* probs, ConstMatrixView<T> dctx, MatrixView<T> dqkv) {
  const index_t L = s.tokens, dh = s.head_dim, w = s.width(), ld = qkv.stride, ldc = dctx.stride, ldd = dqkv.stride;
  const index_t Lp = attn_detail::round_up_lanes<T>(L);
  const double work = 8.0 * double(L) * double(L) * double(w);
  attn_detail::for_examples(pol, s.batch, work, [&](index_t b0, index_t b1) {
    T* const vt = attn_detail::scratch<T>(dh * Lp + L * Lp);  // Vᵀ [dh, np], dP then dS [L, np]
    T* const ds = vt + dh * Lp;
    for (index_t b = b0; b < b1; ++b) {
      const index_t n = s.valid(counts, b), np = attn_detail::round_up_lanes<T>(n);
      const T* base = qkv.row(b * L);
      T* dbase = dqkv.row(b * L);
      for (index_t h = 0; h < s.heads; ++h) {
        const T* P = probs + (b * s.heads + h) * L * L;
        const T* Q = base + h * dh;
        const T* K = base + w + h * dh;
        const T* dC = dctx.row(b * L) + h * dh;
        attn_detail::transpose_pad(base + 2 * w + h * dh, ld, n, np, dh, vt);
        attn_detail::small_gemm(L, np, dh, dC, ldc, index_t(1), static_cast<const T*>(vt), np, T(1), ds, np);  // dP
        index_t nb, nh;  // prefetch the rows of a head ahead
        const bool more = attn_detail::head_ahead(b, h, s.heads, b1, 1, nb, nh);
        const T* nx = more ? qkv.row(nb * L) + nh * dh : nullptr;
        const T* ndc = more ? dctx.row(nb * L) + nh * dh : nullptr;
        T* nd = more ? dqkv.row(nb * L) + nh * dh : nullptr;
        const T* nP = more ? probs + (nb * s.heads + nh) * L * L : nullptr;
        for (index_t i = 0; i < L; ++i) {
          attn_detail::softmax_backward_row(P + i * L, ds + i * np, n, n, scale);
          if (!more) continue;
          for (index_t k = 0; k < 3; ++k) attn_detail::prefetch_row(nx + i * ld + k * w, dh * index_t(sizeof(T)));
          attn_detail::prefetch_row(ndc + i * ldc, dh * index_t(sizeof(T)));
          attn_detail::prefetch_row(nP + i * L, L * index_t(sizeof(T)));
          for (index_t k = 0; k < 3; ++k) attn_detail::prefetch_row_w(nd + i * ldd + k * w, dh * index_t(sizeof(T)));
        }
        attn_detail::small_gemm(n, dh, L, P, index_t(1), L, dC, ldc, T(1), dbase + 2 * w + h * dh, ldd);  // dV = Pᵀ dC
        attn_detail::small_gemm(L, dh, n, static_cast<const T*>(ds), np, index_t(1), K, ld, T(1), dbase + h * dh,
                                ldd);  // dQ = dS K
        attn_detail::small_gemm(n, dh, L, static_cast<const T*>(ds), index_t(1), np, Q, ld, T(1), dbase + w + h * dh,
                                ldd);  // dK = dSᵀ Q
        for (index_t j = n; j < L; ++j) {  // padding keys: no gradient
          T* r = dqkv.row(b * L + j);
          std::fill(r + w + h * dh, r + w + (h + 1) * dh, T(0));
          std::fill(r + 2 * w + h * dh, r + 2 * w + (h + 1) * dh, T(0));
        }
      }
    }
  });
}

namespace attn_detail {
template <class T>
inline void ln_row(const T* xr, index_t w, const T* gamma, const T* beta, T eps, T* yr, T& mean, T& rstd) {
  using V = vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  V s(T(0));
  index_t c = 0;
  for (; c + W <= w; c += W) s += V::load_unaligned(xr + c);
  T mu = hsum(s);
  for (; c < w; ++c) mu += xr[c];
  mu /= T(w);
  const V mv(mu);
  V q(T(0));
  for (c = 0; c + W <= w; c += W) {
    const V d = V::load_unaligned(xr + c) - mv;
    q = xsimd::fma(d, d, q);
  }
  T var = hsum(q);
  for (; c < w; ++c) var += (xr[c] - mu) * (xr[c] - mu);
  var /= T(w);
  const T rs = T(1) / std::sqrt(var + eps);
  mean = mu;
  rstd = rs;
  const V rv(rs);
  for (c = 0; c + W <= w; c += W)
    xsimd::fma(V::load_unaligned(gamma + c), (V::load_unaligned(xr + c) - mv) * rv, V::load_unaligned(beta + c))
        .store_unaligned(yr + c);
  for (; c < w; ++c) yr[c] = gamma[c] * ((xr[c] - mu) * rs) + beta[c];
}
}  // namespace attn_detail

template <class T>
void layer_norm_forward(const cpu_simd& pol, ConstMatrixView<T> x, const T* gamma, const T* beta, T eps,
                        MatrixView<T> y, T* mean, T* rstd) {
  attn_detail::for_examples(pol, x.rows, 8.0 * double(x.cols), [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) attn_detail::ln_row(x.row(r), x.cols, gamma, beta, eps, y.row(r), mean[r], rstd[r]);
  });
}

template <class T>
void layer_norm_backward(const cpu_simd& pol, ConstMatrixView<T> x, const T* gamma, const T* mean, const T* rstd,
                         ConstMatrixView<T> dy, MatrixView<T> dx, T* dgamma, T* dbeta) {
  using V = attn_detail::vec<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  constexpr index_t kBlock = 64;
  const index_t w = x.cols, blocks = (x.rows + kBlock - 1) / kBlock;
  // Per-block partial sums of dγ, dβ (summed in block order: the same result for any thread count),
  // in the per-thread scratch buffer of element-wise kernels: no allocation per training step.
  detail::ScratchLease<T> lease(3, blocks * 2 * w);
  T* const part = lease.data();
  std::fill(part, part + blocks * 2 * w, T(0));
  auto rows = [&](index_t blk) {
    T* pg = part + blk * 2 * w;
    T* pb = pg + w;
    for (index_t r = blk * kBlock; r < std::min(x.rows, (blk + 1) * kBlock); ++r) {
      const T* xr = x.row(r);
      const T* g = dy.row(r);
      const V mv(mean[r]), rv(rstd[r]);
      V s1(T(0)), s2(T(0));
      index_t c = 0;
      for (; c + W <= w; c += W) {
        const V xh = (V::load_unaligned(xr + c) - mv) * rv;
        const V gv = V::load_unaligned(g + c);
        const V dxh = V::load_unaligned(gamma + c) * gv;
        s1 += dxh;
        s2 = xsimd::fma(dxh, xh, s2);
        xsimd::fma(gv, xh, V::load_unaligned(pg + c)).store_unaligned(pg + c);
        (V::load_unaligned(pb + c) + gv).store_unaligned(pb + c);
      }
      T m1 = attn_detail::hsum(s1), m2 = attn_detail::hsum(s2);
      for (; c < w; ++c) {
        const T xh = (xr[c] - mean[r]) * rstd[r];
        const T dxh = gamma[c] * g[c];
        m1 += dxh;
        m2 += dxh * xh;
        pg[c] += g[c] * xh;
        pb[c] += g[c];
      }
      m1 /= T(w);
      m2 /= T(w);
      if (dx.empty()) continue;
      T* d = dx.row(r);
      const V m1v(m1), m2v(m2);
      for (c = 0; c + W <= w; c += W) {
        const V xh = (V::load_unaligned(xr + c) - mv) * rv;
        const V t = V::load_unaligned(gamma + c) * V::load_unaligned(g + c) - m1v - xh * m2v;
        xsimd::fma(rv, t, V::load_unaligned(d + c)).store_unaligned(d + c);
      }
      for (; c < w; ++c) {
        const T xh = (xr[c] - mean[r]) * rstd[r];
        d[c] += rstd[r] * (gamma[c] * g[c] - m1 - xh * m2);
      }
    }
  };
  attn_detail::for_examples(pol, blocks, 12.0 * double(kBlock * w), [&](index_t b0, index_t b1) {
    for (index_t b = b0; b < b1; ++b) rows(b);
  });
  for (index_t b = 0; b < blocks; ++b) {
    const T* pg = part + b * 2 * w;
    for (index_t c = 0; c < w; ++c) {
      dgamma[c] += pg[c];
      dbeta[c] += pg[w + c];
    }
  }
}

}  // namespace ctrnet::kernels

CTRNET_SIMD_WARNINGS_END
