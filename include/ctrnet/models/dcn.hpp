// Deep & Cross networks. x0 = [x_dense | e_1 | ... | e_F] (FeatureInput), then
//   DCN           (Wang et al. 2017, arXiv 1708.05123):  logit = wᵀ [CrossV1^L(x0) | MLP(x0)] + b
//   DCNv2Stacked  (Wang et al. 2021, arXiv 2008.13535):  logit = wᵀ MLP(CrossV2^L(x0)) + b
//   DCNv2Parallel (ibid.):                               logit = wᵀ [CrossV2^L(x0) | MLP(x0)] + b
//   p = σ(logit) (BinaryHead).  CrossV1: x_{l+1} = x0 (x_lᵀ w_l) + b_l + x_l;
//   CrossV2: x_{l+1} = x0 ⊙ (W_l x_l + b_l) + x_l, W_l = U_l V_l when rank > 0.
// Parameter names: cross.<i>.weight / .bias (low rank: cross.<i>.u / .v / .bias); deep.<i>.weight /
// .bias; logit.weight / .bias; embedding tables embedding.<table>.
#pragma once
#include <cstdint>
#include <vector>

#include "ctrnet/compose/model.hpp"
#include "ctrnet/compose/named.hpp"
#include "ctrnet/compose/parallel.hpp"
#include "ctrnet/compose/sequential.hpp"
#include "ctrnet/heads/binary.hpp"
#include "ctrnet/layers/cross.hpp"
#include "ctrnet/layers/feature_input.hpp"
#include "ctrnet/layers/linear.hpp"
#include "ctrnet/layers/mlp.hpp"

