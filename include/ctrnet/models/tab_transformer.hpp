// TabTransformer (Huang, Khetan, Cvitkovic & Karnin 2020, arXiv 2012.06678):
//   token of categorical field i:  t_i = [c_i | e_i(x_i)]   (column_mode concat, the paper's
//       default: a per-column vector c_i of width ℓ (default d/8), shared by all values of the
//       column, before the value embedding e_i of width d − ℓ)
//   or                              t_i = c_i + e_i(x_i)     (column_mode add, c_i of width d)
//   contextual embeddings  [h_1 .. h_F] = TransformerBlock^N(t_1 .. t_F)   (categorical tokens only)
//   x = [LayerNorm(x_dense) | h_1 | ... | h_F],  logit = wᵀ MLP(x) + b,  p = σ(logit)
//   (dense_norm = false: x_dense as it comes instead of its layer norm)
// Parameters: column [F, ℓ or d]; blocks.<n>.{attn,norm1,ff,norm2}.*; dense_norm.weight / .bias
// (when the schema has dense fields); deep.<i>.*; logit.*; tables embedding.<table>.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ctrnet/compose/model.hpp"
#include "ctrnet/compose/named.hpp"
#include "ctrnet/compose/sequential.hpp"
#include "ctrnet/compose/stack.hpp"
#include "ctrnet/heads/binary.hpp"
#include "ctrnet/kernels/tokens.hpp"
#include "ctrnet/layers/feature_input.hpp"
#include "ctrnet/layers/layer_norm.hpp"
#include "ctrnet/layers/linear.hpp"
#include "ctrnet/layers/mlp.hpp"
#include "ctrnet/layers/transformer.hpp"

namespace ctrnet {

/// How the per-column part joins the value embedding.
enum class ColumnEmbedding { concat, add };

inline const char* to_string(ColumnEmbedding m) { return m == ColumnEmbedding::concat ? "concat" : "add"; }
inline ColumnEmbedding parse_column_embedding(std::string_view s) {
  if (s == "concat") return ColumnEmbedding::concat;
  if (s == "add") return ColumnEmbedding::add;
  detail::throw_error("unknown column embedding '", s, "': expected concat or add");
}

/// \brief The batch → [LayerNorm(dense) | contextual embeddings of the categorical fields].
class TabTransformerEncoder {
 public:
  using input_kind = Sparse;
  struct Options {
    index_t embedding_dim = 32;  ///< d, the token width
    ColumnEmbedding column_mode = ColumnEmbedding::concat;
    index_t column_dim = 0;      ///< ℓ (concat only); 0 = d / 8 (at least 1)
    index_t blocks = 2;
    index_t heads = 4;
    index_t ff_hidden = 0;       ///< 0 = 4 d
    double dropout = 0.0;        ///< of the Transformer blocks' residual branches
    bool norm_first = false;     ///< pre-norm blocks (post-norm, the paper's, by default)
    bool dense_norm = true;      ///< layer-normalise the dense features (the paper's); else as they come
    Init init = default_embedding_init();  ///< value embeddings and column vectors
  };
  template <class T>
  struct Cache {
    FeatureInput::Cache<T> input;
    Matrix<T> emb, tok, dense;  // [B, F·d_v], [B, F·d], [B, n_d]
    Stack<TransformerBlock>::Cache<T> blocks;
    LayerNorm::Cache<T> norm;
    Matrix<T> dtok, demb;
  };

  TabTransformerEncoder() = default;
  explicit TabTransformerEncoder(Options o) : opt_(std::move(o)) {}

