// Two-tower retrieval with Transformer towers. Each tower turns its fields into tokens, runs
// Transformer blocks over them and pools:
//   tokens  one per categorical / multi-hot field of the tower (its embedding, pooled as the
//           field says), then, when the tower has dense fields x_d (e.g. an item-to-item context
//           tower's pair features), ONE dense token W_d x_d + b_d (a linear projection of all of
//           them to the token width), then, for a sequence field (at most one per tower; e.g. a
//           user's recent items, oldest first), its last `max_len` ids as tokens e(id_t) + p_t
//           (a learned position embedding), padded to max_len; the count of valid tokens rides along as
//           the key padding mask (layers/attention.hpp)
//   h       = TransformerBlock^N(tokens)             (layers/transformer.hpp)
//   z       = W Pool(h) + b                          (mean, max or first token; a linear
//                                                     projection to output_dim)
//   score   = sim(u, v) / τ                          (compose/two_tower.hpp)
// Parameter names (tower "query"): query.position [max_len, d] (with a sequence field),
// query.dense.weight [d, n_dense] / .bias (with dense fields),
// query.blocks.<n>.*, query.proj.weight / .bias; tables embedding.<table> (shared across towers
// by Field::table, as in the MLP towers).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "ctrnet/compose/named.hpp"
#include "ctrnet/compose/sequential.hpp"
#include "ctrnet/compose/stack.hpp"
#include "ctrnet/compose/tower.hpp"
#include "ctrnet/compose/two_tower.hpp"
#include "ctrnet/kernels/tokens.hpp"
#include "ctrnet/layers/embedding.hpp"
#include "ctrnet/layers/linear.hpp"
#include "ctrnet/layers/similarity.hpp"
#include "ctrnet/layers/token_pooling.hpp"
#include "ctrnet/layers/transformer.hpp"

namespace ctrnet {

/// \brief The fields of one group → tokens [B, L·d] (+ the count column with a sequence field).
/// Token order: one per categorical / multi-hot field, the dense token (if the group has dense
/// fields), the sequence tokens (valid ones first, so the count n_b masks the padding).
/// Dense token backward: dW_d += dtᵀ x_d, db_d += Σ dt (layers/linear.hpp).
class FieldTokens {
 public:
  using input_kind = Sparse;
  struct Options {
    std::string group{};              ///< Field::tower value selecting the fields
    std::vector<std::string> fields{};  ///< explicit field names instead of the group
    index_t embedding_dim = 32;       ///< d, the token width (every field's embedding)
    index_t max_len = 20;             ///< tokens kept of a sequence field (its most recent ids)
    Init init = default_embedding_init();
  };
  template <class T>
  struct Cache {
    std::vector<Embedding::Cache<T>> emb;
    Matrix<T> xd;  // the dense fields [B, n_dense]
    Linear::Cache<T> dense;
    const BatchView* x = nullptr;
  };

  FieldTokens() = default;
  explicit FieldTokens(Options o) : opt_(std::move(o)) {}

