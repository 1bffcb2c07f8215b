// Multi-head scaled dot-product self-attention (Vaswani et al. 2017, arXiv 1706.03762, §3.2):
//   [Q | K | V] = X W_inᵀ + b_in                      X: [B·L, w], W_in: [3w, w]  (a GEMM)
//   head h:  C_h = softmax(Q_h K_hᵀ / √d_h + mask) V_h   per example, d_h = w / H
//   Y = [C_1 | ... | C_H] W_outᵀ + b_out              W_out: [w, w]               (a GEMM)
// Forward and backward run in blocks of about 512 tokens (whole examples; Options::block_tokens):
// the two projections and the attention core of one block in turn, so the block's QKV, context
// and gradient rows are read from cache rather than memory (the core is memory-bound at these
// sizes otherwise); the weight gradients accumulate over the blocks.
// Token layout: a layer over token sequences reads a dense matrix [B, L·w] (L tokens of width w,
// row-major per example), so it composes with the dense layers; L is a run-time option, w and
// the head width follow from the input width. Key padding mask (`masked`): the input has one more
// column, the count n_b ∈ [1, L] of valid tokens of example b (tokens n_b.. are padding and get
// attention weight 0; its gradient is 0). The output has no count column: [B, L·w].
// Parameters (PyTorch nn.MultiheadAttention's in_proj / out_proj): qkv.weight [3w, w],
// qkv.bias [3w], out.weight [w, w], out.bias [w].
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/attention.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/tokens.hpp"
#include "ctrnet/layers/linear.hpp"

namespace ctrnet {

namespace detail {
/// The token width of a token layer's input: (in − masked) / L, checked.
inline index_t token_width(index_t in, index_t tokens, bool masked, const std::string& who) {
  CTRNET_CHECK(tokens > 0, who, ": tokens must be positive, got ", tokens);
  const index_t body = in - (masked ? 1 : 0);
  CTRNET_CHECK(body > 0 && body % tokens == 0, who, ": input width ", in, (masked ? " (with the count column)" : ""),
               " is not tokens × width with tokens = ", tokens);
  return body / tokens;
}

/// The tokens of x [B, L·w (+1)] as one contiguous [B·L, w] matrix: a view when x already is one,
/// else a copy into buf. With `masked`, the counts of the last column go to `counts`.
template <class P, class T>
ConstMatrixView<T> token_matrix(const P& p, ConstMatrixView<T> x, index_t L, index_t w, bool masked, Matrix<T>& buf,
                                Buffer<index_t>* counts) {
  if (masked && counts) {
    counts->resize(x.rows);  // in the policy's memory, like every cache
    kernels::read_token_counts(p, x, L * w, L, counts->data(), "attention");
  }
  if (x.stride == L * w) return {x.data, x.rows * L, w};
  buf.resize(x.rows * L, w);
  kernels::copy(p, x.col_block(0, L * w), MatrixView<T>(buf.data(), x.rows, L * w));
  return buf.cview();
}

/// Where to write the tokens of y [B, L·w (+…)]: y itself when its first L·w columns are one
/// contiguous [B·L, w] matrix, else buf (then copied by token_store).
template <class T>
MatrixView<T> token_target(MatrixView<T> y, index_t L, index_t w, Matrix<T>& buf) {
  if (y.stride == L * w) return {y.data, y.rows * L, w};
  buf.resize(y.rows * L, w);
  return buf.view();
}
template <class P, class T>
void token_store(const P& p, MatrixView<T> t, MatrixView<T> y, index_t L, index_t w) {
  if (t.data == y.data) return;
  kernels::copy(p, ConstMatrixView<T>(t.data, y.rows, L * w), y.col_block(0, L * w));
}
/// dx[:, 0:L·w] += t (t: [B·L, w]).
template <class P, class T>
void token_accumulate(const P& p, ConstMatrixView<T> t, MatrixView<T> dx, index_t L, index_t w) {
  if (t.data == dx.data) return;
  kernels::axpy(p, T(1), ConstMatrixView<T>(t.data, dx.rows, L * w), dx.col_block(0, L * w));
}
/// A zeroed [B·L, w] gradient target for dx: dx itself when it is contiguous tokens (it is
/// accumulated into, so nothing is zeroed then), else a zeroed buf.
template <class T>
MatrixView<T> token_grad_target(MatrixView<T> dx, index_t L, index_t w, Matrix<T>& buf) {
  if (dx.stride == L * w) return {dx.data, dx.rows * L, w};
  buf.resize(dx.rows * L, w, T(0));
  return buf.view();
}
}  // namespace detail

/// \brief Multi-head self-attention over L tokens of width w = heads · head width.
class MultiHeadAttention {
 public:
  using input_kind = Dense;
  struct Options {
    index_t tokens = 0;   ///< L
    index_t heads = 1;    ///< H; the token width must be a multiple of it
    bool masked = false;  ///< the input's last column holds the count of valid tokens
    bool bias = true;
    Init init = Init::glorot_uniform();
    /// Tokens per block of forward / backward (whole examples, at least one; 0: the whole batch
    /// at once). Speed only: the results depend on it only through the order in which the weight
    /// gradients of the blocks are added. Not saved with the model.
    index_t block_tokens = 512;
  };
  template <class T>
  struct Cache {
    Matrix<T> x, y;                     // contiguous copies of the tokens when needed
    Buffer<index_t> counts;             // masked: valid tokens per example
    Matrix<T> qkv, ctx;                 // [B·L, 3w], [B·L, w]
    Buffer<T> probs;                // [B, H, L, L]
    Linear::Cache<T> in_c, out_c;
    Matrix<T> dy, dctx, dqkv, dx;       // backward workspaces (dctx, dqkv: one block of examples)
    const index_t* count_ptr = nullptr;
  };

