// Item-to-item two-tower model with two outputs, for "viewed together" lists (docs/item_to_item.md).
// For an item pair (A, B):
//   u = ContextTower([pair features of (A, B) | log pop(A) | e_A | A's side fields])
//   v = ItemTower([log pop(B) | e_B | B's side fields])          e: ONE item-id table (Field::table)
//   output 0, relevance logit   s = ⟨u, v⟩ + c + wᵀx_A + d_B         → BinaryHead (σ, cross-entropy)
//   output 1, GloVe estimate    ŷ = ⟨u, v⟩ + b_A + b̃_B               → GloveHead, fitted to log X_AB
// with per-item biases b, b̃ (width-1 tables `glove_bias.context` / `glove_bias.item`) and a scalar
// c (`pair.bias`), d_B a per-item bias of B (`relevance_bias.item`, optional: item_bias: the
// prior of B as a next item, e.g. its popularity, which the dot product alone learns poorly); x_A are the dense fields of the context tower (pair features, A's popularity)
// and w (`pair.linear`, optional: context_linear) a linear "wide" term on them, so the count
// signal of the pair features reaches the logit directly (Cheng et al. 2016's wide part); it is
// constant over every B that never co-occurs with A, like u. The GloVe output is the objective of Pennington et al. (EMNLP 2014) with the
// towers' outputs as w_A and w̃_B; the dot-product relevance output follows the two-tower
// retrieval models (Covington et al. 2016; Yi et al. 2019).
// ItemPairBody is a general sparse layer (any two towers with equal output widths): the model is a
// plain Model<ItemPairBody, BinaryHead, GloveHead>, trained with the ordinary Trainer. The
// "one-output" variant is the same model with the GloVe head's weight 0. ItemToItemListwise
// replaces the BCE of output 0 by GroupSoftmaxHead: a sampled softmax over each positive and its
// negatives (listwise), with the log-Q correction; the body and retrieval are unchanged.
// Tower kinds (aliases below; ItemPairBody takes any towers of equal output width):
//   MLP          u = MLP([x_A | e_A])                                        (ItemToItem)
//   cross        h0 = [x_A | e_A | z],  h = CrossV2^L(h0),  u = MLP(h)       (ItemToItemCross;
//                h_{l+1} = h0 ⊙ (W_l h_l + b_l) + h_l, Wang et al. 2021; z the dot interaction of
//                the tower's embeddings, models/two_tower_cross.hpp: with the single item field
//                per tower z is empty, or ‖e_A‖² with self_interaction) — every pair feature is
//                crossed with every coordinate of e_A
//   Transformer  tokens [e_A | W_d x_A + b_d],  u = W Pool(TransformerBlock^N(tokens)) + b
//                (ItemToItemTransformer; models/two_tower_transformer.hpp, the dense token)
// and the same for the item tower over [x_B | e_B]. Each is a row-wise function of the row's own
// fields, so u(A, 0) is one vector for every B that never co-occurs with A and the exact
// retrieval of serve/related_items.hpp holds for all three.
// Backward, with g_r = ds_r + dŷ_r:  du_r += g_r v_r,  dv_r += g_r u_r,  dc += Σ_r ds_r,
//   dw += Σ_r ds_r x_A,r,  dd[B_r] += ds_r,
//   db[A_r] += dŷ_r,  db̃[B_r] += dŷ_r.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <string>
#include <vector>

#include "ctrnet/compose/model.hpp"
#include "ctrnet/compose/tower.hpp"
#include "ctrnet/heads/binary.hpp"
#include "ctrnet/heads/glove.hpp"
#include "ctrnet/kernels/embedding.hpp"
#include "ctrnet/kernels/item_pair.hpp"
#include "ctrnet/kernels/loss.hpp"
#include "ctrnet/kernels/retrieval.hpp"
#include "ctrnet/layers/mlp.hpp"
#include "ctrnet/models/two_tower_cross.hpp"
#include "ctrnet/models/two_tower_transformer.hpp"

namespace ctrnet {

/// \brief Two towers over one row's (context item, candidate item) pair; outputs [s, ŷ].
template <class ContextTower, class ItemTower>
class ItemPairBody {
  static_assert(SparseLayer<ContextTower> && SparseLayer<ItemTower>,
                "ctrnet::ItemPairBody: both towers must read the batch (e.g. Tower<MLP>)");