  index_t build(const Schema& schema, ParamRegistry& reg) {
    const index_t d = opt_.embedding_dim;
    CTRNET_CHECK(d > 0, "FieldTokens: embedding_dim must be positive, got ", d);
    std::vector<std::string> names = opt_.fields;
    if (names.empty())
      for (const auto& f : schema.fields())
        if (f.tower == opt_.group) names.push_back(f.name);
    CTRNET_CHECK(!names.empty(), "FieldTokens: no field of the schema has tower == '", opt_.group, "'");
    singles_.clear();
    dense_cols_.clear();
    seq_index_ = -1;
    for (const auto& n : names) {
      const index_t fi = schema.categorical_index(n);
      if (fi < 0) {
        const index_t di = schema.dense_index(n);
        CTRNET_CHECK(di >= 0, "FieldTokens: the schema has no field named '", n, "'");
        dense_cols_.push_back(di);
        continue;
      }
      const Field& f = schema.categorical(fi);
      CTRNET_CHECK(f.embedding_dim == 0 || f.embedding_dim == d, "FieldTokens: field '", n, "' asks for embedding_dim ",
                   f.embedding_dim, " but every token is ", d, " wide");
      if (f.kind == FieldKind::sequence) {
        CTRNET_CHECK(seq_index_ < 0, "FieldTokens: at most one sequence field per tower; '", seq_field_.name, "' and '",
                     n, "' are both sequences");
        seq_index_ = fi;
        seq_field_ = f;
      } else {
        Embedding::Options eo;
        eo.field = n;
        eo.dim = d;
        eo.init = opt_.init;
        singles_.emplace_back(eo);
        singles_.back().build(schema, reg);
      }
    }
    L_ = static_cast<index_t>(singles_.size());
    if (!dense_cols_.empty()) {
      Linear::Options lo;
      lo.units = d;
      dense_ = Linear(lo);
      auto s = reg.scope("dense");
      dense_.build(static_cast<index_t>(dense_cols_.size()), reg);
      ++L_;
    }
    if (seq_index_ >= 0) {
      CTRNET_CHECK(opt_.max_len > 0, "FieldTokens: max_len must be positive, got ", opt_.max_len);
      seq_table_ = reg.add_table("embedding." + seq_field_.table_name(), seq_field_.rows(), d, opt_.init);
      position_ = reg.add("position", opt_.max_len, d, opt_.init);
      L_ += opt_.max_len;
    }
    return out_ = L_ * d + (masked() ? 1 : 0);
  }
  index_t out_dim() const { return out_; }
  index_t tokens() const { return L_; }
  bool masked() const { return seq_index_ >= 0; }
  /// Number of dense fields (0: no dense token).
  index_t num_dense() const { return static_cast<index_t>(dense_cols_.size()); }
  const Options& options() const { return opt_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, const BatchView& x, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    const index_t d = opt_.embedding_dim, S = static_cast<index_t>(singles_.size());
    c.x = &x;
    c.emb.resize(singles_.size());
    for (index_t e = 0; e < S; ++e)
      singles_[static_cast<std::size_t>(e)].forward(p, w, x, y.col_block(e * d, d), c.emb[static_cast<std::size_t>(e)], ctx);
    const index_t nd = num_dense(), D = nd > 0 ? 1 : 0;
    if (nd > 0) {
      c.xd.resize(x.size, nd);
      for (index_t j = 0; j < nd; ++j)
        kernels::convert(p, x.dense.col_block(dense_cols_[static_cast<std::size_t>(j)], 1), c.xd.view().col_block(j, 1));
      dense_.forward(p, w, c.xd.cview(), y.col_block(S * d, d), c.dense, ctx);
    }
    if (!masked()) return;
    kernels::sequence_tokens_forward(p, w.table(seq_table_), x.fields[static_cast<std::size_t>(seq_index_)],
                                     IdMapper(seq_field_), x.first_row, w[position_], S + D,
                                     y.col_block((S + D) * d, opt_.max_len * d), y.col_block(L_ * d, 1));
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, NoInputGrad,
                const Gradients<T>& g) const {
    const index_t d = opt_.embedding_dim, S = static_cast<index_t>(singles_.size());
    const BatchView& x = *c.x;
    for (index_t e = 0; e < S; ++e)
      singles_[static_cast<std::size_t>(e)].backward(p, w, c.emb[static_cast<std::size_t>(e)], dy.col_block(e * d, d),
                                                     NoInputGrad{}, g);
    const index_t D = num_dense() > 0 ? 1 : 0;
    if (D > 0) dense_.backward(p, w, c.dense, dy.col_block(S * d, d), MatrixView<T>{}, g);
    if (!masked()) return;
    kernels::sequence_tokens_backward(p, x.fields[static_cast<std::size_t>(seq_index_)], IdMapper(seq_field_),
                                      x.first_row, dy.col_block((S + D) * d, opt_.max_len * d),
                                      g.table(seq_table_), g[position_]);
  }

 private:
  Options opt_;
  std::vector<Embedding> singles_;
  std::vector<index_t> dense_cols_;  // dense columns of the batch, in the order of the tower's fields
  Linear dense_;
  Field seq_field_;
  index_t seq_index_ = -1;
  TableHandle seq_table_;
  ParamHandle position_;
  index_t L_ = 0, out_ = 0;
};

/// \brief Tokens → Transformer blocks → pooling → linear projection (built from the schema,
/// so the number of tokens and the mask follow the tower's fields).
class TransformerTowerBody {
 public:
  using input_kind = Sparse;
  struct Options {
    FieldTokens::Options tokens{};
    index_t blocks = 1;
    index_t heads = 2;
    index_t ff_hidden = 0;
    double dropout = 0.0;
    bool norm_first = true;
    TokenPoolingMode pooling = TokenPoolingMode::mean;
    index_t output_dim = 64;
  };
  template <class T>
  struct Cache {
    FieldTokens::Cache<T> tokens;
    Stack<TransformerBlock>::Cache<T> blocks;
    TokenPooling::Cache<T> pool;
    Linear::Cache<T> proj;
    Matrix<T> t, h, pooled, dpooled, dh, dt;
  };

  TransformerTowerBody() = default;
  explicit TransformerTowerBody(Options o) : opt_(std::move(o)) {}

