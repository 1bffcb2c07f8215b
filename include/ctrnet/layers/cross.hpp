// Cross networks of DCN and DCN-V2: explicit bounded-degree feature crosses over the embedded input x0.
//   CrossV1 (DCN, Wang et al. 2017, arXiv 1708.05123):
//     x_{l+1} = x0 (x_lᵀ w_l) + b_l + x_l                 w_l, b_l ∈ R^d
//   CrossV2 (DCN-V2, Wang et al. 2021, arXiv 2008.13535, eq. 1):
//     x_{l+1} = x0 ⊙ (W_l x_l + b_l) + x_l                W_l ∈ R^{d×d}, b_l ∈ R^d
//     low rank (eq. 2, rank r): W_l = U_l V_l,  U_l ∈ R^{d×r}, V_l ∈ R^{r×d}
//   CrossMix (DCN-V2 §3.2): x_{l+1} = Σ_i g_i(x_l) · x0 ⊙ (U_i σ(C_i σ(V_i x_l)) + b) + x_l,  g = softmax(G x_l)
//   CrossNet<Cross>: `depth` cross layers (run-time depth) that all read the same x0:
//     x_1 = cross_0(x0, x0), ..., y = x_depth.
// A cross layer needs x0 AND x_l, so it is not a ctrnet Layer itself; CrossNet is (Dense -> Dense,
// width d) and calls each cross layer's two-input forward/backward:
//   forward (P, Weights, x0, xl, y, Cache&)
//   backward(P, Weights, Cache&, dy, dx0 (+=), dxl (+=), Gradients (+=))
// Each cross layer is one batched GEMM (two for low rank) plus one fused element-wise pass
// (kernels/cross.hpp); never per-example GEMVs.
// Parameter names (under CrossNet's scope): `<i>.weight`, `<i>.bias`; low rank `<i>.u`, `<i>.v`, `<i>.bias`.
#pragma once
#include <concepts>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/init.hpp"
#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/cross.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/gemm.hpp"

namespace ctrnet {

/// \brief DCN cross layer: x_{l+1} = x0 (x_lᵀ w) + b + x_l.
/// Forward: s = X_l wᵀ (a GEMM with n = 1, w: [1, d]), then y = x0 · s + b + x_l in one pass.
/// Backward: ds = Σ_cols dy ⊙ x0, db += Σ_rows dy, dx0 += dy · s, dx_l += dy (one pass), then
/// dw += dsᵀ X_l and dx_l += ds w (GEMMs).
class CrossV1 {
 public:
  struct Options {
    Init init = Init::glorot_uniform();
  };
  template <class T>
  struct Cache {
    ConstMatrixView<T> x0, xl;
    Matrix<T> s;   // [batch, 1]
    Matrix<T> ds;  // [batch, 1]
  };

  CrossV1() = default;
  explicit CrossV1(Options o) : opt_(o) {}

  index_t build(index_t d, ParamRegistry& reg) {
    CTRNET_CHECK(d > 0, "CrossV1 '", reg.full_name(""), "': input width must be positive, got ", d);
    d_ = d;
    weight_ = reg.add("weight", 1, d, opt_.init);
    bias_ = reg.add("bias", 1, d, Init::zeros());
    return d;
  }
  index_t out_dim() const { return d_; }
  ParamHandle weight() const { return weight_; }
  ParamHandle bias() const { return bias_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, ConstMatrixView<T> x0, ConstMatrixView<T> xl, MatrixView<T> y,
               Cache<T>& c) const {
    c.s.resize(xl.rows, 1);
    kernels::gemm(p, kernels::Trans::no, kernels::Trans::yes, T(1), xl, w[weight_], T(0), c.s.view());
    kernels::cross_v1_forward(p, x0, c.s.cview(), w[bias_].data, xl, y);
    c.x0 = x0;
    c.xl = xl;
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx0,
                MatrixView<T> dxl, const Gradients<T>& g) const {
    c.ds.resize(dy.rows, 1);
    kernels::cross_v1_backward_data(p, c.x0, c.s.cview(), dy, c.ds.view(), g[bias_].data, dx0, dxl);
    kernels::gemm(p, kernels::Trans::yes, kernels::Trans::no, T(1), c.ds.cview(), c.xl, T(1), g[weight_]);
    if (!dxl.empty()) kernels::gemm(p, kernels::Trans::no, kernels::Trans::no, T(1), c.ds.cview(), w[weight_], T(1), dxl);
  }

