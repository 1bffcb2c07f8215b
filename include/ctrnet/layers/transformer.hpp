// Transformer encoder block (Vaswani et al. 2017, §3.1) over L tokens of width w, token layout
// [B, L·w] (see layers/attention.hpp), with the feed-forward network FFN(x) = GELU(x W_1ᵀ + b_1)
// W_2ᵀ + b_2 (GELU in its exact erf form, as PyTorch's default; Hendrycks & Gimpel 2016):
//   post-norm (the paper's):  H = LN_1(X + Drop(MHA(X))),       Y = LN_2(H + Drop(FFN(H)))
//   pre-norm (Xiong et al. 2020, arXiv 2002.04745):
//                             H = X + Drop(MHA(LN_1(X))),       Y = H + Drop(FFN(LN_2(H)))
// Dropout is applied to each residual branch (rate `dropout`), per token row; attention weights
// are not dropped. With `masked`, the input's last column is the count of valid tokens: the
// attention ignores padding keys and the column is passed through to the output unchanged (as an
// identity, also in backward), so blocks stack (Stack<TransformerBlock>).
// Parameters: attn.qkv.*, attn.out.*, norm1.*, ff.0.*, ff.1.*, norm2.*.
#pragma once
#include <vector>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/layers/attention.hpp"
#include "ctrnet/layers/dropout.hpp"
#include "ctrnet/layers/layer_norm.hpp"
#include "ctrnet/layers/linear.hpp"

namespace ctrnet {

/// \brief One Transformer encoder block (self-attention + feed-forward, residuals, layer norms).
class TransformerBlock {
 public:
  using input_kind = Dense;
  struct Options {
    index_t tokens = 0;         ///< L
    index_t heads = 1;
    index_t ff_hidden = 0;      ///< hidden width of the FFN; 0 = 4 · token width
    double dropout = 0.0;       ///< on both residual branches
    bool norm_first = false;    ///< pre-norm (true) or the paper's post-norm (false)
    bool masked = false;        ///< the last input column is the count of valid tokens
    double eps = 1e-5;          ///< of both layer norms
  };
  template <class T>
  struct Cache {
    Matrix<T> xbuf, ybuf;
    Buffer<index_t> counts;                   // masked: valid tokens per example
    ConstMatrixView<T> x;                     // tokens [N, w]
    MultiHeadAttention::Cache<T> attn;
    LayerNorm::Cache<T> ln1, ln2;
    Linear::Cache<T> ff1, ff2;
    Dropout::Cache<T> drop1, drop2;
    Matrix<T> a, m, md, h, g, f1, f2, f2d, z;  // forward intermediates (see the header formulas)
    Matrix<T> dyc, dh, dm, da, df1, dg, df2, dz, dxbuf;
  };

  TransformerBlock() = default;
  explicit TransformerBlock(Options o) : opt_(std::move(o)) {}