  index_t build(const Schema& schema, ParamRegistry& reg) {
    tokens_ = FieldTokens(opt_.tokens);
    const index_t in = tokens_.build(schema, reg);
    TransformerBlock::Options bo;
    bo.tokens = tokens_.tokens();
    bo.heads = opt_.heads;
    bo.ff_hidden = opt_.ff_hidden;
    bo.dropout = opt_.dropout;
    bo.norm_first = opt_.norm_first;
    bo.masked = tokens_.masked();
    blocks_ = Stack<TransformerBlock>(opt_.blocks, bo);
    {
      auto s = reg.scope("blocks");
      blocks_.build(in, reg);
    }
    pool_ = TokenPooling({tokens_.tokens(), opt_.pooling, tokens_.masked()});
    const index_t w = pool_.build(in, reg);
    CTRNET_CHECK(opt_.output_dim > 0, "TransformerTowerBody: output_dim must be positive, got ", opt_.output_dim);
    Linear::Options lo;
    lo.units = opt_.output_dim;
    proj_ = Linear(lo);
    {
      auto s = reg.scope("proj");
      proj_.build(w, reg);
    }
    return opt_.output_dim;
  }
  index_t out_dim() const { return opt_.output_dim; }
  const Options& options() const { return opt_; }
  const FieldTokens& tokens() const { return tokens_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, const BatchView& x, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    const index_t B = x.size, in = tokens_.out_dim();
    c.t.resize(B, in);
    tokens_.forward(p, w, x, c.t.view(), c.tokens, ctx);
    c.h.resize(B, in);
    blocks_.forward(p, w, c.t.cview(), c.h.view(), c.blocks, ctx);
    c.pooled.resize(B, pool_.out_dim());
    pool_.forward(p, w, c.h.cview(), c.pooled.view(), c.pool, ctx);
    proj_.forward(p, w, c.pooled.cview(), y, c.proj, ctx);
  }
  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, NoInputGrad,
                const Gradients<T>& g) const {
    const index_t B = dy.rows, in = tokens_.out_dim();
    c.dpooled.resize(B, pool_.out_dim(), T(0));
    proj_.backward(p, w, c.proj, dy, c.dpooled.view(), g);
    c.dh.resize(B, in, T(0));
    pool_.backward(p, w, c.pool, c.dpooled.cview(), c.dh.view(), g);
    c.dt.resize(B, in, T(0));
    blocks_.backward(p, w, c.blocks, c.dh.cview(), c.dt.view(), g);
    tokens_.backward(p, w, c.tokens, c.dt.cview(), NoInputGrad{}, g);
  }

 private:
  Options opt_;
  FieldTokens tokens_;
  Stack<TransformerBlock> blocks_;
  TokenPooling pool_;
  Linear proj_;
};

using TransformerTower = Tower<TransformerTowerBody>;
/// Two Transformer towers with cosine similarity and a temperature.
using TwoTowerTransformer = TwoTower<TransformerTower, TransformerTower, CosineSimilarity>;

/// Flat options of TwoTowerTransformer (both towers alike).
struct TwoTowerTransformerOptions {
  index_t embedding_dim = 32;  ///< token width: every field's embedding
  index_t max_len = 20;        ///< tokens kept of a sequence field
  index_t blocks = 1;
  index_t heads = 2;
  index_t ff_hidden = 0;       ///< 0 = 4 · embedding_dim
  double dropout = 0.0;
  bool norm_first = true;
  TokenPoolingMode pooling = TokenPoolingMode::mean;
  index_t output_dim = 64;
  double temperature = 0.05;
};

namespace detail {
/// A Transformer tower named `name` over the fields of `group` (nullptr: the group named `name`).
inline TransformerTower make_transformer_tower(const char* name, const TwoTowerTransformerOptions& o,
                                               const char* group = nullptr) {
  TransformerTowerBody::Options b;
  b.tokens.group = group != nullptr ? group : name;
  b.tokens.embedding_dim = o.embedding_dim;
  b.tokens.max_len = o.max_len;
  b.blocks = o.blocks;
  b.heads = o.heads;
  b.ff_hidden = o.ff_hidden;
  b.dropout = o.dropout;
  b.norm_first = o.norm_first;
  b.pooling = o.pooling;
  b.output_dim = o.output_dim;
  TransformerTower::Options t;
  t.name = name;
  if (group != nullptr) t.group = group;
  return TransformerTower(t, TransformerTowerBody(b));
}
}  // namespace detail

/// Builds (and initialises from `seed`) a TwoTowerTransformer over `schema` (fields assigned to
/// the towers by Field::tower "query" / "candidate").
inline TwoTowerTransformer make_two_tower_transformer(const Schema& schema, const TwoTowerTransformerOptions& o = {},
                                                      std::uint64_t seed = 1) {
  TwoTowerTransformer m(detail::make_transformer_tower("query", o), detail::make_transformer_tower("candidate", o),
                        CosineSimilarity(o.temperature));
  m.build(schema, seed);
  return m;
}

}  // namespace ctrnet