 private:
  Options opt_;
  index_t d_ = 0;
  ParamHandle weight_, bias_;
};

/// \brief DCN-V2 cross layer: x_{l+1} = x0 ⊙ (W x_l + b) + x_l, W full rank or W = U V (rank r).
/// Forward: T = X_l Wᵀ (one GEMM; low rank: Z = X_l Vᵀ, T = Z Uᵀ) whose epilogue writes
/// y = x0 ⊙ (T + b) + x_l block by block while T's block is in cache.
/// Backward: dT = dy ⊙ x0, db += Σ_rows dT, dx0 += dy ⊙ (T + b), dx_l += dy (one pass), then
/// dW += dTᵀ X_l, dx_l += dT W (low rank: dU += dTᵀ Z, dZ = dT U, dV += dZᵀ X_l, dx_l += dZ V).
class CrossV2 {
 public:
  struct Options {
    index_t rank = 0;  ///< 0: full rank W [d, d]; r > 0: W = U V with U [d, r], V [r, d]
    Init init = Init::glorot_uniform();
  };
  template <class T>
  struct Cache {
    ConstMatrixView<T> x0, xl;
    Matrix<T> t;   // W x_l per row, before the bias: [batch, d]
    Matrix<T> z;   // low rank: V x_l per row: [batch, r]
    Matrix<T> dt;  // [batch, d]
    Matrix<T> dz;  // [batch, r]
  };

  CrossV2() = default;
  explicit CrossV2(Options o) : opt_(o) {}
  explicit CrossV2(index_t rank) { opt_.rank = rank; }

  index_t build(index_t d, ParamRegistry& reg) {
    CTRNET_CHECK(d > 0, "CrossV2 '", reg.full_name(""), "': input width must be positive, got ", d);
    CTRNET_CHECK(opt_.rank >= 0, "CrossV2 '", reg.full_name(""), "': rank must be >= 0 (0 = full rank), got ",
                 opt_.rank);
    d_ = d;
    if (low_rank()) {
      u_ = reg.add("u", d, opt_.rank, opt_.init);
      v_ = reg.add("v", opt_.rank, d, opt_.init);
    } else {
      weight_ = reg.add("weight", d, d, opt_.init);
    }
    bias_ = reg.add("bias", 1, d, Init::zeros());
    return d;
  }
  index_t out_dim() const { return d_; }
  index_t rank() const { return opt_.rank; }
  bool low_rank() const { return opt_.rank > 0; }
  ParamHandle weight() const { return weight_; }
  ParamHandle u() const { return u_; }
  ParamHandle v() const { return v_; }
  ParamHandle bias() const { return bias_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, ConstMatrixView<T> x0, ConstMatrixView<T> xl, MatrixView<T> y,
               Cache<T>& c) const {
    using kernels::Trans;
    c.t.resize(xl.rows, d_);
    // The cross update runs as the GEMM's epilogue, on each block of T while it is in cache.
    const T* b = w[bias_].data;
    const ConstMatrixView<T> t = c.t.cview();
    const auto p1 = single_threaded(p);  // the epilogue already runs on one GEMM worker per block
    auto cross = [&](index_t r0, index_t r1, index_t c0, index_t c1) {
      kernels::cross_v2_forward(p1, x0.block(r0, r1, c0, c1), t.block(r0, r1, c0, c1), b + c0, xl.block(r0, r1, c0, c1),
                                y.block(r0, r1, c0, c1));
    };
    if (low_rank()) {
      c.z.resize(xl.rows, opt_.rank);
      kernels::gemm(p, Trans::no, Trans::yes, T(1), xl, w[v_], T(0), c.z.view());
      kernels::gemm_epilogue(p, Trans::no, Trans::yes, T(1), c.z.cview(), w[u_], T(0), c.t.view(), cross);
    } else {
      kernels::gemm_epilogue(p, Trans::no, Trans::yes, T(1), xl, w[weight_], T(0), c.t.view(), cross);
    }
    c.x0 = x0;
    c.xl = xl;
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx0,
                MatrixView<T> dxl, const Gradients<T>& g) const {
    using kernels::Trans;
    c.dt.resize(dy.rows, d_);
    kernels::cross_v2_backward_data(p, c.x0, c.t.cview(), w[bias_].data, dy, c.dt.view(), g[bias_].data, dx0, dxl);
    if (low_rank()) {
      c.dz.resize(dy.rows, opt_.rank);
      kernels::gemm(p, Trans::yes, Trans::no, T(1), c.dt.cview(), c.z.cview(), T(1), g[u_]);
      kernels::gemm(p, Trans::no, Trans::no, T(1), c.dt.cview(), w[u_], T(0), c.dz.view());
      kernels::gemm(p, Trans::yes, Trans::no, T(1), c.dz.cview(), c.xl, T(1), g[v_]);
      if (!dxl.empty()) kernels::gemm(p, Trans::no, Trans::no, T(1), c.dz.cview(), w[v_], T(1), dxl);
    } else {
      kernels::gemm(p, Trans::yes, Trans::no, T(1), c.dt.cview(), c.xl, T(1), g[weight_]);
      if (!dxl.empty()) kernels::gemm(p, Trans::no, Trans::no, T(1), c.dt.cview(), w[weight_], T(1), dxl);
    }
  }

