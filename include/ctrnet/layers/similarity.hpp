// Similarity functions of a two-tower model: scores between query embeddings q and candidate
// embeddings c, as a whole score matrix (one GEMM) or for aligned pairs of rows.
//   DotSimilarity       s(q, c) = ⟨q, c⟩ / τ
//   CosineSimilarity    s(q, c) = ⟨q̂, ĉ⟩ / τ,  x̂ = x / max(‖x‖₂, ε)
// τ is the softmax temperature (Yi et al., RecSys 2019, §4: a small τ sharpens the softmax over
// cosine scores; they use τ around 0.05). Matrix form, Q: [B, d], C: [N, d]:
//   forward   S = Q Cᵀ / τ                                 S: [B, N]
//   backward  dQ += dS C / τ,  dC += dSᵀ Q / τ             (cosine: through the normalisation,
//             see kernels/scalar/retrieval.hpp)
// Pairs (pointwise objectives), q, c: [B, d]:  s_r = ⟨q_r, c_r⟩ / τ,  dq_r += ds_r c_r / τ.
// For serving, encode_query / encode_candidate map embeddings to vectors whose plain dot
// product IS the similarity (q / τ and c; cosine: q̂ / τ and ĉ), so an ItemIndex ranks exactly
// as the model scores.
#pragma once
#include <cmath>
#include <concepts>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/gemm.hpp"
#include "ctrnet/kernels/retrieval.hpp"

namespace ctrnet {

/// \brief s(q, c) = ⟨q, c⟩ / τ.
class DotSimilarity {
 public:
  static constexpr const char* name = "dot";
  struct Options {
    double temperature = 1.0;
  };
  template <class T>
  struct Cache {
    ConstMatrixView<T> q, c;  // the inputs (owned by the caller, alive until backward)
  };

  DotSimilarity() = default;
  explicit DotSimilarity(Options o) : opt_(o) { check(); }
  explicit DotSimilarity(double temperature) : opt_{temperature} { check(); }

  const Options& options() const { return opt_; }
  double temperature() const { return opt_.temperature; }

  /// S = Q Cᵀ / τ.   q: [B, d], c: [N, d], s: [B, N] (overwritten).
  template <class P, class T>
  void forward(const P& p, ConstMatrixView<T> q, ConstMatrixView<T> c, MatrixView<T> s, Cache<T>& cache) const {
    check_shapes(q, c);
    kernels::gemm(p, kernels::Trans::no, kernels::Trans::yes, inv_t<T>(), q, c, T(0), s);
    cache.q = q;
    cache.c = c;
  }
  /// dq += dS C / τ, dc += dSᵀ Q / τ (either may be empty: not needed).
  template <class P, class T>
  void backward(const P& p, Cache<T>& cache, ConstMatrixView<T> ds, MatrixView<T> dq, MatrixView<T> dc) const {
    if (!dq.empty()) kernels::gemm(p, kernels::Trans::no, kernels::Trans::no, inv_t<T>(), ds, cache.c, T(1), dq);
    if (!dc.empty()) kernels::gemm(p, kernels::Trans::yes, kernels::Trans::no, inv_t<T>(), ds, cache.q, T(1), dc);
  }
  /// s(r, 0) = ⟨q_r, c_r⟩ / τ.   q, c: [B, d], s: [B, 1].
  template <class P, class T>
  void forward_pairs(const P& p, ConstMatrixView<T> q, ConstMatrixView<T> c, MatrixView<T> s, Cache<T>& cache) const {
    check_pairs(q, c);
    kernels::row_dot(p, inv_t<T>(), q, c, s);
    cache.q = q;
    cache.c = c;
  }
  template <class P, class T>
  void backward_pairs(const P& p, Cache<T>& cache, ConstMatrixView<T> ds, MatrixView<T> dq, MatrixView<T> dc) const {
    if (!dq.empty()) kernels::row_scale_add(p, inv_t<T>(), ds, cache.c, dq);
    if (!dc.empty()) kernels::row_scale_add(p, inv_t<T>(), ds, cache.q, dc);
  }
  /// Serving vectors: out = q / τ (queries), out = c (candidates). out may alias the input.
  template <class P, class T>
  void encode_query(const P& p, ConstMatrixView<T> q, MatrixView<T> out) const {
    if (out.data != q.data) kernels::copy(p, q, out);
    kernels::scale(p, inv_t<T>(), out);
  }
  template <class P, class T>
  void encode_candidate(const P& p, ConstMatrixView<T> c, MatrixView<T> out) const {
    if (out.data != c.data) kernels::copy(p, c, out);
  }