  MultiHeadAttention() = default;
  explicit MultiHeadAttention(Options o) : opt_(std::move(o)) {}

  index_t build(index_t in, ParamRegistry& reg) {
    const std::string who = "MultiHeadAttention '" + reg.full_name("") + "'";
    w_ = detail::token_width(in, opt_.tokens, opt_.masked, who);
    CTRNET_CHECK(opt_.heads > 0 && w_ % opt_.heads == 0, who, ": token width ", w_, " is not a multiple of heads = ",
                 opt_.heads);
    in_ = in;
    Linear::Options lo;
    lo.bias = opt_.bias;
    lo.init = opt_.init;
    lo.units = 3 * w_;
    qkv_ = Linear(lo);
    lo.units = w_;
    out_ = Linear(lo);
    {
      auto s = reg.scope("qkv");
      qkv_.build(w_, reg);
    }
    {
      auto s = reg.scope("out");
      out_.build(w_, reg);
    }
    return opt_.tokens * w_;
  }
  index_t out_dim() const { return opt_.tokens * w_; }
  index_t tokens() const { return opt_.tokens; }
  index_t width() const { return w_; }
  index_t heads() const { return opt_.heads; }
  index_t head_dim() const { return w_ / opt_.heads; }
  const Options& options() const { return opt_; }
  const Linear& in_projection() const { return qkv_; }
  const Linear& out_projection() const { return out_; }