 private:
  Options opt_;
  index_t d_ = 0;
  ParamHandle weight_, u_, v_, bias_;
};

/// \brief DCN-V2 mixture of low-rank cross experts (Wang et al. 2021, §3.2, eq. 3-4):
///   x_{l+1} = Σ_i g_i(x_l) · x0 ⊙ (U_i σ(C_i σ(V_i x_l)) + b) + x_l,   g = softmax(G x_l)
/// with K experts of rank r, U_i [d, r], C_i [r, r], V_i [r, d], G [K, d], a shared bias b [d].
/// As Σ_i g_i = 1 this is x0 ⊙ (t + b) + x_l with t = Σ_i g_i E_i, E_i = U_i σ(C_i σ(V_i x_l)), so the
/// epilogue is the CrossV2 kernel. GEMMs: one for all V_i (stacked), K for the C_i, K for the U_i, one
/// for the gates. Parameters: `gate` [K, d], `v` [K r, d], `c` [K r, r], `u` [K d, r], `bias` [d]
/// (expert i is row block i of v, c and u).
class CrossMix {
 public:
  struct Options {
    index_t experts = 4;
    index_t rank = 8;
    Activation activation = Activation::relu;  ///< σ: relu or tanh in the paper
    Init init = Init::glorot_uniform();
  };
  template <class T>
  struct Cache {
    ConstMatrixView<T> x0, xl;
    Matrix<T> z, a;       // V x_l and σ(V x_l): [batch, K r]
    Matrix<T> h, hs;      // C a and σ(C a): [batch, K r]
    Matrix<T> e;          // experts E_i: [batch, K d]
    Matrix<T> logits, g;  // gates: [batch, K]
    Matrix<T> t;          // Σ g_i E_i: [batch, d]
    Matrix<T> dt, de, dg, dlogits, dhs, dh, da, dz;
  };

  CrossMix() = default;
  explicit CrossMix(Options o) : opt_(o) {}