 private:
  void check() const {
    CTRNET_CHECK(opt_.temperature > 0.0 && std::isfinite(opt_.temperature),
                 "DotSimilarity: temperature must be positive and finite, got ", opt_.temperature);
  }
  template <class T>
  T inv_t() const { return static_cast<T>(1.0 / opt_.temperature); }
  template <class T>
  static void check_shapes(ConstMatrixView<T> q, ConstMatrixView<T> c) {
    CTRNET_CHECK(q.cols == c.cols, "similarity: query embeddings have ", q.cols, " columns but candidates have ", c.cols);
  }
  template <class T>
  static void check_pairs(ConstMatrixView<T> q, ConstMatrixView<T> c) {
    check_shapes(q, c);
    CTRNET_CHECK(q.rows == c.rows, "similarity: ", q.rows, " query rows but ", c.rows, " candidate rows for pairs");
  }
  Options opt_;
};

/// \brief s(q, c) = ⟨q / ‖q‖, c / ‖c‖⟩ / τ.
class CosineSimilarity {
 public:
  static constexpr const char* name = "cosine";
  struct Options {
    double temperature = 0.05;
    double eps = 1e-12;  ///< norms are clamped to at least eps
  };
  template <class T>
  struct Cache {
    Matrix<T> qn, cn;         // normalised inputs
    Buffer<T> nq, nc;      // clamped norms
    Matrix<T> dqn, dcn;       // gradients w.r.t. the normalised inputs (workspaces)
  };

  CosineSimilarity() = default;
  explicit CosineSimilarity(Options o) : opt_(o) { check(); }
  explicit CosineSimilarity(double temperature) : opt_{temperature} { check(); }

  const Options& options() const { return opt_; }
  double temperature() const { return opt_.temperature; }