 public:
  using input_kind = Sparse;
  using context_tower_type = ContextTower;
  using item_tower_type = ItemTower;

  struct Options {
    std::string context_field = "item_a";  ///< categorical field of A (indexes b)
    std::string item_field = "item_b";     ///< categorical field of B (indexes b̃)
    bool relevance_bias = true;            ///< the scalar c of output 0
    bool glove_biases = true;              ///< b_A + b̃_B in output 1
    bool context_linear = false;           ///< the wide term wᵀx_A in output 0
    bool item_bias = false;                ///< the per-item bias d_B in output 0
    std::string context_group = "query";   ///< Field::tower of the context fields (for x_A)
  };
  template <class T>
  struct Cache {
    typename ContextTower::template Cache<T> context;
    typename ItemTower::template Cache<T> item;
    Matrix<T> u, v, dot, bias_a, bias_b, rel_b, g, du, dv;
    const BatchView* x = nullptr;
  };

  ItemPairBody() = default;
  ItemPairBody(ContextTower c, ItemTower i, Options o = {})
      : opt_(std::move(o)), context_(std::move(c)), item_(std::move(i)) {}

  index_t build(const Schema& schema, ParamRegistry& reg) {
    const index_t du = context_.build(schema, reg);
    const index_t dv = item_.build(schema, reg);
    CTRNET_CHECK(du == dv, "ItemPairBody: the context tower outputs ", du, " columns but the item tower outputs ", dv,
                 "; both must have the same width");
    dim_ = du;
    fa_ = field_index(schema, opt_.context_field);
    fb_ = field_index(schema, opt_.item_field);
    field_a_ = schema.categorical(fa_);
    field_b_ = schema.categorical(fb_);
    if (opt_.glove_biases) {
      bias_a_ = reg.add_table("glove_bias.context", field_a_.rows(), 1, Init::zeros());
      bias_b_ = reg.add_table("glove_bias.item", field_b_.rows(), 1, Init::zeros());
    }
    if (opt_.item_bias) rel_b_ = reg.add_table("relevance_bias.item", field_b_.rows(), 1, Init::zeros());
    linear_.clear();
    if (opt_.context_linear)
      for (index_t i = 0; i < schema.num_dense(); ++i)
        if (schema.dense(i).tower == opt_.context_group) linear_.push_back(i);
    auto s = reg.scope("pair");
    if (opt_.relevance_bias) c_ = reg.add("bias", 1, 1, Init::zeros());
    if (!linear_.empty()) w_ = reg.add("linear", 1, static_cast<index_t>(linear_.size()), Init::zeros());
    return 2;
  }
  index_t out_dim() const { return 2; }
  /// Width of u and v.
  index_t dim() const { return dim_; }
  const Options& options() const { return opt_; }
  const ContextTower& context_tower() const { return context_; }
  const ItemTower& item_tower() const { return item_; }
  ContextTower& context_tower() { return context_; }
  ItemTower& item_tower() { return item_; }
  TableHandle context_bias_table() const { return bias_a_; }
  TableHandle item_bias_table() const { return bias_b_; }
  /// The table of d (valid when options().item_bias).
  TableHandle relevance_item_bias_table() const { return rel_b_; }
  /// c (0 without relevance_bias).
  template <class T>
  T relevance_bias(const Weights<T>& w) const {
    return opt_.relevance_bias ? w[c_](0, 0) : T(0);
  }

  /// The part of output 0 that does not depend on B's tower: c + wᵀx_A of row r of b. A host read
  /// for serving (serve/related_items.hpp); forward computes it in kernels::item_pair_forward.
  template <class T>
  T relevance_offset(const Weights<T>& w, const BatchView& b, index_t r) const {
    T o = relevance_bias(w);
    // host: a serving read of the host weights (serve/related_items.hpp is not behind the policy
    // yet; docs/architecture.md lists it). Kept as it was: its -O3 rounding is the lists' bits.
    for (std::size_t l = 0; l < linear_.size(); ++l)
      o += w[w_](0, static_cast<index_t>(l)) * static_cast<T>(b.dense(r, linear_[l]));
    return o;
  }