  index_t build(index_t d, ParamRegistry& reg) {
    CTRNET_CHECK(d > 0, "CrossMix '", reg.full_name(""), "': input width must be positive, got ", d);
    CTRNET_CHECK(opt_.experts >= 1, "CrossMix '", reg.full_name(""), "': experts must be at least 1, got ", opt_.experts);
    CTRNET_CHECK(opt_.rank >= 1, "CrossMix '", reg.full_name(""), "': rank must be at least 1, got ", opt_.rank);
    d_ = d;
    const index_t K = opt_.experts, r = opt_.rank;
    gate_ = reg.add("gate", K, d, opt_.init);
    v_ = reg.add("v", K * r, d, opt_.init);
    c_ = reg.add("c", K * r, r, opt_.init);
    u_ = reg.add("u", K * d, r, opt_.init);
    bias_ = reg.add("bias", 1, d, Init::zeros());
    return d;
  }
  index_t out_dim() const { return d_; }
  ParamHandle gate() const { return gate_; }
  ParamHandle v() const { return v_; }
  ParamHandle c() const { return c_; }
  ParamHandle u() const { return u_; }
  ParamHandle bias() const { return bias_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, ConstMatrixView<T> x0, ConstMatrixView<T> xl, MatrixView<T> y,
               Cache<T>& c) const {
    using kernels::Trans;
    const index_t B = xl.rows, K = opt_.experts, r = opt_.rank, d = d_;
    const Activation f = opt_.activation;
    c.z.resize(B, K * r);
    c.a.resize(B, K * r);
    c.h.resize(B, K * r);
    c.hs.resize(B, K * r);
    c.e.resize(B, K * d);
    c.logits.resize(B, K);
    c.g.resize(B, K);
    c.t.resize(B, d);
    kernels::gemm(p, Trans::no, Trans::yes, T(1), xl, w[v_], T(0), c.z.view());
    kernels::activation_forward(p, f, T(0), c.z.cview(), c.a.view());
    for (index_t i = 0; i < K; ++i)
      kernels::gemm(p, Trans::no, Trans::yes, T(1), c.a.cview().col_block(i * r, r), w[c_].row_block(i * r, r), T(0),
                    c.h.view().col_block(i * r, r));
    kernels::activation_forward(p, f, T(0), c.h.cview(), c.hs.view());
    for (index_t i = 0; i < K; ++i)
      kernels::gemm(p, Trans::no, Trans::yes, T(1), c.hs.cview().col_block(i * r, r), w[u_].row_block(i * d, d), T(0),
                    c.e.view().col_block(i * d, d));
    kernels::gemm(p, Trans::no, Trans::yes, T(1), xl, w[gate_], T(0), c.logits.view());
    kernels::softmax_rows_forward(p, c.logits.cview(), c.g.view());
    kernels::mixture_combine_forward(p, c.g.cview(), c.e.cview(), c.t.view());
    kernels::cross_v2_forward(p, x0, c.t.cview(), w[bias_].data, xl, y);
    c.x0 = x0;
    c.xl = xl;
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx0,
                MatrixView<T> dxl, const Gradients<T>& g) const {
    using kernels::Trans;
    const index_t B = dy.rows, K = opt_.experts, r = opt_.rank, d = d_;
    const Activation f = opt_.activation;
    c.dt.resize(B, d);
    c.de.resize(B, K * d);
    c.dg.resize(B, K);
    c.dlogits.resize(B, K);
    c.dhs.resize(B, K * r);
    c.dh.resize(B, K * r, T(0));
    c.da.resize(B, K * r);
    c.dz.resize(B, K * r, T(0));
    kernels::cross_v2_backward_data(p, c.x0, c.t.cview(), w[bias_].data, dy, c.dt.view(), g[bias_].data, dx0, dxl);
    kernels::mixture_combine_backward(p, c.g.cview(), c.e.cview(), c.dt.cview(), c.de.view(), c.dg.view());
    // Gates.
    kernels::softmax_rows_backward(p, c.g.cview(), c.dg.cview(), c.dlogits.view());
    kernels::gemm(p, Trans::yes, Trans::no, T(1), c.dlogits.cview(), c.xl, T(1), g[gate_]);
    if (!dxl.empty()) kernels::gemm(p, Trans::no, Trans::no, T(1), c.dlogits.cview(), w[gate_], T(1), dxl);
    // Experts: U_i, then σ, C_i, σ, V.
    for (index_t i = 0; i < K; ++i) {
      const auto dEi = c.de.cview().col_block(i * d, d);
      kernels::gemm(p, Trans::yes, Trans::no, T(1), dEi, c.hs.cview().col_block(i * r, r), T(1),
                    g[u_].row_block(i * d, d));
      kernels::gemm(p, Trans::no, Trans::no, T(1), dEi, w[u_].row_block(i * d, d), T(0), c.dhs.view().col_block(i * r, r));
    }
    kernels::activation_backward(p, f, T(0), c.h.cview(), c.hs.cview(), c.dhs.cview(), c.dh.view());
    for (index_t i = 0; i < K; ++i) {
      const auto dHi = c.dh.cview().col_block(i * r, r);
      kernels::gemm(p, Trans::yes, Trans::no, T(1), dHi, c.a.cview().col_block(i * r, r), T(1), g[c_].row_block(i * r, r));
      kernels::gemm(p, Trans::no, Trans::no, T(1), dHi, w[c_].row_block(i * r, r), T(0), c.da.view().col_block(i * r, r));
    }
    kernels::activation_backward(p, f, T(0), c.z.cview(), c.a.cview(), c.da.cview(), c.dz.view());
    kernels::gemm(p, Trans::yes, Trans::no, T(1), c.dz.cview(), c.xl, T(1), g[v_]);
    if (!dxl.empty()) kernels::gemm(p, Trans::no, Trans::no, T(1), c.dz.cview(), w[v_], T(1), dxl);
  }

