// Two-tower retrieval with cross features and feature interaction in each tower: the DCN-V2 cross
// network (Wang et al. 2021, arXiv 2008.13535) and DLRM's pairwise dot interaction (Naumov et al.
// 2019, arXiv 1906.00091) inside a dual encoder (Yi et al., RecSys 2019). Per tower, over its fields:
//   x0 = [x_dense | e_1 | ... | e_F]                          (FeatureInput over the tower's group)
//   h0 = [x0 | z],  z = (<e_i, e_j>)_{j<i} in DLRM's pair order   (FieldInteractionInput; j ≤ i with
//                                                                    self_interaction)
//   h  = CrossV2^L(h0):  h_{l+1} = h0 ⊙ (W_l h_l + b_l) + h_l     (low rank W_l = U_l V_l when rank > 0)
//   u  = MLP(h)  (hidden ReLU layers, then a linear layer of width output_dim), optionally L2-normalised
//   s(u, v) = ⟨u, v⟩ / τ  (TwoTowerCross)  or  ⟨û, v̂⟩ / τ  (TwoTowerCrossCosine)
// The interaction needs the tower's embeddings to share one width (the fields' embedding_dim or
// the options' embedding_dim). Parameter names: <tower>.cross.<l>.weight / .bias (low rank .u / .v),
// <tower>.deep.<i>.weight / .bias, tables embedding.<table>.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ctrnet/compose/named.hpp"
#include "ctrnet/compose/sequential.hpp"
#include "ctrnet/compose/tower.hpp"
#include "ctrnet/compose/two_tower.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/interaction.hpp"
#include "ctrnet/layers/cross.hpp"
#include "ctrnet/layers/feature_input.hpp"
#include "ctrnet/layers/mlp.hpp"
#include "ctrnet/layers/similarity.hpp"

namespace ctrnet {

/// \brief y = [x0 | pairwise dot products of the field embeddings e_1 .. e_F of x0], over one group
/// of fields (a tower's): x0 = [x_dense | e_1 | ... | e_F] as FeatureInput gives it.
/// Backward: dx0 = dy[:, :in0] + (dZ + dZᵀ) E on the embedding columns, then FeatureInput's backward.
class FieldInteractionInput {
 public:
  using input_kind = Sparse;
  struct Options {
    std::string group{};              ///< Field::tower value selecting the fields (when `fields` is empty)
    std::vector<std::string> fields{};  ///< explicit field names instead of the group
    index_t embedding_dim = 16;       ///< for fields without their own Field::embedding_dim
    bool self_interaction = false;    ///< add <e_i, e_i>
    Init init = default_embedding_init();
  };
  template <class T>
  struct Cache {
    FeatureInput::Cache<T> input;
    ConstMatrixView<T> x0;  // the first in0 columns of the output (owned by the caller)
    Matrix<T> dx0;          // workspace of backward: [batch, in0]
  };

  FieldInteractionInput() = default;
  explicit FieldInteractionInput(Options o) : opt_(std::move(o)) {}

  index_t build(const Schema& schema, ParamRegistry& reg) {
    std::vector<std::string> fields = opt_.fields;
    if (fields.empty())
      for (const auto& f : schema.fields())
        if (f.tower == opt_.group) fields.push_back(f.name);
    CTRNET_CHECK(!fields.empty(), "FieldInteractionInput: no field of the schema has tower == '", opt_.group, "'");
    FeatureInput::Options fi;
    fi.embedding_dim = opt_.embedding_dim;
    fi.fields = fields;
    fi.init = opt_.init;
    input_ = FeatureInput(fi);
    in0_ = input_.build(schema, reg);
    nd_ = input_.num_dense();
    f_ = static_cast<index_t>(input_.embeddings().size());
    d_ = f_ > 0 ? input_.embeddings().front().out_dim() : 0;
    for (const auto& e : input_.embeddings())
      CTRNET_CHECK(e.out_dim() == d_, "FieldInteractionInput (tower '", opt_.group, "'): field '", e.field().name,
                   "' has embedding width ", e.out_dim(), " but field '", input_.embeddings().front().field().name,
                   "' has ", d_, "; the dot interaction needs one width");
    pairs_ = f_ > 0 ? kernels::interaction_pairs(f_, opt_.self_interaction) : 0;
    return out_ = in0_ + pairs_;
  }
  index_t out_dim() const { return out_; }
  index_t num_pairs() const { return pairs_; }
  const Options& options() const { return opt_; }
  const FeatureInput& input() const { return input_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, const BatchView& b, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    input_.forward(p, w, b, y.col_block(0, in0_), c.input, ctx);
    c.x0 = y.col_block(0, in0_);
    if (pairs_ > 0)
      kernels::dot_interaction_forward(p, c.x0.col_block(nd_, f_ * d_), f_, opt_.self_interaction,
                                       y.col_block(in0_, pairs_));
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, NoInputGrad,
                const Gradients<T>& g) const {
    c.dx0.resize(dy.rows, in0_);
    kernels::copy(p, dy.col_block(0, in0_), c.dx0.view());
    if (pairs_ > 0)
      kernels::dot_interaction_backward_data(p, c.x0.col_block(nd_, f_ * d_), f_, opt_.self_interaction,
                                             dy.col_block(in0_, pairs_), c.dx0.view().col_block(nd_, f_ * d_));
    input_.backward(p, w, c.input, c.dx0.cview(), NoInputGrad{}, g);
  }