  /// y: [rows, 2] = [s, ŷ].
  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, const BatchView& b, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    const index_t n = b.size;
    c.x = &b;
    c.u.resize(n, dim_);
    c.v.resize(n, dim_);
    context_.forward(p, w, b, c.u.view(), c.context, ctx);
    item_.forward(p, w, b, c.v.view(), c.item, ctx);
    c.dot.resize(n, 1);
    kernels::row_dot(p, T(1), c.u.cview(), c.v.cview(), c.dot.view());
    if (opt_.glove_biases) {
      c.bias_a.resize(n, 1);
      c.bias_b.resize(n, 1);
      kernels::embedding_bag_forward(p, w.table(bias_a_), b.fields[static_cast<std::size_t>(fa_)], IdMapper(field_a_),
                                     Pooling::sum, b.first_row, c.bias_a.view());
      kernels::embedding_bag_forward(p, w.table(bias_b_), b.fields[static_cast<std::size_t>(fb_)], IdMapper(field_b_),
                                     Pooling::sum, b.first_row, c.bias_b.view());
    }
    if (opt_.item_bias) {
      c.rel_b.resize(n, 1);
      kernels::embedding_bag_forward(p, w.table(rel_b_), b.fields[static_cast<std::size_t>(fb_)], IdMapper(field_b_),
                                     Pooling::sum, b.first_row, c.rel_b.view());
    }
    kernels::item_pair_forward(p, c.dot.cview(), bias_ptr(w), linear_ptr(w), b.dense, linear_.data(),
                               static_cast<index_t>(linear_.size()),
                               opt_.item_bias ? c.rel_b.cview() : ConstMatrixView<T>{},
                               opt_.glove_biases ? c.bias_a.cview() : ConstMatrixView<T>{},
                               opt_.glove_biases ? c.bias_b.cview() : ConstMatrixView<T>{}, y);
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, NoInputGrad,
                const Gradients<T>& g) const {
    const index_t n = dy.rows;
    const BatchView& b = *c.x;
    c.g.resize(n, 1);
    kernels::item_pair_backward(p, dy, b.dense, linear_.data(), static_cast<index_t>(linear_.size()), c.g.view(),
                                opt_.relevance_bias ? g[c_].data : nullptr, linear_.empty() ? nullptr : g[w_].data);
    if (opt_.glove_biases) {
      const ConstMatrixView<T> d1 = dy.col_block(1, 1);
      kernels::embedding_bag_backward(p, b.fields[static_cast<std::size_t>(fa_)], IdMapper(field_a_), Pooling::sum,
                                      b.first_row, d1, g.table(bias_a_));
      kernels::embedding_bag_backward(p, b.fields[static_cast<std::size_t>(fb_)], IdMapper(field_b_), Pooling::sum,
                                      b.first_row, d1, g.table(bias_b_));
    }
    if (opt_.item_bias)
      kernels::embedding_bag_backward(p, b.fields[static_cast<std::size_t>(fb_)], IdMapper(field_b_), Pooling::sum,
                                      b.first_row, dy.col_block(0, 1), g.table(rel_b_));
    c.du.resize(n, dim_, T(0));
    c.dv.resize(n, dim_, T(0));
    kernels::row_scale_add(p, T(1), c.g.cview(), c.v.cview(), c.du.view());
    kernels::row_scale_add(p, T(1), c.g.cview(), c.u.cview(), c.dv.view());
    context_.backward(p, w, c.context, c.du.cview(), NoInputGrad{}, g);
    item_.backward(p, w, c.item, c.dv.cview(), NoInputGrad{}, g);
  }

 private:
  // Pointers to c and w for the kernels (null when absent).
  template <class T>
  const T* bias_ptr(const Weights<T>& w) const {
    return opt_.relevance_bias ? w[c_].data : nullptr;
  }
  template <class T>
  const T* linear_ptr(const Weights<T>& w) const {
    return linear_.empty() ? nullptr : w[w_].data;
  }
  static index_t field_index(const Schema& s, const std::string& name) {
    const index_t i = s.categorical_index(name);
    CTRNET_CHECK(i >= 0, "ItemPairBody: the schema has no categorical field '", name, "'");
    return i;
  }

