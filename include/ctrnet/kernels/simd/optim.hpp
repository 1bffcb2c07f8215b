// cpu_simd optimizer kernels: an xsimd batch body per element formula of kernels/optim.hpp and the
// same per-element function for the scalar tail. Dense buffers are split into fixed chunks whose
// length is a multiple of every SIMD width, so which elements take the vector body never depends on
// the number of threads; sparse updates run touched rows in parallel (rows are independent).
// Included by ctrnet/kernels/optim.hpp; include that header, not this one.
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "ctrnet/kernels/optim.hpp"
#include "ctrnet/kernels/simd/diagnostics.hpp"
#include "ctrnet/policy/cpu_context.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

CTRNET_SIMD_WARNINGS_BEGIN

namespace ctrnet::kernels {

namespace simd_optim_detail {

/// Elements per parallel task of a dense update (a multiple of every SIMD width).
inline constexpr index_t kChunk = 16384;
/// Below this many elements of touched rows a sparse update stays on the calling thread.
inline constexpr index_t kSparseParallelMin = 32768;

/// f(begin, end) over [0, n) in chunks of kChunk; parallel unless p.max_threads == 1 or n is small.
template <class F>
inline void parallel_chunks(const cpu_simd& p, index_t n, F&& f) {
  if (n <= kChunk || p.max_threads == 1) {
    f(index_t(0), n);
    return;
  }
  const index_t chunks = (n + kChunk - 1) / kChunk;
  run_in_policy_arena(p, [&] {
    tbb::parallel_for(tbb::blocked_range<index_t>(0, chunks, 1), [&](const tbb::blocked_range<index_t>& r) {
      for (index_t c = r.begin(); c != r.end(); ++c) f(c * kChunk, std::min(n, (c + 1) * kChunk));
    });
  });
}

/// Vector body over [b, e) in steps of the batch width, then the scalar tail.
template <class T, class VecFn, class ScalarFn>
inline void vector_loop(index_t b, index_t e, VecFn&& vf, ScalarFn&& sf) {
  constexpr index_t W = static_cast<index_t>(xsimd::batch<T>::size);
  index_t i = b;
  for (; i + W <= e; i += W) vf(i);
  for (; i < e; ++i) sf(i);
}

}  // namespace simd_optim_detail

/// SGD (+momentum, nesterov, weight decay); velocity may be null when a.momentum == 0.
template <class T>
void sgd_update(const cpu_simd& p, const SgdArgs<T>& a, T* value, const T* grad, T* velocity, index_t n) {
  using B = xsimd::batch<T>;
  const B neg_lr(a.neg_lr), mu(a.momentum), omd(a.one_minus_dampening), wd(a.weight_decay);
  const bool use_wd = a.weight_decay != T(0);
  simd_optim_detail::parallel_chunks(p, n, [&](index_t b, index_t e) {
    simd_optim_detail::vector_loop<T>(
        b, e,
        [&](index_t i) {
          B th = B::load_unaligned(value + i);
          B d = B::load_unaligned(grad + i);
          if (use_wd) d = d + wd * th;
          if (velocity) {
            const B buf = a.first_step ? d : B::load_unaligned(velocity + i) * mu + omd * d;
            buf.store_unaligned(velocity + i);
            d = a.nesterov ? d + mu * buf : buf;
          }
          (th + neg_lr * d).store_unaligned(value + i);
        },
        [&](index_t i) { optim_detail::sgd_element(a, value[i], grad[i], velocity ? velocity + i : nullptr); });
  });
}

/// Adam / AdamW.
template <class T>
void adam_update(const cpu_simd& p, const AdamArgs<T>& a, T* value, const T* grad, T* m, T* v, index_t n) {
  using B = xsimd::batch<T>;
  const B decay(a.decay), l2(a.l2), w(a.beta1_weight), w_rest(a.beta1_weight_rest), b2(a.beta2),
      omb2(a.one_minus_beta2), bc2s(a.bias_correction2_sqrt), eps(a.eps), nss(a.neg_step_size);
  const bool small_weight = a.beta1_weight < T(0.5);
  const bool use_l2 = a.l2 != T(0);
  simd_optim_detail::parallel_chunks(p, n, [&](index_t b, index_t e) {
    simd_optim_detail::vector_loop<T>(
        b, e,
        [&](index_t i) {
          B th = B::load_unaligned(value + i);
          B g = B::load_unaligned(grad + i);
          if (a.decoupled) th = th * decay;
          if (use_l2) g = g + l2 * th;
          B mi = B::load_unaligned(m + i);
          mi = small_weight ? mi + w * (g - mi) : g - (g - mi) * w_rest;
          B vi = B::load_unaligned(v + i) * b2;
          vi = vi + omb2 * g * g;
          const B denom = xsimd::sqrt(vi) / bc2s + eps;
          mi.store_unaligned(m + i);
          vi.store_unaligned(v + i);
          (th + nss * mi / denom).store_unaligned(value + i);
        },
        [&](index_t i) { optim_detail::adam_element(a, value[i], grad[i], m[i], v[i]); });
  });
}

/// Adagrad.
template <class T>
void adagrad_update(const cpu_simd& p, const AdagradArgs<T>& a, T* value, const T* grad, T* sum, index_t n) {
  using B = xsimd::batch<T>;
  const B neg_lr(a.neg_lr), eps(a.eps), wd(a.weight_decay);
  const bool use_wd = a.weight_decay != T(0);
  simd_optim_detail::parallel_chunks(p, n, [&](index_t b, index_t e) {
    simd_optim_detail::vector_loop<T>(
        b, e,
        [&](index_t i) {
          const B th = B::load_unaligned(value + i);
          B g = B::load_unaligned(grad + i);
          if (use_wd) g = g + wd * th;
          const B s = B::load_unaligned(sum + i) + g * g;
          s.store_unaligned(sum + i);
          (th + neg_lr * g / (xsimd::sqrt(s) + eps)).store_unaligned(value + i);
        },
        [&](index_t i) { optim_detail::adagrad_element(a, value[i], grad[i], sum[i]); });
  });
}

/// FTRL-Proximal.
template <class T>
void ftrl_update(const cpu_simd& p, const FtrlArgs<T>& a, T* value, const T* grad, T* z, T* n, index_t size) {
  using B = xsimd::batch<T>;
  const B alpha(a.alpha), beta(a.beta), l1(a.l1), l2(a.l2), zero(T(0));
  simd_optim_detail::parallel_chunks(p, size, [&](index_t b, index_t e) {
    simd_optim_detail::vector_loop<T>(
        b, e,
        [&](index_t i) {
          const B th = B::load_unaligned(value + i);
          const B g = B::load_unaligned(grad + i);
          const B n_old = B::load_unaligned(n + i);
          const B n_new = n_old + g * g;
          const B sqrt_new = xsimd::sqrt(n_new);
          const B sigma = (sqrt_new - xsimd::sqrt(n_old)) / alpha;
          const B zi = B::load_unaligned(z + i) + (g - sigma * th);
          zi.store_unaligned(z + i);
          n_new.store_unaligned(n + i);
          const B shrunk = zi - xsimd::select(zi < zero, -l1, l1);
          const B w = -shrunk / ((beta + sqrt_new) / alpha + l2);
          xsimd::select(xsimd::abs(zi) <= l1, zero, w).store_unaligned(value + i);
        },
        [&](index_t i) { optim_detail::ftrl_element(a, value[i], grad[i], z[i], n[i]); });
  });
}

/// SparseAdam's element update on a dense span (one touched row).
template <class T>
void sparse_adam_update(const cpu_simd& p, const SparseAdamArgs<T>& a, T* value, const T* grad, T* m, T* v, index_t n) {
  using B = xsimd::batch<T>;
  const B omb1(a.one_minus_beta1), omb2(a.one_minus_beta2), eps(a.eps), nss(a.neg_step_size);
  simd_optim_detail::parallel_chunks(p, n, [&](index_t b, index_t e) {
    simd_optim_detail::vector_loop<T>(
        b, e,
        [&](index_t i) {
          const B g = B::load_unaligned(grad + i);
          const B m_old = B::load_unaligned(m + i);
          const B m_upd = (g - m_old) * omb1;
          (m_old + m_upd).store_unaligned(m + i);
          const B v_old = B::load_unaligned(v + i);
          const B v_upd = (g * g - v_old) * omb2;
          (v_old + v_upd).store_unaligned(v + i);
          const B denom = xsimd::sqrt(v_upd + v_old) + eps;
          (B::load_unaligned(value + i) + nss * ((m_upd + m_old) / denom)).store_unaligned(value + i);
        },
        [&](index_t i) { optim_detail::sparse_adam_element(a, value[i], grad[i], m[i], v[i]); });
  });
}

/// One row of row-wise Adagrad (vector sum of squares, then one multiplier for the row).
template <class T>
void rowwise_adagrad_row(const cpu_simd&, const RowwiseAdagradArgs<T>& a, T* value, const T* grad, T& sum, index_t dim) {
  using B = xsimd::batch<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  B acc(T(0));
  index_t j = 0;
  for (; j + W <= dim; j += W) {
    const B g = B::load_unaligned(grad + j);
    acc = acc + g * g;
  }
  T sq = xsimd::hadd(acc);
  for (; j < dim; ++j) sq += grad[j] * grad[j];
  sum = sum + sq / static_cast<T>(dim);
  const T mult = a.lr / (std::sqrt(sum) + a.eps);
  const B vm(mult);
  j = 0;
  for (; j + W <= dim; j += W) (B::load_unaligned(value + j) - vm * B::load_unaligned(grad + j)).store_unaligned(value + j);
  for (; j < dim; ++j) value[j] = value[j] - mult * grad[j];
}

/// Touched rows in parallel (each row written by exactly one task).
template <class F>
void for_each_touched_row(const cpu_simd& p, index_t count, index_t dim, F&& body) {
  if (p.max_threads == 1 || count * dim < simd_optim_detail::kSparseParallelMin || count < 2) {
    for (index_t i = 0; i < count; ++i) body(i);
    return;
  }
  const index_t grain = std::max<index_t>(1, simd_optim_detail::kChunk / std::max<index_t>(dim, 1));
  run_in_policy_arena(p, [&] {
    tbb::parallel_for(tbb::blocked_range<index_t>(0, count, grain), [&](const tbb::blocked_range<index_t>& r) {
      for (index_t i = r.begin(); i != r.end(); ++i) body(i);
    });
  });
}

}  // namespace ctrnet::kernels

CTRNET_SIMD_WARNINGS_END
