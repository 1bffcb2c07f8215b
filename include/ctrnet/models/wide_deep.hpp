// Wide & Deep (Cheng et al. 2016, arXiv 1606.07792):
//   p = σ( wide(x) + deep(x) )
//   wide(x) = b + Σ w_d x_d + Σ_f v_f[id_f] + Σ_c u_c[φ_c(x)]      (WideLinear; FTRL in the paper)
//   deep(x) = w_outᵀ MLP([x_dense | e_1 | ... | e_F]) + b_out       (embeddings + ReLU MLP)
// Parameter names: wide.bias, wide.dense_weight, tables wide.<field> / wide.cross.<a>_x_<b>;
// embedding.<table>; deep.<i>.weight / .bias; logit.weight / .bias.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ctrnet/compose/model.hpp"
#include "ctrnet/compose/named.hpp"
#include "ctrnet/compose/parallel.hpp"
#include "ctrnet/compose/sequential.hpp"
#include "ctrnet/heads/binary.hpp"
#include "ctrnet/layers/feature_input.hpp"
#include "ctrnet/layers/linear.hpp"
#include "ctrnet/layers/mlp.hpp"
#include "ctrnet/layers/wide.hpp"

namespace ctrnet {

using WideDeepDeepPart = Sequential<FeatureInput, Named<MLP>, Named<Linear>>;
using WideDeepBody = Parallel<Sum, Named<WideLinear>, Named<WideDeepDeepPart>>;
using WideDeep = Model<WideDeepBody, BinaryHead>;

/// Flat options of Wide & Deep.
struct WideDeepOptions {
  index_t embedding_dim = 16;
  std::vector<index_t> hidden = {256, 128};
  Activation activation = Activation::relu;
  double dropout = 0.0;
  std::vector<std::vector<std::string>> crosses{};  ///< cross-product features of the wide part
  index_t cross_buckets = 1 << 18;
  bool wide_dense = true;  ///< dense fields in the wide part too
};

/// The body of Wide & Deep, unbuilt (useful to compose it further).
inline WideDeepBody make_wide_deep_body(const WideDeepOptions& o) {
  WideLinear::Options w;
  w.crosses = o.crosses;
  w.cross_buckets = o.cross_buckets;
  w.dense = o.wide_dense;
  FeatureInput::Options fi;
  fi.embedding_dim = o.embedding_dim;
  MLP::Options mlp;
  mlp.widths = o.hidden;
  mlp.activation = o.activation;
  mlp.dropout = o.dropout;
  Linear::Options logit;
  logit.units = 1;
  // Empty names: the wide part scopes itself ("wide."), the deep part's children are named.
  return WideDeepBody(Named<WideLinear>("", WideLinear(w)),
                      Named<WideDeepDeepPart>("", WideDeepDeepPart(FeatureInput(fi), Named<MLP>("deep", MLP(mlp)),
                                                                   Named<Linear>("logit", Linear(logit)))));
}

/// Builds (and initialises from `seed`) Wide & Deep over `schema`.
inline WideDeep make_wide_deep(const Schema& schema, const WideDeepOptions& o = {}, std::uint64_t seed = 1) {
  WideDeep m{make_wide_deep_body(o), BinaryHead{}};
  m.build(schema, seed);
  return m;
}

}  // namespace ctrnet