  Options opt_;
  ContextTower context_;
  ItemTower item_;
  index_t dim_ = 0;
  index_t fa_ = -1, fb_ = -1;
  Field field_a_, field_b_;
  TableHandle bias_a_, bias_b_, rel_b_;
  ParamHandle c_, w_;
  std::vector<index_t> linear_;  // dense columns of x_A
};

// ------------------------------------------------------------------------------------------------
// The alias with MLP towers, its schema and flat options.
// ------------------------------------------------------------------------------------------------

/// \brief Listwise relevance head: a sampled softmax over groups of rows (Jean et al. 2015,
/// "On Using Very Large Target Vocabulary for Neural Machine Translation"; Bengio & Senécal 2008).
/// A group is a row with label 1 (the positive A → B, weight w_p) and the label-0 rows after it
/// (sampled negatives B_j of the same A, weights w_j = w_p · q0(B_j)/q(B_j|A), the importance
/// weights of train_item_to_item). The negatives' logits get the log-Q correction
///   z'_j = z_j + log(w_j / w_p) + log_correction     (= z_j − log(k·q(B_j|A)) with
///                                                      log_correction = −log(k·q0), uniform q0 = 1/N)
/// so Σ_j exp(z'_j) estimates Σ_B exp(z_B) over the catalogue, and
///   ℓ = −w_p (z_p − log(exp z_p + Σ_j exp z'_j)),   ∂ℓ/∂z_i = w_p (softmax(z')_i − [i = p]).
/// The Trainer runs heads over the whole batch, so a group is never cut; its rows must stay together
/// when the data is shuffled: TrainerOptions::row_group = 1 + negatives (train_item_to_item sets it).
/// Label-0 rows before the first positive of the rows given (no group start) are ignored.
/// Prediction: the logit itself (a ranking score). The loss: kernels::group_softmax_loss (kernels/loss.hpp).
struct GroupSoftmaxHead {
  static constexpr const char* name = "group_softmax";
  HeadOptions opt{};
  double log_correction = 0.0;

  index_t width() const { return 1; }

  /// Writes this head's loss contribution into *loss (the policy's memory); dz += its gradient.
  template <class P, class T>
  void loss(const P& p, ConstMatrixView<T> z, const BatchView& b, double normalizer, MatrixView<T> dz,
            double* loss) const {
    const double scale = opt.weight / normalizer;
    if (scale == 0.0) return kernels::fill(p, 0.0, MatrixView<double>(loss, 1, 1));
    CTRNET_CHECK(b.labels != nullptr, "GroupSoftmaxHead: the batch has no labels");
    kernels::group_softmax_loss(p, z, b.labels, b.weights, scale, log_correction, b.first_row, dz, loss);
  }
  /// The batch on the host, checked when it is staged into a device memory (Model::check_batch):
  /// labels present and every negative's weight positive, the messages of the loss kernel, which
  /// checks them itself on the CPU policies.
  void check_batch(const BatchView& host) const {
    if (opt.weight == 0.0) return;
    CTRNET_CHECK(host.labels != nullptr, "GroupSoftmaxHead: the batch has no labels");
    if (host.weights == nullptr) return;
    float wp = 0.0f;
    bool in_group = false;
    for (index_t r = 0; r < host.size; ++r) {
      if (host.labels[r] > 0.5f) {
        wp = host.weights[r];
        in_group = true;
      } else if (in_group) {
        CTRNET_CHECK(static_cast<double>(host.weights[r]) / wp > 0.0, "GroupSoftmaxHead: row ", host.first_row + r,
                     " has weight ", host.weights[r], "; negatives need a positive weight");
      }
    }
  }

  template <class P, class T>
  void predict(const P& p, ConstMatrixView<T> z, MatrixView<T> out) const {
    kernels::copy(p, z, out);
  }
};

using ItemToItemBody = ItemPairBody<Tower<MLP>, Tower<MLP>>;
/// Two outputs: relevance (BinaryHead on labels) and GloVe (GloveHead on targets[0] = X_AB).
using ItemToItem = Model<ItemToItemBody, BinaryHead, GloveHead>;
/// The same model with the listwise relevance loss (GroupSoftmaxHead) instead of BCE.
using ItemToItemListwise = Model<ItemToItemBody, GroupSoftmaxHead, GloveHead>;