  template <class P, class T>
  void forward(const P& p, ConstMatrixView<T> q, ConstMatrixView<T> c, MatrixView<T> s, Cache<T>& cache) const {
    CTRNET_CHECK(q.cols == c.cols, "similarity: query embeddings have ", q.cols, " columns but candidates have ", c.cols);
    normalize(p, q, c, cache);
    kernels::gemm(p, kernels::Trans::no, kernels::Trans::yes, inv_t<T>(), cache.qn.cview(), cache.cn.cview(), T(0), s);
  }
  template <class P, class T>
  void backward(const P& p, Cache<T>& cache, ConstMatrixView<T> ds, MatrixView<T> dq, MatrixView<T> dc) const {
    if (!dq.empty()) {
      cache.dqn.resize(cache.qn.rows(), cache.qn.cols(), T(0));
      kernels::gemm(p, kernels::Trans::no, kernels::Trans::no, inv_t<T>(), ds, cache.cn.cview(), T(0), cache.dqn.view());
      kernels::l2_normalize_backward(p, cache.qn.cview(), cache.nq.data(), cache.dqn.cview(), dq, eps<T>());
    }
    if (!dc.empty()) {
      cache.dcn.resize(cache.cn.rows(), cache.cn.cols(), T(0));
      kernels::gemm(p, kernels::Trans::yes, kernels::Trans::no, inv_t<T>(), ds, cache.qn.cview(), T(0), cache.dcn.view());
      kernels::l2_normalize_backward(p, cache.cn.cview(), cache.nc.data(), cache.dcn.cview(), dc, eps<T>());
    }
  }
  template <class P, class T>
  void forward_pairs(const P& p, ConstMatrixView<T> q, ConstMatrixView<T> c, MatrixView<T> s, Cache<T>& cache) const {
    CTRNET_CHECK(q.cols == c.cols && q.rows == c.rows, "similarity: pairs need equal shapes, got [", q.rows, ", ",
                 q.cols, "] and [", c.rows, ", ", c.cols, "]");
    normalize(p, q, c, cache);
    kernels::row_dot(p, inv_t<T>(), cache.qn.cview(), cache.cn.cview(), s);
  }
  template <class P, class T>
  void backward_pairs(const P& p, Cache<T>& cache, ConstMatrixView<T> ds, MatrixView<T> dq, MatrixView<T> dc) const {
    if (!dq.empty()) {
      cache.dqn.resize(cache.qn.rows(), cache.qn.cols(), T(0));
      kernels::row_scale_add(p, inv_t<T>(), ds, cache.cn.cview(), cache.dqn.view());
      kernels::l2_normalize_backward(p, cache.qn.cview(), cache.nq.data(), cache.dqn.cview(), dq, eps<T>());
    }
    if (!dc.empty()) {
      cache.dcn.resize(cache.cn.rows(), cache.cn.cols(), T(0));
      kernels::row_scale_add(p, inv_t<T>(), ds, cache.qn.cview(), cache.dcn.view());
      kernels::l2_normalize_backward(p, cache.cn.cview(), cache.nc.data(), cache.dcn.cview(), dc, eps<T>());
    }
  }
  /// Serving vectors: q̂ / τ and ĉ.
  template <class P, class T>
  void encode_query(const P& p, ConstMatrixView<T> q, MatrixView<T> out) const {
    const PolicyScope scope(p);
    Buffer<T> n;
    n.resize(q.rows);
    kernels::l2_normalize_forward(p, q, out, n.data(), eps<T>());
    kernels::scale(p, inv_t<T>(), out);
  }
  template <class P, class T>
  void encode_candidate(const P& p, ConstMatrixView<T> c, MatrixView<T> out) const {
    const PolicyScope scope(p);
    Buffer<T> n;
    n.resize(c.rows);
    kernels::l2_normalize_forward(p, c, out, n.data(), eps<T>());
  }

 private:
  void check() const {
    CTRNET_CHECK(opt_.temperature > 0.0 && std::isfinite(opt_.temperature),
                 "CosineSimilarity: temperature must be positive and finite, got ", opt_.temperature);
    CTRNET_CHECK(opt_.eps > 0.0, "CosineSimilarity: eps must be positive, got ", opt_.eps);
  }
  template <class T>
  T inv_t() const { return static_cast<T>(1.0 / opt_.temperature); }
  template <class T>
  T eps() const { return static_cast<T>(opt_.eps); }
  template <class P, class T>
  void normalize(const P& p, ConstMatrixView<T> q, ConstMatrixView<T> c, Cache<T>& cache) const {
    cache.qn.resize(q.rows, q.cols);
    cache.cn.resize(c.rows, c.cols);
    cache.nq.resize(static_cast<std::size_t>(q.rows));
    cache.nc.resize(static_cast<std::size_t>(c.rows));
    kernels::l2_normalize_forward(p, q, cache.qn.view(), cache.nq.data(), eps<T>());
    kernels::l2_normalize_forward(p, c, cache.cn.view(), cache.nc.data(), eps<T>());
  }
  Options opt_;
};

/// A similarity usable in TwoTower: score matrix and pairs, forward and backward, serving vectors.
template <class S>
concept Similarity = requires(const S s) {
  typename S::Options;
  typename S::template Cache<float>;
  { s.temperature() } -> std::convertible_to<double>;
  { S::name } -> std::convertible_to<const char*>;
};

static_assert(Similarity<DotSimilarity> && Similarity<CosineSimilarity>);

}  // namespace ctrnet