  /// Forward on the token matrix X [B·L, w] (contiguous) into Y [B·L, w]; counts: nullptr or [B].
  /// Runs in blocks of examples (block_examples()): QKV projection, attention core and output
  /// projection of a block, so that its QKV and context rows are still in cache when read.
  template <class P, class T>
  void forward_tokens(const P& p, const Weights<T>& w, ConstMatrixView<T> X, const index_t* counts, MatrixView<T> Y,
                      Cache<T>& c) const {
    const index_t L = opt_.tokens, N = X.rows, B = N / L, H = opt_.heads, E = std::min(block_examples(), B);
    c.count_ptr = counts;
    c.qkv.resize(N, 3 * w_);
    c.ctx.resize(N, w_);
    c.probs.resize(static_cast<std::size_t>(B * H * L * L));
    for (index_t b0 = 0; b0 < B; b0 += E) {
      const index_t nb = std::min(E, B - b0), r0 = b0 * L, r = nb * L;
      qkv_.forward(p, w, X.row_block(r0, r), c.qkv.view().row_block(r0, r), c.in_c);
      kernels::attention_forward(p, shape(nb), scale<T>(), c.qkv.cview().row_block(r0, r), counts ? counts + b0 : nullptr,
                                 c.probs.data() + b0 * H * L * L, c.ctx.view().row_block(r0, r));
      out_.forward(p, w, c.ctx.cview().row_block(r0, r), Y.row_block(r0, r), c.out_c);
    }
    c.in_c.x = X;  // the whole batch, for backward
    c.in_c.y = c.qkv.cview();
    c.out_c.x = c.ctx.cview();
    c.out_c.y = Y;
  }
  /// Backward of forward_tokens: ACCUMULATES into dX [B·L, w] (may be empty) and the gradients.
  /// In the same blocks of examples as forward: output projection backward, attention core
  /// backward and QKV projection backward of a block, through block-sized dctx and dqkv
  /// workspaces that stay in cache.
  template <class P, class T>
  void backward_tokens(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dY, MatrixView<T> dX,
                       const Gradients<T>& g) const {
    const index_t L = opt_.tokens, N = dY.rows, B = N / L, H = opt_.heads, E = std::min(block_examples(), B);
    const ConstMatrixView<T> X = c.in_c.x, ctx = c.out_c.x;
    c.dctx.resize(E * L, w_);
    c.dqkv.resize(E * L, 3 * w_);
    for (index_t b0 = 0; b0 < B; b0 += E) {
      const index_t nb = std::min(E, B - b0), r0 = b0 * L, r = nb * L;
      const MatrixView<T> dctx = c.dctx.view().row_block(0, r), dqkv = c.dqkv.view().row_block(0, r);
      kernels::fill(p, T(0), dctx);  // out_.backward accumulates
      c.out_c.x = ctx.row_block(r0, r);
      out_.backward(p, w, c.out_c, dY.row_block(r0, r), dctx, g);
      kernels::attention_backward(p, shape(nb), scale<T>(), c.qkv.cview().row_block(r0, r),
                                  c.count_ptr ? c.count_ptr + b0 : nullptr, c.probs.data() + b0 * H * L * L,
                                  ConstMatrixView<T>(dctx), dqkv);
      c.in_c.x = X.row_block(r0, r);
      qkv_.backward(p, w, c.in_c, ConstMatrixView<T>(dqkv), dX.empty() ? dX : dX.row_block(r0, r), g);
    }
    c.in_c.x = X;
    c.out_c.x = ctx;
  }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& = {}) const {
    const index_t L = opt_.tokens;
    const ConstMatrixView<T> X = detail::token_matrix(p, x, L, w_, opt_.masked, c.x, &c.counts);
    MatrixView<T> Y = detail::token_target(y, L, w_, c.y);
    forward_tokens(p, w, X, opt_.masked ? c.counts.data() : nullptr, Y, c);
    detail::token_store(p, Y, y, L, w_);
  }
  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>& g) const {
    const index_t L = opt_.tokens;
    const ConstMatrixView<T> dY = detail::token_matrix(p, dy, L, w_, false, c.dy, nullptr);
    MatrixView<T> dX;
    if (!dx.empty()) dX = detail::token_grad_target(dx, L, w_, c.dx);
    backward_tokens(p, w, c, dY, dX, g);
    if (!dx.empty()) detail::token_accumulate(p, ConstMatrixView<T>(dX), dx, L, w_);
  }

 private:
  /// Examples per block of forward_tokens / backward_tokens: about block_tokens tokens.
  index_t block_examples() const {
    return opt_.block_tokens > 0 ? std::max<index_t>(1, opt_.block_tokens / opt_.tokens)
                                 : std::numeric_limits<index_t>::max();
  }
  kernels::AttentionShape shape(index_t batch) const { return {batch, opt_.tokens, opt_.heads, w_ / opt_.heads}; }
  template <class T>
  T scale() const {
    return T(1) / std::sqrt(T(w_ / opt_.heads));
  }

  Options opt_;
  index_t w_ = 0, in_ = 0;
  Linear qkv_, out_;
};

}  // namespace ctrnet