/// DCN-V2 cross towers (models/two_tower_cross.hpp): the pair features cross e_A.
using ItemToItemCrossBody = ItemPairBody<CrossTower, CrossTower>;
using ItemToItemCross = Model<ItemToItemCrossBody, BinaryHead, GloveHead>;
using ItemToItemCrossListwise = Model<ItemToItemCrossBody, GroupSoftmaxHead, GloveHead>;

/// Transformer towers (models/two_tower_transformer.hpp): tokens e_A and the dense token of x_A.
using ItemToItemTransformerBody = ItemPairBody<TransformerTower, TransformerTower>;
using ItemToItemTransformer = Model<ItemToItemTransformerBody, BinaryHead, GloveHead>;
using ItemToItemTransformerListwise = Model<ItemToItemTransformerBody, GroupSoftmaxHead, GloveHead>;

/// True when M's relevance head (head 0) is the listwise GroupSoftmaxHead.
template <class M>
struct is_listwise_item_to_item : std::false_type {};
template <class T, class Body, class... Rest>
struct is_listwise_item_to_item<BasicModel<T, Body, GroupSoftmaxHead, Rest...>> : std::true_type {};
template <class M>
inline constexpr bool is_listwise_item_to_item_v = is_listwise_item_to_item<M>::value;

/// The cross towers' settings (ItemToItemCross*): h = CrossV2^depth([x | e | z]), then the MLP of
/// the tower's hidden widths (context_hidden / item_hidden) and a linear layer to output_dim.
struct ItemToItemCrossSettings {
  index_t depth = 2;              ///< CrossV2 layers per tower
  index_t rank = 0;               ///< 0: full-rank W_l; r > 0: W_l = U_l V_l
  bool self_interaction = false;  ///< add ‖e‖² (the only interaction term with one item field per tower)
};

/// The Transformer towers' settings (ItemToItemTransformer*): tokens [e | dense token], blocks,
/// pooling, a linear projection to output_dim (the hidden widths are not used). embedding_dim is
/// the token width and must be a multiple of heads.
struct ItemToItemTransformerSettings {
  index_t blocks = 1;
  index_t heads = 2;
  index_t ff_hidden = 0;  ///< 0 = 4 · embedding_dim
  double dropout = 0.0;
  bool norm_first = true;
  TokenPoolingMode pooling = TokenPoolingMode::mean;
};

/// Flat options of the item-to-item model.
struct ItemToItemOptions {
  index_t embedding_dim = 32;             ///< the shared item-id embedding (and other fields)
  std::vector<index_t> context_hidden = {64};
  std::vector<index_t> item_hidden = {};
  index_t output_dim = 32;                ///< width of u and v
  Activation activation = Activation::relu;
  bool relevance_bias = true;
  bool glove_biases = true;
  bool context_linear = true;             ///< wide term on the context's dense fields in output 0
  bool item_bias = true;                  ///< per-item bias d_B in output 0
  double relevance_weight = 1.0;          ///< weight of the BCE head
  double glove_weight = 0.1;              ///< weight of the GloVe head; 0: the one-output model
  double glove_x_max = 100.0;
  double glove_alpha = 0.75;
  ItemToItemCrossSettings cross{};              ///< used by the cross-tower variants only
  ItemToItemTransformerSettings transformer{};  ///< used by the Transformer-tower variants only
};

/// Names of the schema built by item_to_item_schema.
struct ItemToItemFields {
  static constexpr const char* context_item = "item_a";
  static constexpr const char* item = "item_b";
  static constexpr const char* item_table = "item";
};