  index_t build(index_t in, ParamRegistry& reg) {
    const std::string who = "TransformerBlock '" + reg.full_name("") + "'";
    w_ = detail::token_width(in, opt_.tokens, opt_.masked, who);
    CTRNET_CHECK(opt_.dropout >= 0.0 && opt_.dropout < 1.0, who, ": dropout must be in [0, 1), got ", opt_.dropout);
    in_ = in;
    MultiHeadAttention::Options ao;
    ao.tokens = opt_.tokens;
    ao.heads = opt_.heads;
    attn_ = MultiHeadAttention(ao);
    {
      auto s = reg.scope("attn");
      attn_.build(opt_.tokens * w_, reg);
      drop1_ = Dropout(opt_.dropout);
      drop1_.build(w_, reg);
    }
    {
      auto s = reg.scope("norm1");
      ln1_ = LayerNorm(w_, opt_.eps);
      ln1_.build(w_, reg);
    }
    {
      auto s = reg.scope("ff");
      Linear::Options l1;
      l1.units = opt_.ff_hidden > 0 ? opt_.ff_hidden : 4 * w_;
      l1.activation = Activation::gelu;
      ff1_ = Linear(l1);
      {
        auto s0 = reg.scope("0");
        ff1_.build(w_, reg);
      }
      Linear::Options l2;
      l2.units = w_;
      ff2_ = Linear(l2);
      {
        auto s1 = reg.scope("1");
        ff2_.build(l1.units, reg);
      }
      drop2_ = Dropout(opt_.dropout);
      drop2_.build(w_, reg);
    }
    {
      auto s = reg.scope("norm2");
      ln2_ = LayerNorm(w_, opt_.eps);
      ln2_.build(w_, reg);
    }
    return in;
  }
  index_t out_dim() const { return in_; }
  index_t width() const { return w_; }
  const Options& options() const { return opt_; }
  const MultiHeadAttention& attention() const { return attn_; }
  index_t ff_hidden() const { return ff1_.out_dim(); }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    const index_t L = opt_.tokens, N = x.rows * L;
    Context tctx = ctx;  // dropout rows are tokens: global token row = global example row · L + t
    tctx.first_row = ctx.first_row * L;
    c.x = detail::token_matrix(p, x, L, w_, opt_.masked, c.xbuf, &c.counts);
    const index_t* counts = opt_.masked ? c.counts.data() : nullptr;
    MatrixView<T> Y = detail::token_target(y, L, w_, c.ybuf);
    const bool drop = ctx.training && opt_.dropout > 0.0;
    c.m.resize(N, w_);
    c.h.resize(N, w_);
    c.f1.resize(N, ff1_.out_dim());
    c.f2.resize(N, w_);
    auto dropout = [&](const Dropout& d, Matrix<T>& in, Matrix<T>& out, Dropout::Cache<T>& dc) -> ConstMatrixView<T> {
      if (!drop) {
        dc.active = false;
        return in.cview();
      }
      out.resize(N, w_);
      d.forward(p, w, in.cview(), out.view(), dc, tctx);
      return out.cview();
    };
    if (opt_.norm_first) {
      c.a.resize(N, w_);
      ln1_.forward(p, w, c.x, c.a.view(), c.ln1);
      attn_.forward_tokens(p, w, c.a.cview(), counts, c.m.view(), c.attn);
      const ConstMatrixView<T> md = dropout(drop1_, c.m, c.md, c.drop1);
      kernels::copy(p, c.x, c.h.view());
      kernels::axpy(p, T(1), md, c.h.view());
      c.g.resize(N, w_);
      ln2_.forward(p, w, c.h.cview(), c.g.view(), c.ln2);
      ff1_.forward(p, w, c.g.cview(), c.f1.view(), c.ff1);
      ff2_.forward(p, w, c.f1.cview(), c.f2.view(), c.ff2);
      const ConstMatrixView<T> fd = dropout(drop2_, c.f2, c.f2d, c.drop2);
      kernels::copy(p, c.h.cview(), Y);
      kernels::axpy(p, T(1), fd, Y);
    } else {
      attn_.forward_tokens(p, w, c.x, counts, c.m.view(), c.attn);
      const ConstMatrixView<T> md = dropout(drop1_, c.m, c.md, c.drop1);
      c.a.resize(N, w_);  // z1 = x + drop(m)
      kernels::copy(p, c.x, c.a.view());
      kernels::axpy(p, T(1), md, c.a.view());
      ln1_.forward(p, w, c.a.cview(), c.h.view(), c.ln1);
      ff1_.forward(p, w, c.h.cview(), c.f1.view(), c.ff1);
      ff2_.forward(p, w, c.f1.cview(), c.f2.view(), c.ff2);
      const ConstMatrixView<T> fd = dropout(drop2_, c.f2, c.f2d, c.drop2);
      c.z.resize(N, w_);  // z2 = h + drop(f)
      kernels::copy(p, c.h.cview(), c.z.view());
      kernels::axpy(p, T(1), fd, c.z.view());
      ln2_.forward(p, w, c.z.cview(), Y, c.ln2);
    }
    detail::token_store(p, Y, y, L, w_);
    if (opt_.masked) kernels::copy(p, x.col_block(L * w_, 1), y.col_block(L * w_, 1));
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>& g) const {
    const index_t L = opt_.tokens, N = dy.rows * L;
    const ConstMatrixView<T> dY = detail::token_matrix(p, dy, L, w_, false, c.dyc, nullptr);
    auto undrop = [&](const Dropout& d, Dropout::Cache<T>& dc, ConstMatrixView<T> in, Matrix<T>& buf) -> ConstMatrixView<T> {
      if (!dc.active) return in;
      buf.resize(N, w_, T(0));
      d.backward(p, w, dc, in, buf.view(), g);
      return buf.cview();
    };
    MatrixView<T> dX;
    if (!dx.empty()) dX = detail::token_grad_target(dx, L, w_, c.dxbuf);
    c.df1.resize(N, ff1_.out_dim(), T(0));
    if (opt_.norm_first) {
      // Y = H + drop(FFN(LN2(H))),  H = X + drop(MHA(LN1(X)))
      c.dh.resize(N, w_);
      kernels::copy(p, dY, c.dh.view());
      ff2_.backward(p, w, c.ff2, undrop(drop2_, c.drop2, dY, c.df2), c.df1.view(), g);
      c.dg.resize(N, w_, T(0));
      ff1_.backward(p, w, c.ff1, c.df1.cview(), c.dg.view(), g);
      ln2_.backward(p, w, c.ln2, c.dg.cview(), c.dh.view(), g);
      c.da.resize(N, w_, T(0));
      attn_.backward_tokens(p, w, c.attn, undrop(drop1_, c.drop1, c.dh.cview(), c.dm), c.da.view(), g);
      ln1_.backward(p, w, c.ln1, c.da.cview(), dX, g);
      if (!dX.empty()) kernels::axpy(p, T(1), c.dh.cview(), dX);
    } else {
      // Y = LN2(Z2), Z2 = H + drop(FFN(H)), H = LN1(Z1), Z1 = X + drop(MHA(X))
      c.dz.resize(N, w_, T(0));
      ln2_.backward(p, w, c.ln2, dY, c.dz.view(), g);
      ff2_.backward(p, w, c.ff2, undrop(drop2_, c.drop2, c.dz.cview(), c.df2), c.df1.view(), g);
      c.dh.resize(N, w_);
      kernels::copy(p, c.dz.cview(), c.dh.view());
      ff1_.backward(p, w, c.ff1, c.df1.cview(), c.dh.view(), g);
      c.da.resize(N, w_, T(0));  // dZ1
      ln1_.backward(p, w, c.ln1, c.dh.cview(), c.da.view(), g);
      attn_.backward_tokens(p, w, c.attn, undrop(drop1_, c.drop1, c.da.cview(), c.dm), dX, g);
      if (!dX.empty()) kernels::axpy(p, T(1), c.da.cview(), dX);
    }
    if (!dx.empty()) {
      detail::token_accumulate(p, ConstMatrixView<T>(dX), dx, L, w_);
      // the count column is passed through (y's = x's): its gradient passes through too
      if (opt_.masked) kernels::axpy(p, T(1), dy.col_block(L * w_, 1), dx.col_block(L * w_, 1));
    }
  }

 private:
  Options opt_;
  index_t w_ = 0, in_ = 0;
  MultiHeadAttention attn_;
  LayerNorm ln1_, ln2_;
  Linear ff1_, ff2_;
  Dropout drop1_, drop2_;
};

}  // namespace ctrnet