 private:
  Options opt_;
  index_t d_ = 0;
  ParamHandle gate_, v_, c_, u_, bias_;
};

/// What CrossNet needs of a cross layer (two inputs x0 and x_l, width-preserving).
template <class C>
concept CrossLayer = requires(C l, const C cl, ParamRegistry& reg, index_t d) {
  typename C::Options;
  typename C::template Cache<float>;
  { l.build(d, reg) } -> std::convertible_to<index_t>;
  { cl.out_dim() } -> std::convertible_to<index_t>;
};

/// \brief A cross network: `depth` cross layers over the same x0, x_{l+1} = cross_l(x0, x_l).
/// x: [batch, d] (= x0), y: [batch, d] (= x_depth). Layer i's parameters are `<scope>.<i>.*`.
template <class C>
class CrossNet {
  static_assert(CrossLayer<C>, "ctrnet::CrossNet<C>: C must be a cross layer (CrossV1, CrossV2, ...)");

 public:
  using input_kind = Dense;
  struct Options {
    index_t depth = 1;
    typename C::Options layer{};
  };
  template <class T>
  struct Cache {
    std::vector<typename C::template Cache<T>> layers;
    std::vector<Matrix<T>> out;   // x_1 .. x_{depth-1}
    std::vector<Matrix<T>> grad;  // d x_1 .. d x_{depth-1}
  };

  CrossNet() = default;
  explicit CrossNet(Options o) : opt_(std::move(o)) {}
  CrossNet(index_t depth, typename C::Options layer) : opt_{depth, std::move(layer)} {}

  index_t build(index_t in, ParamRegistry& reg) {
    CTRNET_CHECK(opt_.depth >= 1, "CrossNet '", reg.full_name(""), "': depth must be at least 1, got ", opt_.depth);
    layers_.clear();
    for (index_t i = 0; i < opt_.depth; ++i) {
      auto s = reg.scope(i);
      layers_.emplace_back(opt_.layer);
      const index_t d = layers_.back().build(in, reg);
      CTRNET_CHECK(d == in, "CrossNet '", reg.full_name(""), "': a cross layer must keep the width ", in, ", got ", d);
    }
    return d_ = in;
  }
  index_t out_dim() const { return d_; }
  index_t depth() const { return static_cast<index_t>(layers_.size()); }
  const C& layer(index_t i) const { return layers_[static_cast<std::size_t>(i)]; }
  const Options& options() const { return opt_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& = {}) const {
    const std::size_t n = layers_.size();
    c.layers.resize(n);
    c.out.resize(n);
    ConstMatrixView<T> h = x;
    for (std::size_t i = 0; i < n; ++i) {
      MatrixView<T> o = y;
      if (i + 1 < n) {
        c.out[i].resize(x.rows, d_);
        o = c.out[i].view();
      }
      layers_[i].forward(p, w, x, h, o, c.layers[i]);
      h = o;
    }
  }

  /// dx += d loss / d x0, through every layer's x0 input and through x_0 = x0 itself.
  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>& g) const {
    const std::size_t n = layers_.size();
    c.grad.resize(n);
    ConstMatrixView<T> d = dy;
    for (std::size_t i = n; i-- > 0;) {
      MatrixView<T> dxl = dx;
      if (i > 0) {
        c.grad[i - 1].resize(dy.rows, d_, T(0));
        dxl = c.grad[i - 1].view();
      }
      layers_[i].backward(p, w, c.layers[i], d, dx, dxl, g);
      if (i > 0) d = c.grad[i - 1].cview();
    }
  }

 private:
  Options opt_;
  std::vector<C> layers_;
  index_t d_ = 0;
};

}  // namespace ctrnet