namespace ctrnet {

using DCNCrossPart = Named<CrossNet<CrossV1>>;
using DCNv2CrossPart = Named<CrossNet<CrossV2>>;
using DCNBody = Sequential<FeatureInput, Named<Parallel<Concat, DCNCrossPart, Named<MLP>>>, Named<Linear>>;
using DCNv2StackedBody = Sequential<FeatureInput, DCNv2CrossPart, Named<MLP>, Named<Linear>>;
using DCNv2ParallelBody = Sequential<FeatureInput, Named<Parallel<Concat, DCNv2CrossPart, Named<MLP>>>, Named<Linear>>;

using DCN = Model<DCNBody, BinaryHead>;
using DCNv2Stacked = Model<DCNv2StackedBody, BinaryHead>;
using DCNMixCrossPart = Named<CrossNet<CrossMix>>;
using DCNMixBody = Sequential<FeatureInput, DCNMixCrossPart, Named<MLP>, Named<Linear>>;
/// DCN-V2 stacked with the mixture of low-rank experts as cross layer (the paper's DCN-Mix).
using DCNMix = Model<DCNMixBody, BinaryHead>;
using DCNv2Parallel = Model<DCNv2ParallelBody, BinaryHead>;

/// Flat options of DCN / DCN-V2 (stacked and parallel).
struct DCNOptions {
  index_t embedding_dim = 16;
  index_t cross_depth = 3;
  index_t rank = 0;  ///< DCN-V2 only: 0 = full-rank W_l, r > 0 = U_l V_l of rank r (DCNMix: expert rank, 0 → 8)
  index_t experts = 4;  ///< DCNMix only: low-rank experts per cross layer
  Activation expert_activation = Activation::relu;  ///< DCNMix only: σ of the experts (relu or tanh)
  std::vector<index_t> hidden = {256, 128};
  Activation activation = Activation::relu;
  double dropout = 0.0;
  /// Logit columns: 1 for the CTR aliases; the sum of the heads' widths for a multi-output model
  /// (e.g. 2 for Model<DCNv2StackedBody, BinaryHead, GloveHead>).
  index_t outputs = 1;
};

namespace detail {
inline FeatureInput dcn_input(const DCNOptions& o) {
  FeatureInput::Options fi;
  fi.embedding_dim = o.embedding_dim;
  return FeatureInput(fi);
}
inline Named<MLP> dcn_deep(const DCNOptions& o) {
  MLP::Options mlp;
  mlp.widths = o.hidden;
  mlp.activation = o.activation;
  mlp.dropout = o.dropout;
  return Named<MLP>("deep", MLP(mlp));
}
inline Named<Linear> dcn_logit(const DCNOptions& o) {
  CTRNET_CHECK(o.outputs >= 1, "DCN: outputs (logit columns) must be >= 1, got ", o.outputs);
  Linear::Options logit;
  logit.units = o.outputs;
  return Named<Linear>("logit", Linear(logit));
}
inline DCNv2CrossPart dcn_v2_cross(const DCNOptions& o) {
  CrossNet<CrossV2>::Options c;
  c.depth = o.cross_depth;
  c.layer.rank = o.rank;
  return DCNv2CrossPart("cross", CrossNet<CrossV2>(c));
}
}  // namespace detail

/// The body of DCN, unbuilt.
inline DCNBody make_dcn_body(const DCNOptions& o) {
  CrossNet<CrossV1>::Options c;
  c.depth = o.cross_depth;
  using Branches = Parallel<Concat, DCNCrossPart, Named<MLP>>;
  return DCNBody(detail::dcn_input(o),
                 Named<Branches>("", Branches(DCNCrossPart("cross", CrossNet<CrossV1>(c)), detail::dcn_deep(o))),
                 detail::dcn_logit(o));
}

/// The body of DCN-V2 stacked (cross network, then MLP), unbuilt.
inline DCNv2StackedBody make_dcn_v2_stacked_body(const DCNOptions& o) {
  return DCNv2StackedBody(detail::dcn_input(o), detail::dcn_v2_cross(o), detail::dcn_deep(o), detail::dcn_logit(o));
}

/// The body of DCN-V2 parallel (cross network and MLP side by side), unbuilt.
inline DCNv2ParallelBody make_dcn_v2_parallel_body(const DCNOptions& o) {
  using Branches = Parallel<Concat, DCNv2CrossPart, Named<MLP>>;
  return DCNv2ParallelBody(detail::dcn_input(o), Named<Branches>("", Branches(detail::dcn_v2_cross(o), detail::dcn_deep(o))),
                           detail::dcn_logit(o));
}

/// The body of DCN-Mix (mixture cross network, then MLP), unbuilt.
inline DCNMixBody make_dcn_mix_body(const DCNOptions& o) {
  CrossNet<CrossMix>::Options c;
  c.depth = o.cross_depth;
  c.layer.experts = o.experts;
  c.layer.rank = o.rank > 0 ? o.rank : 8;
  c.layer.activation = o.expert_activation;
  return DCNMixBody(detail::dcn_input(o), DCNMixCrossPart("cross", CrossNet<CrossMix>(c)), detail::dcn_deep(o),
                    detail::dcn_logit(o));
}

/// Builds (and initialises from `seed`) DCN-Mix over `schema`.
inline DCNMix make_dcn_mix(const Schema& schema, const DCNOptions& o = {}, std::uint64_t seed = 1) {
  DCNMix m{make_dcn_mix_body(o), BinaryHead{}};
  m.build(schema, seed);
  return m;
}

/// Builds (and initialises from `seed`) DCN over `schema`.
inline DCN make_dcn(const Schema& schema, const DCNOptions& o = {}, std::uint64_t seed = 1) {
  DCN m{make_dcn_body(o), BinaryHead{}};
  m.build(schema, seed);
  return m;
}

/// Builds (and initialises from `seed`) DCN-V2 stacked over `schema`.
inline DCNv2Stacked make_dcn_v2_stacked(const Schema& schema, const DCNOptions& o = {}, std::uint64_t seed = 1) {
  DCNv2Stacked m{make_dcn_v2_stacked_body(o), BinaryHead{}};
  m.build(schema, seed);
  return m;
}

/// Builds (and initialises from `seed`) DCN-V2 parallel over `schema`.
inline DCNv2Parallel make_dcn_v2_parallel(const Schema& schema, const DCNOptions& o = {}, std::uint64_t seed = 1) {
  DCNv2Parallel m{make_dcn_v2_parallel_body(o), BinaryHead{}};
  m.build(schema, seed);
  return m;
}

}  // namespace ctrnet
