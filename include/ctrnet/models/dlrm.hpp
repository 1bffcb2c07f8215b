// DLRM (Naumov et al. 2019, "Deep Learning Recommendation Model for Personalization and
// Recommendation Systems", arXiv 1906.00091; reference facebookresearch/dlrm dlrm_s_pytorch.py):
//   x_b   = MLP_bottom(x_dense)                       width d (ReLU on every layer, as the reference)
//   T     = [x_b; e_1; ...; e_F]                      n = F + 1 vectors of width d (one per categorical field)
//   z     = lower triangle of T Tᵀ, pairs (1,0), (2,0), (2,1), (3,0), ... (j ≤ i with self_interaction)
//   logit = wᵀ MLP_top([x_b | z]) + b,   p = σ(logit) (BinaryHead)
// Parameter names: bottom.<i>.weight / .bias; top.<i>.weight / .bias; logit.weight / .bias;
// embedding tables embedding.<table>.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ctrnet/compose/model.hpp"
#include "ctrnet/compose/named.hpp"
#include "ctrnet/compose/sequential.hpp"
#include "ctrnet/heads/binary.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/layers/dot_interaction.hpp"
#include "ctrnet/layers/embedding.hpp"
#include "ctrnet/layers/linear.hpp"
#include "ctrnet/layers/mlp.hpp"

namespace ctrnet {

/// \brief DLRM's input: y = [MLP_bottom(x_dense) | e_1 | ... | e_F], n = F + 1 vectors of width d.
/// Every dense field of the schema feeds the bottom MLP (widths `bottom`, then d); every
/// categorical field gets an embedding of width d (a field that declares another embedding_dim is
/// an error: the dot interaction needs equal widths). Parameters: `bottom.<i>.weight` / `.bias`,
/// tables `embedding.<table>`.
class DLRMInput {
 public:
  using input_kind = Sparse;
  struct Options {
    index_t embedding_dim = 16;
    std::vector<index_t> bottom{};  ///< hidden widths of the bottom MLP (its last layer has width embedding_dim)
    Activation activation = Activation::relu;
    Init init = default_embedding_init();
  };
  template <class T>
  struct Cache {
    Matrix<T> dense;  // the dense fields converted to T: [batch, num_dense]
    typename MLP::template Cache<T> bottom;
    std::vector<Embedding::Cache<T>> emb;
  };

  DLRMInput() = default;
  explicit DLRMInput(Options o) : opt_(std::move(o)) {}