/// The pair schema, dense fields first (in this order): context tower ("query"): the pair features
/// (names given, e.g. data/pair_features.hpp's), A's item features `a_<name>`; item tower
/// ("candidate"): B's item features `b_<name>` (e.g. log popularity); then the categorical item_a
/// (query) and item_b (candidate), sharing the table "item" (vocabulary = num_items).
inline Schema item_to_item_schema(index_t num_items, const std::vector<std::string>& pair_feature_names,
                                  const std::vector<std::string>& item_feature_names = {"log_pop"}) {
  CTRNET_CHECK(num_items > 0, "item_to_item_schema: num_items must be positive, got ", num_items);
  Schema s;
  auto dense = [&](const std::string& name, const char* tower) {
    Field f;
    f.name = name;
    f.tower = tower;
    s.add(std::move(f));
  };
  for (const auto& n : pair_feature_names) dense(n, "query");
  for (const auto& n : item_feature_names) dense("a_" + n, "query");
  for (const auto& n : item_feature_names) dense("b_" + n, "candidate");
  auto item = [&](const char* name, const char* tower) {
    Field f;
    f.name = name;
    f.kind = FieldKind::categorical;
    f.vocab_size = num_items;
    f.table = ItemToItemFields::item_table;
    f.tower = tower;
    s.add(std::move(f));
  };
  item(ItemToItemFields::context_item, "query");
  item(ItemToItemFields::item, "candidate");
  return s;
}

namespace detail {
inline Tower<MLP> item_to_item_tower(const char* name, const char* group, const std::vector<index_t>& hidden,
                                     const ItemToItemOptions& o) {
  CTRNET_CHECK(o.output_dim > 0, "ItemToItemOptions: output_dim must be positive, got ", o.output_dim);
  MLP::Options m;
  m.widths = hidden;
  m.widths.push_back(o.output_dim);
  m.activation = o.activation;
  m.last_activation = Activation::identity;
  Tower<MLP>::Options t;
  t.name = name;
  t.group = group;
  t.embedding_dim = o.embedding_dim;
  return Tower<MLP>(t, MLP(m));
}

/// The cross tower of the item-to-item model: the two-tower model's (detail::make_cross_tower)
/// with the item-to-item options.
inline CrossTower item_to_item_cross_tower(const char* name, const char* group, const std::vector<index_t>& hidden,
                                           const ItemToItemOptions& o) {
  TwoTowerCrossOptions x;
  x.embedding_dim = o.embedding_dim;
  x.cross_depth = o.cross.depth;
  x.rank = o.cross.rank;
  x.output_dim = o.output_dim;
  x.activation = o.activation;
  x.self_interaction = o.cross.self_interaction;
  return make_cross_tower(name, hidden, x, group);
}

/// The Transformer tower of the item-to-item model: the two-tower model's
/// (detail::make_transformer_tower) with the item-to-item options.
inline TransformerTower item_to_item_transformer_tower(const char* name, const char* group, const ItemToItemOptions& o) {
  const ItemToItemTransformerSettings& s = o.transformer;
  CTRNET_CHECK(o.output_dim > 0, "ItemToItemOptions: output_dim must be positive, got ", o.output_dim);
  CTRNET_CHECK(s.heads > 0 && o.embedding_dim % s.heads == 0, "ItemToItemOptions: embedding_dim ", o.embedding_dim,
               " must be a positive multiple of transformer.heads = ", s.heads);
  TwoTowerTransformerOptions x;
  x.embedding_dim = o.embedding_dim;
  x.blocks = s.blocks;
  x.heads = s.heads;
  x.ff_hidden = s.ff_hidden;
  x.dropout = s.dropout;
  x.norm_first = s.norm_first;
  x.pooling = s.pooling;
  x.output_dim = o.output_dim;
  return make_transformer_tower(name, x, group);
}

// The towers of each kind, by type.
template <class Tw>
Tw item_to_item_tower_of(const char* name, const char* group, const std::vector<index_t>& hidden,
                         const ItemToItemOptions& o) {
  if constexpr (std::is_same_v<Tw, Tower<MLP>>)
    return item_to_item_tower(name, group, hidden, o);
  else if constexpr (std::is_same_v<Tw, CrossTower>)
    return item_to_item_cross_tower(name, group, hidden, o);
  else {
    static_assert(std::is_same_v<Tw, TransformerTower>,
                  "item_to_item_model: towers must be Tower<MLP>, CrossTower or TransformerTower");
    return item_to_item_transformer_tower(name, group, o);
  }
}
}  // namespace detail

