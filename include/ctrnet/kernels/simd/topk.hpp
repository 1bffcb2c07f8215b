// cpu_simd exact top-K: a fused blocked GEMM + selection, so the [Q, N] score matrix is never
// written to memory. Per task (a block of up to 240 queries × a contiguous part of the items):
//   pack the query block once (the GEMM's A panels, kernels/simd/gemm_microkernel.hpp);
//   for each block of 64 items: pack it (B panels), run the GEMM micro-kernel into a score tile
//   [queries, 64] that stays in L2, then scan each tile row with SIMD compares against the row's
//   current K-th best score (its threshold); the rare lanes above it go into a bounded heap.
// Items are scanned in increasing row order, so a later item with an EQUAL score never displaces
// an earlier one: a strict `>` test implements "ties go to the lower row". The per-part lists of
// a query are merged in part order under the same total order, so the result does not depend on
// the blocking or the thread count, and each score is bitwise the one kernels::gemm(cpu_simd)
// computes (same packing, micro-kernel and k blocking).
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <limits>
#include <vector>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/kernels/simd/diagnostics.hpp"
#include "ctrnet/kernels/simd/gemm.hpp"
#include "ctrnet/kernels/topk.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

CTRNET_SIMD_WARNINGS_BEGIN

namespace ctrnet::kernels {

namespace detail {

/// Bounded list of the k best candidates seen so far; the worst one is at data[0] (a heap under
/// ranks_before, whose "largest" element is the one ranked last).
template <class T>
struct TopKHeap {
  Scored<T>* data;
  index_t size;
  index_t cap;
  T threshold() const { return size < cap ? -std::numeric_limits<T>::infinity() : data[0].score; }
  void push(Scored<T> s) {
    if (size < cap) {
      data[size++] = s;
      std::push_heap(data, data + size, ranks_before<T>);
    } else if (ranks_before(s, data[0])) {
      std::pop_heap(data, data + size, ranks_before<T>);
      data[size - 1] = s;
      std::push_heap(data, data + size, ranks_before<T>);
    }
  }
};

/// Feeds one row of a score tile (items j0 .. j0 + n, in order) to a query's heap.
template <class T>
inline void select_row(const T* s, index_t n, index_t j0, index_t q, const ExclusionLists& excl, TopKHeap<T>& heap) {
  using V = xsimd::batch<T>;
  constexpr index_t W = static_cast<index_t>(V::size);
  T thr = heap.threshold();
  auto consider = [&](index_t c) {
    const T v = s[c];
    if (v > thr && !excl.excluded(q, j0 + c)) {
      heap.push({v, j0 + c});
      thr = heap.threshold();
    }
  };
  index_t c = 0;
  for (; c + W <= n; c += W) {
    const auto m = V::load_unaligned(s + c) > V(thr);
    if (xsimd::any(m))
      for (index_t l = 0; l < W; ++l) consider(c + l);
  }
  for (; c < n; ++c) consider(c);
}

}  // namespace detail

template <class T>
void topk(const cpu_simd& p, ConstMatrixView<T> queries, ConstMatrixView<T> items, index_t k, ExclusionLists excl,
          MatrixView<index_t> out_rows, MatrixView<T> out_scores) {
  using detail::Scored;
  constexpr index_t MR = detail::GemmGeometry<T>::mr, NR = detail::GemmGeometry<T>::nr;
  constexpr index_t NB = 4 * NR;         // items per score tile
  constexpr index_t kMaxQueryBlock = 240;  // 40 micro-panels of 6 queries
  const index_t Q = queries.rows, N = items.rows, d = queries.cols;
  if (Q == 0 || k <= 0) return;
  if (N == 0 || d == 0) {  // nothing to multiply: the reference handles the degenerate cases
    topk(static_cast<const cpu_scalar&>(p), queries, items, k, excl, out_rows, out_scores);
    return;
  }
  const index_t kc_step = detail::even_step(d, detail::GemmBlocking<T>::kc, 1);
  const index_t qb = std::min(detail::round_up(Q, MR), kMaxQueryBlock);
  const index_t qblocks = detail::ceil_div(Q, qb);
  const bool small = static_cast<double>(Q) * static_cast<double>(N) * static_cast<double>(d) < detail::kGemmParallelMinMacs;
  const int threads = small ? 1 : detail::gemm_thread_count(p);
  // Parts of the item range: about 4 tasks per thread, each at least 16 tiles long.
  index_t parts = std::max<index_t>(1, detail::ceil_div(4 * threads, qblocks));
  parts = std::min(parts, std::max<index_t>(1, N / (16 * NB)));
  const index_t per_part = detail::round_up(detail::ceil_div(N, parts), NB);
  parts = detail::ceil_div(N, per_part);
  const index_t tasks = qblocks * parts;

  std::vector<Scored<T>> pool(static_cast<std::size_t>(tasks * qb * k));
  std::vector<index_t> sizes(static_cast<std::size_t>(tasks * qb), 0);

  auto run_task = [&](index_t task) {
    const index_t qbi = task / parts, part = task % parts;
    const index_t q0 = qbi * qb, qn = std::min(qb, Q - q0);
    const index_t i0 = part * per_part, i1 = std::min(N, i0 + per_part);
    const index_t qn_pad = detail::round_up(qn, MR);
    thread_local AlignedVector<T> abuf, bbuf, tile;
    if (static_cast<index_t>(abuf.size()) < qn_pad * d + 64) abuf.resize(static_cast<std::size_t>(qn_pad * d + 64));
    if (static_cast<index_t>(bbuf.size()) < NB * kc_step + 64) bbuf.resize(static_cast<std::size_t>(NB * kc_step + 64));
    if (static_cast<index_t>(tile.size()) < qn_pad * NB) tile.resize(static_cast<std::size_t>(qn_pad * NB));
    T* const pa = abuf.data();
    T* const pb = bbuf.data();
    T* const st = tile.data();
    // Query block, packed once per k block: k block starting at p0 lives at pa + qn_pad * p0.
    for (index_t p0 = 0; p0 < d; p0 += kc_step)
      detail::pack_a(Trans::no, queries, q0, qn, p0, std::min(kc_step, d - p0), pa + qn_pad * p0);
    std::vector<detail::TopKHeap<T>> heaps(static_cast<std::size_t>(qn));
    for (index_t r = 0; r < qn; ++r)
      heaps[static_cast<std::size_t>(r)] = {pool.data() + (task * qb + r) * k, 0, k};
    for (index_t j0 = i0; j0 < i1; j0 += NB) {
      const index_t nb = std::min(NB, i1 - j0);
      for (index_t p0 = 0; p0 < d; p0 += kc_step) {
        const index_t kc = std::min(kc_step, d - p0);
        const T beta = p0 == 0 ? T(0) : T(1);
        detail::pack_b(Trans::yes, items, p0, kc, j0, nb, pb);
        const T* a = pa + qn_pad * p0;
        for (index_t jr = 0; jr < nb; jr += NR)
          for (index_t ir = 0; ir < qn; ir += MR)
            detail::micro_tile(std::min(MR, qn - ir), std::min(NR, nb - jr), kc, a + ir * kc, pb + jr * kc, T(1), beta,
                               st + ir * NB + jr, NB);
      }
      for (index_t r = 0; r < qn; ++r)
        detail::select_row(st + r * NB, nb, j0, q0 + r, excl, heaps[static_cast<std::size_t>(r)]);
    }
    for (index_t r = 0; r < qn; ++r) sizes[static_cast<std::size_t>(task * qb + r)] = heaps[static_cast<std::size_t>(r)].size;
  };
  detail::run_with_threads(p, threads, [&] { detail::parallel_items(threads, tasks, run_task); });

  // Merge the parts of each query (any order gives the same result under the total order).
  auto merge = [&](index_t q) {
    thread_local std::vector<Scored<T>> all;
    all.clear();
    const index_t qbi = q / qb, r = q % qb;
    for (index_t part = 0; part < parts; ++part) {
      const index_t task = qbi * parts + part;
      const Scored<T>* h = pool.data() + (task * qb + r) * k;
      all.insert(all.end(), h, h + sizes[static_cast<std::size_t>(task * qb + r)]);
    }
    const std::size_t m = std::min(all.size(), static_cast<std::size_t>(k));
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(m), all.end(), detail::ranks_before<T>);
    detail::write_topk<T>(std::span<const Scored<T>>(all.data(), m), q, k, out_rows, out_scores);
  };
  detail::run_with_threads(p, threads, [&] { detail::parallel_items(threads > 1 && Q * k >= 4096 ? threads : 1, Q, merge); });
}

}  // namespace ctrnet::kernels

CTRNET_SIMD_WARNINGS_END