 private:
  Options opt_;
  FeatureInput input_;
  index_t in0_ = 0, nd_ = 0, f_ = 0, d_ = 0, pairs_ = 0, out_ = 0;
};

/// A tower's body: interaction input, DCN-V2 cross network, MLP.
using CrossTowerBody = Sequential<Named<FieldInteractionInput>, Named<CrossNet<CrossV2>>, Named<MLP>>;
using CrossTower = Tower<CrossTowerBody>;
/// Two cross towers with a (temperature-scaled) dot product.
using TwoTowerCross = TwoTower<CrossTower, CrossTower, DotSimilarity>;
/// Two cross towers with cosine similarity.
using TwoTowerCrossCosine = TwoTower<CrossTower, CrossTower, CosineSimilarity>;

/// Flat options of the cross-feature two-tower models.
struct TwoTowerCrossOptions {
  index_t embedding_dim = 32;               ///< fields without their own Field::embedding_dim
  index_t cross_depth = 2;                  ///< CrossV2 layers per tower
  index_t rank = 0;                         ///< 0: full-rank W_l; r > 0: W_l = U_l V_l
  std::vector<index_t> query_hidden = {};   ///< hidden widths of the query MLP
  std::vector<index_t> candidate_hidden = {};
  index_t output_dim = 64;                  ///< width of both embeddings (last MLP layer, linear)
  Activation activation = Activation::relu;
  double dropout = 0.0;
  double temperature = 0.05;                ///< τ of the similarity
  bool normalize = false;                   ///< L2-normalise the towers' outputs
  bool self_interaction = false;            ///< add <e_i, e_i> to the interaction features
};

namespace detail {
/// A cross tower named `name` over the fields of `group` (nullptr: the group named `name`).
inline CrossTower make_cross_tower(const char* name, const std::vector<index_t>& hidden, const TwoTowerCrossOptions& o,
                                   const char* group = nullptr) {
  CTRNET_CHECK(o.output_dim > 0, "TwoTowerCrossOptions: output_dim must be positive, got ", o.output_dim);
  CTRNET_CHECK(o.cross_depth >= 0, "TwoTowerCrossOptions: cross_depth must be >= 0, got ", o.cross_depth);
  CTRNET_CHECK(o.rank >= 0, "TwoTowerCrossOptions: rank must be >= 0, got ", o.rank);
  FieldInteractionInput::Options in;
  in.group = group != nullptr ? group : name;
  in.embedding_dim = o.embedding_dim;
  in.self_interaction = o.self_interaction;
  CrossNet<CrossV2>::Options cross;
  cross.depth = o.cross_depth;
  cross.layer.rank = o.rank;
  MLP::Options m;
  m.widths = hidden;
  m.widths.push_back(o.output_dim);
  m.activation = o.activation;
  m.last_activation = Activation::identity;
  m.dropout = o.dropout;
  CrossTower::Options t;
  t.name = name;
  if (group != nullptr) t.group = group;
  t.embedding_dim = o.embedding_dim;
  t.normalize = o.normalize;
  return CrossTower(t, CrossTowerBody(Named<FieldInteractionInput>("", FieldInteractionInput(in)),
                                      Named<CrossNet<CrossV2>>("cross", CrossNet<CrossV2>(cross)),
                                      Named<MLP>("deep", MLP(m))));
}
}  // namespace detail

/// Unbuilt cross-feature two-tower model with similarity `Sim` (DotSimilarity or CosineSimilarity).
template <class Sim = DotSimilarity>
TwoTower<CrossTower, CrossTower, Sim> two_tower_cross(const TwoTowerCrossOptions& o) {
  return TwoTower<CrossTower, CrossTower, Sim>(detail::make_cross_tower("query", o.query_hidden, o),
                                               detail::make_cross_tower("candidate", o.candidate_hidden, o),
                                               Sim(o.temperature));
}

/// Builds (and initialises from `seed`) a TwoTowerCross (dot similarity) over `schema`.
inline TwoTowerCross make_two_tower_cross(const Schema& schema, const TwoTowerCrossOptions& o = {},
                                          std::uint64_t seed = 1) {
  TwoTowerCross m = two_tower_cross<DotSimilarity>(o);
  m.build(schema, seed);
  return m;
}
/// Builds a TwoTowerCrossCosine over `schema`.
inline TwoTowerCrossCosine make_two_tower_cross_cosine(const Schema& schema, const TwoTowerCrossOptions& o = {},
                                                       std::uint64_t seed = 1) {
  TwoTowerCrossCosine m = two_tower_cross<CosineSimilarity>(o);
  m.build(schema, seed);
  return m;
}

}  // namespace ctrnet