  index_t build(const Schema& schema, ParamRegistry& reg) {
    const index_t d = opt_.embedding_dim;
    CTRNET_CHECK(d > 0, "DLRM: embedding_dim must be positive, got ", d);
    num_dense_ = schema.num_dense();
    CTRNET_CHECK(num_dense_ > 0, "DLRM: the schema has no dense field; DLRM's bottom MLP needs at least one (use DCN "
                 "or Wide & Deep for categorical-only data)");
    MLP::Options mo;
    mo.widths = opt_.bottom;
    mo.widths.push_back(d);
    mo.activation = opt_.activation;
    bottom_ = MLP(mo);
    {
      auto s = reg.scope("bottom");
      bottom_.build(num_dense_, reg);
    }
    embeddings_.clear();
    for (index_t i = 0; i < schema.num_categorical(); ++i) {
      const Field& f = schema.categorical(i);
      CTRNET_CHECK(f.kind != FieldKind::sequence, "DLRM: field '", f.name,
                   "' is a sequence; DLRM embeds one id or a pooled bag per field");
      CTRNET_CHECK(f.embedding_dim == 0 || f.embedding_dim == d, "DLRM: field '", f.name, "' declares embedding_dim ",
                   f.embedding_dim, " but the dot interaction needs every embedding of width embedding_dim = ", d);
      Embedding::Options eo;
      eo.field = f.name;
      eo.dim = d;
      eo.init = opt_.init;
      embeddings_.emplace_back(eo);
      embeddings_.back().build(schema, reg);
    }
    return out_ = d * (1 + static_cast<index_t>(embeddings_.size()));
  }
  index_t out_dim() const { return out_; }
  index_t num_vectors() const { return out_ / opt_.embedding_dim; }
  const Options& options() const { return opt_; }
  const MLP& bottom() const { return bottom_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, const BatchView& x, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    const index_t d = opt_.embedding_dim;
    CTRNET_CHECK(x.dense.cols == num_dense_, "DLRM: the batch has ", x.dense.cols, " dense columns, the model was built for ",
                 num_dense_);
    c.dense.resize(x.size, num_dense_);
    kernels::convert(p, x.dense, c.dense.view());
    bottom_.forward(p, w, c.dense.cview(), y.col_block(0, d), c.bottom, ctx);
    c.emb.resize(embeddings_.size());
    for (std::size_t e = 0; e < embeddings_.size(); ++e)
      embeddings_[e].forward(p, w, x, y.col_block(d * static_cast<index_t>(e + 1), d), c.emb[e], ctx);
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, NoInputGrad,
                const Gradients<T>& g) const {
    const index_t d = opt_.embedding_dim;
    bottom_.backward(p, w, c.bottom, dy.col_block(0, d), MatrixView<T>{}, g);
    for (std::size_t e = 0; e < embeddings_.size(); ++e)
      embeddings_[e].backward(p, w, c.emb[e], dy.col_block(d * static_cast<index_t>(e + 1), d), NoInputGrad{}, g);
  }

 private:
  Options opt_;
  MLP bottom_;
  std::vector<Embedding> embeddings_;
  index_t num_dense_ = 0, out_ = 0;
};

using DLRMBody = Sequential<Named<DLRMInput>, Named<DotInteraction>, Named<MLP>, Named<Linear>>;
using DLRM = Model<DLRMBody, BinaryHead>;

/// Flat options of DLRM. The defaults are the reference's Criteo Kaggle configuration
/// (--arch-sparse-feature-size=16 --arch-mlp-bot="13-512-256-64-16" --arch-mlp-top="512-256-1").
struct DLRMOptions {
  index_t embedding_dim = 16;                    ///< d: every embedding and the bottom MLP's output
  std::vector<index_t> bottom = {512, 256, 64};  ///< hidden widths of the bottom MLP (then d)
  std::vector<index_t> top = {512, 256};         ///< hidden widths of the top MLP (then the logit)
  Activation activation = Activation::relu;      ///< of both MLPs
  bool self_interaction = false;                 ///< add the diagonal <t_i, t_i> to the interactions
  double dropout = 0.0;                          ///< between the top MLP's layers
};

/// The body of DLRM, unbuilt.
inline DLRMBody make_dlrm_body(const DLRMOptions& o) {
  CTRNET_CHECK(!o.top.empty(), "DLRM: the top MLP needs at least one hidden width");
  DLRMInput::Options in;
  in.embedding_dim = o.embedding_dim;
  in.bottom = o.bottom;
  in.activation = o.activation;
  DotInteraction::Options it;
  it.dim = o.embedding_dim;
  it.self_interaction = o.self_interaction;
  it.keep_first = true;
  MLP::Options top;
  top.widths = o.top;
  top.activation = o.activation;
  top.dropout = o.dropout;
  Linear::Options logit;
  logit.units = 1;
  return DLRMBody(Named<DLRMInput>("", DLRMInput(in)), Named<DotInteraction>("interaction", DotInteraction(it)),
                  Named<MLP>("top", MLP(top)), Named<Linear>("logit", Linear(logit)));
}

/// Builds (and initialises from `seed`) DLRM over `schema`.
inline DLRM make_dlrm(const Schema& schema, const DLRMOptions& o = {}, std::uint64_t seed = 1) {
  DLRM m{make_dlrm_body(o), BinaryHead{}};
  m.build(schema, seed);
  return m;
}

}  // namespace ctrnet