  index_t build(const Schema& schema, ParamRegistry& reg) {
    const index_t d = opt_.embedding_dim;
    CTRNET_CHECK(d > 0, "TabTransformer: embedding_dim must be positive, got ", d);
    ell_ = opt_.column_mode == ColumnEmbedding::concat ? (opt_.column_dim > 0 ? opt_.column_dim : std::max<index_t>(1, d / 8))
                                                        : d;
    CTRNET_CHECK(opt_.column_mode == ColumnEmbedding::add || ell_ < d, "TabTransformer: column_dim ", ell_,
                 " must be smaller than embedding_dim ", d);
    dv_ = opt_.column_mode == ColumnEmbedding::concat ? d - ell_ : d;
    FeatureInput::Options fi;
    fi.embedding_dim = dv_;
    fi.init = opt_.init;
    for (index_t i = 0; i < schema.num_categorical(); ++i) {
      const Field& f = schema.categorical(i);
      CTRNET_CHECK(f.embedding_dim == 0 || f.embedding_dim == dv_, "TabTransformer: field '", f.name,
                   "' asks for embedding_dim ", f.embedding_dim, " but every value embedding has width ", dv_,
                   " (embedding_dim − column_dim)");
      fi.fields.push_back(f.name);
    }
    fields_ = static_cast<index_t>(fi.fields.size());
    CTRNET_CHECK(fields_ > 0, "TabTransformer: the schema has no categorical field");
    input_ = FeatureInput(fi);
    input_.build(schema, reg);
    column_ = reg.add("column", fields_, ell_, opt_.init);
    TransformerBlock::Options bo;
    bo.tokens = fields_;
    bo.heads = opt_.heads;
    bo.ff_hidden = opt_.ff_hidden;
    bo.dropout = opt_.dropout;
    bo.norm_first = opt_.norm_first;
    blocks_ = Stack<TransformerBlock>(opt_.blocks, bo);
    {
      auto s = reg.scope("blocks");
      blocks_.build(fields_ * d, reg);
    }
    num_dense_ = schema.num_dense();
    if (num_dense_ > 0 && opt_.dense_norm) {
      auto s = reg.scope("dense_norm");
      norm_ = LayerNorm(0);
      norm_.build(num_dense_, reg);
    }
    return out_ = num_dense_ + fields_ * d;
  }
  index_t out_dim() const { return out_; }
  const Options& options() const { return opt_; }
  index_t fields() const { return fields_; }
  index_t num_dense() const { return num_dense_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, const BatchView& x, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    const index_t B = x.size, d = opt_.embedding_dim;
    c.emb.resize(B, fields_ * dv_);
    input_.forward(p, w, x, c.emb.view(), c.input, ctx);
    c.tok.resize(B, fields_ * d);
    kernels::column_tokens_forward(p, c.emb.cview(), w[column_], opt_.column_mode == ColumnEmbedding::add, c.tok.view());
    blocks_.forward(p, w, c.tok.cview(), y.col_block(num_dense_, fields_ * d), c.blocks, ctx);
    if (num_dense_ > 0) {
      c.dense.resize(B, num_dense_);
      if (opt_.dense_norm) {
        kernels::convert(p, x.dense, c.dense.view());
        norm_.forward(p, w, c.dense.cview(), y.col_block(0, num_dense_), c.norm, ctx);
      } else {
        kernels::convert(p, x.dense, y.col_block(0, num_dense_));
      }
    }
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, NoInputGrad,
                const Gradients<T>& g) const {
    const index_t B = dy.rows, d = opt_.embedding_dim;
    if (num_dense_ > 0 && opt_.dense_norm) norm_.backward(p, w, c.norm, dy.col_block(0, num_dense_), MatrixView<T>{}, g);
    c.dtok.resize(B, fields_ * d, T(0));
    blocks_.backward(p, w, c.blocks, dy.col_block(num_dense_, fields_ * d), c.dtok.view(), g);
    c.demb.resize(B, fields_ * dv_);
    kernels::column_tokens_backward(p, c.dtok.cview(), g[column_], c.demb.view());
    input_.backward(p, w, c.input, c.demb.cview(), NoInputGrad{}, g);
  }

 private:
  Options opt_;
  FeatureInput input_;
  Stack<TransformerBlock> blocks_;
  LayerNorm norm_;
  ParamHandle column_;
  index_t ell_ = 0, dv_ = 0, fields_ = 0, num_dense_ = 0, out_ = 0;
};

using TabTransformerBody = Sequential<Named<TabTransformerEncoder>, Named<MLP>, Named<Linear>>;
using TabTransformer = Model<TabTransformerBody, BinaryHead>;

/// Flat options of TabTransformer.
struct TabTransformerOptions {
  index_t embedding_dim = 32;  ///< d (token width)
  ColumnEmbedding column_mode = ColumnEmbedding::concat;
  index_t column_dim = 0;      ///< ℓ for concat; 0 = d / 8
  index_t blocks = 2;
  index_t heads = 4;
  index_t ff_hidden = 0;       ///< 0 = 4 d
  double attention_dropout = 0.0;  ///< dropout of the blocks' residual branches
  bool norm_first = false;
  bool dense_norm = true;      ///< layer-normalise the dense features (the paper's) or pass them as they come
  std::vector<index_t> hidden = {256, 128};
  Activation activation = Activation::relu;
  double dropout = 0.0;        ///< of the MLP
};

/// The body of TabTransformer, unbuilt.
inline TabTransformerBody make_tab_transformer_body(const TabTransformerOptions& o) {
  TabTransformerEncoder::Options e;
  e.embedding_dim = o.embedding_dim;
  e.column_mode = o.column_mode;
  e.column_dim = o.column_dim;
  e.blocks = o.blocks;
  e.heads = o.heads;
  e.ff_hidden = o.ff_hidden;
  e.dropout = o.attention_dropout;
  e.norm_first = o.norm_first;
  e.dense_norm = o.dense_norm;
  MLP::Options mlp;
  mlp.widths = o.hidden;
  mlp.activation = o.activation;
  mlp.dropout = o.dropout;
  Linear::Options logit;
  logit.units = 1;
  return TabTransformerBody(Named<TabTransformerEncoder>("", TabTransformerEncoder(e)), Named<MLP>("deep", MLP(mlp)),
                            Named<Linear>("logit", Linear(logit)));
}

/// Builds (and initialises from `seed`) TabTransformer over `schema`.
inline TabTransformer make_tab_transformer(const Schema& schema, const TabTransformerOptions& o = {},
                                           std::uint64_t seed = 1) {
  TabTransformer m{make_tab_transformer_body(o), BinaryHead{}};
  m.build(schema, seed);
  return m;
}

}  // namespace ctrnet