/// The item-to-item model, unbuilt (towers "context" / "item" over the groups "query" / "candidate").
/// M = ItemToItem (BCE) or ItemToItemListwise (sampled softmax, log-Q correction `log_correction`),
/// or their cross / Transformer variants (ItemToItemCross[Listwise], ItemToItemTransformer[Listwise]).
template <class M = ItemToItem>
M item_to_item_model(const ItemToItemOptions& o, double log_correction = 0.0) {
  using Body = typename M::body_type;
  using CT = typename Body::context_tower_type;
  using IT = typename Body::item_tower_type;
  CTRNET_CHECK(o.relevance_weight >= 0.0 && o.glove_weight >= 0.0, "ItemToItemOptions: head weights must be >= 0");
  typename Body::Options bo;
  bo.relevance_bias = o.relevance_bias;
  bo.glove_biases = o.glove_biases;
  bo.context_linear = o.context_linear;
  bo.item_bias = o.item_bias;
  HeadOptions rel{o.relevance_weight, 0};
  HeadOptions glo{o.glove_weight, 1};
  Body body(detail::item_to_item_tower_of<CT>("context", "query", o.context_hidden, o),
            detail::item_to_item_tower_of<IT>("item", "candidate", o.item_hidden, o), bo);
  if constexpr (is_listwise_item_to_item_v<M>)
    return M(std::move(body), GroupSoftmaxHead{rel, log_correction}, GloveHead(glo, GloveOptions{o.glove_x_max, o.glove_alpha}));
  else
    return M(std::move(body), BinaryHead(rel), GloveHead(glo, GloveOptions{o.glove_x_max, o.glove_alpha}));
}

/// Builds (and initialises from `seed`) the item-to-item model over `schema` (item_to_item_schema).
inline ItemToItem make_item_to_item(const Schema& schema, const ItemToItemOptions& o = {}, std::uint64_t seed = 1) {
  ItemToItem m = item_to_item_model<ItemToItem>(o);
  m.build(schema, seed);
  return m;
}

/// The listwise variant: log_correction = −log(k·q0) for k uniform negatives over N items: log(N / k).
inline ItemToItemListwise make_item_to_item_listwise(const Schema& schema, const ItemToItemOptions& o,
                                                     double log_correction, std::uint64_t seed = 1) {
  ItemToItemListwise m = item_to_item_model<ItemToItemListwise>(o, log_correction);
  m.build(schema, seed);
  return m;
}

/// Builds any item-to-item model type M (see item_to_item_model); log_correction is used by the
/// listwise variants only.
template <class M>
M make_item_to_item_as(const Schema& schema, const ItemToItemOptions& o, double log_correction = 0.0,
                       std::uint64_t seed = 1) {
  M m = item_to_item_model<M>(o, log_correction);
  m.build(schema, seed);
  return m;
}

/// Cross towers, BCE relevance head.
inline ItemToItemCross make_item_to_item_cross(const Schema& schema, const ItemToItemOptions& o = {},
                                               std::uint64_t seed = 1) {
  return make_item_to_item_as<ItemToItemCross>(schema, o, 0.0, seed);
}
/// Cross towers, listwise head (log_correction as in make_item_to_item_listwise).
inline ItemToItemCrossListwise make_item_to_item_cross_listwise(const Schema& schema, const ItemToItemOptions& o,
                                                                double log_correction, std::uint64_t seed = 1) {
  return make_item_to_item_as<ItemToItemCrossListwise>(schema, o, log_correction, seed);
}
/// Transformer towers, BCE relevance head.
inline ItemToItemTransformer make_item_to_item_transformer(const Schema& schema, const ItemToItemOptions& o = {},
                                                           std::uint64_t seed = 1) {
  return make_item_to_item_as<ItemToItemTransformer>(schema, o, 0.0, seed);
}
/// Transformer towers, listwise head.
inline ItemToItemTransformerListwise make_item_to_item_transformer_listwise(const Schema& schema,
                                                                            const ItemToItemOptions& o,
                                                                            double log_correction,
                                                                            std::uint64_t seed = 1) {
  return make_item_to_item_as<ItemToItemTransformerListwise>(schema, o, log_correction, seed);
}

}  // namespace ctrnet
